//! A `jbproxy serve` process for integration tests: started on 127.0.0.1:0 with a config written to a temp dir,
//! found through its "listening on" log line, and killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub struct Proxy {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    logs: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
}

impl Proxy {
    /// Writes `config` to `<tmp>/config.json` and starts `jbproxy --config <it> serve -p 0 <extra args>`.
    pub fn start(config: &Value, extra: &[&str]) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        std::fs::write(&path, serde_json::to_string_pretty(config).expect("json"))
            .expect("write config");
        let mut args: Vec<String> = vec![
            "--config".into(),
            path.display().to_string(),
            "serve".into(),
        ];
        if !extra.iter().any(|a| *a == "-p" || *a == "--port")
            && config.get("server_port").is_none()
        {
            args.extend(["-p".into(), "0".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(dir, &args, &[])
    }

    /// Starts the binary with exactly these arguments in a fresh temp dir.
    pub fn spawn(dir: tempfile::TempDir, args: &[String], env: &[(&str, &str)]) -> Proxy {
        Self::spawn_with(dir, args, env, false)
    }

    /// Like `spawn`, with stdout a pipe nobody reads: closed before the server writes anything to it.
    pub fn spawn_stdout_closed(dir: tempfile::TempDir, args: &[String]) -> Proxy {
        Self::spawn_with(dir, args, &[], true)
    }

    fn spawn_with(
        dir: tempfile::TempDir,
        args: &[String],
        env: &[(&str, &str)],
        close_stdout: bool,
    ) -> Proxy {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jbproxy"));
        for name in super::SCRUBBED {
            cmd.env_remove(name);
        }
        cmd.env("HOME", dir.path().join("home"))
            .env("RUST_LOG", "info,jbproxy=debug")
            .current_dir(dir.path())
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn jbproxy");
        if close_stdout {
            drop(child.stdout.take());
        }
        let logs = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    // Logged before announcing the address, so a test that reads the logs once started sees it.
                    let mut logs = sink.lock().expect("logs");
                    logs.push_str(&line);
                    logs.push('\n');
                }
                if let Some(at) = line.find("listening on ") {
                    // Text logs end with the address; JSON logs close a quoted message after it.
                    let addr: String = line[at + "listening on ".len()..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = tx.send(addr);
                }
            }
        });
        if let Some(out) = child.stdout.take() {
            let out_sink = Arc::clone(&stdout);
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let mut s = out_sink.lock().expect("stdout");
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "jbproxy did not start; its log:\n{}",
                    logs.lock().expect("logs")
                );
            }
        };
        Proxy {
            child,
            addr,
            dir,
            logs,
            stdout,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stdout once it contains `needle` (or after 10 s, whatever it holds then).
    pub fn stdout_with(&self, needle: &str) -> String {
        super::eventually_blocking(Duration::from_secs(10), || {
            self.stdout.lock().expect("stdout").contains(needle)
        });
        self.stdout.lock().expect("stdout").clone()
    }

    /// The server's process id, for reading its `/proc/PID/status` (RSS) and `/proc/PID/fd`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far, read once it has stopped growing: the server writes its log in batches (a line can reach
    /// stderr up to 20 ms after it was logged), so a line about the request just answered may still be on its way.
    pub fn logs(&self) -> String {
        let len = || self.logs.lock().expect("logs").len();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let mut seen = len();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let now = len();
            if now == seen || std::time::Instant::now() >= deadline {
                break;
            }
            seen = now;
        }
        self.logs.lock().expect("logs").clone()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut exited = None;
        super::eventually_blocking(timeout, || {
            exited = self.child.try_wait().ok().flatten();
            exited.is_some()
        });
        exited
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
