//! Hardening against a careless operator and a hostile client (issues 10 and 11): reloads pass the start-up checks,
//! client text cannot forge log lines, logging never stalls serving, odd files are refused by what they are, the
//! config watcher reacts to content changes only, an unreachable upstream is reported (and not blamed on tokens),
//! and absurd JWT dates do not panic. Each test drives the real binary over sockets or as a process.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::eventually;
use common::pool::{names, post_reload, running_config, stats, token, write_config};
use common::proxy::Proxy;
use common::serve::{KEY, Setup, config_for, token_entries, user};
use jbproxy::fake_upstream::{FakeOptions, FakeUpstream};
use serde_json::{Value, json};

/// How many times the log says a reload happened.
fn reloads_logged(proxy: &Proxy) -> usize {
    proxy.logs().matches("config reloaded (").count()
}

/// `(succeeded, failed)` reloads from `/stats`.
async fn reload_counts(s: &Setup) -> (u64, u64) {
    let st = stats(s).await;
    (
        st["reloads"]["succeeded"].as_u64().unwrap_or(u64::MAX),
        st["reloads"]["failed"].as_u64().unwrap_or(u64::MAX),
    )
}

async fn unauthenticated_chat(s: &Setup) -> u16 {
    s.client
        .post(s.url("/v1/chat/completions"))
        .json(&user("no key"))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 10, item 2: a reload cannot switch authentication off; loopback in any spelling.

#[tokio::test]
async fn reload_cannot_switch_authentication_off_on_an_exposed_listener() {
    let s = Setup::start(
        &["a"],
        json!({"server_host": "0.0.0.0", "admin_token": "admin-key-0123456789abcdef"}),
    )
    .await;
    let mut open = running_config(&s);
    if let Some(map) = open.as_object_mut() {
        map.remove("bearer_token");
        map.remove("admin_token");
    }
    write_config(&s, &open);
    let response = s
        .client
        .post(s.url("/reload"))
        .bearer_auth("admin-key-0123456789abcdef")
        .send()
        .await
        .expect("POST /reload");
    assert_eq!(
        response.status(),
        422,
        "a reload that opens the server is refused"
    );
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no bearer_token set while listening on 0.0.0.0"),
        "{message}"
    );
    assert_eq!(
        unauthenticated_chat(&s).await,
        401,
        "still closed after POST /reload"
    );

    s.proxy.signal("HUP");
    assert!(
        eventually(Duration::from_secs(5), || async {
            s.proxy.logs().contains("config reload (SIGHUP) failed")
        })
        .await,
        "{}",
        s.proxy.logs()
    );
    assert_eq!(
        unauthenticated_chat(&s).await,
        401,
        "still closed after SIGHUP"
    );
}

#[tokio::test]
async fn a_v4_mapped_loopback_host_counts_as_loopback() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let mut config = config_for(&fake, &["a"], json!({"server_host": "::ffff:127.0.0.1"}));
    if let Some(map) = config.as_object_mut() {
        map.remove("bearer_token");
    }
    // Refused before the fix: "no bearer_token set while listening on ::ffff:127.0.0.1".
    let proxy = Proxy::start(&config, &[]);
    let response = reqwest::Client::new()
        .post(proxy.url("/v1/chat/completions"))
        .json(&user("hello from loopback"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "{}", proxy.logs());
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 10, item 12: a reload validates as start-up does; start-up-only settings are reported.

#[tokio::test]
async fn reload_refuses_what_start_up_refuses_and_keeps_the_old_config() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    let base = running_config(&s);
    let mut disabled = base.clone();
    for t in disabled["jetbrains_tokens"].as_array_mut().expect("tokens") {
        t["enabled"] = json!(false);
    }
    let mut empty = base.clone();
    empty["jetbrains_tokens"] = json!([]);
    for (what, config, expected) in [
        ("{}", json!({}), "no JetBrains AI JWTs configured"),
        (
            "empty jetbrains_tokens",
            empty,
            "no JetBrains AI JWTs configured",
        ),
        ("every token disabled", disabled, "disabled"),
    ] {
        write_config(&s, &config);
        let response = post_reload(&s).await;
        assert_eq!(response.status(), 422, "{what}");
        let body: Value = response.json().await.expect("json");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{what}: {message}");
        assert!(
            message.contains("running config is unchanged"),
            "{what}: {message}"
        );
        let response = s.chat(user(what)).await;
        assert_eq!(
            response.status(),
            200,
            "{what}: the old config still serves"
        );
    }
    assert_eq!(names(&stats(&s).await), ["a", "b"]);
}

#[tokio::test]
async fn reload_names_the_settings_that_need_a_restart() {
    let s = Setup::start(&["a"], json!({"max_connections": 100})).await;
    let mut config = running_config(&s);
    config["jetbrains_tokens"] = json!(token_entries(&["a", "b"]));
    config["max_connections"] = json!(50);
    config["shutdown_grace"] = json!("9s");
    write_config(&s, &config);
    let response = post_reload(&s).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["summary"]["needs_restart"],
        json!(["max_connections", "shutdown_grace"]),
        "{body}"
    );
    assert_eq!(body["summary"]["tokens"], 2, "the rest took effect");
    assert!(
        eventually(Duration::from_secs(5), || async {
            s.proxy.logs().contains(
                "max_connections, shutdown_grace only take effect at start-up and need a restart",
            )
        })
        .await,
        "{}",
        s.proxy.logs()
    );
    // What the server reports is what it does: the running values.
    let shown: Value = s.get("/config").await.json().await.expect("json");
    assert_eq!(shown["max_connections"], 100, "{shown}");
    assert_eq!(shown["shutdown_grace"], "5s", "{shown}");
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 10, item 4: control characters from a client cannot forge log lines.

#[tokio::test]
async fn client_control_characters_never_forge_a_log_line() {
    let s = Setup::start(&["a"], json!({})).await;
    let model = "nope\nINFO jbproxy: forged admin login\r\u{1b}[2K";
    let response = s
        .chat(json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("nope\\nINFO") && !message.contains('\n') && !message.contains('\u{1b}'),
        "the error escapes them too: {message:?}"
    );
    let response = s
        .client
        .post(s.url("/v1/messages"))
        .bearer_auth(KEY)
        .json(&json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    let both_logged = || async { s.proxy.logs().matches("forged").count() >= 2 };
    assert!(
        eventually(Duration::from_secs(5), both_logged).await,
        "{}",
        s.proxy.logs()
    );
    let logs = s.proxy.logs();
    let mentions: Vec<&str> = logs.lines().filter(|l| l.contains("forged")).collect();
    assert_eq!(mentions.len(), 2, "{logs}");
    for line in mentions {
        assert!(
            line.contains("nope\\nINFO jbproxy: forged"),
            "a forged line: {line:?}"
        );
        assert!(!line.contains('\u{1b}') && !line.contains('\r'), "{line:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 10, item 8: a log reader that stalls never stalls serving; refusals are summarised.

/// Starts `jbproxy serve` with stderr in a pipe that is read only until the server announces its address, then
/// never again (the pipe stays open and fills up).
fn spawn_with_stalled_stderr(
    dir: &tempfile::TempDir,
    config: &Value,
    rust_log: &str,
) -> (Child, String) {
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).expect("write config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jbproxy"));
    for name in common::SCRUBBED {
        cmd.env_remove(name);
    }
    let mut child = cmd
        .env("HOME", dir.path().join("home"))
        .env("RUST_LOG", rust_log)
        .current_dir(dir.path())
        .args(["--config", &path.display().to_string(), "serve", "-p", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut reader = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            panic!("jbproxy exited before listening");
        }
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_string();
        }
    };
    // Kept open and unread for the rest of the test.
    std::mem::forget(reader);
    (child, addr)
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `workers × each` requests with `key` and `body`, 16 at a time; returns how many did not get `expected`.
async fn flood(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
    each: usize,
    expected: u16,
) -> usize {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, url, key, body) = (
            client.clone(),
            url.to_string(),
            key.to_string(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut failures = 0;
            for _ in 0..each {
                let sent = client.post(&url).bearer_auth(&key).json(&body).send().await;
                if !matches!(sent, Ok(ref r) if r.status() == expected) {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for task in tasks {
        failures += task.await.expect("flood task");
    }
    failures
}

#[tokio::test]
async fn a_stalled_log_reader_never_stalls_serving() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let dir = common::tempdir();
    let config = config_for(&fake, &["a"], json!({}));
    let (child, addr) = spawn_with_stalled_stderr(&dir, &config, "info");
    let _kill = Kill(child);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let chat = format!("http://{addr}/v1/chat/completions");
    // Before: a line per 401 filled the 64 KiB pipe after a few hundred, and then every thread that logged blocked.
    let failures = flood(&client, &chat, "wrong-key", &user("x"), 100, 401).await;
    assert_eq!(failures, 0, "every wrong-key request got its 401");
    // Requests that are each worth a log line, far more than the pipe and the queue hold.
    let unknown = json!({"model": "m".repeat(90), "messages": [{"role": "user", "content": "x"}]});
    let failures = flood(&client, &chat, KEY, &unknown, 350, 404).await;
    assert_eq!(failures, 0, "every unknown-model request got its 404");
    for _ in 0..5 {
        let started = Instant::now();
        let health = client
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .expect("/health answers");
        assert_eq!(health.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "/health took {:?}",
            started.elapsed()
        );
    }
    let response = client
        .post(&chat)
        .bearer_auth(KEY)
        .json(&user("still serving?"))
        .send()
        .await
        .expect("a real request answers");
    assert_eq!(response.status(), 200);
    let metrics = client
        .get(format!("http://{addr}/metrics"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("jbproxy_log_lines_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no dropped-lines counter in /metrics:\n{metrics}"));
    assert!(
        dropped > 0.0,
        "the stalled sink cost dropped lines, not stalls: {dropped}"
    );
}

#[tokio::test]
async fn wrong_key_requests_are_summarised_not_logged_one_by_one() {
    let s = Setup::start(&["a"], json!({})).await;
    for i in 0..200 {
        let face = if i % 2 == 0 {
            "/v1/chat/completions"
        } else {
            "/v1/messages"
        };
        let status = s
            .client
            .post(s.url(face))
            .bearer_auth("wrong-key")
            .json(&user("x"))
            .send()
            .await
            .expect("request")
            .status();
        assert_eq!(status, 401);
    }
    let logs = s.proxy.logs();
    let lines = logs.lines().filter(|l| l.contains("API key")).count();
    assert!(lines <= 2, "{lines} log lines for 200 refusals:\n{logs}");
    assert!(
        logs.contains("refused 1 request(s) without a valid API key"),
        "{logs}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 10, item 15: files that are not regular files.

#[test]
fn generate_config_refuses_to_replace_a_fifo() {
    let dir = common::tempdir();
    let fifo = dir.path().join("out.json");
    mkfifo(&fifo);
    let run = common::run(
        common::jbproxy(dir.path())
            .args([
                "generate-config",
                "--non-interactive",
                "--force",
                "--output",
            ])
            .arg(&fifo)
            .timeout(Duration::from_secs(20)),
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("is a FIFO (named pipe), not a regular file"),
        "{}",
        run.stderr
    );
    let still = std::fs::symlink_metadata(&fifo).expect("still there");
    use std::os::unix::fs::FileTypeExt;
    assert!(still.file_type().is_fifo(), "the FIFO was left alone");
}

#[test]
fn a_dotenv_that_is_a_fifo_or_a_device_is_skipped_with_a_warning() {
    let dir = common::tempdir();
    mkfifo(&dir.path().join(".env"));
    // Before: every command hung opening the FIFO, `--version` included.
    let run = common::run(
        common::jbproxy(dir.path())
            .arg("--version")
            .timeout(Duration::from_secs(20)),
    );
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stderr
            .contains(".env: not read (it is a FIFO (named pipe), not a regular file)"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(dir.path().join(".env")).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join(".env")).expect("symlink");
    let started = Instant::now();
    let run = common::run(
        common::jbproxy(dir.path())
            .arg("--version")
            .timeout(Duration::from_secs(20)),
    );
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(run.stderr.contains("a character device"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_config_path_that_is_no_regular_file_says_what_it_is() {
    let dir = common::tempdir();
    let sub = dir.path().join("conf");
    std::fs::create_dir(&sub).expect("mkdir");
    let run = common::run(
        common::jbproxy(dir.path())
            .arg("--config")
            .arg(&sub)
            .arg("print-config"),
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("is a directory, not a config file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("conf/config.json"), "{}", run.stderr);
    assert!(!run.stderr.contains("does not exist"), "{}", run.stderr);

    let fifo = dir.path().join("fifo.json");
    mkfifo(&fifo);
    let run = common::run(
        common::jbproxy(dir.path())
            .env("CONFIG_FILE", &fifo)
            .arg("print-config")
            .timeout(Duration::from_secs(20)),
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("is a FIFO (named pipe), not a config file"),
        "{}",
        run.stderr
    );

    let big = dir.path().join("big.json");
    let padding = " ".repeat(5 * 1024 * 1024);
    std::fs::write(&big, format!("{{{padding}}}")).expect("write");
    let run = common::run(
        common::jbproxy(dir.path())
            .arg("--config")
            .arg(&big)
            .arg("print-config"),
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("larger than 4096 KiB"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 11, item 1: the watcher reacts to content changes only.

#[tokio::test]
async fn reading_the_config_file_never_triggers_a_reload() {
    let s = Setup::start(&["a"], json!({"watch_config": true})).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            s.proxy.logs().contains("watching ")
        })
        .await,
        "{}",
        s.proxy.logs()
    );
    let path = common::pool::config_path(&s);
    // `cat config.json`, again and again, for two seconds.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let _ = std::fs::read(&path).expect("read");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        reloads_logged(&s.proxy),
        0,
        "reads reloaded:\n{}",
        s.proxy.logs()
    );
    assert_eq!(reload_counts(&s).await, (0, 0));

    // An identical rewrite is not a change either.
    let same = std::fs::read(&path).expect("read");
    std::fs::write(&path, &same).expect("rewrite");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        reloads_logged(&s.proxy),
        0,
        "an identical rewrite reloaded:\n{}",
        s.proxy.logs()
    );

    // A real change reloads exactly once.
    let mut config = running_config(&s);
    config["jetbrains_tokens"] = json!(token_entries(&["a", "b"]));
    write_config(&s, &config);
    assert!(
        eventually(Duration::from_secs(5), || async {
            names(&stats(&s).await) == ["a", "b"]
        })
        .await,
        "{}",
        s.proxy.logs()
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(reloads_logged(&s.proxy), 1, "{}", s.proxy.logs());
    assert_eq!(reload_counts(&s).await, (1, 0));
    // The check that follows each reload is a read too: nothing more happens.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(reloads_logged(&s.proxy), 1, "{}", s.proxy.logs());
}

#[tokio::test]
async fn a_broken_config_file_is_reported_once_not_every_300_ms() {
    let s = Setup::start(&["a"], json!({"watch_config": true})).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            s.proxy.logs().contains("watching ")
        })
        .await
    );
    let path = common::pool::config_path(&s);
    std::fs::write(&path, "{\"jetbrains_tokens\": [").expect("write");
    assert!(
        eventually(Duration::from_secs(5), || async {
            s.proxy.logs().contains("keeping the running config")
        })
        .await
    );
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let _ = std::fs::read(&path);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let errors = s.proxy.logs().matches("keeping the running config").count();
    assert_eq!(errors, 1, "{}", s.proxy.logs());
}

#[tokio::test]
async fn trace_logs_beside_a_watched_config_do_not_feed_the_watcher() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let dir = common::tempdir();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        config_for(&fake, &["a"], json!({"watch_config": true})).to_string(),
    )
    .expect("write");
    let log = dir.path().join("serve.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jbproxy"));
    for name in common::SCRUBBED {
        cmd.env_remove(name);
    }
    let child = cmd
        .env("HOME", dir.path().join("home"))
        .env("RUST_LOG", "trace")
        .current_dir(dir.path())
        .args(["--config", &path.display().to_string(), "serve", "-p", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn");
    let _kill = Kill(child);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(20), || async {
            read_log().contains("watching ")
        })
        .await,
        "{}",
        read_log()
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before = std::fs::metadata(&log).expect("log").len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let grown = std::fs::metadata(&log).expect("log").len() - before;
    assert!(
        grown < 16 * 1024,
        "an idle server's log grew by {grown} bytes in 3 s"
    );
    assert!(
        !read_log().contains("config reloaded"),
        "the log reloaded the config"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 11, item 2: no colour codes in a log that is not a terminal.

#[tokio::test]
async fn logs_into_a_pipe_carry_no_colour_codes() {
    let s = Setup::start(&["a"], json!({})).await;
    let response = s.chat(user("hello")).await;
    assert_eq!(response.status(), 200);
    assert!(
        eventually(Duration::from_secs(5), || async {
            s.proxy.logs().contains("chat completion served")
        })
        .await,
        "{}",
        s.proxy.logs()
    );
    let logs = s.proxy.logs();
    assert!(
        !logs.contains('\u{1b}'),
        "ANSI escape codes in a piped log:\n{logs:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 11, item 7: an unreachable upstream is reported and not blamed on the tokens.

#[tokio::test]
async fn an_unreachable_upstream_shows_in_health_and_stats_and_costs_no_token() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = json!({
        "jetbrains_tokens": token_entries(&["a", "b"]),
        "bearer_token": KEY,
        "upstream_url": format!("http://127.0.0.1:{port}"),
        "health_check_mode": "quota",
        "health_check_interval": "1s",
        "watch_config": false,
        "server_host": "127.0.0.1",
        "connect_timeout": "1s",
    });
    let proxy = Proxy::start(&config, &[]);
    let client = reqwest::Client::new();
    let health = || async {
        let response = client
            .get(proxy.url("/health"))
            .send()
            .await
            .expect("/health");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.expect("json"))
    };
    assert!(
        eventually(Duration::from_secs(10), || async {
            let (status, body) = health().await;
            status == 200 && body["status"] == "degraded"
        })
        .await,
        "{:?}\n{}",
        health().await,
        proxy.logs()
    );
    let (_, body) = health().await;
    let upstream = body["upstream"].as_str().unwrap_or_default();
    assert!(
        upstream.starts_with("unreachable: cannot connect to upstream"),
        "{body}"
    );
    // Unreachable for three check intervals: load balancers should look elsewhere.
    assert!(
        eventually(Duration::from_secs(10), || async {
            health().await.0 == 503
        })
        .await,
        "{:?}",
        health().await
    );
    let (_, body) = health().await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["healthy_tokens"], 2,
        "no token is blamed for the network: {body}"
    );

    let st: Value = client
        .get(proxy.url("/stats"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    for name in ["a", "b"] {
        let t = token(&st, name);
        assert_eq!(t["state"], "healthy", "{t}");
        assert_eq!(t["last_check"]["result"], "unreachable", "{t}");
        assert!(
            t["last_check"]["error"]
                .as_str()
                .unwrap_or_default()
                .contains("cannot connect"),
            "{t}"
        );
    }
    assert!(
        proxy.logs().contains("upstream unreachable"),
        "the checker says so:\n{}",
        proxy.logs()
    );
    // `jbproxy stats` shows it too.
    let dir = common::tempdir();
    let run = common::run(common::jbproxy(dir.path()).args([
        "stats",
        "--url",
        &proxy.url(""),
        "--token",
        KEY,
    ]));
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(run.stdout.contains("unreachable"), "{}", run.stdout);

    // The upstream comes back: healthy again at the next check.
    let _fake = FakeUpstream::start_on(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        FakeOptions::default(),
    )
    .await
    .expect("fake on the same port");
    assert!(
        eventually(Duration::from_secs(10), || async {
            let (status, body) = health().await;
            status == 200 && body["status"] == "ok" && body["upstream"] == "reachable"
        })
        .await,
        "{:?}",
        health().await
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 11, item 12: absurd JWT dates are clamped, never an overflow.

#[tokio::test]
async fn absurd_exp_claims_do_not_panic_the_server() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let mut config = config_for(
        &fake,
        &["good"],
        json!({"health_check_mode": "quota", "health_check_interval": "1s"}),
    );
    let tokens = config["jetbrains_tokens"].as_array_mut().expect("tokens");
    for (name, exp) in [("minus-1e300", json!(-1e300)), ("far-past", json!(-9.2e18))] {
        tokens.push(json!({
            "token": common::jwt(json!({"sub": name, "exp": exp})),
            "name": name,
            "license_id": "lic",
            "authorization": "refresh-secret",
        }));
    }
    let proxy = Proxy::start(&config, &[]);
    let client = reqwest::Client::new();
    // Two check rounds, each deciding whether those JWTs are due for refresh.
    let rounds = eventually(Duration::from_secs(10), async || {
        proxy.logs().matches("Health check completed").count() >= 2
    })
    .await;
    assert!(rounds, "no two check rounds:\n{}", proxy.logs());
    let st: Value = client
        .get(proxy.url("/stats"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("/stats answers")
        .json()
        .await
        .expect("json");
    assert_eq!(
        token(&st, "minus-1e300")["expires_in_secs"],
        i64::MIN,
        "{st}"
    );
    assert!(
        token(&st, "far-past")["expires_in_secs"]
            .as_i64()
            .is_some_and(|s| s < 0)
    );
    let response = client
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&user("still fine"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(!proxy.logs().contains("panicked"), "{}", proxy.logs());
}
