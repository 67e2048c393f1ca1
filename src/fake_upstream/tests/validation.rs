//! Every check on chat requests answers 400 (or 401 for the JWT) with a body saying what is wrong.

use serde_json::{Value, json};

use super::*;
use crate::fake_upstream::mint_expired_jwt;

/// A body with `messages` and optional `parameters` for `profile`.
fn body(profile: &str, messages: Value, parameters: Option<Value>) -> Value {
    let mut body = json!({"prompt": "ij.chat.request.new-chat-on-start", "profile": profile, "chat": {"messages": messages}});
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    body
}

fn user(text: &str) -> Value {
    json!({"type": "user_message", "content": text})
}

/// `parameters` holding one pair.
fn pair(kind: &str, fqdn: &str, value: Value) -> Value {
    json!({"data": [{"type": kind, "fqdn": fqdn}, {"type": kind, "value": value, "modified": 0}]})
}

fn v8_tools_value(value: Value) -> Value {
    json!({"data": [
        {"type": "json", "fqdn": "llm.parameters.tools"},
        {"type": "json", "value": value, "modified": 1_756_630_000_000_i64},
    ]})
}

fn bad_bodies() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    let claude = "anthropic-claude-4-sonnet";
    let dollar_schema = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}});
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
            "sampling parameters are not upstream fields",
            V8,
            {
                let mut b = body(claude, json!([user("a")]), None);
                b["temperature"] = json!(0.2);
                b
            },
            "unexpected field \"temperature\"",
        ),
        (
            "missing profile",
            V8,
            json!({"prompt": "ij.chat.request.new-chat-on-start", "chat": {"messages": [user("a")]}}),
            "profile is missing",
        ),
        (
            "parameters.data null",
            V8,
            body(claude, json!([user("a")]), Some(json!({"data": null}))),
            "null",
        ),
        (
            "parameters without tools",
            V8,
            body(claude, json!([user("a")]), Some(json!({"data": []}))),
            "omit parameters",
        ),
        (
            "parameters without tools on v7 too",
            V7,
            body(claude, json!([user("a")]), Some(json!({"data": []}))),
            "omit parameters",
        ),
        (
            "dollar keys for gemini",
            V8,
            body(
                "google-chat-gemini-pro-2.5",
                json!([user("a")]),
                Some(v8_tools("t", dollar_schema.clone())),
            ),
            "starts with '$'",
        ),
        (
            "dollar keys for gemini on v7",
            V7,
            body(
                "google-chat-gemini-pro-2.5",
                json!([user("a")]),
                Some(v7_functions("t", dollar_schema)),
            ),
            "starts with '$'",
        ),
        (
            "v8 tools under the v7 fqdn",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some({
                    let mut p = v8_tools("t", city_schema());
                    p["data"][0]["fqdn"] = json!("llm.parameters.functions");
                    p
                }),
            ),
            "fqdn",
        ),
        (
            "v7 functions under the v8 fqdn",
            V7,
            body(
                claude,
                json!([user("a")]),
                Some({
                    let mut p = v7_functions("t", city_schema());
                    p["data"][0]["fqdn"] = json!("llm.parameters.tools");
                    p
                }),
            ),
            "fqdn",
        ),
        (
            "tools as an array, not a JSON string",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(v8_tools_value(json!([{"name": "t"}]))),
            ),
            "must be a string holding JSON",
        ),
        (
            "tools string not holding an array",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(v8_tools_value(json!("{\"name\":\"t\"}"))),
            ),
            "not a JSON array",
        ),
        (
            "v8 tool with a bare (v7) schema",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(v8_tools_value(json!(
                    json!([{"name": "t", "parameters": city_schema()}]).to_string()
                ))),
            ),
            "parameters has unexpected field",
        ),
        (
            "tool still in the OpenAI wrapper",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(v8_tools_value(json!(
                    json!([{"type": "function", "function": {"name": "t"}}]).to_string()
                ))),
            ),
            "unexpected field",
        ),
        (
            "tool declared twice",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(v8_tools_value(json!(
                    json!([{"name": "t"}, {"name": "t"}]).to_string()
                ))),
            ),
            "declared twice",
        ),
        (
            "modified not an integer",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some({
                    let mut p = v8_tools("t", city_schema());
                    p["data"][1]["modified"] = json!("0");
                    p
                }),
            ),
            "modified must be an integer",
        ),
        (
            "an unknown parameter",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(pair("bool", "llm.parameters.cache-points", json!(true))),
            ),
            "unknown parameter",
        ),
        (
            "a parameter the profile does not take",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(pair("double", "llm.parameters.temperature", json!(0.5))),
            ),
            "is not supported for profile anthropic-claude-4-sonnet",
        ),
        (
            "a key typed unlike its parameter",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(pair("double", "llm.parameters.length", json!(5))),
            ),
            "must be \"int\"",
        ),
        (
            "a value of the wrong JSON type",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(pair("int", "llm.parameters.length", json!("5"))),
            ),
            "must be of type int",
        ),
        (
            "pairs cut short",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(json!({"data": [{"type": "int", "fqdn": "llm.parameters.length"}]})),
            ),
            "pairs",
        ),
        (
            "a named tool choice naming no declared tool",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some({
                    let mut p = v8_tools("t", city_schema());
                    let more = pair("text", "llm.parameters.tool-choice-named", json!("u"));
                    p["data"]
                        .as_array_mut()
                        .unwrap()
                        .extend(more["data"].as_array().unwrap().clone());
                    p
                }),
            ),
            "not one of the declared tools",
        ),
        (
            "a tool choice without tools",
            V8,
            body(
                claude,
                json!([user("a")]),
                Some(pair(
                    "bool",
                    "llm.parameters.tool-choice-required",
                    json!(true),
                )),
            ),
            "without tools",
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

#[tokio::test]
async fn each_body_rule_answers_400_saying_what() {
    let fake = fake().await;
    for (case, path, body, says) in bad_bodies() {
        let response = chat(&fake, path, "alice", &body).await;
        assert_eq!(response.status(), 400, "{case}");
        let text = response.text().await.unwrap();
        assert!(text.contains(says), "{case}: {text:?} should say {says:?}");
    }
    // Each was recorded as a 400 for the token.
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 400));
    assert_eq!(fake.chat_requests_for("alice"), bad_bodies().len());
}

#[tokio::test]
async fn clean_gemini_tools_and_images_pass() {
    let fake = fake().await;
    let messages = json!([
        {"type": "media_message", "mediaType": "image/webp", "data": "UklGRg"},
        user("what is this?"),
    ]);
    let ok = body(
        "google-chat-gemini-pro-2.5",
        messages,
        Some(v8_tools("look", city_schema())),
    );
    assert_eq!(chat(&fake, V8, "alice", &ok).await.status(), 200);
    // `$` keys are only a problem for google-* profiles.
    let dollar = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"});
    let claude = body(
        "anthropic-claude-4-sonnet",
        json!([user("a")]),
        Some(v8_tools("t", dollar)),
    );
    assert_eq!(chat(&fake, V8, "alice", &claude).await.status(), 200);
}

#[tokio::test]
async fn headers_are_checked() {
    let fake = fake().await;
    let good = user_body("a");
    let jwt = mint_jwt("alice", Duration::from_secs(60));
    let send =
        |request: reqwest::RequestBuilder| async { request.json(&good).send().await.unwrap() };

    let response = send(post_raw(&fake, V8)).await;
    assert_eq!(response.status(), 401, "no JWT");
    let response =
        send(post_raw(&fake, V8).header("grazie-authenticate-jwt", format!("Bearer {jwt}"))).await;
    assert_eq!(response.status(), 401, "Bearer prefix");
    assert!(
        !response.text().await.unwrap().contains(&jwt),
        "a JWT is never echoed"
    );
    let response = send(post_raw(&fake, V8).header("grazie-authenticate-jwt", "not-a-jwt")).await;
    assert_eq!(response.status(), 401, "malformed");
    let response =
        send(post_raw(&fake, V8).header("grazie-authenticate-jwt", mint_expired_jwt("alice")))
            .await;
    assert_eq!(response.status(), 401, "expired");
    assert!(response.text().await.unwrap().contains("expired"));

    let with_jwt =
        |omit: &str| post_without(&fake, V8, omit).header("grazie-authenticate-jwt", &jwt);
    assert_eq!(
        send(with_jwt("grazie-agent")).await.status(),
        400,
        "no grazie-agent"
    );
    let bad_agent = with_jwt("grazie-agent").header("grazie-agent", "aia:pycharm");
    assert_eq!(send(bad_agent).await.status(), 400, "grazie-agent not JSON");
    // JetBrains' own client sends no Accept header at all.
    assert_eq!(send(with_jwt("accept")).await.status(), 200, "no Accept");
    let text_body = with_jwt("content-type")
        .header("content-type", "text/plain")
        .body(good.to_string());
    assert_eq!(
        text_body.send().await.unwrap().status(),
        400,
        "Content-Type not JSON"
    );
    let not_json = post(&fake, V8, "alice").body("{not json");
    assert_eq!(
        not_json.send().await.unwrap().status(),
        400,
        "body not JSON"
    );
    // The sanity case: the same request with good headers passes.
    assert_eq!(send(post(&fake, V8, "alice")).await.status(), 200);
}
