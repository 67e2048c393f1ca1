//! Each `Behaviour`: its status, headers and timing, and how a dropped client ends the stream.

use std::time::{Duration, Instant};

use super::*;
use crate::fake_upstream::Behaviour;

const SHORT: Duration = Duration::from_millis(150);

#[tokio::test]
async fn error_behaviours_answer_their_status_and_can_be_reset() {
    let fake = fake().await;
    let cases = [
        (Behaviour::Unauthorized, 401),
        (Behaviour::QuotaExhausted, 477),
        (
            Behaviour::RateLimited {
                retry_after_secs: None,
            },
            429,
        ),
        (Behaviour::ServerError, 500),
        (Behaviour::BadRequest, 400),
    ];
    for (behaviour, status) in cases.clone() {
        fake.set_behaviour("alice", behaviour.clone());
        let response = chat(&fake, V8, "alice", &user_body("a")).await;
        assert_eq!(response.status(), status, "{behaviour:?}");
        assert!(response.headers().get("retry-after").is_none());
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert!(response.text().await.unwrap().starts_with("fake upstream:"));
    }
    fake.set_behaviour(
        "alice",
        Behaviour::RateLimited {
            retry_after_secs: Some(7),
        },
    );
    let response = chat(&fake, V8, "alice", &user_body("a")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");

    fake.set_behaviour("alice", Behaviour::Ok);
    assert_eq!(
        chat(&fake, V8, "alice", &user_body("a")).await.status(),
        200
    );
    assert_eq!(fake.chat_requests_for("alice"), cases.len() + 2);
}

#[tokio::test]
async fn unauthorized_comes_before_body_checks_and_other_errors_after() {
    let fake = fake().await;
    let bad = serde_json::json!({"prompt": "p", "profile": "x", "chat": {"messages": []}});
    fake.set_behaviour("alice", Behaviour::Unauthorized);
    assert_eq!(chat(&fake, V8, "alice", &bad).await.status(), 401);
    fake.set_behaviour("alice", Behaviour::ServerError);
    assert_eq!(chat(&fake, V8, "alice", &bad).await.status(), 400);
}

#[tokio::test]
async fn slow_first_byte_sends_headers_at_once_and_events_late() {
    let fake = fake().await;
    fake.set_behaviour("alice", Behaviour::SlowFirstByte(SHORT));
    let started = Instant::now();
    let mut response = chat(&fake, V8, "alice", &user_body("a")).await;
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().expect("a first event");
    assert!(started.elapsed() >= SHORT);
    assert!(first.starts_with(b"data: "));
    let rest = response.text().await.unwrap();
    assert!(rest.ends_with("data: end\n\n"));
}

#[tokio::test]
async fn slow_headers_sends_nothing_until_the_delay() {
    let fake = fake().await;
    fake.set_behaviour("alice", Behaviour::SlowHeaders(SHORT));
    let started = Instant::now();
    let response = chat(&fake, V8, "alice", &user_body("a")).await;
    assert!(started.elapsed() >= SHORT);
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().ends_with("data: end\n\n"));
}

// Multi-threaded like the proxy's tests: the cut must still deliver what came before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_mid_stream_breaks_the_body_after_n_events() {
    let fake = fake().await;
    fake.set_behaviour("alice", Behaviour::CutMidStream { after_events: 2 });
    let mut response = chat(&fake, V8, "alice", &user_body("a")).await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the body ended cleanly; it should break"),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let text = String::from_utf8(received).unwrap();
    assert_eq!(payloads(&text).len(), 2);
    assert!(!text.contains("data: end"));
    assert!(wait_active(&fake, 0).await);
}

#[tokio::test]
async fn pause_between_events_spaces_them() {
    let fake = fake().await;
    let pause = Duration::from_millis(30);
    fake.set_behaviour("alice", Behaviour::PauseBetweenEvents(pause));
    let started = Instant::now();
    let text = chat(&fake, V8, "alice", &user_body("a"))
        .await
        .text()
        .await
        .unwrap();
    // 7 frames: 6 pauses.
    assert!(started.elapsed() >= pause * 6, "{:?}", started.elapsed());
    assert_eq!(content_text(&events(&text)), "Echo: a");
}

#[tokio::test]
async fn hang_never_answers_and_counts_as_active_until_the_client_leaves() {
    let fake = fake().await;
    fake.set_behaviour("alice", Behaviour::Hang);
    let request = post(&fake, V8, "alice")
        .json(&user_body("a"))
        .timeout(SHORT);
    let error = request.send().await.expect_err("no answer");
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        wait_active(&fake, 0).await,
        "the hanging request ends when the client goes"
    );
    let recorded = fake.requests();
    assert_eq!(recorded.last().unwrap().status, 0);
}

#[tokio::test]
async fn a_client_dropping_mid_stream_ends_the_stream() {
    let fake = fake().await;
    fake.set_behaviour(
        "alice",
        Behaviour::PauseBetweenEvents(Duration::from_millis(200)),
    );
    let mut response = chat(&fake, V8, "alice", &user_body("a")).await;
    response.chunk().await.unwrap().expect("first event");
    assert_eq!(fake.active_streams(), 1);
    drop(response);
    assert!(
        wait_active(&fake, 0).await,
        "still {} active",
        fake.active_streams()
    );
}

#[tokio::test]
async fn a_finished_stream_is_no_longer_active() {
    let fake = fake().await;
    chat(&fake, V8, "alice", &user_body("a"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(fake.active_streams(), 0);
}

#[tokio::test]
async fn behaviours_apply_to_the_quota_endpoint() {
    let fake = fake().await;
    let quota = |behaviour: Behaviour| {
        fake.set_behaviour("alice", behaviour);
        post(&fake, QUOTA, "alice").send()
    };
    assert_eq!(quota(Behaviour::Unauthorized).await.unwrap().status(), 401);
    assert_eq!(
        quota(Behaviour::RateLimited {
            retry_after_secs: Some(3)
        })
        .await
        .unwrap()
        .status(),
        429
    );
    assert_eq!(quota(Behaviour::ServerError).await.unwrap().status(), 500);
    assert_eq!(quota(Behaviour::BadRequest).await.unwrap().status(), 400);

    let started = Instant::now();
    let response = quota(Behaviour::SlowHeaders(SHORT)).await.unwrap();
    assert!(started.elapsed() >= SHORT);
    assert_eq!(response.status(), 200);

    // Headers come at once and the body after the delay; only the lower bound is asserted, since an upper
    // bound on a shared 2-core machine would make the test flaky.
    let started = Instant::now();
    let response = quota(Behaviour::SlowFirstByte(SHORT)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(started.elapsed() >= SHORT);
    assert!(body["current"]["maximum"]["amount"].is_string());

    let response = quota(Behaviour::CutMidStream { after_events: 1 })
        .await
        .unwrap();
    assert!(response.bytes().await.is_err(), "the body breaks off");

    let hang = quota(Behaviour::Hang);
    assert!(
        tokio::time::timeout(SHORT, hang).await.is_err(),
        "no answer"
    );
}

#[tokio::test]
async fn keep_alive_sends_the_first_events_then_only_non_content_events_forever() {
    let fake = fake().await;
    fake.set_behaviour(
        "alice",
        Behaviour::KeepAlive {
            after_events: 2,
            every: Duration::from_millis(30),
        },
    );
    let mut response = chat(&fake, V8, "alice", &user_body("keep me")).await;
    assert_eq!(response.status(), 200);
    let mut events = Vec::new();
    // Twelve events: far more than the answer has, so the stream did not end with it.
    while events.len() < 12 {
        let chunk = response
            .chunk()
            .await
            .unwrap()
            .expect("the stream stays open");
        for line in String::from_utf8(chunk.to_vec()).unwrap().lines() {
            if let Some(data) = line.strip_prefix("data: ") {
                events.push(serde_json::from_str::<serde_json::Value>(data).expect("a JSON event"));
            }
        }
    }
    // The answer's own first two events: the leading unknown one, then the first content.
    assert_eq!(events[0]["type"], "ThinkingMetadata");
    assert_eq!(events[1]["type"], "Content");
    for event in &events[2..] {
        let empty = event["type"] == "Content" && event["content"] == "";
        assert!(
            empty || event["type"] != "Content",
            "content after the keep-alives began: {event}"
        );
        assert!(
            event["type"] != "ToolCall" && event["type"] != "FinishMetadata",
            "{event}"
        );
    }
    let kinds: std::collections::BTreeSet<&str> = events[2..]
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["Content", "ExecutionMetadata", "Ping", "QuotaMetadata"].into(),
        "every kind of keep-alive in turn"
    );
    drop(response);
    let deadline = Instant::now() + Duration::from_secs(2);
    while fake.active_streams() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        fake.active_streams(),
        0,
        "a dropped client ends the keep-alives"
    );
}
