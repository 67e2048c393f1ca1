//! A headless Chromium for the status page tests: Debian's `chromium` driven through `chromedriver` (WebDriver) with
//! fantoccini, a fresh profile per browser, and the browser's console log read back through chromedriver.
//!
//! Without chromium or chromedriver on the PATH the tests skip with a message; under `JBPROXY_CI=1` (set by `.ci/run`)
//! they fail instead, so CI cannot pass by skipping.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// One browser at a time: Chromium is heavy on a small machine running the rest of the suite beside it.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The flags Chromium needs here: headless in a container (no sandbox, no GPU, small /dev/shm) and nothing that
/// reaches the network.
const CHROMIUM_ARGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    // A full-page screenshot drops the scrollbar and re-lays the page wider; without one there is nothing to drop.
    "--hide-scrollbars",
];

pub struct Browser {
    pub client: Client,
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
    /// Every console entry read so far (reading them from chromedriver empties its buffer).
    log: Vec<LogEntry>,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

#[derive(Debug, Clone)]
pub struct LogEntry {
    pub level: String,
    pub source: String,
    pub message: String,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or `None` (with a message) when the tests should skip.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = on_path(&["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            let message = "status page browser tests need chromium and chromedriver on the PATH \
(Debian: apt-get install -y chromium chromium-driver)";
            if std::env::var("JBPROXY_CI").is_ok_and(|v| v == "1") {
                panic!("{message}; JBPROXY_CI=1 makes this a failure");
            }
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width` × `height` window; `None` when they are missing.
    pub async fn start(width: u32, height: u32) -> Option<Browser> {
        let (chromium, driver_path) = binaries()?;
        let turn = ONE_AT_A_TIME.lock().await;
        let port = free_port();
        let mut driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let _ = driver.kill();
                panic!("chromedriver did not listen on {port} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{height}"));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = match ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await
        {
            Ok(client) => client,
            Err(err) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("cannot start a Chromium session through chromedriver: {err}");
            }
        };
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a session id");
        Some(Browser {
            client,
            driver,
            port,
            session,
            _profile: profile,
            log: Vec::new(),
            _turn: turn,
        })
    }

    /// Every console entry so far (chromedriver's legacy log endpoint; WebDriver itself has none).
    pub async fn console(&mut self) -> Vec<LogEntry> {
        let url = format!(
            "http://127.0.0.1:{}/session/{}/se/log",
            self.port, self.session
        );
        let body: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("read the browser log")
            .json()
            .await
            .expect("log json");
        for entry in body["value"].as_array().into_iter().flatten() {
            let text = |k: &str| entry[k].as_str().unwrap_or_default().to_string();
            self.log.push(LogEntry {
                level: text("level"),
                source: text("source"),
                message: text("message"),
            });
        }
        self.log.clone()
    }

    /// Runs `script` (a function body; `arguments[0..]` are `args`) in the page and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The rendered text of the first element matching `css` (empty when there is none).
    pub async fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Polls `probe` (a script returning a value) until `accept` takes its value, or panics after `timeout`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
        args: Vec<Value>,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.js(script, args.clone()).await;
            if accept(&value) {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.text("body").await;
                panic!(
                    "{what}: not within {timeout:?}; last value {value}; the page reads:\n{page}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses and releases one key, wherever the focus is (as a person at the keyboard would).
    pub async fn press(&self, key: Key) {
        let code: char = key.into();
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: code })
            .then(KeyAction::Up { value: code });
        self.client
            .perform_actions(keys)
            .await
            .expect("press a key");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// A Chrome DevTools command, through chromedriver's `goog/cdp/execute`.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/session/{}/goog/cdp/execute",
            self.port, self.session
        );
        let body: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        body["value"].clone()
    }

    /// Saves a PNG of the whole page at the window's width, below the fold included (WebDriver's own screenshot
    /// stops at the window).
    pub async fn screenshot(&self, path: &Path) {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let (width, height) = (size["width"].as_f64(), size["height"].as_f64());
        let (Some(width), Some(height)) = (width, height) else {
            panic!("no page size in {metrics}");
        };
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
            )
            .await;
        use base64::Engine;
        let png = shot["data"]
            .as_str()
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .unwrap_or_else(|| panic!("no screenshot data in {shot}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.session.clear();
    }
}

impl Browser {
    /// Ends the session over a plain socket (Drop cannot await), so chromedriver takes its Chromium down with it.
    fn end_session(&self) {
        if self.session.is_empty() {
            return;
        }
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read(&mut [0u8; 512]);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked never called `close`.
        self.end_session();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where a test's screenshots go: `target/tmp/<test>/`, kept after the run for a look.
pub fn screenshot_dir(test: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(test)
}
