//! A real `redis-server` for the shared-mode tests, on a free loopback port in a temp dir, with no persistence;
//! killed when dropped. Missing locally, the tests skip with a message; with `JBPROXY_CI` set (CI installs the
//! Debian package in `.ci/run`), a missing binary fails them. `SilentRelay` sits in front of one and can let a
//! subscription go silent.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

/// A TCP relay in front of a Redis server that can let its subscriber connections go silent: they stay open but
/// carry nothing more either way, as when a NAT or proxy forgets an idle connection without a reset. Connections
/// opened after `mute_subscribers` relay normally. Threads, not tasks, so a test's blocking calls cannot stall it.
pub struct SilentRelay {
    pub port: u16,
    connections: Arc<Mutex<Vec<Arc<Link>>>>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct Link {
    subscriber: AtomicBool,
    muted: AtomicBool,
}

impl SilentRelay {
    pub fn start(redis_port: u16) -> SilentRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay port");
        let port = listener.local_addr().expect("relay address").port();
        let connections: Arc<Mutex<Vec<Arc<Link>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (list, stopped) = (Arc::clone(&connections), Arc::clone(&stop));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    return;
                }
                let (Ok(client), Ok(server)) =
                    (client, TcpStream::connect(("127.0.0.1", redis_port)))
                else {
                    continue;
                };
                let link = Arc::new(Link::default());
                list.lock().expect("relay list").push(Arc::clone(&link));
                let (client_r, server_r) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let up = Arc::clone(&link);
                std::thread::spawn(move || pipe(client_r, server, &up, true));
                std::thread::spawn(move || pipe(server_r, client, &link, false));
            }
        });
        SilentRelay {
            port,
            connections,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The subscriber connections open now go silent; returns how many there were.
    pub fn mute_subscribers(&self) -> usize {
        let links = self.connections.lock().expect("relay list");
        let mut muted = 0;
        for link in links
            .iter()
            .filter(|l| l.subscriber.load(Ordering::Acquire))
        {
            link.muted.store(true, Ordering::Release);
            muted += 1;
        }
        muted
    }
}

/// Copies `from` to `to` until either closes; a muted link's bytes are read and dropped. `upward` (client to
/// Redis) marks the link a subscriber when it sends SUBSCRIBE.
fn pipe(mut from: TcpStream, mut to: TcpStream, link: &Link, upward: bool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if upward
            && buf[..n]
                .windows(9)
                .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"))
        {
            link.subscriber.store(true, Ordering::Release);
        }
        if link.muted.load(Ordering::Acquire) {
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for SilentRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
