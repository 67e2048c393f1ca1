//! An upstream that keeps a chat open with keep-alive events (issue 10, item 10): a non-content event (`Ping`, an
//! empty `Content`, unknown metadata, `QuotaMetadata`) every 0.5 s and never the answer. Only content resets the
//! first-content and idle deadlines, so the request fails over while nothing has reached the client, and ends with
//! a clear error once it has. Over real sockets: `jbproxy serve` in front of the fake upstream.

use crate::common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::serve::{KEY, Setup, config_for, sse_data, streamed_text, streaming, user};
use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream};
use serde_json::{Value, json};

const EVERY: Duration = Duration::from_millis(500);

/// `first_byte_timeout` and `idle_timeout` of these tests: a few keep-alive periods.
const LIMITS: &str = "1500ms";

fn keep_alive(after_events: usize) -> Behaviour {
    Behaviour::KeepAlive {
        after_events,
        every: EVERY,
    }
}

/// Tokens `a` (tried first) and `b` (the spare, used when `a` cannot serve a request).
async fn setup() -> Setup {
    let fake = FakeUpstream::start(FakeOptions {
        content_events: 4,
        ..FakeOptions::default()
    })
    .await
    .expect("fake upstream");
    let mut config = config_for(
        &fake,
        &["a", "b"],
        json!({"first_byte_timeout": LIMITS, "idle_timeout": LIMITS, "priority_mode": "tiers"}),
    );
    config["jetbrains_tokens"][0]["priority"] = json!(1);
    config["jetbrains_tokens"][1]["priority"] = json!(2);
    let proxy = Proxy::start(&config, &[]);
    Setup {
        fake,
        proxy,
        client: reqwest::Client::new(),
    }
}

/// Sends with a client deadline well past the proxy's, so a request the keep-alives hold open fails the test
/// instead of hanging it.
async fn send(s: &Setup, body: Value) -> reqwest::Response {
    s.client
        .post(s.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the proxy answered before the client gave up")
}

async fn stats(s: &Setup) -> Value {
    s.get("/stats").await.json().await.expect("stats json")
}

fn faults(stats: &Value, name: &str) -> u64 {
    stats["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["failures"]["fault"].as_u64())
        .unwrap_or_else(|| panic!("no token {name} in {stats}"))
}

#[tokio::test]
async fn keep_alives_before_any_content_fail_over_to_another_token() {
    let s = setup().await;
    // The leading unknown event, then keep-alives only: a never answers, and b does.
    s.fake.set_behaviour("a", keep_alive(1));
    for (i, stream) in [false, true].into_iter().enumerate() {
        let text = format!("answer me {i}");
        let body = if stream {
            streaming(&text)
        } else {
            user(&text)
        };
        let started = Instant::now();
        let response = send(&s, body).await;
        assert_eq!(response.status(), 200);
        let answer = response.text().await.expect("body");
        if stream {
            assert!(answer.ends_with("data: [DONE]\n\n"), "{answer}");
            assert_eq!(
                streamed_text(&sse_data(&answer)),
                format!("Echo: {text}"),
                "only b's answer reached the client"
            );
        } else {
            assert!(answer.contains(&format!("Echo: {text}")), "{answer}");
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "stream={stream}: {took:?} for an answer held off by keep-alives"
        );
    }
    assert_eq!(s.fake.chat_requests_for("a"), 2);
    assert_eq!(s.fake.chat_requests_for("b"), 2);
    let st = stats(&s).await;
    assert_eq!(faults(&st, "a"), 2, "{st}");
    assert_eq!(faults(&st, "b"), 0, "{st}");
}

#[tokio::test]
async fn when_every_token_only_keeps_alive_the_request_ends_with_a_clear_error() {
    let s = setup().await;
    s.fake.set_behaviour("a", keep_alive(0));
    s.fake.set_behaviour("b", keep_alive(0));
    let started = Instant::now();
    let response = send(&s, user("anyone?")).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("no content within 1.5s") && message.contains("keep-alive"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    // The upstream sees each stream close once jbproxy drops it, which can trail the answer by a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    while s.fake.active_streams() != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        s.fake.active_streams(),
        0,
        "both upstream streams were closed"
    );
}

#[tokio::test]
async fn keep_alives_after_the_answer_started_end_the_stream_with_an_error() {
    let s = setup().await;
    // The leading unknown event and the first content, then keep-alives only, on both tokens.
    s.fake.set_behaviour("a", keep_alive(2));
    s.fake.set_behaviour("b", keep_alive(2));
    let started = Instant::now();
    let response = send(&s, streaming("half an answer")).await;
    assert_eq!(response.status(), 200);
    let data = sse_data(&response.text().await.expect("body"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !streamed_text(&data).is_empty(),
        "the first content went out"
    );
    assert_ne!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let last: Value = serde_json::from_str(data.last().expect("records")).expect("json");
    assert_eq!(last["error"]["code"], "stream_interrupted", "{last}");
    let message = last["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("no content for 1.5s since the last"),
        "{message}"
    );
    assert_eq!(
        (s.fake.chat_requests_for("a"), s.fake.chat_requests_for("b")),
        (1, 0),
        "no second upstream once bytes went out"
    );

    // Not streamed, nothing has reached the client when the idle deadline passes: the answer fails over whole.
    s.fake.set_behaviour("b", Behaviour::Ok);
    let response = send(&s, user("whole or nothing")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Echo: whole or nothing"
    );
    assert_eq!(
        (s.fake.chat_requests_for("a"), s.fake.chat_requests_for("b")),
        (2, 1)
    );
    let st = stats(&s).await;
    assert_eq!((faults(&st, "a"), faults(&st, "b")), (2, 0), "{st}");
}
