//! Anthropic request → conversation → upstream body, and errors named by Anthropic paths.

use serde_json::{Value, json};

use super::*;
use crate::config::UpstreamApi;
use crate::profiles::Capabilities;
use crate::translate::conversation::ToolChoice;
use crate::translate::grazie;
use crate::upstream::request::GrazieRequest;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// Parses `body` from its bytes, as the server does, and builds the upstream request.
fn build_body(body: &Value, api: UpstreamApi) -> Result<GrazieRequest, TranslateError> {
    let bytes = serde_json::to_vec(body).expect("json");
    let req = MessagesRequest::parse(&bytes)?;
    grazie::build(
        &req.conversation,
        "anthropic-claude-4-5-sonnet",
        &Capabilities::all(),
        api,
    )
}

/// The upstream chat messages the request becomes.
fn upstream(body: Value) -> Vec<Value> {
    let built = build_body(&body, UpstreamApi::V8).expect("builds");
    let body: Value = serde_json::from_slice(&built.body).expect("json");
    body["chat"]["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

fn failure(body: Value) -> TranslateError {
    build_body(&body, UpstreamApi::V8).expect_err("fails")
}

#[test]
fn v7_is_spoken_through_the_same_mapping() {
    let built = build_body(
        &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        UpstreamApi::V7,
    )
    .expect("builds");
    assert_eq!(built.path, "/user/v5/llm/chat/stream/v7");
}

#[test]
fn input_tokens_count_system_messages_tools_and_images() {
    let tokens = |body: Value| {
        let bytes = serde_json::to_vec(&body).expect("json");
        let req = MessagesRequest::parse(&bytes).expect("parses");
        // What `count_tokens` answers: the prompt estimate of the upstream request.
        grazie::build(
            &req.conversation,
            "anthropic-claude-4-5-sonnet",
            &Capabilities::all(),
            UpstreamApi::V8,
        )
        .expect("counts")
        .prompt_tokens
    };
    let base = tokens(json!({"model": "m", "messages": [{"role": "user", "content": "abcdefgh"}]}));
    assert_eq!(base, 2, "8 bytes at 4 bytes a token");
    let with_system = tokens(json!({"model": "m", "system": "abcd",
        "messages": [{"role": "user", "content": "abcdefgh"}]}));
    assert_eq!(with_system, 3);
    let with_tools = tokens(
        json!({"model": "m", "messages": [{"role": "user", "content": "abcdefgh"}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}),
    );
    assert!(with_tools > base + 5, "{with_tools}");
    let with_image = tokens(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "abcdefgh"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}),
    );
    assert!(
        with_image > base + 100,
        "an image counts as a fixed amount: {with_image}"
    );
}

mod errors;
mod messages;
mod parameters;
mod tools;
