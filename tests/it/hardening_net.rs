//! Issue 10, the network-facing items: one test per attack or fault, each over real sockets against the
//! `jbproxy serve` binary and the fake upstream. Each failed before its fix.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::serve::{KEY, Setup, config_for, user};
use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A process's memory figure (`VmRSS`, `VmHWM`) in KiB, from `/proc/PID/status`.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Reads until the peer closes or `limit` passes; returns what arrived and whether the peer closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
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

/// A bystander host: accepts connections, records every byte it is sent, and answers 404.
struct Catcher {
    addr: SocketAddr,
    connections: Arc<Mutex<usize>>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Catcher {
    async fn start() -> Catcher {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(Mutex::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (count, sink) = (Arc::clone(&connections), Arc::clone(&received));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                *count.lock().expect("count") += 1;
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let (got, _) = read_until_closed(&mut stream, Duration::from_millis(500)).await;
                    sink.lock().expect("sink").extend_from_slice(got.as_bytes());
                    let _ = stream
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        });
        Catcher {
            addr,
            connections,
            received,
        }
    }

    fn connections(&self) -> usize {
        *self.connections.lock().expect("count")
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().expect("sink")).into_owned()
    }
}

/// The JWT the fake saw for `name` (the one the proxy holds).
fn jwt_of(fake: &FakeUpstream, name: &str) -> String {
    fake.requests()
        .iter()
        .filter(|r| r.token_name.as_deref() == Some(name))
        .find_map(|r| {
            r.headers
                .get("grazie-authenticate-jwt")?
                .to_str()
                .ok()
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no request carried {name}'s JWT"))
}

// Item 1: an upstream redirect must not carry the JWT (or the body) to another host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_redirects_are_never_followed_and_the_other_host_sees_nothing() {
    let catcher = Catcher::start().await;
    let s = Setup::start(&["a"], json!({})).await;
    assert_eq!(s.chat(user("warm up")).await.status(), 200);
    let jwt = jwt_of(&s.fake, "a");
    for status in [302, 307, 308] {
        s.fake.set_behaviour(
            "a",
            Behaviour::Redirect {
                status,
                location: format!("http://{}/steal?from=jbproxy", catcher.addr),
            },
        );
        let response = s.chat(user("BODY-MARKER-must-stay-home")).await;
        assert_eq!(response.status(), 502, "redirect {status}");
        let body: Value = response.json().await.expect("json");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains(&format!("upstream answered {status}"))
                && message.contains("redirect"),
            "{message}"
        );
        assert!(
            !message.contains("steal"),
            "the path is not repeated: {message}"
        );
    }
    // The redirect says nothing about the token: it still serves once the upstream behaves.
    s.fake.set_behaviour("a", Behaviour::Ok);
    assert_eq!(s.chat(user("token still in")).await.status(), 200);

    // The quota call (`check-tokens --online`) shares the client and its policy.
    s.fake.set_behaviour(
        "a",
        Behaviour::Redirect {
            status: 307,
            location: format!("http://{}/steal", catcher.addr),
        },
    );
    let dir = common::tempdir();
    let config = config_for(&s.fake, &["a"], json!({}));
    common::write(dir.path(), "config.json", &config.to_string());
    let mut cmd = common::jbproxy(dir.path());
    cmd.args(["--config", "config.json", "check-tokens", "--online"]);
    let run = common::run(&mut cmd);
    assert!(run.all().contains("307"), "{}", run.all());

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(catcher.connections(), 0, "the other host was contacted");
    let seen = catcher.received();
    assert!(
        !seen.contains(&jwt) && !seen.contains("BODY-MARKER"),
        "{seen}"
    );
}

// Item 3: a JWT echoed inside JSON quotes or brackets of an upstream error reaches neither the client nor the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_echoed_in_upstream_errors_reach_neither_client_nor_log() {
    let s = Setup::start(&["a"], json!({})).await;
    assert_eq!(s.chat(user("warm up")).await.status(), 200);
    let jwt = jwt_of(&s.fake, "a");
    let payload = jwt.split('.').nth(1).expect("payload").to_string();
    let echo = r#"{"error":{"message":"token \"{jwt}\" is not valid here","echo":["{jwt}"],"raw":"(jwt={jwt})"}}"#;
    for status in [400, 500] {
        s.fake.set_behaviour(
            "a",
            Behaviour::ErrorBody {
                status,
                body: echo.to_string(),
            },
        );
        let response = s.chat(user("echo please")).await;
        assert_eq!(response.status(), if status == 400 { 400 } else { 502 });
        let text = response.text().await.expect("body");
        assert!(
            text.contains("<jwt>") || text.contains("<redacted>"),
            "scrubbed, not dropped: {text}"
        );
        assert!(!text.contains(&payload), "JWT reached the client: {text}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = s.proxy.logs();
    assert!(logs.contains("is not valid here"), "{logs}");
    assert!(!logs.contains(&payload), "JWT reached the log:\n{logs}");
}

// Item 5: a password in `upstream_url` shows in neither `/config`, `print-config`, logs nor errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_upstream_url_is_shown_nowhere() {
    const PASSWORD: &str = "hunter2-upstream-pw";
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let url = format!("http://jbuser:{PASSWORD}@{}", fake.addr());
    let config = config_for(&fake, &["a"], json!({"upstream_url": url}));
    let proxy = Proxy::start(&config, &[]);
    let client = reqwest::Client::new();
    let chat = client
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&user("through a URL with userinfo"))
        .send()
        .await
        .expect("chat");
    assert_eq!(chat.status(), 200, "the URL still works");
    let shown = client
        .get(proxy.url("/config"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("config")
        .text()
        .await
        .expect("body");
    assert!(shown.contains("<redacted>@127.0.0.1"), "{shown}");

    let dir = common::tempdir();
    common::write(dir.path(), "config.json", &config.to_string());
    let mut outputs = vec![shown, proxy.logs()];
    for args in [&["print-config"][..], &["print-config", "--json"]] {
        let mut cmd = common::jbproxy(dir.path());
        cmd.args(["--config", "config.json"]).args(args);
        outputs.push(common::run(&mut cmd).all());
    }
    let bad = config_for(
        &fake,
        &["a"],
        json!({"upstream_url": format!("ftp://jbuser:{PASSWORD}@example.test")}),
    );
    common::write(dir.path(), "bad.json", &bad.to_string());
    let mut cmd = common::jbproxy(dir.path());
    cmd.args(["--config", "bad.json", "print-config"]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("<redacted>@example.test"),
        "{}",
        run.stderr
    );
    outputs.push(run.all());
    for output in outputs {
        assert!(!output.contains(PASSWORD), "password shown:\n{output}");
    }
}

// Item 11 (the network part): an upstream 500 with a 1 GiB body is read 64 KiB far, not into memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_with_a_1_gib_body_costs_no_memory() {
    let s = Setup::start(&["a"], json!({})).await;
    assert_eq!(s.chat(user("warm up")).await.status(), 200);
    let pid = s.proxy.pid();
    let peak_before = proc_kib(pid, "VmHWM");
    s.fake
        .set_behaviour("a", Behaviour::HugeError { bytes: 1 << 30 });
    let started = Instant::now();
    let response = s.chat(user("huge error")).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("upstream answered 500: xxxx"), "{message}");
    let peak_after = proc_kib(pid, "VmHWM");
    println!(
        "1 GiB upstream 500: answered in {took:?}, peak RSS {peak_before} KiB → {peak_after} KiB"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        peak_after.saturating_sub(peak_before) < 32 * 1024,
        "peak RSS grew {} KiB",
        peak_after - peak_before
    );
    s.fake.set_behaviour("a", Behaviour::Ok);
    assert_eq!(s.chat(user("still serving")).await.status(), 200);
}
