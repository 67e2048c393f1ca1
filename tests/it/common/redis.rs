//! A real `redis-server` for the shared-mode tests, on a free loopback port in a temp dir, with no persistence;
//! killed when dropped. Missing locally, the tests skip with a message; with `JBPROXY_CI` set (CI installs the
//! Debian package in `.ci/run`), a missing binary fails them.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

const BINARY: &str = "redis-server";

impl RedisServer {
    /// A fresh server; `None` (with a message) when `redis-server` is missing and `JBPROXY_CI` is unset.
    pub fn start(test: &str) -> Option<RedisServer> {
        let found = std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(BINARY).is_file())
        });
        if !found {
            assert!(
                std::env::var_os("JBPROXY_CI").is_none(),
                "{test}: redis-server is not installed; CI must install it (apt-get install redis-server)"
            );
            eprintln!(
                "SKIPPED {test}: redis-server is not installed (apt-get install redis-server)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut server = RedisServer {
            child: None,
            port,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        server.restart();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL): the replicas see their connections drop.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port, empty, and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let child = spawn(self.port, self.dir.path());
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        let up = super::eventually_blocking(Duration::from_secs(10), || {
            TcpStream::connect(&addr).is_ok()
        });
        assert!(up, "redis-server did not start on {addr}");
    }
}

fn spawn(port: u16, dir: &Path) -> Child {
    Command::new(BINARY)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--protected-mode", "no"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
