//! The Anthropic face (`/v1/messages`, `/v1/messages/count_tokens`) over real sockets: `jbproxy serve` as a process
//! in front of the in-repo fake JetBrains AI, in both stream modes.

use crate::common;

use std::time::Duration;

use common::serve::{KEY, Setup};
use jbproxy::fake_upstream::{Behaviour, FakeOptions};
use serde_json::{Value, json};

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// `POST path` with the key in `x-api-key`, as Anthropic clients send it.
async fn post(s: &Setup, path: &str, body: &Value) -> reqwest::Response {
    s.client
        .post(s.url(path))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn messages(s: &Setup, body: &Value) -> reqwest::Response {
    post(s, "/v1/messages", body).await
}

async fn message_json(s: &Setup, body: &Value) -> Value {
    let response = messages(s, body).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// `(event name, data)` of every SSE record; each record must have both lines and a matching `type`.
fn records(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .map(|record| {
            let mut event = None;
            let mut data = None;
            for line in record.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_string());
                } else if let Some(json) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str::<Value>(json).expect("data is JSON"));
                }
            }
            let (event, data) = (event.expect("event line"), data.expect("data line"));
            assert_eq!(data["type"], event.as_str(), "{record}");
            (event, data)
        })
        .collect()
}

async fn stream_records(s: &Setup, body: &Value) -> Vec<(String, Value)> {
    let response = messages(s, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    records(&response.text().await.expect("body"))
}

fn names(records: &[(String, Value)]) -> Vec<&str> {
    records.iter().map(|(n, _)| n.as_str()).collect()
}

fn user(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 1024, "stream": stream,
        "messages": [{"role": "user", "content": text}]})
}

fn streamed_text(records: &[(String, Value)]) -> String {
    records
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "text_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().expect("text").to_string())
        .collect()
}

/// The upstream chat messages of the last request the fake received.
fn last_upstream(s: &Setup) -> (Value, Vec<Value>) {
    let body = s
        .fake
        .requests()
        .last()
        .expect("an upstream request")
        .body
        .clone();
    let messages = body["chat"]["messages"]
        .as_array()
        .expect("messages")
        .clone();
    (body, messages)
}

fn assert_anthropic_error(body: &Value, kind: &str) -> String {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_string()
}

#[tokio::test]
async fn non_streaming_message_with_system_prompt() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = user("claude-sonnet-4-5", "hello there", false);
    body["system"] = json!("Be brief.");
    body["temperature"] = json!(0.2);
    body["stop_sequences"] = json!(["END"]);
    let m = message_json(&s, &body).await;
    assert!(m["id"].as_str().expect("id").starts_with("msg_"), "{m}");
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["model"], "claude-sonnet-4-5");
    assert_eq!(m["content"].as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(m["content"][0]["type"], "text");
    assert_eq!(m["content"][0]["text"], "Echo: hello there");
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(m["stop_sequence"], Value::Null);
    assert!(m["usage"]["input_tokens"].as_u64().expect("input") > 0);
    assert!(m["usage"]["output_tokens"].as_u64().expect("output") > 0);

    let (sent, messages) = last_upstream(&s);
    assert_eq!(sent["profile"], "anthropic-claude-4-5-sonnet");
    // Claude profiles take length and stop-token; temperature is left out (with a debug line), never sent.
    assert_eq!(
        sent["parameters"]["data"],
        json!([
            {"type": "int", "fqdn": "llm.parameters.length"}, {"type": "int", "value": 1024, "modified": 0},
            {"type": "text", "fqdn": "llm.parameters.stop-token"}, {"type": "text", "value": "END", "modified": 0},
        ])
    );
    // The log is written off the request path: wait for the line.
    let said = crate::common::eventually(std::time::Duration::from_secs(5), || async {
        s.proxy
            .logs()
            .contains("not sent upstream: the profile does not take these parameters")
    })
    .await;
    assert!(said, "{}", s.proxy.logs());
    assert_eq!(
        messages,
        [
            json!({"type": "system_message", "content": "Be brief."}),
            json!({"type": "user_message", "content": "hello there"})
        ]
    );

    // System as text blocks.
    let mut body = user("claude-sonnet-4-5", "again", false);
    body["system"] = json!([{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]);
    message_json(&s, &body).await;
    let (_, messages) = last_upstream(&s);
    assert_eq!(
        messages[0],
        json!({"type": "system_message", "content": "One.\nTwo."})
    );
}

#[tokio::test]
async fn streaming_message_has_anthropics_exact_event_order() {
    let s = Setup::start(&["a"], json!({})).await;
    let body = user("claude-haiku-4-5-20251001", "stream me", true);
    let r = stream_records(&s, &body).await;
    assert_eq!(
        names(&r),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ],
        "{r:?}"
    );
    let start = &r[0].1["message"];
    assert!(start["id"].as_str().expect("id").starts_with("msg_"));
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["model"], "claude-haiku-4-5-20251001");
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    let input_tokens = start["usage"]["input_tokens"].as_u64().expect("input");
    assert!(input_tokens > 0);
    assert_eq!(
        r[2].1,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert!(r[3..6].iter().all(|(_, d)| d["index"] == 0));
    assert_eq!(streamed_text(&r), "Echo: stream me");
    assert_eq!(r[6].1, json!({"type": "content_block_stop", "index": 0}));
    assert_eq!(
        r[7].1["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert!(r[7].1["usage"]["output_tokens"].as_u64().expect("output") > 0);

    // The dated Haiku id is served by Haiku, never by another model.
    assert_eq!(last_upstream(&s).0["profile"], "anthropic-claude-4-5-haiku");

    // count_tokens gives the same estimate message_start reported, without an upstream call.
    let calls = s.fake.requests().len();
    let count = post(&s, "/v1/messages/count_tokens", &body).await;
    assert_eq!(count.status(), 200);
    let count: Value = count.json().await.expect("json");
    assert_eq!(count, json!({"input_tokens": input_tokens}));
    assert_eq!(s.fake.requests().len(), calls);
}

#[tokio::test]
async fn images_go_up_as_media_and_url_sources_are_refused() {
    let s = Setup::start(&["a"], json!({})).await;
    for stream in [false, true] {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "text", "text": "what is this"}
        ]}]});
        let response = messages(&s, &body).await;
        assert_eq!(response.status(), 200);
        let (_, messages) = last_upstream(&s);
        assert_eq!(
            messages,
            [
                json!({"type": "media_message", "mediaType": "image/png", "data": PNG}),
                json!({"type": "user_message", "content": "what is this"})
            ]
        );
    }
    let calls = s.fake.requests().len();
    let remote = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]}]});
    let response = messages(&s, &remote).await;
    assert_eq!(response.status(), 400);
    let message = assert_anthropic_error(
        &response.json().await.expect("json"),
        "invalid_request_error",
    );
    assert!(
        message.starts_with("messages[0].content[0].source.url: image URLs are not fetched"),
        "{message}"
    );
    assert_eq!(
        s.fake.requests().len(),
        calls,
        "refused before any upstream call"
    );
}

/// A request offering one tool, whose last user message asks the fake for a call to it (`[[tool]]`; the fake
/// passes the rest of the message as `{"input": …}`).
fn tool_request(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": stream,
        "tool_choice": {"type": "auto"},
        "messages": [{"role": "user", "content": "[[tool]] weather in Paris"}],
        "tools": [{"name": "get_weather", "description": "Weather",
            "input_schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                "properties": {"input": {"type": "string"}}}}]
    })
}

#[tokio::test]
async fn tools_give_tool_use_blocks_in_both_modes() {
    let s = Setup::start(&["a"], json!({})).await;
    let m = message_json(&s, &tool_request(false)).await;
    assert_eq!(m["stop_reason"], "tool_use", "{m}");
    let block = &m["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "get_weather");
    assert!(!block["id"].as_str().expect("id").is_empty());
    assert_eq!(block["input"], json!({"input": "weather in Paris"}));
    let (sent, _) = last_upstream(&s);
    assert_eq!(
        sent["parameters"]["data"][0]["fqdn"],
        "llm.parameters.tools"
    );
    let tools: Value = serde_json::from_str(
        sent["parameters"]["data"][1]["value"]
            .as_str()
            .expect("tools string"),
    )
    .expect("tools json");
    assert_eq!(tools[0]["name"], "get_weather");
    assert!(
        tools[0]["parameters"]["schema"].get("$schema").is_none(),
        "$ keys are stripped"
    );

    let r = stream_records(&s, &tool_request(true)).await;
    assert_eq!(
        names(&r),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ],
        "{r:?}"
    );
    let start = &r[2].1;
    assert_eq!(start["index"], 0);
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "get_weather");
    assert_eq!(start["content_block"]["input"], json!({}));
    assert!(
        start["content_block"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let partial: String = r[3..6]
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"]
                .as_str()
                .expect("partial")
                .to_string()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&partial).expect("input JSON"),
        json!({"input": "weather in Paris"})
    );
    assert_eq!(r[7].1["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn tool_results_are_answered_in_both_modes() {
    let s = Setup::start(&["a"], json!({})).await;
    let m = message_json(&s, &tool_request(false)).await;
    let call = m["content"][0].clone();
    for stream in [false, true] {
        let mut body = tool_request(stream);
        body["messages"] = json!([
            {"role": "user", "content": "weather in Paris"},
            {"role": "assistant", "content": [call.clone()]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                "content": [{"type": "text", "text": "sunny, 21C"}]}]}
        ]);
        let text = if stream {
            let r = stream_records(&s, &body).await;
            assert_eq!(
                r.iter()
                    .find(|(n, _)| n == "message_delta")
                    .expect("delta")
                    .1["delta"]["stop_reason"],
                "end_turn"
            );
            streamed_text(&r)
        } else {
            let m = message_json(&s, &body).await;
            assert_eq!(m["stop_reason"], "end_turn");
            m["content"][0]["text"].as_str().expect("text").to_string()
        };
        assert_eq!(text, "Tool said: sunny, 21C");
        let (_, messages) = last_upstream(&s);
        assert_eq!(messages[1]["type"], "assistant_message_tool");
        assert_eq!(messages[1]["id"], call["id"]);
        assert_eq!(messages[1]["content"], "{\"input\":\"weather in Paris\"}");
        assert_eq!(
            messages[2],
            json!({"type": "tool_message", "id": call["id"], "toolName": "get_weather", "result": "sunny, 21C"})
        );
    }
}

#[tokio::test]
async fn count_tokens_is_an_estimate_that_grows_with_the_input() {
    let s = Setup::start(&["a"], json!({})).await;
    let count = |body: Value| {
        let s = &s;
        async move {
            let response = post(s, "/v1/messages/count_tokens", &body).await;
            assert_eq!(response.status(), 200);
            let v: Value = response.json().await.expect("json");
            v["input_tokens"].as_u64().expect("input_tokens")
        }
    };
    let base = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x".repeat(400)}]});
    assert_eq!(count(base.clone()).await, 100, "about four bytes a token");
    let mut with_system = base.clone();
    with_system["system"] = json!("y".repeat(40));
    assert_eq!(count(with_system).await, 110);
    let mut with_tools = base.clone();
    with_tools["tools"] = tool_request(false)["tools"].clone();
    assert!(count(with_tools).await > 110);
    assert!(s.fake.requests().is_empty(), "no upstream call");

    let response = post(
        &s,
        "/v1/messages/count_tokens",
        &json!({"model": "claude-nope", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_anthropic_error(&response.json().await.expect("json"), "not_found_error");
}

#[tokio::test]
async fn auth_takes_x_api_key_or_bearer_and_refuses_in_anthropic_shape() {
    let s = Setup::start(&["a"], json!({})).await;
    let body = user("claude-sonnet-4-5", "hi", false);
    let x_api_key = messages(&s, &body).await;
    assert_eq!(x_api_key.status(), 200);
    let bearer = s
        .client
        .post(s.url("/v1/messages"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status(), 200);

    for path in ["/v1/messages", "/v1/messages/count_tokens"] {
        let none = s
            .client
            .post(s.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(none.status(), 401);
        let message =
            assert_anthropic_error(&none.json().await.expect("json"), "authentication_error");
        assert!(message.contains("x-api-key"), "{message}");
        let wrong = s
            .client
            .post(s.url(path))
            .header("x-api-key", "sk-wrong-anthropic-key")
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(wrong.status(), 401);
    }
    assert_eq!(
        s.fake.requests().len(),
        2,
        "refused requests never reach upstream"
    );
    assert!(
        !s.proxy.logs().contains("sk-wrong-anthropic-key"),
        "a presented key is never logged"
    );
}

#[tokio::test]
async fn unknown_models_are_404_before_any_upstream_call() {
    let s = Setup::start(&["a"], json!({})).await;
    // The first Claude 3.5 Sonnet has no known profile: it must not be served by another model.
    for model in ["claude-nope-9", "claude-3-5-sonnet-20240620"] {
        for stream in [false, true] {
            let response = messages(&s, &user(model, "hi", stream)).await;
            assert_eq!(response.status(), 404);
            let message =
                assert_anthropic_error(&response.json().await.expect("json"), "not_found_error");
            assert!(message.contains(model), "{message}");
        }
    }
    assert!(s.fake.requests().is_empty());
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request_error() {
    let s = Setup::start(&["a"], json!({})).await;
    let not_json = s
        .client
        .post(s.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(not_json.status(), 400);
    let message = assert_anthropic_error(
        &not_json.json().await.expect("json"),
        "invalid_request_error",
    );
    assert!(message.contains("invalid request body"), "{message}");
    for (body, needle) in [
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            "model",
        ),
        (
            json!({"model": "claude-sonnet-4-5", "messages": []}),
            "messages: must contain",
        ),
        (
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "wizard", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": [{"type": "document"}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
        ),
    ] {
        let response = messages(&s, &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let message = assert_anthropic_error(
            &response.json().await.expect("json"),
            "invalid_request_error",
        );
        assert!(message.contains(needle), "{message}");
    }
    assert!(s.fake.requests().is_empty());
}

#[tokio::test]
async fn no_usable_token_is_a_503_overloaded_error_with_the_seed_message() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::Unauthorized);
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    for stream in [false, true] {
        let response = messages(&s, &user("claude-sonnet-4-5", "x", stream)).await;
        assert_eq!(response.status(), 503);
        let message =
            assert_anthropic_error(&response.json().await.expect("json"), "overloaded_error");
        assert!(
            message.contains("no available JWT tokens: no healthy JWT tokens available"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn upstream_request_errors_keep_their_status() {
    let s = Setup::start(&["a"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::BadRequest);
    let response = messages(&s, &user("claude-sonnet-4-5", "x", false)).await;
    assert_eq!(response.status(), 400);
    let message = assert_anthropic_error(
        &response.json().await.expect("json"),
        "invalid_request_error",
    );
    assert!(
        message.contains("JetBrains AI refused the request"),
        "{message}"
    );
}

#[tokio::test]
async fn a_failing_token_is_failed_over_in_both_modes() {
    let s = Setup::start(&["bad", "good"], json!({})).await;
    s.fake.set_behaviour("bad", Behaviour::ServerError);
    for _ in 0..2 {
        let m = message_json(&s, &user("claude-sonnet-4-5", "still fine", false)).await;
        assert_eq!(m["content"][0]["text"], "Echo: still fine");
        let r = stream_records(&s, &user("claude-sonnet-4-5", "still fine", true)).await;
        assert_eq!(names(&r).last(), Some(&"message_stop"));
        assert_eq!(streamed_text(&r), "Echo: still fine");
    }
    assert!(s.fake.chat_requests_for("good") >= 4);
}

#[tokio::test]
async fn a_stream_cut_after_it_started_ends_with_an_error_event_and_no_message_stop() {
    let options = FakeOptions {
        content_events: 6,
        event_delay: Duration::from_millis(30),
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({}), options).await;
    s.fake
        .set_behaviour("a", Behaviour::CutMidStream { after_events: 3 });
    let r = stream_records(&s, &user("claude-sonnet-4-5", "cut me", true)).await;
    let names = names(&r);
    assert_eq!(names.first(), Some(&"message_start"));
    assert!(names.contains(&"content_block_delta"), "{names:?}");
    assert!(!names.contains(&"message_stop"), "{names:?}");
    assert!(!names.contains(&"message_delta"), "{names:?}");
    let (last, data) = r.last().expect("records");
    assert_eq!(last, "error");
    let message = assert_anthropic_error(data, "api_error");
    assert!(message.contains("the answer was cut"), "{message}");
}

#[tokio::test]
async fn v7_tool_calls_get_unique_generated_ids_and_round_trip() {
    let s = Setup::start(&["a"], json!({"upstream_api": "v7"})).await;
    let first = message_json(&s, &tool_request(false)).await;
    let second = message_json(&s, &tool_request(false)).await;
    let call = first["content"][0].clone();
    let id = call["id"].as_str().expect("id");
    assert!(id.starts_with("toolu_"), "{id}");
    assert_ne!(
        second["content"][0]["id"], call["id"],
        "ids differ across answers"
    );
    assert_eq!(call["input"], json!({"input": "weather in Paris"}));
    assert_eq!(first["stop_reason"], "tool_use");

    let mut body = tool_request(false);
    body["messages"] = json!([
        {"role": "user", "content": "weather in Paris"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "rain"}]}
    ]);
    let m = message_json(&s, &body).await;
    assert_eq!(m["content"][0]["text"], "Tool said: rain");
    let (sent, _) = last_upstream(&s);
    assert_eq!(
        s.fake.requests().last().expect("request").path,
        "/user/v5/llm/chat/stream/v7"
    );
    assert_eq!(
        sent["parameters"]["data"][0]["fqdn"],
        "llm.parameters.functions"
    );
}
