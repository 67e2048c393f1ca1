//! The bad chat bodies about messages: their types and fields, blank text, prefill, tool results and images.

use serde_json::json;

use super::*;

pub(super) fn cases() -> Vec<Case> {
    let claude = "anthropic-claude-4-sonnet";
    let call =
        json!({"type": "assistant_message_tool", "id": "c1", "toolName": "t", "content": "{}"});
    vec![
        (
            "a v8 assistant_message carries text only",
            V8,
            body(
                claude,
                json!([user("a"), {"type": "assistant_message", "content": "",
                    "functionCall": {"functionName": "f", "content": "{}"}}, user("b")]),
                None,
            ),
            "unexpected field \"functionCall\"",
        ),
        (
            "v7 rejects v8 assistant text",
            V7,
            body(
                claude,
                json!([user("a"), {"type": "assistant_message_text", "content": "b"}]),
                None,
            ),
            "not a v7 message type",
        ),
        (
            "v7 has no images",
            V7,
            body(
                claude,
                json!([{"type": "media_message", "mediaType": "image/png", "data": "AAAA"}, user("a")]),
                None,
            ),
            "not a v7 message type",
        ),
        (
            "missing content",
            V8,
            body(claude, json!([{"type": "user_message"}]), None),
            "content is missing",
        ),
        (
            "content not a string",
            V8,
            body(
                claude,
                json!([{"type": "user_message", "content": [{"type": "text", "text": "a"}]}]),
                None,
            ),
            "content is not a string",
        ),
        (
            "missing type",
            V8,
            body(claude, json!([{"content": "a"}]), None),
            "type is missing",
        ),
        (
            "extra field on a message",
            V8,
            body(
                claude,
                json!([{"type": "user_message", "content": "a", "name": "x"}]),
                None,
            ),
            "unexpected field \"name\"",
        ),
        (
            "empty messages",
            V8,
            body(claude, json!([]), None),
            "chat.messages is empty",
        ),
        (
            "blank text on a Claude profile",
            V8,
            body(claude, json!([user(" \n"), user("b")]), None),
            "text content blocks must contain non-whitespace text",
        ),
        (
            "prefill on a profile without it",
            V8,
            body(
                "anthropic-claude-4-6-sonnet",
                json!([user("a"), {"type": "assistant_message", "content": "The answer is"}]),
                None,
            ),
            "does not support assistant message prefill",
        ),
        (
            "tool result for no call",
            V8,
            body(
                claude,
                json!([user("a"), {"type": "tool_message", "id": "c9", "toolName": "t", "result": "r"}]),
                None,
            ),
            "matches no earlier assistant_message_tool",
        ),
        (
            "tool result named unlike its call",
            V8,
            body(
                claude,
                json!([user("a"), call.clone(), {"type": "tool_message", "id": "c1", "toolName": "u", "result": "r"}]),
                None,
            ),
            "differs from the call",
        ),
        (
            "tool call without id",
            V8,
            body(
                claude,
                json!([user("a"), {"type": "assistant_message_tool", "toolName": "t", "content": "{}"}]),
                None,
            ),
            "id is missing",
        ),
        (
            "v7 function result for no call",
            V7,
            body(
                claude,
                json!([user("a"), {"type": "function_message", "content": "r", "functionName": "f"}]),
                None,
            ),
            "follows no functionCall",
        ),
        (
            "unsupported image type",
            V8,
            body(
                claude,
                json!([{"type": "media_message", "mediaType": "image/bmp", "data": "AAAA"}, user("a")]),
                None,
            ),
            "mediaType",
        ),
        (
            "image data not base64",
            V8,
            body(
                claude,
                json!([{"type": "media_message", "mediaType": "image/png", "data": "not base64!"}, user("a")]),
                None,
            ),
            "not valid base64",
        ),
        (
            "image data still a data URL",
            V8,
            body(
                claude,
                json!([{"type": "media_message", "mediaType": "image/png", "data": "data:image/png;base64,AAAA"}, user("a")]),
                None,
            ),
            "data: URL prefix",
        ),
    ]
}
