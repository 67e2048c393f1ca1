//! Shared helpers for the integration tests: the binary in a scrubbed environment, and test JWTs.
#![allow(dead_code)]

pub mod browser;
pub mod inproc;
pub mod pool;
pub mod proxy;
pub mod redis;
pub mod serve;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Every variable jbproxy reads, removed so the developer's or CI's environment cannot leak into a test.
pub const SCRUBBED: [&str; 16] = [
    "JWT_TOKENS",
    "JWT_TOKEN",
    "BEARER_TOKEN",
    "ADMIN_TOKEN",
    "LOAD_BALANCE_STRATEGY",
    "SERVER_HOST",
    "SERVER_PORT",
    "CONFIG_FILE",
    "UPSTREAM_URL",
    "UPSTREAM_HTTP",
    "WORKER_THREADS",
    "HEALTH_CHECK_INTERVAL",
    "HEALTH_CHECK_MODE",
    "STATE_URL",
    "RUST_LOG",
    "NO_COLOR",
];

/// `jbproxy` run in `dir` with a scrubbed environment and HOME pointing into `dir`.
///
/// Besides the names jbproxy reads, anything starting with `JWT_` or `JBPROXY_` is removed too, so a variable added
/// later cannot leak in from the developer's shell. Standard input is empty (not a terminal), so nothing prompts.
pub fn jbproxy(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("jbproxy");
    for name in SCRUBBED {
        cmd.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("JWT_") || text.starts_with("JBPROXY_") {
            cmd.env_remove(&name);
        }
    }
    cmd.current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("RUST_BACKTRACE", "0")
        .write_stdin("");
    cmd
}

/// The seed's example config file, byte for byte as SEED.md prints it (one key or value per line).
pub const SEED_EXAMPLE: &str = r#"{
"jetbrains_tokens": [
{
"token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9...",
"name": "Primary_JWT",
"description": "Primary JWT token for JetBrains AI",
"priority": 1,
"metadata": {
"environment": "production",
"region": "us-east-1"
}
},
{
"token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9...",
"name": "Secondary_JWT",
"description": "Secondary JWT token for load balancing",
"priority": 2,
"metadata": {
"environment": "production",
"region": "us-west-2"
}
}
],
"bearer_token": "your_bearer_token_here",
"load_balance_strategy": "round_robin",
"health_check_interval": "30s",
"server_port": 8080,
"server_host": "0.0.0.0"
}
"#;

/// A fresh temp dir to run the binary in.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temp dir")
}

/// Writes `contents` to `dir/rel`, creating parent directories.
pub fn write(dir: &Path, rel: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent dir");
    }
    std::fs::write(&path, contents).expect("write file");
    path
}

/// What a finished run printed, for assertions that need both streams.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the command to completion and captures its exit code and output.
pub fn run(cmd: &mut assert_cmd::Command) -> Run {
    let out = cmd.output().expect("run jbproxy");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `print-config --json` in `dir` with extra arguments and environment, expected to succeed.
pub fn effective(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = jbproxy(dir);
    cmd.arg("print-config").arg("--json").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = run(&mut cmd);
    assert_eq!(run.code, Some(0), "print-config failed:\n{}", run.stderr);
    run.json()
}

/// A well-formed (unsigned) JWT with the given claims.
pub fn jwt(claims: serde_json::Value) -> String {
    jbproxy::jwt::unsigned(&claims)
}

/// Unix seconds `delta` from now (negative for the past).
pub fn unix_in(delta: i64) -> i64 {
    jbproxy::epoch::now_secs() + delta
}

/// A path in the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes; returns whether it did. The deadline is on
/// tokio's clock, so under a paused clock it is the server's time, not the wall's.
pub async fn eventually(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `eventually` for code outside a runtime: polls `check` every 20 ms on the wall clock.
pub fn eventually_blocking(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads until the peer closes or `limit` passes: what arrived, and whether the connection was closed.
pub async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&buf).into_owned(), true),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), false),
        }
    }
}

/// A process's memory figure (`VmRSS`, `VmHWM`) in KiB, from `/proc/PID/status`.
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
