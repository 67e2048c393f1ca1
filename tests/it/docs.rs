//! The console examples in `commands/*.md` run as tests (trycmd), so the pages and the binary cannot drift apart;
//! README's "Use it with your agent" holds exactly the settings the agents test group runs with.
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

/// Issue 18: README's agent settings are the ones the agents group (`tests/agents/cases.py`) runs with. They live in
/// `tests/agents/settings.py`, which prints them (for jbproxy on 127.0.0.1:8080, key `my-client-key`) as the blocks
/// README must show: the section's fenced blocks must be exactly these, in order, and name each config file.
#[test]
fn readme_agent_settings_are_the_tested_ones() {
    let out = std::process::Command::new("python3")
        .arg(common::repo("tests/agents/settings.py"))
        .output()
        .expect("this test runs tests/agents/settings.py: it needs python3 on the PATH");
    assert!(
        out.status.success(),
        "settings.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wanted: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("settings.py prints JSON");
    let readme = std::fs::read_to_string(common::repo("README.md")).expect("README.md");
    let start = readme
        .find("\n## Use it with your agent\n")
        .expect("README has a \"## Use it with your agent\" section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 4)];
    let shown = fenced_blocks(section);
    let expected: Vec<(String, String)> = wanted
        .iter()
        .map(|b| {
            (
                b["lang"].as_str().expect("lang").to_string(),
                b["text"].as_str().expect("text").to_string(),
            )
        })
        .collect();
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(
            shown.get(i),
            Some(want),
            "README's \"Use it with your agent\" block {} differs from what tests/agents/settings.py gives \
             (`python3 tests/agents/settings.py` prints every block)",
            i + 1
        );
    }
    assert_eq!(
        shown.len(),
        expected.len(),
        "README's section has blocks the agents group does not run with"
    );
    for path in wanted.iter().filter_map(|b| b["path"].as_str()) {
        assert!(
            section.contains(path),
            "README's section does not name {path}"
        );
    }
}

/// The fenced code blocks of a markdown text: (language, content with its final newline).
fn fenced_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        match open.as_mut() {
            None => {
                if let Some(lang) = line.strip_prefix("```") {
                    open = Some((lang.trim().to_string(), String::new()));
                }
            }
            Some(_) if line == "```" => blocks.extend(open.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    blocks
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
