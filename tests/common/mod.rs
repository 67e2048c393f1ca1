//! Shared helpers for the integration tests: the binary in a scrubbed environment, and test JWTs.
#![allow(dead_code)]

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Every variable jbproxy reads, removed so the developer's or CI's environment cannot leak into a test.
pub const SCRUBBED: [&str; 13] = [
    "JWT_TOKENS",
    "JWT_TOKEN",
    "BEARER_TOKEN",
    "ADMIN_TOKEN",
    "LOAD_BALANCE_STRATEGY",
    "SERVER_HOST",
    "SERVER_PORT",
    "CONFIG_FILE",
    "UPSTREAM_URL",
    "HEALTH_CHECK_INTERVAL",
    "HEALTH_CHECK_MODE",
    "RUST_LOG",
    "NO_COLOR",
];

/// `jbproxy` run in `dir` with a scrubbed environment and HOME pointing into `dir`.
pub fn jbproxy(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("jbproxy");
    for name in SCRUBBED {
        cmd.env_remove(name);
    }
    cmd.current_dir(dir).env("HOME", dir.join("home"));
    cmd
}

/// A well-formed (unsigned) JWT with the given claims.
pub fn jwt(claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

/// Unix seconds `delta` from now (negative for the past).
pub fn unix_in(delta: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    now + delta
}
