//! Tests of the fake over a real socket, with reqwest as the proxy would use it. Helpers live here; the cases are
//! split by subject.

mod behaviours;
mod chat;
mod endpoints;
mod native;
mod refresh;
mod validation;

use std::time::Duration;

use serde_json::{Value, json};

use super::{FakeOptions, FakeUpstream, mint_jwt};

pub(super) const V8: &str = "/user/v5/llm/chat/stream/v8";
pub(super) const V7: &str = "/user/v5/llm/chat/stream/v7";
pub(super) const RESPONSES: &str = "/user/v5/llm/responses/stream/v8";
pub(super) const QUOTA: &str = "/user/v5/quota/get";
pub(super) const REFRESH: &str = "/auth/jetbrains-jwt/provide-access/license/v2";

pub(super) async fn fake() -> FakeUpstream {
    fake_with(FakeOptions::default()).await
}

pub(super) async fn fake_with(options: FakeOptions) -> FakeUpstream {
    FakeUpstream::start(options).await.expect("fake starts")
}

pub(super) fn client() -> reqwest::Client {
    // No system proxy: the fake is on loopback and an HTTP_PROXY in the environment must not reroute tests.
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A request with every header the real service wants, authenticated as `token_name`.
pub(super) fn post(fake: &FakeUpstream, path: &str, token_name: &str) -> reqwest::RequestBuilder {
    post_raw(fake, path).header(
        "grazie-authenticate-jwt",
        mint_jwt(token_name, Duration::from_secs(3600)),
    )
}

/// A request with the common headers but no JWT.
pub(super) fn post_raw(fake: &FakeUpstream, path: &str) -> reqwest::RequestBuilder {
    post_without(fake, path, "")
}

/// A request with the common headers except `omit` (reqwest appends repeated headers, so a test replacing one
/// must leave it out first), and no JWT.
pub(super) fn post_without(fake: &FakeUpstream, path: &str, omit: &str) -> reqwest::RequestBuilder {
    let common = [
        (
            "grazie-agent",
            r#"{"name":"aia:pycharm","version":"251.26094.80.13:251.26094.141"}"#,
        ),
        ("user-agent", "ktor-client"),
        ("content-type", "application/json"),
        ("accept", "text/event-stream"),
    ];
    common.into_iter().filter(|(name, _)| *name != omit).fold(
        client().post(format!("{}{path}", fake.url())),
        |request, (name, value)| request.header(name, value),
    )
}

pub(super) async fn chat(
    fake: &FakeUpstream,
    path: &str,
    token_name: &str,
    body: &Value,
) -> reqwest::Response {
    post(fake, path, token_name)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// A minimal valid body ending in a user message.
pub(super) fn user_body(text: &str) -> Value {
    json!({
        "prompt": "ij.chat.request.new-chat-on-start",
        "profile": "anthropic-claude-4-sonnet",
        "chat": {"messages": [
            {"type": "system_message", "content": "You are terse."},
            {"type": "user_message", "content": text},
        ]},
    })
}

/// `parameters` for one tool named `name` with `schema`, in the v8 shape.
pub(super) fn v8_tools(name: &str, schema: Value) -> Value {
    let tools = json!([{"name": name, "description": "a tool", "parameters": {"schema": schema}}]);
    json!({"data": [
        {"type": "json", "fqdn": "llm.parameters.tools"},
        {"type": "json", "value": tools.to_string(), "modified": 1_756_630_000_000_i64},
    ]})
}

/// `parameters` for one function in the v7 shape.
pub(super) fn v7_functions(name: &str, schema: Value) -> Value {
    let functions = json!([{"name": name, "description": "a function", "parameters": schema}]);
    json!({"data": [
        {"type": "json", "fqdn": "llm.parameters.functions"},
        {"type": "json", "value": functions.to_string()},
    ]})
}

pub(super) fn city_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

/// The `data:` payloads of an SSE body, in order (`end` included as the string "end").
pub(super) fn payloads(sse: &str) -> Vec<String> {
    sse.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            frame
                .strip_prefix("data: ")
                .expect("every frame is a data line")
                .to_owned()
        })
        .collect()
}

/// Payloads other than `end`, parsed.
pub(super) fn events(sse: &str) -> Vec<Value> {
    payloads(sse)
        .iter()
        .filter(|p| p.as_str() != "end")
        .map(|p| serde_json::from_str(p).expect("event is JSON"))
        .collect()
}

/// The concatenated `Content` text of a stream.
pub(super) fn content_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "Content")
        .map(|e| e["content"].as_str().expect("content is a string"))
        .collect()
}

/// Waits up to a second for `active_streams` to reach `n`.
pub(super) async fn wait_active(fake: &FakeUpstream, n: usize) -> bool {
    for _ in 0..100 {
        if fake.active_streams() == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
