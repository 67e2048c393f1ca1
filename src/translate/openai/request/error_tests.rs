//! Refusals: every malformed message is named by its path in the client's request.

use serde_json::json;

use super::tests::*;
use crate::config::UpstreamApi;

// ---- validation errors

#[test]
fn empty_messages_is_rejected() {
    assert_error(
        &error(chat(json!([])), UpstreamApi::V8),
        "messages",
        "at least one message",
    );
}

#[test]
fn n_above_one_is_sent_and_zero_refused() {
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"x"}],"n":2}));
    let (_, body) = build_ok(req, UpstreamApi::V8);
    assert_eq!(
        body["parameters"]["data"],
        json!([{"type":"int","fqdn":"llm.parameters.number-of-choices"},{"type":"int","value":2,"modified":0}])
    );
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"x"}],"n":1}));
    assert!(build_ok(req, UpstreamApi::V8).1.get("parameters").is_none());
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"x"}],"n":0}));
    assert_error(&error(req, UpstreamApi::V8), "n", "at least 1");
}

#[test]
fn unknown_role_lists_the_valid_ones() {
    let req = chat(json!([{"role":"user","content":"x"},{"role":"bot","content":"y"}]));
    let err = error(req.clone(), UpstreamApi::V8);
    assert_error(&err, "messages[1].role", "\"bot\"");
    for role in ["system", "developer", "user", "assistant", "tool"] {
        assert!(err.message.contains(role), "{err}");
    }
}

#[test]
fn missing_or_mistyped_role() {
    assert_error(
        &error(chat(json!([{"content":"x"}])), UpstreamApi::V8),
        "messages[0].role",
        "is required",
    );
    assert_error(
        &error(chat(json!([{"role":3,"content":"x"}])), UpstreamApi::V8),
        "messages[0].role",
        "string",
    );
    assert_error(
        &error(chat(json!(["hi"])), UpstreamApi::V8),
        "messages[0]",
        "must be an object",
    );
}

#[test]
fn content_of_the_wrong_type() {
    let cases = [
        (json!([{"role":"user","content":42}]), "messages[0].content"),
        (
            json!([{"role":"system","content":{"a":1}}]),
            "messages[0].content",
        ),
        (
            json!([{"role":"user","content":"x"},{"role":"assistant","content":true}]),
            "messages[1].content",
        ),
        (json!([{"role":"user","content":[]}]), "messages[0].content"),
        (
            json!([{"role":"user","content":["text"]}]),
            "messages[0].content[0]",
        ),
        (
            json!([{"role":"user","content":[{"type":"text"}]}]),
            "messages[0].content[0].text",
        ),
        (
            json!([{"role":"user","content":[{"text":"x"}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role":"user","content":[{"type":"image_url"}]}]),
            "messages[0].content[0].image_url",
        ),
    ];
    for (messages, param) in cases {
        let err = error(chat(messages.clone()), UpstreamApi::V8);
        assert_eq!(err.param.as_deref(), Some(param), "{messages}: {err}");
        assert!(err.message.starts_with(param), "{err}");
    }
}

#[test]
fn missing_content_where_required() {
    for role in ["system", "developer", "user"] {
        let err = error(chat(json!([{"role":role}])), UpstreamApi::V8);
        assert_error(&err, "messages[0].content", "is required");
    }
    let err = error(
        chat(json!([{"role":"user","content":"x"},{"role":"assistant","content":null}])),
        UpstreamApi::V8,
    );
    assert_error(
        &err,
        "messages[1].content",
        "required when there are no tool_calls",
    );
    let err = error(
        chat(
            json!([{"role":"assistant","tool_calls":[tool_call("t","f","{}")]},{"role":"tool","tool_call_id":"t"}]),
        ),
        UpstreamApi::V8,
    );
    assert_error(&err, "messages[1].content", "is required");
}

#[test]
fn bad_tool_calls_and_tool_messages() {
    let cases = [
        (
            json!([{"role":"assistant","tool_calls":{"id":"t"}}]),
            "messages[0].tool_calls",
        ),
        (
            json!([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]),
            "messages[0].tool_calls[0].id",
        ),
        (
            json!([{"role":"assistant","tool_calls":[{"id":"t","type":"function"}]}]),
            "messages[0].tool_calls[0].function",
        ),
        (
            json!([{"role":"assistant","tool_calls":[{"id":"t","function":{"arguments":"{}"}}]}]),
            "messages[0].tool_calls[0].function.name",
        ),
        (
            json!([{"role":"assistant","tool_calls":[{"id":"t","type":"custom","function":{"name":"f"}}]}]),
            "messages[0].tool_calls[0].type",
        ),
        (
            json!([{"role":"tool","content":"r"}]),
            "messages[0].tool_call_id",
        ),
        (
            json!([{"role":"tool","tool_call_id":5,"content":"r"}]),
            "messages[0].tool_call_id",
        ),
    ];
    for (messages, param) in cases {
        let err = error(chat(messages.clone()), UpstreamApi::V8);
        assert_eq!(err.param.as_deref(), Some(param), "{messages}: {err}");
    }
}

#[test]
fn errors_do_not_echo_long_client_text() {
    let long_role = "r".repeat(500);
    let err = error(
        chat(json!([{"role":long_role,"content":"x"}])),
        UpstreamApi::V8,
    );
    assert!(err.message.len() < 250, "{err}");
}
