//! The console examples in `commands/*.md` run as tests (trycmd), so the pages and the binary cannot drift apart.
//!
//! Each page runs in its `commands/<page>.in/` directory (copied to a temp dir when `<page>.out/` exists, for pages
//! whose examples write files). trycmd cannot remove variables, so every variable jbproxy reads is set to the empty
//! string, which jbproxy treats as unset; HOME points nowhere, so no per-user config file is found.
use crate::common;

#[test]
fn command_pages() {
    let cases = trycmd::TestCases::new();
    cases
        .register_bin(
            "jbproxy",
            std::path::PathBuf::from(env!("CARGO_BIN_EXE_jbproxy")),
        )
        .env("HOME", "/nonexistent/jbproxy-docs-home")
        .env("COLUMNS", "100")
        .env("RUST_BACKTRACE", "0");
    for name in common::SCRUBBED {
        cases.env(name, "");
    }
    for (name, _) in std::env::vars() {
        if name.starts_with("JWT_") || name.starts_with("JBPROXY_") {
            cases.env(name, "");
        }
    }
    cases.case("commands/*.md");
}

/// docs/DEPLOY.md's systemd unit is one `systemd-analyze verify` accepts (with `ExecStart` pointing at this build's
/// binary, which must exist and be executable for the check). Skipped where systemd-analyze is not installed.
#[test]
fn the_deploy_pages_systemd_unit_verifies() {
    let page = std::fs::read_to_string(common::repo("docs/DEPLOY.md")).expect("read DEPLOY.md");
    let start = page.find("```ini\n").expect("an ini block") + "```ini\n".len();
    let unit = &page[start..start + page[start..].find("```").expect("its end")];
    assert!(unit.contains("NoNewPrivileges=yes") && unit.contains("ProtectSystem=strict"));
    let Ok(found) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    assert!(found.status.success());
    let dir = common::tempdir();
    let path = dir.path().join("jbproxy.service");
    let unit = unit.replace("/usr/local/bin/jbproxy", env!("CARGO_BIN_EXE_jbproxy"));
    std::fs::write(&path, unit).expect("write unit");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !said.contains("jbproxy.service"),
        "{said}"
    );
}
