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
