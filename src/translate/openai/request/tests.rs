//! The OpenAI face end to end: request bytes → conversation → upstream body (the envelope, tools, the estimate,
//! parsing). The helpers here serve `message_tests` and `error_tests` too.

use serde_json::{Value, json};

use super::*;
use crate::config::UpstreamApi;
use crate::profiles::Capabilities;
use crate::translate::conversation::ToolChoice;
use crate::translate::grazie::{IMAGE_TOKENS, build};
use crate::upstream::request::{GrazieRequest, path_for};

pub(super) const PNG: &str = "iVBORw0KGgoAAAANSUhEUg==";

/// A request body (as the client sends it).
pub(super) fn request(body: Value) -> Value {
    body
}

pub(super) fn chat(messages: Value) -> Value {
    request(json!({"model":"m","messages":messages}))
}

/// Parses `body` from its bytes, as the server does, and builds the upstream request.
pub(super) fn try_build(
    body: Value,
    profile: &str,
    api: UpstreamApi,
) -> Result<GrazieRequest, TranslateError> {
    let bytes = serde_json::to_vec(&body).unwrap();
    let req = ChatRequest::parse(&bytes)?;
    build(&req.conversation, profile, &Capabilities::all(), api)
}

pub(super) fn build_ok(req: Value, api: UpstreamApi) -> (GrazieRequest, Value) {
    let built = try_build(req, "anthropic-claude-4-5-sonnet", api).unwrap();
    let body = serde_json::from_slice(&built.body).unwrap();
    (built, body)
}

pub(super) fn messages(messages: Value, api: UpstreamApi) -> Value {
    build_ok(chat(messages), api).1["chat"]["messages"].clone()
}

pub(super) fn error(req: Value, api: UpstreamApi) -> TranslateError {
    try_build(req, "p", api).unwrap_err()
}

/// Asserts the error's `param` and that the message names it and contains `needle`.
pub(super) fn assert_error(err: &TranslateError, param: &str, needle: &str) {
    assert_eq!(err.param.as_deref(), Some(param), "{err}");
    assert!(
        err.message.contains(param),
        "message does not name {param}: {err}"
    );
    assert!(
        err.message.contains(needle),
        "message lacks {needle:?}: {err}"
    );
    assert_eq!(err.to_string(), err.message);
}

pub(super) fn tool_call(id: &str, name: &str, args: &str) -> Value {
    json!({"id":id,"type":"function","function":{"name":name,"arguments":args}})
}

// ---- envelope and paths

#[test]
fn plain_chat_envelope_has_no_parameters() {
    let (built, body) = build_ok(
        chat(json!([{"role":"user","content":"Hi"}])),
        UpstreamApi::V8,
    );
    assert_eq!(
        body,
        json!({"prompt":"ij.chat.request.new-chat-on-start","profile":"anthropic-claude-4-5-sonnet",
               "chat":{"messages":[{"type":"user_message","content":"Hi"}]}})
    );
    assert_eq!(built.path, "/user/v5/llm/chat/stream/v8");
    assert!(
        !String::from_utf8(built.body.to_vec())
            .unwrap()
            .contains("parameters")
    );
}

#[test]
fn sampling_parameters_go_as_typed_pairs_and_a_tool_choice_without_tools_as_nothing() {
    let req = request(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.1,
        "max_tokens":9,"top_p":0.5,"stop":["y", "z"],"seed":7,"reasoning_effort":"low","verbosity":"high",
        "prediction":{"type":"content","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
        "tool_choice":"auto","stream":true,"stream_options":{"include_usage":true}}),
    );
    let (_, body) = build_ok(req, UpstreamApi::V8);
    assert_eq!(
        body["parameters"]["data"],
        json!([
            {"type":"double","fqdn":"llm.parameters.temperature"},{"type":"double","value":0.1,"modified":0},
            {"type":"double","fqdn":"llm.parameters.top-p"},{"type":"double","value":0.5,"modified":0},
            {"type":"int","fqdn":"llm.parameters.length"},{"type":"int","value":9,"modified":0},
            {"type":"text","fqdn":"llm.parameters.stop-token"},{"type":"text","value":"y","modified":0},
            {"type":"int","fqdn":"llm.parameters.seed"},{"type":"int","value":7,"modified":0},
            {"type":"text","fqdn":"llm.parameters.reasoning-effort"},{"type":"text","value":"low","modified":0},
            {"type":"text","fqdn":"llm.parameters.verbosity"},{"type":"text","value":"high","modified":0},
            {"type":"text","fqdn":"llm.parameters.predicted-output"},{"type":"text","value":"ab","modified":0},
        ])
    );
}

#[test]
fn max_completion_tokens_wins_over_max_tokens() {
    let req = request(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":9,
        "max_completion_tokens":20}),
    );
    let (_, body) = build_ok(req, UpstreamApi::V8);
    assert_eq!(body["parameters"]["data"][1]["value"], 20);
}

#[test]
fn paths() {
    assert_eq!(
        path_for("openai-gpt-4o", UpstreamApi::V8),
        "/user/v5/llm/chat/stream/v8"
    );
    assert_eq!(
        path_for("openai-gpt-4o", UpstreamApi::V7),
        "/user/v5/llm/chat/stream/v7"
    );
    assert_eq!(
        path_for("openai-gpt-5-1-codex", UpstreamApi::V8),
        "/user/v5/llm/responses/stream/v8"
    );
    let built = try_build(
        chat(json!([{"role":"user","content":"x"}])),
        "openai-gpt-5-1-codex",
        UpstreamApi::V8,
    )
    .unwrap();
    assert_eq!(built.path, "/user/v5/llm/responses/stream/v8");
    let body: Value = serde_json::from_slice(&built.body).unwrap();
    assert_eq!(body["profile"], "openai-gpt-5-1-codex");
    assert_eq!(body["chat"]["messages"][0]["type"], "user_message");
}

// ---- tools (v8)

#[test]
fn v8_tools_parameters() {
    let req = request(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required",
        "tools":[
            {"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{
                "$schema":"http://json-schema.org/draft-07/schema#","type":"object",
                "properties":{"city":{"type":"string"},"opts":{"type":"object","$defs":{},"properties":{
                    "unit":{"$ref":"#/x","type":"string"}}}},"required":["city"]}}},
            {"type":"function","function":{"name":"noop"}}
        ]}),
    );
    let (_, body) = build_ok(req, UpstreamApi::V8);
    let data = &body["parameters"]["data"];
    assert_eq!(data.as_array().unwrap().len(), 4);
    assert_eq!(
        data[0],
        json!({"type":"json","fqdn":"llm.parameters.tools"})
    );
    assert_eq!(data[1]["type"], "json");
    assert_eq!(data[1]["modified"], 0, "as JetBrains' client writes it");
    assert_eq!(
        data[2],
        json!({"type":"bool","fqdn":"llm.parameters.tool-choice-required"})
    );
    assert_eq!(data[3], json!({"type":"bool","value":true,"modified":0}));
    let value_str = data[1]["value"].as_str().expect("value is a JSON string");
    assert!(!value_str.contains('$'), "{value_str}");
    let value: Value = serde_json::from_str(value_str).unwrap();
    assert_eq!(
        value,
        json!([
            {"name":"get_weather","description":"Weather","parameters":{"schema":{"type":"object",
                "properties":{"city":{"type":"string"},"opts":{"type":"object","properties":{"unit":{"type":"string"}}}},
                "required":["city"]}}},
            {"name":"noop","description":null,"parameters":{"schema":{"type":"object","properties":{}}}}
        ])
    );
}

#[test]
fn empty_tools_array_sends_no_parameters() {
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]}));
    assert!(build_ok(req, UpstreamApi::V8).1.get("parameters").is_none());
}

#[test]
fn tool_without_a_name_is_rejected() {
    let req = request(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"ok"}},{"type":"function","function":{"parameters":{}}}]}),
    );
    assert_error(
        &error(req.clone(), UpstreamApi::V8),
        "tools[1].function.name",
        "is required",
    );
}

// ---- prompt token estimate

#[test]
fn prompt_tokens_count_text_tools_and_images() {
    let text_only = build_ok(
        chat(json!([{"role":"user","content":"x".repeat(400)}])),
        UpstreamApi::V8,
    )
    .0;
    assert_eq!(text_only.prompt_tokens, 100);

    let with_image = build_ok(
        chat(json!([{"role":"user","content":[{"type":"text","text":"x".repeat(400)},
            {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{}", "A".repeat(4000))}}]}])),
        UpstreamApi::V8,
    )
    .0;
    assert_eq!(with_image.prompt_tokens, 100 + IMAGE_TOKENS);

    let with_tools = build_ok(
        request(
            json!({"model":"m","messages":[{"role":"user","content":"x".repeat(400)}],
            "tools":[{"type":"function","function":{"name":"f","description":"d".repeat(400)}}]}),
        ),
        UpstreamApi::V8,
    )
    .0;
    assert!(
        with_tools.prompt_tokens > 200,
        "{}",
        with_tools.prompt_tokens
    );
}

// ---- parsing

fn parse(body: &[u8]) -> ChatRequest<'_> {
    ChatRequest::parse(body).unwrap()
}

#[test]
fn unknown_fields_are_ignored() {
    let req = parse(
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi","name":"n"}],"temperature":0.2,
            "max_tokens":5,"top_p":1,"stop":["x"],"user":"u","seed":1}"#,
    );
    assert_eq!(req.model, "gpt-4o");
    assert_eq!(req.conversation.turns.len(), 1);
    assert!(!req.stream);
    assert!(req.conversation.tools.is_empty());
    assert!(!req.include_usage);
}

#[test]
fn stream_options_default_to_no_usage() {
    let req = parse(
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{}}"#,
    );
    assert!(req.stream);
    assert!(!req.include_usage);
    let req = parse(
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,
            "stream_options":{"include_usage":true}}"#,
    );
    assert!(req.include_usage);
}

#[test]
fn tools_tool_choice_and_n_are_read() {
    let req = parse(
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","n":2}"#,
    );
    assert_eq!(req.conversation.tools.len(), 1);
    assert_eq!(req.conversation.params.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(req.conversation.params.n, Some(2));
    let named = parse(
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],
            "tool_choice":{"type":"function","function":{"name":"f"}}}"#,
    );
    assert_eq!(
        named.conversation.params.tool_choice,
        Some(ToolChoice::Named("f".into()))
    );
    // A shape jbproxy does not know is refused, never ignored.
    let odd = ChatRequest::parse(
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":[1]}"#,
    )
    .unwrap_err();
    assert_error(&odd, "tool_choice", "must be \"auto\"");
}

#[test]
fn missing_model_is_an_error() {
    let err = ChatRequest::parse(br#"{"messages":[]}"#).unwrap_err();
    assert!(
        err.message
            .starts_with("invalid request body: missing field `model`"),
        "{err}"
    );
    assert_eq!(err.param, None);
}

#[test]
fn syntax_errors_are_invalid_bodies_and_type_errors_name_their_field() {
    let err = ChatRequest::parse(b"{not json").unwrap_err();
    assert!(err.message.starts_with("invalid request body: "), "{err}");
    let err = ChatRequest::parse(
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("stream"), "{err}");
    assert!(
        err.message
            .starts_with("stream: invalid type: string \"yes\", expected a boolean"),
        "{err}"
    );
    let err = ChatRequest::parse(
        br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":5}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].content[0].text"),
        "{err}"
    );
    assert!(
        !err.message.contains("line"),
        "the path replaces the position: {err}"
    );
}

#[test]
fn type_errors_do_not_echo_long_client_text() {
    let body =
        json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": "t".repeat(5000)}]});
    let err = error(body, UpstreamApi::V8);
    assert_eq!(err.param.as_deref(), Some("messages[0].tool_calls"));
    assert!(err.message.chars().count() < 300, "{err}");
}

#[test]
fn text_borrows_from_the_body() {
    use crate::translate::conversation::PartKind;
    let req = parse(br#"{"model":"m","messages":[{"role":"user","content":"plain"},{"role":"user","content":"esc\"aped"}]}"#);
    let text = |i: usize| match &req.conversation.turns[i].parts[0].kind {
        PartKind::Text(text) => text.clone(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(text(0), Cow::Borrowed("plain")));
    // JSON escapes have to be decoded into a string of its own.
    assert!(matches!(text(1), Cow::Owned(ref s) if s == "esc\"aped"));
}
