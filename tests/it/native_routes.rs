//! The native provider routes (`native_routes`, issue 13 item 8) over real sockets: `jbproxy serve` as a process in
//! front of the fake, whose native routes check bodies by the provider's rules and answer in the provider's format.

use crate::common;

use common::serve::{KEY, Setup};
use jbproxy::fake_upstream::Behaviour;
use serde_json::{Value, json};

const ANTHROPIC_ROUTE: &str = "/user/v5/llm/anthropic/v1/messages";
const OPENAI_ROUTE: &str = "/user/v5/llm/openai/v1/chat/completions";
const V8_ROUTE: &str = "/user/v5/llm/chat/stream/v8";

async fn messages(s: &Setup, body: &Value) -> reqwest::Response {
    s.client
        .post(s.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request")
}

/// A conversation with everything v8 would lose: a cached system block, an earlier signed thinking block, a cached
/// user block, and thinking on. `claude-sonnet-4-5` is an alias whose native id differs from it.
fn claude_body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "stream": stream,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "They said first.", "signature": "sig-from-earlier"},
                {"type": "text", "text": "Noted."}
            ]},
            {"role": "user", "content": [
                {"type": "text", "text": "again", "cache_control": {"type": "ephemeral"}}
            ]}
        ]
    })
}

/// `(event, data)` of each SSE record.
fn records(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .map(|record| {
            let event = record
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_default()
                .to_string();
            let data = record
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("data line");
            (event, serde_json::from_str(data).unwrap_or(Value::Null))
        })
        .collect()
}

fn last_request(s: &Setup) -> jbproxy::fake_upstream::RecordedRequest {
    s.fake.requests().pop().expect("a request reached the fake")
}

/// The recorded upstream body is the client's with the native model; a request that did not stream was asked to
/// (OpenAI's with the usage chunk), its answer folded whole by jbproxy.
fn assert_sent_as_is(s: &Setup, path: &str, client: &Value, native_model: &str) {
    let sent = last_request(s);
    assert_eq!(sent.path, path);
    let mut expected = client.clone();
    expected["model"] = json!(native_model);
    if client["stream"] != json!(true) {
        expected["stream"] = json!(true);
        if path == OPENAI_ROUTE {
            expected["stream_options"] = json!({"include_usage": true});
        }
    }
    assert_eq!(
        sent.body, expected,
        "the body goes up as the client sent it"
    );
}

#[tokio::test]
async fn anthropic_face_goes_native_with_thinking_signatures_and_cache_control_kept() {
    let s = Setup::start(&["a"], json!({"native_routes": {"anthropic": true}})).await;

    let body = claude_body(false);
    let response = messages(&s, &body).await;
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.expect("json");
    assert_sent_as_is(&s, ANTHROPIC_ROUTE, &body, "claude-sonnet-4-5-20250929");
    assert_eq!(message["content"][0]["type"], "thinking");
    assert!(
        message["content"][0]["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("sig-fake-")),
        "{message}"
    );
    assert_eq!(message["content"][1]["text"], "Echo: again");
    // The upstream's own usage reaches the client, cache figures included.
    let usage = &message["usage"];
    assert!(
        usage["input_tokens"].as_u64().is_some_and(|n| n > 0),
        "{usage}"
    );
    assert!(
        usage["output_tokens"].as_u64().is_some_and(|n| n > 0),
        "{usage}"
    );
    assert_eq!(usage["cache_creation_input_tokens"], usage["input_tokens"]);

    let body = claude_body(true);
    let response = messages(&s, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.expect("body");
    assert_sent_as_is(&s, ANTHROPIC_ROUTE, &body, "claude-sonnet-4-5-20250929");
    let records = records(&text);
    let names: Vec<&str> = records.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    for (event, data) in &records {
        assert_eq!(
            data["type"],
            event.as_str(),
            "each record keeps its event name"
        );
    }
    let delta = |kind: &str, field: &str| -> String {
        records
            .iter()
            .filter(|(_, d)| d["delta"]["type"] == kind)
            .filter_map(|(_, d)| d["delta"][field].as_str())
            .collect()
    };
    assert_eq!(
        delta("thinking_delta", "thinking"),
        "Thinking about the echo."
    );
    assert!(delta("signature_delta", "signature").starts_with("sig-fake-"));
    assert_eq!(delta("text_delta", "text"), "Echo: again");
    let (_, start) = &records[0];
    assert!(
        start["message"]["usage"]["input_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    let (_, finish) = records
        .iter()
        .find(|(e, _)| e == "message_delta")
        .expect("message_delta");
    assert!(
        finish["usage"]["output_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
}

#[tokio::test]
async fn openai_face_goes_native_streamed_and_whole() {
    let s = Setup::start(&["a"], json!({"native_routes": {"openai": true}})).await;
    // `presence_penalty` is no v8 parameter: only a native route can take it.
    let body = json!({"model": "gpt-4.1", "presence_penalty": 0.5,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]});
    let response = s.chat(body.clone()).await;
    assert_eq!(response.status(), 200);
    let completion: Value = response.json().await.expect("json");
    assert_sent_as_is(&s, OPENAI_ROUTE, &body, "gpt-4.1");
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "Echo: hello"
    );
    let usage = &completion["usage"];
    assert!(
        usage["prompt_tokens"].as_u64().is_some_and(|n| n > 0),
        "{usage}"
    );

    let mut body = body;
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = s.chat(body.clone()).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert_sent_as_is(&s, OPENAI_ROUTE, &body, "gpt-4.1");
    let data = common::serve::sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(common::serve::streamed_text(&data), "Echo: hello");
    let usage: Vec<Value> = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|c| c["usage"].is_object())
        .collect();
    assert_eq!(usage.len(), 1, "one usage chunk, as asked: {text}");
    assert!(
        usage[0]["usage"]["completion_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
}

#[tokio::test]
async fn rate_limited_and_failing_tokens_are_failed_over_in_both_modes() {
    let s = Setup::start(
        &["limited", "broken", "good"],
        json!({"native_routes": {"anthropic": true, "openai": true}, "load_balance_strategy": "round_robin"}),
    )
    .await;
    s.fake.set_behaviour(
        "limited",
        Behaviour::RateLimited {
            retry_after_secs: Some(60),
        },
    );
    s.fake.set_behaviour("broken", Behaviour::ServerError);
    for stream in [false, true, false, true] {
        let response = messages(&s, &claude_body(stream)).await;
        assert_eq!(response.status(), 200, "stream {stream}");
        let text = response.text().await.expect("body");
        let done = if stream {
            "event: message_stop"
        } else {
            "Echo: again"
        };
        assert!(text.contains(done), "{text}");
        let chat = json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
        let response = s.chat(chat).await;
        assert_eq!(response.status(), 200, "stream {stream}");
        let text = response.text().await.expect("body");
        let done = if stream { "data: [DONE]" } else { "Echo: hi" };
        assert!(text.contains(done), "{text}");
    }
    assert_eq!(
        s.fake.chat_requests_for("good"),
        8,
        "every answer came from the good token"
    );
    assert!(s.fake.chat_requests_for("limited") >= 1);
    assert!(s.fake.chat_requests_for("broken") >= 1);
    let native = s
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == ANTHROPIC_ROUTE || r.path == OPENAI_ROUTE)
        .count();
    assert_eq!(native, s.fake.requests().len(), "every attempt went native");
    // The pool learnt what the upstream said: the limited token is cooling down, the broken one marked failing.
    let stats: Value = s.get("/stats").await.json().await.expect("stats");
    let state = |name: &str| {
        stats["tokens"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == name))
            .map(|t| t["state"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(state("good"), "healthy", "{stats}");
    assert_ne!(state("limited"), "healthy", "{stats}");
}

#[tokio::test]
async fn a_body_the_route_refuses_keeps_its_status_and_reason() {
    let s = Setup::start(&["a"], json!({"native_routes": {"anthropic": true}})).await;
    let mut body = claude_body(false);
    body["thinking"]["budget_tokens"] = json!(100);
    let response = messages(&s, &body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("json");
    assert_eq!(error["type"], "error");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("budget_tokens")),
        "{error}"
    );
    assert_eq!(
        s.fake.chat_requests_for("a"),
        1,
        "a bad request is not retried"
    );
}

#[tokio::test]
async fn cross_face_requests_and_models_without_a_native_id_go_by_v8() {
    let s = Setup::start(
        &["a"],
        json!({"native_routes": {"anthropic": true, "openai": true}}),
    )
    .await;
    let path_of_last = |s: &Setup| last_request(s).path;
    // An OpenAI client on a Claude model: the chat face does not cross to the Anthropic route.
    let response = s
        .chat(json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(path_of_last(&s), V8_ROUTE);
    // The Responses face stays on v8 (jbproxy does not use the native Responses route).
    let response = s
        .client
        .post(s.url("/v1/responses"))
        .bearer_auth(KEY)
        .json(&json!({"model": "gpt-4.1", "input": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(path_of_last(&s), V8_ROUTE);
    // A Claude model with no known native id goes by v8 on the Anthropic face.
    let response = messages(
        &s,
        &json!({"model": "claude-3-5-haiku", "max_tokens": 100, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(path_of_last(&s), V8_ROUTE);

    // With the routes off (the default), the Anthropic face goes by v8 too.
    let off = Setup::start(&["a"], json!({})).await;
    let response = messages(&off, &claude_body(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(path_of_last(&off), V8_ROUTE);
}

#[tokio::test]
async fn an_error_record_before_content_fails_over_and_a_cut_after_it_ends_in_the_face_format() {
    let options = jbproxy::fake_upstream::FakeOptions {
        content_events: 6,
        ..jbproxy::fake_upstream::FakeOptions::default()
    };
    let s = Setup::with_options(
        &["overloaded", "good"],
        json!({"native_routes": {"anthropic": true}}),
        options,
    )
    .await;
    let overloaded = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n\
        event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n";
    s.fake
        .set_behaviour("overloaded", Behaviour::RawStream(overloaded.into()));
    for _ in 0..2 {
        let response = messages(&s, &claude_body(true)).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.expect("body");
        assert!(
            text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
            "{text}"
        );
        assert!(
            !text.contains("busy"),
            "nothing of the failed attempt reached the client: {text}"
        );
    }
    assert!(s.fake.chat_requests_for("overloaded") >= 1);

    // Cut after the answer started: the client sees Anthropic's error event and no message_stop.
    s.fake.set_behaviour("overloaded", Behaviour::ServerError);
    s.fake
        .set_behaviour("good", Behaviour::CutMidStream { after_events: 6 });
    let response = messages(&s, &claude_body(true)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let records = records(&text);
    let (last, data) = records.last().expect("records");
    assert_eq!(last, "error", "{text}");
    assert!(
        data["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the answer was cut")),
        "{text}"
    );
    assert!(!text.contains("message_stop"), "{text}");
}

#[tokio::test]
async fn a_whole_answer_cut_midway_is_failed_over_since_nothing_reached_the_client() {
    let s = Setup::start(
        &["cut", "good"],
        json!({"native_routes": {"anthropic": true, "openai": true}}),
    )
    .await;
    s.fake
        .set_behaviour("cut", Behaviour::CutMidStream { after_events: 4 });
    for _ in 0..2 {
        let response = messages(&s, &claude_body(false)).await;
        assert_eq!(response.status(), 200);
        let message: Value = response.json().await.expect("json");
        assert_eq!(message["content"][1]["text"], "Echo: again", "{message}");
        assert_eq!(message["stop_reason"], "end_turn");
        let response = s
            .chat(json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}))
            .await;
        assert_eq!(response.status(), 200);
        let completion: Value = response.json().await.expect("json");
        assert_eq!(completion["choices"][0]["message"]["content"], "Echo: hi");
        assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    }
    assert!(
        s.fake.chat_requests_for("cut") >= 1,
        "the cut token was tried"
    );
}

#[tokio::test]
async fn a_hanging_native_route_times_out_and_fails_over_in_both_modes() {
    let s = Setup::start(
        &["a", "b"],
        json!({"native_routes": {"anthropic": true, "openai": true}, "request_timeout": "400ms",
               "first_byte_timeout": "400ms", "load_balance_strategy": "round_robin"}),
    )
    .await;
    s.fake.set_behaviour("a", Behaviour::Hang);
    for stream in [false, true] {
        let started = std::time::Instant::now();
        let response = messages(&s, &claude_body(stream)).await;
        assert_eq!(response.status(), 200, "stream {stream}");
        let text = response.text().await.expect("body");
        let done = if stream {
            "event: message_stop"
        } else {
            "Echo: again"
        };
        assert!(text.contains(done), "{text}");
        let chat = json!({"model": "gpt-4.1", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
        let response = s.chat(chat).await;
        assert_eq!(response.status(), 200, "stream {stream}");
        let text = response.text().await.expect("body");
        let done = if stream { "data: [DONE]" } else { "Echo: hi" };
        assert!(text.contains(done), "{text}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "stream {stream} took {:?}",
            started.elapsed()
        );
    }
    let hung: Vec<_> = s
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.token_name.as_deref() == Some("a"))
        .collect();
    assert!(!hung.is_empty(), "the hanging token was tried");
    assert!(
        hung.iter()
            .all(|r| r.path == ANTHROPIC_ROUTE || r.path == OPENAI_ROUTE),
        "on the native routes"
    );
    let stats = common::pool::stats(&s).await;
    let faults = |name| common::pool::token(&stats, name)["failures"]["fault"].clone();
    assert!(faults("a").as_u64().is_some_and(|n| n >= 1), "{stats}");
    assert_eq!(faults("b"), 0, "{stats}");
}
