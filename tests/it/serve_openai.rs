//! The OpenAI face over real sockets: `jbproxy serve` as a process in front of the in-repo fake JetBrains AI.

use crate::common;

use std::time::Duration;

use common::serve::{KEY, Setup, sse_data, streamed_text, streaming, user};
use jbproxy::fake_upstream::{Behaviour, FakeOptions};
use serde_json::{Value, json};

#[tokio::test]
async fn non_streaming_chat_returns_one_completion_with_usage() {
    let s = Setup::start(&["a"], json!({})).await;
    let response = s.chat(user("hello there")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().expect("id").starts_with("chatcmpl-"));
    assert_eq!(body["model"], "gpt-4o");
    let message = &body["choices"][0]["message"];
    assert_eq!(message["role"], "assistant");
    assert!(
        message["content"]
            .as_str()
            .expect("content")
            .contains("hello there"),
        "{body}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64().expect("prompt") > 0);
    assert!(
        body["usage"]["completion_tokens"]
            .as_u64()
            .expect("completion")
            > 0
    );
    let sent = &s.fake.requests()[0];
    assert_eq!(sent.path, "/user/v5/llm/chat/stream/v8");
    assert_eq!(sent.body["profile"], "openai-gpt-4o");
    assert!(
        sent.body.get("parameters").is_none(),
        "no parameters without tools"
    );
}

#[tokio::test]
async fn streaming_chat_sends_chunks_role_once_then_done() {
    let s = Setup::start(&["a"], json!({})).await;
    let response = s.chat(streaming("stream me")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let data = sse_data(&response.text().await.expect("body"));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).expect("chunk"))
        .collect();
    assert!(chunks.len() >= 3, "{chunks:?}");
    let ids: std::collections::HashSet<&str> = chunks
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 1, "one id per completion");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let roles = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"].get("role").is_some())
        .count();
    assert_eq!(roles, 1);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(streamed_text(&data).contains("stream me"));
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    assert!(
        chunks
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null)),
        "no usage unless asked"
    );
}

#[tokio::test]
async fn streaming_usage_comes_when_asked() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = streaming("count me");
    body["stream_options"] = json!({"include_usage": true});
    let data = sse_data(&s.chat(body).await.text().await.expect("body"));
    let usage: Vec<Value> = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|c| c["usage"].is_object())
        .collect();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0]["choices"], json!([]));
    assert!(usage[0]["usage"]["total_tokens"].as_u64().expect("total") > 0);
}

/// A request offering one tool, whose last user message asks the fake for a call to it (`[[tool]]`; the fake
/// passes the rest of the message as `{"input": …}`).
fn tool_request(stream: bool) -> Value {
    json!({
        "model": "gpt-4o",
        "stream": stream,
        "messages": [{"role": "user", "content": "[[tool]] weather in Paris"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                "properties": {"input": {"type": "string"}}}}}]
    })
}

#[tokio::test]
async fn tool_calls_round_trip_in_both_modes() {
    let s = Setup::start(&["a"], json!({})).await;
    let body: Value = s
        .chat(tool_request(false))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls", "{body}");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().expect("args"))
        .expect("json args");
    assert_eq!(args["input"], "weather in Paris");
    let call_id = call["id"].as_str().expect("id").to_string();
    let tools_sent = &s.fake.requests()[0].body["parameters"]["data"];
    assert_eq!(tools_sent[0]["fqdn"], "llm.parameters.tools");

    let data = sse_data(&s.chat(tool_request(true)).await.text().await.expect("body"));
    let chunks: Vec<Value> = data
        .iter()
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert!(deltas.len() >= 2, "{chunks:?}");
    assert_eq!(deltas[0][0]["function"]["name"], "get_weather");
    assert!(deltas[0][0]["id"].as_str().is_some());
    let arguments: String = deltas
        .iter()
        .filter_map(|d| d[0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).expect("args")["input"],
        "weather in Paris"
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );

    let follow_up = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "weather in Paris"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"input\":\"weather in Paris\"}"}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21C"}
        ]
    });
    let body: Value = s.chat(follow_up).await.json().await.expect("json");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .expect("text")
            .contains("sunny, 21C"),
        "{body}"
    );
    let last = s.fake.requests().last().expect("request").body.clone();
    let tool_message = last["chat"]["messages"]
        .as_array()
        .expect("messages")
        .last()
        .cloned()
        .expect("last");
    assert_eq!(tool_message["type"], "tool_message");
    assert_eq!(tool_message["toolName"], "get_weather");
}

#[tokio::test]
async fn images_go_up_as_media_and_remote_urls_are_refused() {
    let s = Setup::start(&["a"], json!({})).await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}
    ]}]});
    assert_eq!(s.chat(body).await.status(), 200);
    let messages = s.fake.requests()[0].body["chat"]["messages"].clone();
    assert_eq!(messages[0]["type"], "media_message");
    assert_eq!(messages[0]["mediaType"], "image/png");
    assert_eq!(messages[1]["type"], "user_message");

    let remote = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
    let response = s.chat(remote).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        s.fake.requests().len(),
        1,
        "refused before any upstream call"
    );
}

#[tokio::test]
async fn models_are_listed_sorted_and_unknown_ones_are_404() {
    let s = Setup::start(&["a"], json!({"models": {"my-alias": "openai-gpt-4o"}})).await;
    let list: Value = s.get("/v1/models").await.json().await.expect("json");
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert!(ids.contains(&"my-alias") && ids.contains(&"gpt-4o"));
    let one: Value = s.get("/v1/models/gpt-4o").await.json().await.expect("json");
    assert_eq!(one["id"], "gpt-4o");
    assert_eq!(one["object"], "model");
    let missing = s.get("/v1/models/nope").await;
    assert_eq!(missing.status(), 404);

    let mut body = user("hi");
    body["model"] = json!("no-such-model");
    let response = s.chat(body).await;
    assert_eq!(response.status(), 404);
    let err: Value = response.json().await.expect("json");
    assert_eq!(err["error"]["code"], "model_not_found");
    assert!(
        s.fake.requests().is_empty(),
        "no upstream call for an unknown model"
    );
}

#[tokio::test]
async fn health_is_public_and_everything_else_needs_the_key() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    let health: Value = s
        .client
        .get(s.url("/health"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(
        health,
        json!({"status": "ok", "healthy_tokens": 2, "total_tokens": 2, "strategy": "round_robin",
               "upstream": "not contacted yet", "state": "memory"})
    );

    let no_key = s
        .client
        .post(s.url("/v1/chat/completions"))
        .json(&user("x"))
        .send()
        .await
        .expect("req");
    assert_eq!(no_key.status(), 401);
    let err: Value = no_key.json().await.expect("json");
    assert_eq!(err["error"]["type"], "authentication_error");
    let wrong = s
        .client
        .get(s.url("/v1/models"))
        .bearer_auth("sk-wrong")
        .send()
        .await
        .expect("req");
    assert_eq!(wrong.status(), 401);
    let x_api_key = s
        .client
        .get(s.url("/v1/models"))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("req");
    assert_eq!(x_api_key.status(), 200);
    assert!(s.fake.requests().is_empty());
    assert!(
        !s.proxy.logs().contains("sk-wrong"),
        "a presented key is never logged"
    );
}

#[tokio::test]
async fn the_key_counts_beside_an_unrelated_authorization_and_in_any_scheme_case() {
    let admin = "sk-admin-key-0123456789";
    let s = Setup::start(&["a"], json!({"admin_token": admin})).await;
    let status = |path: &str, headers: &[(&str, &str)]| {
        let mut request = s.client.get(s.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move { request.send().await.expect("req").status().as_u16() }
    };
    let bearer_upper = format!("BEARER {KEY}");
    let bearer_lower = format!("bearer {KEY}");
    // A client or a proxy on the way adds an Authorization for something else; the right x-api-key still counts.
    let basic = [("authorization", "Basic dXNlcjpwYXNz"), ("x-api-key", KEY)];
    let other_bearer = [
        ("authorization", "Bearer sk-for-something-else"),
        ("x-api-key", KEY),
    ];
    for (what, headers) in [
        ("BEARER", &[("authorization", bearer_upper.as_str())][..]),
        ("bearer", &[("authorization", bearer_lower.as_str())][..]),
        ("Basic beside x-api-key", &basic[..]),
        ("another bearer beside x-api-key", &other_bearer[..]),
    ] {
        assert_eq!(status("/v1/models", headers).await, 200, "{what}");
    }
    let admin_beside_basic = [
        ("authorization", "Basic dXNlcjpwYXNz"),
        ("x-api-key", admin),
    ];
    assert_eq!(status("/stats", &admin_beside_basic).await, 200);
    let admin_upper = format!("BEARER {admin}");
    assert_eq!(
        status("/stats", &[("authorization", admin_upper.as_str())]).await,
        200
    );
    // Neither credential right is still a refusal, and neither is logged.
    let both_wrong = [
        ("authorization", "Bearer sk-wrong-one"),
        ("x-api-key", "sk-wrong-two"),
    ];
    assert_eq!(status("/v1/models", &both_wrong).await, 401);
    assert_eq!(
        status("/stats", &basic).await,
        401,
        "the client key is not the admin key"
    );
    let logs = s.proxy.logs();
    assert!(!logs.contains("sk-wrong-one") && !logs.contains("sk-wrong-two"));
    assert!(!logs.contains("sk-for-something-else"));
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_upstream_call() {
    let s = Setup::start(&["a"], json!({"max_body_size": "2KiB"})).await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (s.client.post(s.url("/v1/chat/completions")).bearer_auth(KEY).body("{not json"), 400, "invalid request body"),
        (s.client.post(s.url("/v1/chat/completions")).bearer_auth(KEY).json(&json!({"model": "gpt-4o"})), 400, "messages"),
        (
            // Claude profiles answer once: several choices cannot be honoured.
            s.client.post(s.url("/v1/chat/completions")).bearer_auth(KEY).json(&json!({"model": "claude-sonnet-4-5", "n": 2, "messages": [{"role": "user", "content": "x"}]})),
            400,
            "does not take number-of-choices",
        ),
        (
            s.client.post(s.url("/v1/chat/completions")).bearer_auth(KEY).json(&json!({"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}]})),
            400,
            "wizard",
        ),
        (
            s.client.post(s.url("/v1/chat/completions")).bearer_auth(KEY).json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(4096)}]})),
            413,
            "max_body_size",
        ),
    ];
    for (request, status, needle) in cases {
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), status);
        let err: Value = response.json().await.expect("OpenAI error JSON");
        let message = err["error"]["message"].as_str().expect("message");
        assert!(message.contains(needle), "{message}");
        assert!(err["error"]["type"].is_string());
    }
    assert!(s.fake.requests().is_empty());
}

#[tokio::test]
async fn upstream_request_errors_pass_through_without_retry_or_penalty() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::BadRequest);
    s.fake.set_behaviour("b", Behaviour::BadRequest);
    let response = s.chat(user("x")).await;
    assert_eq!(response.status(), 400);
    let err: Value = response.json().await.expect("json");
    assert_eq!(err["error"]["code"], "upstream_rejected_request");
    assert_eq!(s.fake.requests().len(), 1, "a bad request is not retried");
}

#[tokio::test]
async fn no_usable_token_is_a_503_with_the_seed_message() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::Unauthorized);
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    let response = s.chat(user("x")).await;
    assert_eq!(response.status(), 503);
    let err: Value = response.json().await.expect("json");
    assert!(
        err["error"]["message"]
            .as_str()
            .expect("message")
            .contains("no available JWT tokens: no healthy JWT tokens available")
    );
    let health = s.client.get(s.url("/health")).send().await.expect("req");
    assert_eq!(health.status(), 503);
    assert_eq!(
        health.json::<Value>().await.expect("json")["healthy_tokens"],
        0
    );
}

#[tokio::test]
async fn a_failing_token_is_failed_over_without_the_client_noticing() {
    let s = Setup::start(&["bad", "good"], json!({})).await;
    s.fake.set_behaviour("bad", Behaviour::ServerError);
    for _ in 0..4 {
        let response = s.chat(user("still fine")).await;
        assert_eq!(response.status(), 200);
    }
    assert!(s.fake.chat_requests_for("good") >= 4);
}

#[tokio::test]
async fn a_stream_cut_after_it_started_ends_with_an_error_and_no_done() {
    let options = FakeOptions {
        content_events: 6,
        event_delay: Duration::from_millis(30),
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({}), options).await;
    s.fake
        .set_behaviour("a", Behaviour::CutMidStream { after_events: 3 });
    let response = s.chat(streaming("cut me")).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let data = sse_data(&text);
    assert!(!data.is_empty(), "{text}");
    assert!(!data.iter().any(|d| d == "[DONE]"), "{data:?}");
    let last: Value = serde_json::from_str(data.last().expect("some data")).expect("json");
    assert!(last["error"]["message"].as_str().is_some(), "{last}");
}

#[tokio::test]
async fn v7_is_spoken_when_configured() {
    let s = Setup::start(&["a"], json!({"upstream_api": "v7"})).await;
    let response = s.chat(user("old api")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(s.fake.requests()[0].path, "/user/v5/llm/chat/stream/v7");
    let body: Value = s
        .chat(tool_request(false))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls", "{body}");
}

#[tokio::test]
async fn a_client_disconnect_cancels_the_upstream_stream() {
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
    let mut response = s.chat(streaming("long")).await;
    let first = response.chunk().await.expect("read").expect("a chunk");
    assert!(!first.is_empty());
    assert_eq!(s.fake.active_streams(), 1);
    drop(response);
    common::eventually(Duration::from_secs(5), async || {
        s.fake.active_streams() == 0
    })
    .await;
    assert_eq!(
        s.fake.active_streams(),
        0,
        "upstream stream still running after the client left"
    );
    let stats: Value = s.get("/stats").await.json().await.expect("json");
    assert_eq!(stats["tokens"][0]["inflight"], 0);
    assert_eq!(
        stats["tokens"][0]["state"], "healthy",
        "a client leaving costs the token nothing"
    );
}

#[tokio::test]
async fn sigterm_lets_an_open_stream_finish_then_exits_zero() {
    let mut s = Setup::with_options(
        &["a"],
        json!({}),
        FakeOptions {
            content_events: 10,
            event_delay: Duration::from_millis(100),
            ..FakeOptions::default()
        },
    )
    .await;
    let mut response = s.chat(streaming("finish me")).await;
    let mut body = String::from_utf8(
        response
            .chunk()
            .await
            .expect("read")
            .expect("chunk")
            .to_vec(),
    )
    .expect("utf8");
    s.proxy.signal("TERM");
    while let Some(chunk) = response.chunk().await.expect("read") {
        body.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    let status = s.proxy.wait(Duration::from_secs(10)).expect("exited");
    assert!(status.success());
}
