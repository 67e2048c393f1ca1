//! `upstream_http` over real sockets: which HTTP version `jbproxy serve` speaks to the upstream, proven by the fake
//! upstream's record of each request; an HTTP/2-only proxy in front of an HTTP/1.1-only upstream is a clear 502; a
//! bad value is refused at start and by a reload.

use crate::common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::Version;
use common::pool::{post_reload, running_config, write_config};
use common::proxy::Proxy;
use common::serve::{KEY, Setup, config_for, sse_data, streamed_text, streaming, user};
use jbproxy::fake_upstream::{FakeOptions, FakeUpstream};
use serde_json::{Value, json};

/// The versions of the chat requests the fake received, in order.
fn chat_versions(fake: &FakeUpstream) -> Vec<Version> {
    fake.requests()
        .iter()
        .filter(|r| r.path.contains("/llm/"))
        .map(|r| r.version)
        .collect()
}

/// A non-streamed and a streamed chat through the proxy, both answered in full; returns the two texts.
async fn both_chats(s: &Setup) -> (String, String) {
    let response = s.chat(user("plain over the wire")).await;
    assert_eq!(response.status(), 200, "{}", s.proxy.logs());
    let body: Value = response.json().await.expect("json");
    let plain = body["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_string();
    let response = s.chat(streaming("streamed over the wire")).await;
    assert_eq!(response.status(), 200, "{}", s.proxy.logs());
    let data = sse_data(&response.text().await.expect("body"));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    (plain, streamed_text(&data))
}

#[tokio::test]
async fn http2_carries_plain_and_streamed_chats_and_the_upstream_sees_http2() {
    let s = Setup::start(&["a"], json!({"upstream_http": "2"})).await;
    let (plain, streamed) = both_chats(&s).await;
    assert_eq!(plain, "Echo: plain over the wire");
    assert_eq!(streamed, "Echo: streamed over the wire");
    assert_eq!(chat_versions(&s.fake), [Version::HTTP_2, Version::HTTP_2]);
}

#[tokio::test]
async fn the_default_and_1_1_speak_http_1_1_to_a_plain_http_upstream() {
    for extra in [json!({}), json!({"upstream_http": "1.1"})] {
        let s = Setup::start(&["a"], extra.clone()).await;
        let (plain, streamed) = both_chats(&s).await;
        assert_eq!(plain, "Echo: plain over the wire");
        assert_eq!(streamed, "Echo: streamed over the wire");
        assert_eq!(
            chat_versions(&s.fake),
            [Version::HTTP_11, Version::HTTP_11],
            "{extra}"
        );
    }
}

/// The environment variable the benchmark's `--also "h2=… UPSTREAM_HTTP=2"` sets wins over the file.
#[tokio::test]
async fn the_upstream_http_variable_sets_it_for_serve() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake upstream");
    let config = config_for(&fake, &["a"], json!({"upstream_http": "1.1"}));
    let dir = common::tempdir();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).expect("write config");
    let args: Vec<String> = ["--config", &path.display().to_string(), "serve", "-p", "0"]
        .map(String::from)
        .to_vec();
    let proxy = Proxy::spawn(dir, &args, &[("UPSTREAM_HTTP", "2")]);
    let s = Setup {
        fake,
        proxy,
        client: reqwest::Client::new(),
    };
    both_chats(&s).await;
    assert_eq!(chat_versions(&s.fake), [Version::HTTP_2, Version::HTTP_2]);
}

/// What the HTTP/1.1-only upstream answers every request: a whole v8 answer.
const CANNED_ANSWER: &str = "data: {\"event_type\":\"data\",\"type\":\"Content\",\"content\":\"over HTTP/1.1\"}\n\n\
data: {\"event_type\":\"data\",\"type\":\"FinishMetadata\",\"reason\":\"stop\"}\n\ndata: end\n\n";

/// An upstream that speaks HTTP/1.1 only (hyper's HTTP/1 server, as a server without h2c would be). Returns its
/// URL and how many requests it answered.
async fn http1_only_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let answered = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&answered);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    count.fetch_add(1, Ordering::SeqCst);
                    async {
                        let mut response = hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from_static(CANNED_ANSWER.as_bytes()),
                        ));
                        response.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("text/event-stream"),
                        );
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (url, answered)
}

/// A proxy with one token in front of `upstream_url`.
fn proxy_for(upstream_url: &str, upstream_http: &str) -> Proxy {
    let config = json!({
        "jetbrains_tokens": common::serve::token_entries(&["a"]),
        "bearer_token": KEY,
        "upstream_url": upstream_url,
        "upstream_http": upstream_http,
        "health_check_mode": "off",
        "watch_config": false,
        "server_host": "127.0.0.1",
    });
    Proxy::start(&config, &[])
}

async fn chat_through(proxy: &Proxy, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("the proxy answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An HTTP/1.1 server as nginx without HTTP/2 on the port is: whatever comes, it answers a 400 in HTTP/1.1 and
/// closes. Returns its URL.
async fn answers_http1_400() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let _ = tcp.read(&mut buf).await;
                let body = "<html><body>400 Bad Request</body></html>";
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    url
}

/// Sends a plain, a streamed and another plain chat to a proxy speaking HTTP/2 to an upstream that does not: each is
/// a 502 that names the setting, the token is not blamed, and /health says the upstream cannot be talked to.
async fn each_is_a_clear_502(over_2: &Proxy) {
    for request in [
        user("hi"),
        streaming("hi"),
        user("again"),
        user("and again"),
    ] {
        let (status, body) = chat_through(over_2, request).await;
        assert_eq!(status, 502, "{body}\n{}", over_2.logs());
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.contains(
                "upstream_http is \"2\": if the upstream does not speak HTTP/2, set it to \"auto\" or \"1.1\""
            ),
            "does not say the upstream may not speak HTTP/2: {message}"
        );
    }
    let health = reqwest::get(over_2.url("/health")).await.expect("health");
    let health: Value = health.json().await.expect("health json");
    assert!(
        health["upstream"]
            .as_str()
            .is_some_and(|u| u.starts_with("unreachable") && u.contains("upstream_http")),
        "{health}"
    );
    assert_eq!(health["healthy_tokens"], 1, "a token was blamed: {health}");
    assert!(!over_2.logs().contains("panicked"), "{}", over_2.logs());
}

#[tokio::test]
async fn http2_against_an_http1_only_upstream_is_a_clear_502() {
    let (url, answered) = http1_only_upstream().await;
    // Control: the upstream works over HTTP/1.1, so what fails below is the version alone.
    let over_1_1 = proxy_for(&url, "1.1");
    let (status, body) = chat_through(&over_1_1, user("hi")).await;
    assert_eq!(status, 200, "{body}\n{}", over_1_1.logs());
    assert_eq!(body["choices"][0]["message"]["content"], "over HTTP/1.1");
    assert_eq!(answered.load(Ordering::SeqCst), 1);

    // hyper's HTTP/1 server closes on the HTTP/2 preface.
    each_is_a_clear_502(&proxy_for(&url, "2")).await;
    assert_eq!(
        answered.load(Ordering::SeqCst),
        1,
        "the HTTP/1.1 server answered an HTTP/2 request"
    );
    // A server that answers it in HTTP/1.1: no HTTP/2 frame.
    each_is_a_clear_502(&proxy_for(&answers_http1_400().await, "2")).await;
}

#[tokio::test]
async fn a_bad_value_is_refused_at_start_and_by_a_reload_which_can_change_a_good_one() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "config.json",
        &json!({"jetbrains_tokens": common::serve::token_entries(&["a"]), "upstream_http": "3"})
            .to_string(),
    );
    let run = common::run(common::jbproxy(dir.path()).args([
        "--config",
        "config.json",
        "serve",
        "-p",
        "0",
    ]));
    assert_ne!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stderr.contains(
            "upstream_http: unknown upstream HTTP version \"3\"; valid values are: auto, 1.1, 2"
        ),
        "{}",
        run.stderr
    );

    let s = Setup::start(&["a"], json!({"upstream_http": "2"})).await;
    both_chats(&s).await;
    let mut config = running_config(&s);
    config["upstream_http"] = json!("h3");
    write_config(&s, &config);
    let response = post_reload(&s).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("upstream_http: unknown upstream HTTP version \"h3\"")
            && message.contains("auto, 1.1, 2")
            && message.contains("running config is unchanged"),
        "{message}"
    );
    both_chats(&s).await;
    // A good value takes effect on reload: the client is rebuilt for the new version.
    config["upstream_http"] = json!("1.1");
    write_config(&s, &config);
    assert_eq!(post_reload(&s).await.status(), 200);
    both_chats(&s).await;
    assert_eq!(
        chat_versions(&s.fake),
        [
            Version::HTTP_2,
            Version::HTTP_2,
            Version::HTTP_2,
            Version::HTTP_2,
            Version::HTTP_11,
            Version::HTTP_11
        ]
    );
}
