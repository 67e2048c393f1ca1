//! Issue 10, the network-facing items: one test per attack or fault, each over real sockets against the
//! `jbproxy serve` binary and the fake upstream. Each failed before its fix.

use crate::common;
use common::{proc_kib, read_until_closed};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::serve::{KEY, Setup, config_for, user};
use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What an HTTP/2 client sends first: the connection preface and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// How many file descriptors a process has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// An HTTP/1.1 response read off a raw socket.
struct RawResponse {
    status: u16,
    head: String,
    body: String,
}

impl RawResponse {
    fn closes(&self) -> bool {
        self.head
            .to_ascii_lowercase()
            .lines()
            .any(|l| l.starts_with("connection:") && l.contains("close"))
    }
}

/// Reads one response with a `Content-Length` body; an error when the connection ends first.
async fn read_response(stream: &mut TcpStream) -> std::io::Result<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(RawResponse {
        status,
        body: String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned(),
        head,
    })
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
    common::eventually(Duration::from_secs(5), async || {
        s.proxy.logs().contains("is not valid here")
    })
    .await;
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

// Item 6 (and the issue's "done when"): 4,096 sockets that send nothing or only an HTTP/2 preface fill
// `max_connections`, yet a new client gets `/health` within 1 s of the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_new_connections_close_after_the_header_timeout_so_4096_cannot_lock_out_health() {
    // The defaults (10 s, 4,096): long enough for 4,096 sockets to be opened (1–4 s on the 2-core dev machine,
    // more while other builds run) before the first times out, so that the cap is really full.
    let header_timeout = Duration::from_secs(10);
    let s = Setup::start(&["a"], json!({})).await;
    let pid = s.proxy.pid();
    let fds_before = open_fds(pid);
    let first_opened = Instant::now();
    let addr = s.proxy.addr;
    let mut idle = Vec::with_capacity(4096);
    // In batches below the listen backlog: a connection the kernel drops from a full accept queue never takes a
    // slot, and the cap would not really be full.
    for batch in 0..32 {
        idle.extend(
            futures_util::future::join_all((0..128).map(|i| async move {
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                if (batch + i) % 2 == 1 {
                    stream.write_all(H2_PREFACE).await.expect("preface");
                }
                stream
            }))
            .await,
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while open_fds(pid) < fds_before + 4096 && first_opened.elapsed() < header_timeout {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        open_fds(pid) >= fds_before + 4096,
        "the server holds {} of the 4,096 sockets",
        open_fds(pid).saturating_sub(fds_before)
    );
    let last_opened = Instant::now();
    println!("4,096 idle sockets opened in {:?}", first_opened.elapsed());
    // The cap is reached: a new client is refused at once, and clearly.
    let mut extra = TcpStream::connect(s.proxy.addr).await.expect("connect");
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(1)).await;
    assert!(
        closed && answer.starts_with("HTTP/1.1 503"),
        "past the cap: {answer:?}"
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let served = loop {
        match client.get(s.url("/health")).send().await {
            Ok(r) if r.status() == 200 => break Some(last_opened.elapsed()),
            _ if last_opened.elapsed() > Duration::from_secs(10) => break None,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let served = served.expect("/health never answered while the idle sockets were held");
    println!(
        "/health answered {:?} after the first idle socket opened, {served:?} after the last",
        first_opened.elapsed()
    );
    assert!(
        served <= header_timeout + Duration::from_secs(1),
        "/health only after {served:?}"
    );
    // The server closed the idle sockets itself, each within its header timeout.
    let all_due = last_opened + header_timeout + Duration::from_secs(1);
    for stream in idle.iter_mut().step_by(512) {
        let left = all_due.saturating_duration_since(Instant::now());
        let (_, closed) = read_until_closed(stream, left).await;
        assert!(closed, "an idle socket is still open");
    }
}

// Item 6: a keep-alive connection with no request open is closed after `client_idle_timeout`, not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_idle_past_client_idle_timeout_is_closed() {
    let s = Setup::start(&["a"], json!({"client_idle_timeout": "1s"})).await;
    let mut stream = TcpStream::connect(s.proxy.addr).await.expect("connect");
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request).await.expect("write");
    assert_eq!(read_response(&mut stream).await.expect("first").status, 200);
    // Within the timeout the connection is kept, and a request restarts the clock.
    tokio::time::sleep(Duration::from_millis(600)).await;
    stream.write_all(request).await.expect("write");
    assert_eq!(
        read_response(&mut stream).await.expect("second").status,
        200
    );
    let idle_from = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(4)).await;
    let after = idle_from.elapsed();
    assert!(closed, "the idle keep-alive connection was kept past 4 s");
    assert!(
        after >= Duration::from_millis(900) && after <= Duration::from_millis(2500),
        "closed after {after:?}"
    );
}

// Item 6: past `max_connections` a client gets a fast, clear 503, and the log says so once per interval with a
// count instead of once per connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_get_a_503_and_the_log_counts_them_once_per_interval() {
    let s = Setup::start(&["a"], json!({"max_connections": 2})).await;
    let _held = (
        TcpStream::connect(s.proxy.addr).await.expect("connect"),
        TcpStream::connect(s.proxy.addr).await.expect("connect"),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..30 {
        let started = Instant::now();
        let mut extra = TcpStream::connect(s.proxy.addr).await.expect("connect");
        extra
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let response = read_response(&mut extra).await.expect("a 503, not a reset");
        assert_eq!(response.status, 503, "{}", response.head);
        assert!(
            response.body.contains("max_connections"),
            "{}",
            response.body
        );
        assert!(response.closes(), "{}", response.head);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    let refusal_lines = |logs: &str| logs.lines().filter(|l| l.contains("refused")).count();
    assert_eq!(refusal_lines(&s.proxy.logs()), 1, "{}", s.proxy.logs());
    common::eventually(Duration::from_secs(7), async || {
        s.proxy.logs().contains("29 connection(s) refused")
    })
    .await;
    let logs = s.proxy.logs();
    assert!(
        logs.contains("29 connection(s) refused in the last 5s"),
        "{logs}"
    );
    assert_eq!(refusal_lines(&logs), 2, "{logs}");
}

// Item 7: header bytes per connection are capped (431 past `max_header_size`), so clients trickling huge headers
// cost little, and the memory returns after they go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_headers_are_capped_and_memory_returns_after_the_clients_go() {
    const HEADER_BYTES: usize = 320 * 1024;
    // More for the BENCHMARKS.md figure: `HARDENING_TRICKLE_CLIENTS=2000`.
    let clients: u64 = std::env::var("HARDENING_TRICKLE_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let s = Setup::start(&["a"], json!({})).await;
    // Below hyper's 8 KiB floor is a config error, not a panic at start-up.
    let dir = common::tempdir();
    let config = config_for(&s.fake, &["a"], json!({"max_header_size": "4KiB"}));
    common::write(dir.path(), "config.json", &config.to_string());
    let mut cmd = common::jbproxy(dir.path());
    cmd.args(["--config", "config.json", "print-config"]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("max_header_size: must be between 8KiB"),
        "{}",
        run.stderr
    );

    let mut one = TcpStream::connect(s.proxy.addr).await.expect("connect");
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let _ = one.write_all(big.as_bytes()).await;
    let (answer, _) = read_until_closed(&mut one, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");

    let pid = s.proxy.pid();
    let before = proc_kib(pid, "VmRSS");
    let trickle = |_| {
        let addr = s.proxy.addr;
        tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::connect(addr).await else {
                return;
            };
            if stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .await
                .is_err()
            {
                return;
            }
            let line = format!("x-pad: {}\r\n", "p".repeat(4088));
            let mut sent = 0;
            while sent < HEADER_BYTES {
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                sent += line.len();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Hold the connection as a slowloris would, until the server gives up on it.
            let _ = read_until_closed(&mut stream, Duration::from_secs(12)).await;
        })
    };
    let tricklers: Vec<_> = (0..clients).map(trickle).collect();
    let mut peak = before;
    let sampling = async {
        loop {
            peak = peak.max(proc_kib(pid, "VmRSS"));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        _ = futures_util::future::join_all(tricklers) => {}
        () = sampling => {}
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = proc_kib(pid, "VmRSS");
    println!(
        "{clients} clients trickling {} KiB of headers: RSS {before} KiB before, peak {peak} KiB (+{} KiB), {after} KiB after",
        HEADER_BYTES / 1024,
        peak.saturating_sub(before),
    );
    // Uncapped, each connection buffered its whole 320 KiB (400 clients: +149 MiB peak, +29 MiB kept). Capped at
    // 64 KiB, a client costs at most about twice that while it is open (the buffer grows by doubling).
    let grown = peak.saturating_sub(before);
    assert!(grown < clients * 120, "peak +{grown} KiB");
    let kept = after.saturating_sub(before);
    assert!(kept < clients * 60, "kept +{kept} KiB");
    assert_eq!(s.chat(user("still serving")).await.status(), 200);
}

// Item 9: answers given before the body was read (401, admin 401, 404, 405, 413, a GET with a body) keep an
// HTTP/1.1 keep-alive connection usable, or say `Connection: close`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_flood_of_2000_early_answers_sees_no_connection_errors() {
    let s = Setup::start(&["a"], json!({"max_body_size": "1KiB"})).await;
    let kinds: [(&str, &str, &str, usize, u16); 6] = [
        ("POST", "/v1/chat/completions", "Bearer wrong-key", 200, 401),
        ("GET", "/stats", "Bearer wrong-key", 100, 401),
        ("POST", "/no/such/endpoint", "Bearer wrong-key", 300, 404),
        ("POST", "/v1/models", KEY, 200, 405),
        ("POST", "/v1/chat/completions", KEY, 2000, 413),
        ("GET", "/health", "", 100, 200),
    ];
    let mut stream = TcpStream::connect(s.proxy.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut errors, mut closes) = (Vec::new(), 0);
    for i in 0..2000 {
        let (method, path, auth, body_len, expected) = kinds[i % kinds.len()];
        let auth = if auth.is_empty() {
            String::new()
        } else if auth.starts_with("Bearer") {
            format!("Authorization: {auth}\r\n")
        } else {
            format!("Authorization: Bearer {auth}\r\n")
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
        );
        let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(body_len - 10));
        // Headers and body in separate writes, the body a moment later: the answer is ready before it arrives.
        let sent = async {
            stream.write_all(head.as_bytes()).await?;
            tokio::time::sleep(Duration::from_millis(1)).await;
            stream.write_all(body.as_bytes()).await
        };
        let outcome = match sent.await {
            Ok(()) => read_response(&mut stream).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(response) => {
                assert_eq!(
                    response.status, expected,
                    "{method} {path}: {}",
                    response.head
                );
                if response.closes() {
                    closes += 1;
                    stream = TcpStream::connect(s.proxy.addr).await.expect("reconnect");
                    stream.set_nodelay(true).expect("nodelay");
                }
            }
            Err(err) => {
                errors.push(format!("request {i} ({method} {path}): {err}"));
                stream = TcpStream::connect(s.proxy.addr).await.expect("reconnect");
                stream.set_nodelay(true).expect("nodelay");
            }
        }
    }
    println!(
        "2,000 early answers on keep-alive: {} errors, {closes} announced closes",
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} connection errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert!(s.fake.requests().is_empty(), "nothing reached the upstream");
}

// Item 13: `client_body_timeout` is a deadline for the whole body, not per read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_a_byte_every_2s_gets_408_within_client_body_timeout() {
    let s = Setup::start(&["a"], json!({"client_body_timeout": "3s"})).await;
    let stream = TcpStream::connect(s.proxy.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.expect("head");
    let sent_at = Instant::now();
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(9), async {
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let took = sent_at.elapsed();
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "no answer in 9 s while the body trickled");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        took >= Duration::from_millis(2500) && took <= Duration::from_millis(4500),
        "408 after {took:?}, the deadline was 3 s"
    );
    assert!(s.fake.requests().is_empty());
}

// Item 14: on SIGTERM, connections that carry no open request close at once instead of holding the exit for the
// grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_connections_without_an_open_request_at_once() {
    let mut s = Setup::start(&["a"], json!({"shutdown_grace": "5s"})).await;
    let addr = s.proxy.addr;
    let silent = TcpStream::connect(addr).await.expect("connect");
    let mut half = TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half headers");
    let mut h2 = TcpStream::connect(addr).await.expect("connect");
    h2.write_all(H2_PREFACE).await.expect("preface");
    let mut kept = TcpStream::connect(addr).await.expect("connect");
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_response(&mut kept).await.expect("served").status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    s.proxy.signal("TERM");
    let status = s.proxy.wait(Duration::from_secs(12));
    let took = started.elapsed();
    assert!(status.is_some_and(|st| st.success()), "{status:?}");
    assert!(took < Duration::from_millis(1500), "exit took {took:?}");
    drop((silent, half, h2, kept));
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
