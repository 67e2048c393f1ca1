//! The agents group (tests/agents/): Claude Code, Codex CLI, aider, opencode and Continue CLI, pinned, run as their
//! users run them through `jbproxy serve` on the fake upstream. It installs them from npm and PyPI into a cache
//! outside the repo (about 1.5 minutes on an empty cache), so it runs only when asked: `JBPROXY_CI=1` (set by
//! `.ci/run`) or `JBPROXY_AGENTS=1`; otherwise it says so on stderr and passes without running.

use std::io::Write;
use std::path::Path;
use std::process::Command;

const RUN_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/agents/run.py");

fn asked() -> bool {
    ["JBPROXY_CI", "JBPROXY_AGENTS"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| v == "1"))
}

#[test]
fn every_agent_works_through_jbproxy_with_its_defaults() {
    if !asked() {
        // Straight to the process's stderr: libtest captures `eprintln!`, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the agents group (set JBPROXY_AGENTS=1 to run it; CI does): tests/agents/README.md"
        );
        return;
    }
    let target = Path::new(env!("CARGO_BIN_EXE_jbproxy"))
        .parent()
        .expect("the binary's folder");
    let fake = target.join("examples").join("fake_upstream");
    assert!(
        fake.exists(),
        "{} is missing: the agents group needs the fake upstream example, which `cargo test` builds (a filtered \
         `cargo test --test it` does not): run `cargo build --example fake_upstream` first",
        fake.display()
    );
    let out = Command::new("python3")
        .arg(RUN_PY)
        .env("JBPROXY_AGENTS_TARGET", target)
        .output()
        .expect("python3 runs tests/agents/run.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the agents group failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let _ = writeln!(
        std::io::stderr(),
        "agents group: {}",
        stdout.lines().chain(stderr.lines()).last().unwrap_or("")
    );
}
