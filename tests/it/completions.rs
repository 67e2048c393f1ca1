//! The checked-in completion scripts under `completions/` must be exactly what the binary generates, so they
//! cannot drift from the CLI. After changing the CLI, regenerate them (see `REGENERATE`).
use crate::common;

use std::path::Path;

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "powershell", "elvish"];

const REGENERATE: &str = "regenerate them with\n\
    \n    for s in bash zsh fish powershell elvish; do cargo run -q -- completions $s --out-dir completions; done\n\
    \nor run this test with UPDATE_COMPLETIONS=1 (`UPDATE_COMPLETIONS=1 cargo test --test completions`), \
and commit the result";

#[test]
fn checked_in_completions_match_the_binary() {
    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("UPDATE_COMPLETIONS").is_some();
    let mut stale = Vec::new();
    for shell in SHELLS {
        let dir = common::tempdir();
        common::jbproxy(dir.path())
            .args(["completions", shell, "--out-dir", "out"])
            .assert()
            .success();
        let generated: Vec<_> = std::fs::read_dir(dir.path().join("out"))
            .expect("read the generated dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        assert_eq!(
            generated.len(),
            1,
            "{shell}: expected one script, got {generated:?}"
        );
        let fresh_path = &generated[0];
        let name = fresh_path.file_name().expect("file name");
        let fresh = std::fs::read_to_string(fresh_path).expect("read the generated script");
        let target = checked_in.join(name);
        if update {
            std::fs::write(&target, &fresh).expect("update the checked-in script");
            continue;
        }
        match std::fs::read_to_string(&target) {
            Ok(old) if old == fresh => {}
            Ok(_) => stale.push(format!(
                "completions/{} ({shell}) differs",
                name.to_string_lossy()
            )),
            Err(_) => stale.push(format!(
                "completions/{} ({shell}) is missing",
                name.to_string_lossy()
            )),
        }
    }
    assert!(
        stale.is_empty(),
        "the checked-in completion scripts are out of date with the CLI:\n  {}\n\n{REGENERATE}",
        stale.join("\n  ")
    );
}

#[test]
fn completions_print_to_stdout_without_out_dir() {
    let dir = common::tempdir();
    common::jbproxy(dir.path())
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicates::str::contains("_jbproxy()"));
    common::jbproxy(dir.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("possible values: bash"));
}
