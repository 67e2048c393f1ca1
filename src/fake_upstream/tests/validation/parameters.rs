//! The bad chat bodies about `parameters`: the pairs, the tools they carry, the profile's parameter table.

use serde_json::json;

use super::*;

pub(super) fn cases() -> Vec<Case> {
    let claude = "anthropic-claude-4-sonnet";
    let dollar_schema = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}});
    vec![
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
    ]
}
