//! Smoke test: the binary starts, and `--version` answers.
use crate::common;

#[test]
fn version_prints_the_crate_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::jbproxy(dir.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicates::str::contains(env!("CARGO_PKG_VERSION")));
}
