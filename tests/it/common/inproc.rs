//! A proxy served in the test's own runtime by `server::run`, for scenarios that need no real process: no binary to
//! spawn, and a clock the test can pause (`#[tokio::test(start_paused = true)]`), so waiting for a check interval
//! or a backoff takes no wall time. Its log is captured per test.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use jbproxy::live::Live;

/// The running server, its address and its log. `stop` ends it the way SIGTERM would.
pub struct InProc {
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<u8>>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    // Holds the log capture for this test's thread (every task of a current-thread runtime runs on it).
    _log_guard: tracing::subscriber::DefaultGuard,
}

impl InProc {
    /// Loads `config` as a config file alone would give it, checks it as `serve` does, and serves it on
    /// 127.0.0.1:0. No reloading (there is no file to reload from).
    pub async fn start(config: &Value) -> InProc {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("info,jbproxy=debug")
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&sink)))
            .finish();
        let log_guard = tracing::subscriber::set_default(subscriber);
        let text = serde_json::to_string_pretty(config).expect("json");
        let config =
            jbproxy::config::load_text(&text, Path::new("config.json")).expect("config loads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        jbproxy::config::serving::check(&config, Some(addr)).expect("config may serve");
        let live = Live::build(config, None).expect("snapshot");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let server = tokio::spawn(jbproxy::server::run(
            live,
            listener,
            shutdown,
            None,
            jbproxy::server::Workers::none(),
        ));
        InProc {
            addr,
            logs,
            stop: Some(stop),
            server: Some(server),
            _log_guard: log_guard,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.lock().expect("logs")).into_owned()
    }

    /// Begins the shutdown and waits until the server and every task it owns have stopped. The log stays readable.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("server task"),
            None => Ok(()),
        }
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// A log sink shared with the test.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("log poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
