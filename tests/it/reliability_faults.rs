//! The fault scenarios of GATEWAYS.md §3b, one named test each (`sNN_…`), over real sockets: `jbproxy serve` as a
//! process in front of the in-repo fake upstream. Each test checks what the client sees, what the pool did (its
//! state in `/stats`) and that the server still serves afterwards. RELIABILITY.md maps scenarios to these names.

use crate::common;
use common::pool::{stats, token};
use common::{eventually, proc_kib};

use std::time::{Duration, Instant};

use common::serve::{KEY, Setup, sse_data, streamed_text, streaming, user};
use futures_util::StreamExt;
use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server is up and a normal request still succeeds.
async fn still_serving(s: &Setup) {
    let response = s.chat(user("still serving")).await;
    assert_eq!(response.status(), 200, "the server stopped serving");
    let body: Value = response.json().await.expect("json");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("still serving")),
        "{body}"
    );
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------------------------
// 1. 401/403 for one credential.

#[tokio::test]
async fn s01_unauthorized_token_is_marked_invalid_and_requests_fail_over() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::Unauthorized);
    for i in 0..4 {
        let response = s.chat(user(&format!("q{i}"))).await;
        assert_eq!(response.status(), 200, "the client saw the token's 401");
    }
    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["state"], "invalid");
    assert_eq!(token(&st, "a")["failures"]["unauthorized"], 1);
    assert_eq!(token(&st, "b")["state"], "healthy");
    // Dead at once and kept out: one 401, then no more traffic for `a`.
    assert_eq!(s.fake.chat_requests_for("a"), 1);

    // Every credential dead: never the raw 401 (the client would think its own key is wrong).
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    let response = s.chat(user("all dead")).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "no_available_tokens", "{body}");
    assert_eq!(token(&stats(&s).await, "b")["state"], "invalid");
    s.fake.set_behaviour("b", Behaviour::Ok);
    assert_eq!(s.get("/health").await.status(), 503);
    assert_eq!(s.get("/v1/models").await.status(), 200, "the server is up");
}

// ---------------------------------------------------------------------------------------------------------------
// 2. 429 on one key.

#[tokio::test]
async fn s02_rate_limited_token_cools_for_retry_after_and_a_pool_wide_429_carries_retry_after() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour(
        "a",
        Behaviour::RateLimited {
            retry_after_secs: Some(30),
        },
    );
    for i in 0..3 {
        assert_eq!(s.chat(user(&format!("q{i}"))).await.status(), 200);
    }
    let st = stats(&s).await;
    let a = token(&st, "a");
    assert_eq!(a["state"], "cooling", "{a}");
    assert_eq!(a["failures"]["rate_limited"], 1);
    assert!(a["reason"].as_str().expect("reason").contains("30s"), "{a}");
    assert_eq!(
        s.fake.chat_requests_for("a"),
        1,
        "a cooling token gets no traffic"
    );

    s.fake.set_behaviour(
        "b",
        Behaviour::RateLimited {
            retry_after_secs: Some(20),
        },
    );
    let response = s.chat(user("everyone is limited")).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(
        (15..=20).contains(&retry_after),
        "Retry-After should be the soonest recovery (b, 20 s): {retry_after}"
    );
    assert_eq!(token(&stats(&s).await, "b")["state"], "cooling");
    assert_eq!(s.get("/stats").await.status(), 200, "the server is up");
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Quota exhausted.

#[tokio::test]
async fn s03_exhausted_quota_takes_the_token_out_until_reset_and_is_not_a_fault() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::QuotaExhausted);
    for i in 0..3 {
        assert_eq!(s.chat(user(&format!("q{i}"))).await.status(), 200);
    }
    let st = stats(&s).await;
    let a = token(&st, "a");
    assert_eq!(a["state"], "exhausted", "{a}");
    assert_eq!(a["failures"]["quota_exhausted"], 1);
    assert_eq!(
        a["failures"]["fault"], 0,
        "exhaustion is not counted as a fault"
    );
    assert!(a["until"].is_string(), "a long, known cooldown: {a}");
    assert_eq!(s.fake.chat_requests_for("a"), 1);
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Upstream 5xx.

#[tokio::test]
async fn s04_server_errors_are_retried_on_another_token_and_only_repeated_ones_eject() {
    let s = Setup::start(&["a", "b"], json!({"load_balance_strategy": "round_robin"})).await;
    s.fake.set_behaviour("a", Behaviour::ServerError);
    assert_eq!(s.chat(user("first")).await.status(), 200);
    let st = stats(&s).await;
    let a = token(&st, "a");
    assert_eq!(a["failures"]["fault"], 1);
    assert_eq!(
        a["state"], "healthy",
        "one 5xx must not blacklist a token: {a}"
    );
    for i in 0..6 {
        assert_eq!(s.chat(user(&format!("q{i}"))).await.status(), 200);
    }
    // Consecutive faults eject it for a short, growing time (half-open probe later), not for good.
    let st = stats(&s).await;
    let a = token(&st, "a");
    assert_eq!(a["state"], "ejected", "{a}");
    assert!(a["until"].is_string(), "{a}");
    assert_eq!(token(&st, "b")["failures"]["fault"], 0);

    // The only token failing: the client gets a 502 naming the upstream failure, not a hang or a 500.
    let single = Setup::start(&["c"], json!({})).await;
    single.fake.set_behaviour("c", Behaviour::ServerError);
    let response = single.chat(user("x")).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "upstream_failed", "{body}");
    single.fake.set_behaviour("c", Behaviour::Ok);
    still_serving(&single).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Request errors 400/404/413/422.

#[tokio::test]
async fn s05_upstream_request_errors_pass_through_without_retry_or_penalty() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::BadRequest);
    s.fake.set_behaviour("b", Behaviour::BadRequest);
    for _ in 0..4 {
        let response = s.chat(user("the upstream dislikes this")).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains("request rejected by upstream policy"),
            "the upstream's reason is passed on: {body}"
        );
    }
    assert_eq!(
        s.fake.requests().len(),
        4,
        "a request error is never retried on another token"
    );
    let st = stats(&s).await;
    for name in ["a", "b"] {
        assert_eq!(token(&st, name)["state"], "healthy");
        assert_eq!(token(&st, name)["failures"]["fault"], 0);
    }
    s.fake.set_behaviour("a", Behaviour::Ok);
    s.fake.set_behaviour("b", Behaviour::Ok);
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Connect failure (TLS failures: `upstream_tls.rs`).

#[tokio::test]
async fn s06_an_unreachable_upstream_is_a_quick_502_and_service_resumes_when_it_returns() {
    // A port that was free a moment ago and has nothing listening now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let names = ["a", "b"];
    let config = json!({
        "jetbrains_tokens": common::serve::token_entries(&names),
        "bearer_token": KEY,
        "upstream_url": format!("http://127.0.0.1:{port}"),
        "health_check_mode": "off",
        "watch_config": false,
        "server_host": "127.0.0.1",
        "connect_timeout": "1s",
    });
    let proxy = common::proxy::Proxy::start(&config, &[]);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let response = client
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&user("anyone there?"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "upstream_failed");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("cannot connect"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "connect errors fail fast"
    );

    // Both tokens tried once, neither penalised: a network that reaches no upstream is not a token's fault.
    let st: Value = client
        .get(proxy.url("/stats"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    for name in names {
        let t = st["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .find(|t| t["name"] == name)
            .expect("token");
        assert_eq!(t["failures"]["unreachable"], 1, "{t}");
        assert_eq!(t["state"], "healthy", "{t}");
    }

    let fake = FakeUpstream::start_on(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        FakeOptions::default(),
    )
    .await
    .expect("fake on the same port");
    let response = client
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&user("back again"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(fake.requests().len(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// 7. Slow upstream: no headers / no first event.

#[tokio::test]
async fn s07_slow_headers_or_first_byte_fail_over_before_anything_reaches_the_client() {
    let s = Setup::start(
        &["a", "b"],
        json!({"request_timeout": "400ms", "first_byte_timeout": "400ms",
               "load_balance_strategy": "round_robin"}),
    )
    .await;
    for slow in [
        Behaviour::SlowHeaders(Duration::from_secs(5)),
        Behaviour::SlowFirstByte(Duration::from_secs(5)),
        Behaviour::Hang,
    ] {
        s.fake.set_behaviour("a", slow.clone());
        s.fake.set_behaviour("b", Behaviour::Ok);
        for stream in [false, true] {
            let started = Instant::now();
            let body = if stream {
                streaming("patience")
            } else {
                user("patience")
            };
            let response = s.chat(body).await;
            assert_eq!(response.status(), 200, "{slow:?}");
            let text = response.text().await.expect("body");
            if stream {
                assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
                assert!(
                    streamed_text(&sse_data(&text)).contains("patience"),
                    "{text}"
                );
            } else {
                assert!(text.contains("patience"), "{slow:?}: {text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{slow:?} took {:?}",
                started.elapsed()
            );
        }
    }
    let st = stats(&s).await;
    assert!(token(&st, "a")["failures"]["fault"].as_u64().expect("n") >= 1);
    assert_eq!(token(&st, "b")["failures"]["fault"], 0);
    s.fake.set_behaviour("a", Behaviour::Ok);
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 8. Connection reset mid-stream.

#[tokio::test]
async fn s08_a_stream_reset_after_it_started_ends_with_an_error_event_and_no_done() {
    let s = Setup::with_options(
        &["a"],
        json!({}),
        FakeOptions {
            content_events: 6,
            ..FakeOptions::default()
        },
    )
    .await;
    // ThinkingMetadata, then three content events, then the connection drops.
    s.fake
        .set_behaviour("a", Behaviour::CutMidStream { after_events: 4 });
    let response = s.chat(streaming("cut me off please")).await;
    assert_eq!(response.status(), 200);
    let data = sse_data(&response.text().await.expect("body"));
    assert!(
        !streamed_text(&data).is_empty(),
        "content reached the client first"
    );
    assert_ne!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let last: Value = serde_json::from_str(data.last().expect("events")).expect("json error");
    assert_eq!(last["error"]["code"], "stream_interrupted", "{last}");
    assert_eq!(
        last["error"]["type"], "upstream_error",
        "retriable, not a client error"
    );
    assert_eq!(
        s.fake.chat_requests_for("a"),
        1,
        "never a second upstream after bytes went out"
    );
    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["failures"]["fault"], 1);
    assert_eq!(token(&st, "a")["inflight"], 0);
    s.fake.set_behaviour("a", Behaviour::Ok);
    still_serving(&s).await;
}

#[tokio::test]
async fn s08_a_non_streamed_answer_cut_midway_fails_over_whole() {
    let s = Setup::with_options(
        &["a", "b"],
        json!({"load_balance_strategy": "round_robin"}),
        FakeOptions {
            content_events: 6,
            ..FakeOptions::default()
        },
    )
    .await;
    s.fake
        .set_behaviour("a", Behaviour::CutMidStream { after_events: 4 });
    for i in 0..2 {
        let response = s.chat(user(&format!("whole answer {i}"))).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            format!("Echo: whole answer {i}"),
            "no half answer glued to a whole one"
        );
    }
    let st = stats(&s).await;
    assert!(
        token(&st, "a")["failures"]["fault"].as_u64().expect("n") >= 1,
        "{st}"
    );
    assert_eq!(token(&st, "b")["failures"]["fault"], 0);
}

// ---------------------------------------------------------------------------------------------------------------
// 9. Upstream 200 then stall.

#[tokio::test]
async fn s09_a_stall_after_the_first_event_hits_the_idle_timeout() {
    let s = Setup::with_options(
        &["a", "b"],
        json!({"idle_timeout": "400ms", "load_balance_strategy": "round_robin"}),
        // No leading unknown event: the first event is content, so the stall comes after the answer started.
        FakeOptions {
            content_events: 4,
            unknown_events: false,
            ..FakeOptions::default()
        },
    )
    .await;
    s.fake
        .set_behaviour("a", Behaviour::PauseBetweenEvents(Duration::from_secs(5)));
    s.fake
        .set_behaviour("b", Behaviour::PauseBetweenEvents(Duration::from_secs(5)));
    let started = Instant::now();
    let response = s.chat(streaming("stalled")).await;
    assert_eq!(response.status(), 200);
    let data = sse_data(&response.text().await.expect("body"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_ne!(data.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(data.last().expect("events")).expect("json");
    assert_eq!(last["error"]["code"], "stream_interrupted");
    assert!(
        last["error"]["message"]
            .as_str()
            .expect("message")
            .contains("silent"),
        "{last}"
    );

    // Non-streamed, a stall fails over to the other token, which answers in time.
    s.fake.set_behaviour("b", Behaviour::Ok);
    let response = s.chat(user("stalled but saved")).await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let st = stats(&s).await;
    assert!(token(&st, "a")["failures"]["fault"].as_u64().expect("n") >= 1);
    assert_eq!(token(&st, "a")["inflight"], 0);
    assert_eq!(token(&st, "b")["inflight"], 0);
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 10. All keys down or cooling.

#[tokio::test]
async fn s10_all_tokens_cooling_fails_fast_with_429_and_retry_after_without_upstream_calls() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    for name in ["a", "b"] {
        s.fake.set_behaviour(
            name,
            Behaviour::RateLimited {
                retry_after_secs: Some(60),
            },
        );
    }
    assert_eq!(s.chat(user("cool them")).await.status(), 429);
    let before = s.fake.requests().len();
    for stream in [false, true] {
        let started = Instant::now();
        let body = if stream { streaming("x") } else { user("x") };
        let response = s.chat(body).await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.expect("json");
        assert_eq!(error_code(&body), "no_available_tokens");
        assert!(started.elapsed() < Duration::from_millis(500), "fails fast");
    }
    assert_eq!(
        s.fake.requests().len(),
        before,
        "no upstream call while all cool"
    );
    let health = s.get("/health").await;
    assert_eq!(health.status(), 503);
    let st = stats(&s).await;
    assert_eq!(st["totals"]["usable"], 0);
    assert_eq!(s.get("/v1/models").await.status(), 200, "the server is up");
}

// ---------------------------------------------------------------------------------------------------------------
// 11. Config reload under load.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_reloading_every_second_while_32_clients_stream_drops_nothing() {
    let names = ["a", "b"];
    let s = Setup::with_options(
        &names,
        json!({}),
        FakeOptions {
            content_events: 8,
            event_delay: Duration::from_millis(40),
            ..FakeOptions::default()
        },
    )
    .await;
    let path = s.proxy.dir.path().join("config.json");
    // The same JWTs every time (a changed JWT is a new token with fresh counters); other settings change.
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("config")).expect("json");
    let until = Instant::now() + Duration::from_secs(6);
    let mut clients = Vec::new();
    for c in 0..32 {
        let client = s.client.clone();
        let url = s.url("/v1/chat/completions");
        clients.push(tokio::spawn(async move {
            let mut served = 0u32;
            let mut failures = Vec::new();
            while Instant::now() < until {
                let text = format!("client {c} request {served}");
                let result = client
                    .post(&url)
                    .bearer_auth(KEY)
                    .json(&streaming(&text))
                    .send()
                    .await;
                match result {
                    Ok(r) if r.status() == 200 => match r.text().await {
                        Ok(body) if body.ends_with("data: [DONE]\n\n") => {
                            if !streamed_text(&sse_data(&body)).contains(&text) {
                                failures.push(format!("wrong text: {body}"));
                            }
                            served += 1;
                        }
                        Ok(body) => failures.push(format!("cut: {body}")),
                        Err(e) => failures.push(format!("body: {e}")),
                    },
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(format!("send: {e}")),
                }
            }
            (served, failures)
        }));
    }

    // Reload about once a second, by every trigger, with real changes; one bad file in the middle.
    let mut reloads = 0;
    let mut round = 0;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(900)).await;
        round += 1;
        let strategy = if round % 2 == 0 {
            "round_robin"
        } else {
            "least_inflight"
        };
        let mut config = original.clone();
        config["load_balance_strategy"] = json!(strategy);
        config["models"] = json!({ format!("alias-{round}"): "openai-gpt-4o" });
        std::fs::write(&path, serde_json::to_string_pretty(&config).expect("json")).expect("write");
        if round == 3 {
            std::fs::write(&path, "{ \"jetbrains_tokens\": [ broken").expect("write");
            let response = s
                .client
                .post(s.url("/reload"))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("reload");
            assert_eq!(response.status(), 422, "a bad file is refused");
            std::fs::write(&path, serde_json::to_string_pretty(&config).expect("json"))
                .expect("write");
        }
        if round % 2 == 0 {
            s.proxy.signal("HUP");
        } else {
            let response = s
                .client
                .post(s.url("/reload"))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("reload");
            assert_eq!(
                response.status(),
                200,
                "{}",
                response.text().await.unwrap_or_default()
            );
        }
        reloads += 1;
    }
    let mut served = 0;
    for client in clients {
        let (n, failures) = client.await.expect("client task");
        assert!(failures.is_empty(), "client-visible failures: {failures:?}");
        served += n;
    }
    assert!(reloads >= 5, "{reloads}");
    assert!(served >= 64, "too little load to mean anything: {served}");
    // Health and counters of unchanged tokens survive every reload.
    let st = stats(&s).await;
    assert_eq!(st["totals"]["successes"], served, "{st}");
    assert_eq!(st["totals"]["inflight"], 0);
    let logs = s.proxy.logs();
    assert!(logs.matches("reload").count() >= reloads, "{logs}");
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 12. Malformed client JSON.

#[tokio::test]
async fn s12_malformed_client_json_is_a_400_before_any_upstream_call() {
    let s = Setup::start(&["a"], json!({})).await;
    let bodies: [&[u8]; 9] = [
        b"",
        b"{",
        b"null",
        b"[]",
        b"{\"model\": 5, \"messages\": []}",
        b"{\"model\": \"gpt-4o\"}",
        b"{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}",
        b"{\"model\": \"gpt-4o\", \"messages\": \"not a list\"}",
        b"\xff\xfe\x00{\"model\"",
    ];
    for body in bodies {
        let response = s
            .client
            .post(s.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(body));
        let json: Value = response.json().await.expect("OpenAI-shaped error");
        assert_eq!(json["error"]["type"], "invalid_request_error");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // 5,000 levels of nesting inside a message: refused cleanly too, not a stack overflow.
    let deep = format!(
        "{{\"model\":\"gpt-4o\",\"messages\":[{{\"role\":\"user\",\"content\":{}1{}}}]}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let response = s
        .client
        .post(s.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    assert!(s.fake.requests().is_empty(), "nothing went upstream");
    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["requests"], 0, "no token was even picked");
    assert_eq!(token(&st, "a")["state"], "healthy");
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 13. Huge body.

#[tokio::test]
async fn s13_a_body_over_max_body_size_is_a_413_streamed_or_not() {
    let s = Setup::start(&["a"], json!({"max_body_size": "64KiB"})).await;
    let big = user(&"x".repeat(200_000));
    let response = s.chat(big.clone()).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "request_too_large");

    // Without a Content-Length (chunked), the limit holds while reading, not after buffering everything.
    let bytes = serde_json::to_vec(&big).expect("json");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    // Its own client: the connection it uses is closed by the refusal and must not go back into the shared pool.
    let response = reqwest::Client::new()
        .post(s.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // The proxy answers 413 at the limit and closes without reading the rest; a client still writing may see the
    // broken pipe before it reads the 413 (hyper's client does). Either way the body was cut off at the limit.
    match response {
        Ok(response) => assert_eq!(response.status(), 413),
        Err(err) => assert!(format!("{err:?}").contains("BodyWrite"), "{err:?}"),
    }
    assert!(s.fake.requests().is_empty());
    assert_eq!(token(&stats(&s).await, "a")["requests"], 0);
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 14. Slow client reading (slowloris on the way in: `serve_limits.rs`).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s14_slow_readers_of_big_answers_do_not_grow_proxy_memory() {
    // Every answer is 40 MiB of text in 400 events, whatever is asked: more than the loopback socket buffers
    // (up to 32 MiB receive here) can hide, so an unbounded proxy buffer would show in its RSS.
    let answer = "0123456789abcdef".repeat(40 * 1024 * 1024 / 16);
    let s = Setup::with_options(
        &["a"],
        json!({"idle_timeout": "30s"}),
        FakeOptions {
            content_events: 400,
            demo_text: Some(answer),
            record_requests: false,
            ..FakeOptions::default()
        },
    )
    .await;
    // Warm up without reading a whole answer: start one, take a chunk, leave.
    let warm = s.chat(streaming("warm")).await;
    let mut chunks = warm.bytes_stream();
    assert!(chunks.next().await.is_some());
    drop(chunks);
    assert!(
        eventually(Duration::from_secs(20), async || s.fake.active_streams()
            == 0)
        .await
    );
    let pid = s.proxy.pid();
    let baseline = proc_kib(pid, "VmRSS");

    const READERS: usize = 2;
    let mut sockets = Vec::new();
    for _ in 0..READERS {
        let mut tcp = TcpStream::connect(s.proxy.addr).await.expect("connect");
        let body = streaming("slowly").to_string();
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(head.as_bytes()).await.expect("write");
        sockets.push(tcp);
    }
    // Read 4 KiB per socket every 100 ms for 3 s: about 120 KiB of each 40+ MiB answer.
    let mut peak = baseline;
    let mut buf = [0u8; 4096];
    for _ in 0..30 {
        for tcp in &mut sockets {
            // Generous: the fake (a debug build) takes a while to prepare a 40 MiB answer.
            let n = tokio::time::timeout(Duration::from_secs(20), tcp.read(&mut buf))
                .await
                .expect("the proxy keeps sending")
                .expect("read");
            assert!(n > 0);
        }
        peak = peak.max(proc_kib(pid, "VmRSS"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!("slow readers: proxy RSS baseline {baseline} KiB, peak {peak} KiB");
    assert!(
        growth_mib < 24,
        "proxy RSS grew {growth_mib} MiB with {READERS} slow readers (baseline {baseline} KiB, peak {peak} KiB)"
    );
    assert_eq!(
        s.fake.active_streams(),
        READERS,
        "backpressure, not buffering: upstreams wait"
    );
    drop(sockets);
    assert!(
        eventually(Duration::from_secs(5), async || s.fake.active_streams()
            == 0)
        .await,
        "upstreams cancelled when the slow readers left"
    );
    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["inflight"], 0);
    assert_eq!(token(&st, "a")["state"], "healthy");
    // Still serving (the first chunk is enough: every answer here is 40 MiB).
    let after = s.chat(streaming("after")).await;
    assert_eq!(after.status(), 200);
    assert!(after.bytes_stream().next().await.is_some());
    assert_eq!(s.get("/health").await.status(), 200);
}

// ---------------------------------------------------------------------------------------------------------------
// 15. Client disconnects mid-stream.

#[tokio::test]
async fn s15_a_client_leaving_mid_stream_cancels_the_upstream_and_frees_the_token() {
    let s = Setup::with_options(
        &["a"],
        json!({}),
        FakeOptions {
            content_events: 50,
            event_delay: Duration::from_millis(100),
            ..FakeOptions::default()
        },
    )
    .await;
    for _ in 0..3 {
        let response = s.chat(streaming("I will leave early")).await;
        assert_eq!(response.status(), 200);
        let mut body = response.bytes_stream();
        let first = body.next().await.expect("a first chunk").expect("bytes");
        assert!(!first.is_empty());
        assert_eq!(s.fake.active_streams(), 1);
        assert_eq!(token(&stats(&s).await, "a")["inflight"], 1);
        drop(body);
        assert!(
            eventually(Duration::from_secs(3), async || s.fake.active_streams()
                == 0)
            .await,
            "the upstream stream was not cancelled"
        );
        assert!(
            eventually(Duration::from_secs(3), async || {
                token(&stats(&s).await, "a")["inflight"] == 0
            })
            .await,
            "the token's in-flight count did not return to zero"
        );
    }
    let st = stats(&s).await;
    let a = token(&st, "a");
    assert_eq!(
        a["state"], "healthy",
        "no penalty for the client leaving: {a}"
    );
    assert_eq!(a["failures"]["fault"], 0, "{a}");
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 16. Shutdown.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s16_sigterm_with_50_open_streams_lets_all_finish_then_exits_zero() {
    let mut s = Setup::with_options(
        &["a", "b"],
        json!({"shutdown_grace": "10s"}),
        FakeOptions {
            content_events: 15,
            event_delay: Duration::from_millis(100),
            ..FakeOptions::default()
        },
    )
    .await;
    let streams = s.open_streams(50).await;
    let signalled = Instant::now();
    s.proxy.signal("TERM");
    // Stops accepting: soon a new connection is refused or closed unanswered.
    let addr = s.proxy.addr;
    let stopped = eventually(Duration::from_secs(5), async || {
        let Ok(mut tcp) = TcpStream::connect(addr).await else {
            return true;
        };
        let _ = tcp
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(1), tcp.read_to_end(&mut answer)).await;
        answer.is_empty()
    })
    .await;
    assert!(stopped, "still answering new connections after SIGTERM");
    for (i, stream) in streams.into_iter().enumerate() {
        let body = stream.await.expect("stream task");
        assert!(
            body.ends_with("data: [DONE]\n\n"),
            "stream {i} was cut: {body}"
        );
        assert!(streamed_text(&sse_data(&body)).contains(&format!("stream {i}")));
    }
    let status = s.proxy.wait(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "within the grace period"
    );
}

#[tokio::test]
async fn s16_streams_longer_than_the_grace_period_are_cut_with_an_error_event() {
    let mut s = Setup::with_options(
        &["a"],
        json!({"shutdown_grace": "1s"}),
        FakeOptions {
            content_events: 100,
            event_delay: Duration::from_millis(100),
            ..FakeOptions::default()
        },
    )
    .await;
    let streams = s.open_streams(5).await;
    let signalled = Instant::now();
    s.proxy.signal("TERM");
    for stream in streams {
        let data = sse_data(&stream.await.expect("stream task"));
        assert_ne!(data.last().map(String::as_str), Some("[DONE]"));
        let last: Value = serde_json::from_str(data.last().expect("events")).expect("json");
        assert!(
            last["error"]["message"]
                .as_str()
                .expect("message")
                .contains("shutting down"),
            "{last}"
        );
    }
    let status = s.proxy.wait(Duration::from_secs(8)).expect("exited");
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(6),
        "{:?}",
        signalled.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 17. Invalid/rotating client keys flood.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_a_flood_of_1000_bad_keys_is_rejected_cheaply() {
    let s = Setup::start(&["a"], json!({})).await;
    let pid = s.proxy.pid();
    let flood = async |from: usize, to: usize| {
        let requests = futures_util::stream::iter(from..to).map(|i| {
            let client = s.client.clone();
            let url = s.url("/v1/chat/completions");
            async move {
                let request = client.post(url).json(&user("let me in"));
                // Rotating keys, missing keys, the right key with a twist, giant keys, the wrong header.
                let request = match i % 5 {
                    0 => request.bearer_auth(format!("sk-guess-{i}")),
                    1 => request,
                    2 => request.bearer_auth(format!("{KEY}x")),
                    3 => request.bearer_auth("k".repeat(8000)),
                    _ => request.header("x-api-key", format!("{i}")),
                };
                request.send().await.expect("send").status()
            }
        });
        let statuses: Vec<reqwest::StatusCode> = requests.buffer_unordered(32).collect().await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    };
    flood(0, 200).await;
    let warm = proc_kib(pid, "VmRSS");
    let started = Instant::now();
    flood(200, 1200).await;
    let elapsed = started.elapsed();
    let grown_kib = proc_kib(pid, "VmRSS").saturating_sub(warm);
    assert!(
        grown_kib < 4 * 1024,
        "RSS grew {grown_kib} KiB over 1,000 rejected requests"
    );
    assert!(
        s.fake.requests().is_empty(),
        "a bad key caused an upstream call"
    );
    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["requests"], 0);
    // Admin endpoints refuse bad keys the same way.
    let response = s
        .client
        .get(s.url("/stats"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("stats");
    assert_eq!(response.status(), 401);
    eprintln!("1,000 bad-key requests in {elapsed:?}; RSS +{grown_kib} KiB");
    still_serving(&s).await;
}

// ---------------------------------------------------------------------------------------------------------------
// 18. Retry storm.

#[tokio::test]
async fn s18_retries_are_capped_per_request_and_ejection_stops_a_storm() {
    let names: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let s = Setup::start(&refs, json!({})).await;
    for name in &refs {
        s.fake.set_behaviour(name, Behaviour::ServerError);
    }
    let response = s.chat(user("storm")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(
        s.fake.requests().len(),
        10,
        "the default cap: one try per token, at most 10"
    );
    // Keep hammering: each token takes at most 3 consecutive faults before ejection, then nothing goes upstream.
    let mut last = 0;
    for _ in 0..8 {
        last = s.chat(user("storm")).await.status().as_u16();
    }
    assert_eq!(last, 503, "once every token is ejected, fail fast");
    let upstream_calls = s.fake.requests().len();
    assert!(
        upstream_calls <= 12 * 3,
        "{upstream_calls} upstream calls for 9 client requests"
    );
    let st = stats(&s).await;
    assert_eq!(st["totals"]["usable"], 0);

    // A configured cap is honoured exactly, and client errors are never retried (see s05).
    let capped = Setup::start(&refs, json!({"max_attempts": 3})).await;
    for name in &refs {
        capped.fake.set_behaviour(name, Behaviour::ServerError);
    }
    assert_eq!(capped.chat(user("storm")).await.status(), 502);
    assert_eq!(capped.fake.requests().len(), 3);
    for name in &refs {
        capped.fake.set_behaviour(name, Behaviour::Ok);
    }
    still_serving(&capped).await;
}

// ---------------------------------------------------------------------------------------------------------------
// Found by the soak run: a closed log pipe.

#[tokio::test]
async fn a_closed_log_pipe_breaks_neither_requests_nor_shutdown() {
    use std::io::{BufRead, BufReader};
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.json");
    let config = common::serve::config_for(&fake, &["a"], json!({}));
    std::fs::write(&path, config.to_string()).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jbproxy"))
        .args(["--config", &path.display().to_string(), "serve", "-p", "0"])
        .env("RUST_LOG", "debug")
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("listening on ")
                .nth(1)
                .map(|a| a.trim().to_string())
        })
        .expect("listening line");
    // The log reader goes away: every later log line is a write to a broken pipe.
    drop(lines);
    let client = reqwest::Client::new();
    for i in 0..3 {
        let response = client
            .post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&streaming(&format!("nobody reads the logs {i}")))
            .send()
            .await
            .expect("a request is answered");
        assert_eq!(response.status(), 200);
        let body = response.text().await.expect("the whole answer");
        assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut exited = None;
    eventually(Duration::from_secs(10), async || {
        exited = child.try_wait().expect("wait");
        exited.is_some()
    })
    .await;
    if exited.is_none() {
        let _ = child.kill();
    }
    let exited = exited.expect("SIGTERM was ignored once the log pipe closed");
    assert!(exited.success(), "{exited:?}");
}
