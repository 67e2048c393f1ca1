use serde_json::{Value, json};

use super::*;

const NOW: i64 = 1756630000000;
const PNG: &str = "iVBORw0KGgoAAAANSUhEUg==";

fn request(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

fn chat(messages: Value) -> ChatRequest {
    request(json!({"model":"m","messages":messages}))
}

fn build_ok(req: &ChatRequest, api: UpstreamApi) -> (GrazieRequest, Value) {
    let built = build(req, "anthropic-claude-4-5-sonnet", api, NOW).unwrap();
    let body = serde_json::from_slice(&built.body).unwrap();
    (built, body)
}

fn messages(messages: Value, api: UpstreamApi) -> Value {
    build_ok(&chat(messages), api).1["chat"]["messages"].clone()
}

fn error(req: &ChatRequest, api: UpstreamApi) -> TranslateError {
    build(req, "p", api, NOW).unwrap_err()
}

/// Asserts the error's `param` and that the message names it and contains `needle`.
fn assert_error(err: &TranslateError, param: &str, needle: &str) {
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

fn tool_call(id: &str, name: &str, args: &str) -> Value {
    json!({"id":id,"type":"function","function":{"name":name,"arguments":args}})
}

// ---- envelope and paths

#[test]
fn plain_chat_envelope_has_no_parameters() {
    let (built, body) = build_ok(
        &chat(json!([{"role":"user","content":"Hi"}])),
        UpstreamApi::V8,
    );
    assert_eq!(
        body,
        json!({"prompt":"ij.chat.request.new-chat-on-start","profile":"anthropic-claude-4-5-sonnet",
               "chat":{"messages":[{"type":"user_message","content":"Hi"}]}})
    );
    assert_eq!(built.path, "/user/v5/llm/chat/stream/v8");
    assert!(
        !String::from_utf8(built.body)
            .unwrap()
            .contains("parameters")
    );
}

#[test]
fn sampling_parameters_and_tool_choice_are_not_sent() {
    let req = request(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.1,
        "max_tokens":9,"top_p":0.5,"stop":["y"],"tool_choice":"auto","stream":true,
        "stream_options":{"include_usage":true}}),
    );
    let (_, body) = build_ok(&req, UpstreamApi::V8);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["chat", "profile", "prompt"]
    );
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
    let built = build(
        &chat(json!([{"role":"user","content":"x"}])),
        "openai-gpt-5-1-codex",
        UpstreamApi::V8,
        NOW,
    )
    .unwrap();
    assert_eq!(built.path, "/user/v5/llm/responses/stream/v8");
    let body: Value = serde_json::from_slice(&built.body).unwrap();
    assert_eq!(body["profile"], "openai-gpt-5-1-codex");
    assert_eq!(body["chat"]["messages"][0]["type"], "user_message");
}

// ---- v8 messages

#[test]
fn v8_roles_map_to_message_types() {
    let m = messages(
        json!([
            {"role":"system","content":"Be terse."},
            {"role":"developer","content":"Dev rules."},
            {"role":"user","content":"Hi"},
            {"role":"assistant","content":"Hello."},
            {"role":"user","content":"2+2?"}
        ]),
        UpstreamApi::V8,
    );
    assert_eq!(
        m,
        json!([
            {"type":"system_message","content":"Be terse."},
            {"type":"system_message","content":"Dev rules."},
            {"type":"user_message","content":"Hi"},
            {"type":"assistant_message_text","content":"Hello."},
            {"type":"user_message","content":"2+2?"}
        ])
    );
}

#[test]
fn v8_multipart_user_is_one_message_per_text_part_with_media_first() {
    let m = messages(
        json!([{"role":"user","content":[
            {"type":"text","text":"What is this?"},
            {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{PNG}"),"detail":"high"}},
            {"type":"text","text":"Be brief."},
            {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}}
        ]}]),
        UpstreamApi::V8,
    );
    assert_eq!(
        m,
        json!([
            {"type":"media_message","mediaType":"image/png","data":PNG},
            {"type":"media_message","mediaType":"image/jpeg","data":"/9j/4AAQ"},
            {"type":"user_message","content":"What is this?"},
            {"type":"user_message","content":"Be brief."}
        ])
    );
}

#[test]
fn media_goes_before_the_text_of_its_own_message_only() {
    let m = messages(
        json!([
            {"role":"user","content":"first"},
            {"role":"user","content":[{"type":"text","text":"second"},
                {"type":"image_url","image_url":{"url":format!("data:image/webp;base64,{PNG}")}}]}
        ]),
        UpstreamApi::V8,
    );
    let types: Vec<&str> = m
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["user_message", "media_message", "user_message"]);
    assert_eq!(m[0]["content"], "first");
    assert_eq!(m[1]["mediaType"], "image/webp");
    assert_eq!(m[2]["content"], "second");
}

#[test]
fn image_errors_name_the_url() {
    let cases = [
        (
            "https://example.com/a.png",
            "remote image URLs are not fetched",
        ),
        ("data:image/bmp;base64,Qk0=", "unsupported image type"),
        ("data:image/png;base64,@@@@", "not valid base64"),
    ];
    for (url, needle) in cases {
        let req = chat(json!([{"role":"user","content":[{"type":"text","text":"x"},
            {"type":"image_url","image_url":{"url":url}}]}]));
        assert_error(
            &error(&req, UpstreamApi::V8),
            "messages[0].content[1].image_url.url",
            needle,
        );
    }
}

#[test]
fn oversize_image_is_rejected() {
    let data = "A".repeat((MAX_IMAGE_BYTES / 3 + 1) * 4);
    let req = chat(json!([{"role":"user","content":[
        {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{data}")}}]}]));
    assert_error(
        &error(&req, UpstreamApi::V8),
        "messages[0].content[0].image_url.url",
        "limit is 20 MiB",
    );
}

#[test]
fn assistant_text_then_one_message_per_tool_call() {
    let m = messages(
        json!([
            {"role":"user","content":"Weather in Paris and time?"},
            {"role":"assistant","content":"Looks like Paris.","tool_calls":[
                tool_call("toolu_01","get_weather","{\"city\":\"Paris\"}"),
                tool_call("toolu_02","get_time","{}")]},
            {"role":"tool","tool_call_id":"toolu_02","content":"12:00"},
            {"role":"tool","tool_call_id":"toolu_01","content":[{"type":"text","text":"18C"},{"type":"text","text":"cloudy"}]}
        ]),
        UpstreamApi::V8,
    );
    assert_eq!(
        m,
        json!([
            {"type":"user_message","content":"Weather in Paris and time?"},
            {"type":"assistant_message_text","content":"Looks like Paris."},
            {"type":"assistant_message_tool","id":"toolu_01","toolName":"get_weather","content":"{\"city\":\"Paris\"}"},
            {"type":"assistant_message_tool","id":"toolu_02","toolName":"get_time","content":"{}"},
            {"type":"tool_message","id":"toolu_02","toolName":"get_time","result":"12:00"},
            {"type":"tool_message","id":"toolu_01","toolName":"get_weather","result":"18C\ncloudy"}
        ])
    );
}

#[test]
fn assistant_with_only_tool_calls_has_no_text_message() {
    for content in [Value::Null, json!("")] {
        let m = messages(
            json!([{"role":"user","content":"x"},
                   {"role":"assistant","content":content,"tool_calls":[tool_call("t","f","{}")]}]),
            UpstreamApi::V8,
        );
        assert_eq!(m.as_array().unwrap().len(), 2);
        assert_eq!(m[1]["type"], "assistant_message_tool");
    }
    // Content missing altogether is fine too when there are tool calls.
    let m = messages(
        json!([{"role":"assistant","tool_calls":[tool_call("t","f","{}")]}]),
        UpstreamApi::V8,
    );
    assert_eq!(m[0]["type"], "assistant_message_tool");
}

#[test]
fn tool_call_arguments_as_object_or_missing() {
    let m = messages(
        json!([{"role":"assistant","content":null,"tool_calls":[
            {"id":"a","type":"function","function":{"name":"f","arguments":{"x":1}}},
            {"id":"b","function":{"name":"g"}}]}]),
        UpstreamApi::V8,
    );
    assert_eq!(m[0]["content"], "{\"x\":1}");
    assert_eq!(m[1]["content"], "{}");
}

#[test]
fn tool_result_uses_the_latest_earlier_call_with_that_id() {
    let m = messages(
        json!([
            {"role":"assistant","tool_calls":[tool_call("call_0","first","{}")]},
            {"role":"tool","tool_call_id":"call_0","content":"r1"},
            {"role":"assistant","tool_calls":[tool_call("call_0","second","{}")]},
            {"role":"tool","tool_call_id":"call_0","content":"r2"}
        ]),
        UpstreamApi::V8,
    );
    assert_eq!(m[1]["toolName"], "first");
    assert_eq!(m[3]["toolName"], "second");
}

#[test]
fn tool_result_for_an_unknown_or_later_call_is_rejected() {
    let req = chat(json!([
        {"role":"user","content":"x"},
        {"role":"assistant","tool_calls":[tool_call("t1","f","{}")]},
        {"role":"tool","tool_call_id":"t2","content":"r"}
    ]));
    assert_error(
        &error(&req, UpstreamApi::V8),
        "messages[2].tool_call_id",
        "matches no tool call",
    );
    // The call must come earlier than its result.
    let req = chat(json!([
        {"role":"tool","tool_call_id":"t1","content":"r"},
        {"role":"assistant","tool_calls":[tool_call("t1","f","{}")]}
    ]));
    assert_error(
        &error(&req, UpstreamApi::V8),
        "messages[0].tool_call_id",
        "matches no tool call",
    );
}

#[test]
fn system_array_content_is_joined() {
    let m = messages(
        json!([{"role":"system","content":[{"type":"text","text":"A."},{"type":"text","text":"B."}]},
               {"role":"user","content":"x"}]),
        UpstreamApi::V8,
    );
    assert_eq!(m[0], json!({"type":"system_message","content":"A.\nB."}));
}

#[test]
fn special_characters_survive_the_round_trip() {
    let tricky = "quote \" backslash \\ newline \n nul \u{0} emoji 🦀";
    let m = messages(json!([{"role":"user","content":tricky}]), UpstreamApi::V8);
    assert_eq!(m[0]["content"], tricky);
}

// ---- v7

#[test]
fn v7_message_types() {
    let (built, body) = build_ok(
        &chat(json!([
            {"role":"system","content":"You are terse."},
            {"role":"user","content":"Weather in Paris?"},
            {"role":"assistant","content":"Checking.","tool_calls":[
                tool_call("call_0","get_weather","{\"city\":\"Paris\"}"), tool_call("call_1","get_time","{}")]},
            {"role":"tool","tool_call_id":"call_0","content":"18C, cloudy"},
            {"role":"tool","tool_call_id":"call_1","content":"noon"},
            {"role":"assistant","content":"It is 18C."}
        ])),
        UpstreamApi::V7,
    );
    assert_eq!(built.path, "/user/v5/llm/chat/stream/v7");
    assert_eq!(
        body["chat"]["messages"],
        json!([
            {"type":"system_message","content":"You are terse."},
            {"type":"user_message","content":"Weather in Paris?"},
            {"type":"assistant_message","content":"Checking."},
            {"type":"assistant_message","content":"","functionCall":{"functionName":"get_weather","content":"{\"city\":\"Paris\"}"}},
            {"type":"assistant_message","content":"","functionCall":{"functionName":"get_time","content":"{}"}},
            {"type":"function_message","content":"18C, cloudy","functionName":"get_weather"},
            {"type":"function_message","content":"noon","functionName":"get_time"},
            {"type":"assistant_message","content":"It is 18C."}
        ])
    );
    assert!(body.get("parameters").is_none());
}

#[test]
fn v7_multipart_text_is_kept_and_images_are_rejected() {
    let m = messages(
        json!([{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]),
        UpstreamApi::V7,
    );
    assert_eq!(
        m,
        json!([{"type":"user_message","content":"a"},{"type":"user_message","content":"b"}])
    );
    let req = chat(json!([{"role":"user","content":[{"type":"text","text":"a"},
        {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{PNG}")}}]}]));
    assert_error(
        &error(&req, UpstreamApi::V7),
        "messages[0].content[1]",
        "not supported by the v7",
    );
}

#[test]
fn v7_tools_use_functions_fqdn_without_modified() {
    let req = request(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
        {"type":"function","function":{"name":"get_weather","description":"Weather",
         "parameters":{"$schema":"s","type":"object","properties":{"city":{"type":"string","$comment":"c"}}}}}]}),
    );
    let (_, body) = build_ok(&req, UpstreamApi::V7);
    let data = &body["parameters"]["data"];
    assert_eq!(
        data[0],
        json!({"type":"json","fqdn":"llm.parameters.functions"})
    );
    assert!(data[1].get("modified").is_none());
    let value: Value = serde_json::from_str(data[1]["value"].as_str().unwrap()).unwrap();
    assert_eq!(
        value,
        json!([{"name":"get_weather","description":"Weather",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}])
    );
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
    let (_, body) = build_ok(&req, UpstreamApi::V8);
    let data = &body["parameters"]["data"];
    assert_eq!(data.as_array().unwrap().len(), 2);
    assert_eq!(
        data[0],
        json!({"type":"json","fqdn":"llm.parameters.tools"})
    );
    assert_eq!(data[1]["type"], "json");
    assert_eq!(data[1]["modified"], NOW);
    let value_str = data[1]["value"].as_str().expect("value is a JSON string");
    assert!(!value_str.contains('$'), "{value_str}");
    let value: Value = serde_json::from_str(value_str).unwrap();
    assert_eq!(
        value,
        json!([
            {"name":"get_weather","description":"Weather","parameters":{"schema":{"type":"object",
                "properties":{"city":{"type":"string"},"opts":{"type":"object","properties":{"unit":{"type":"string"}}}},
                "required":["city"]}}},
            {"name":"noop","parameters":{"schema":{"type":"object","properties":{}}}}
        ])
    );
    assert!(body.get("tool_choice").is_none());
}

#[test]
fn empty_tools_array_sends_no_parameters() {
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]}));
    assert!(
        build_ok(&req, UpstreamApi::V8)
            .1
            .get("parameters")
            .is_none()
    );
}

#[test]
fn tool_without_a_name_is_rejected() {
    let req = request(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"ok"}},{"type":"function","function":{"parameters":{}}}]}),
    );
    assert_error(
        &error(&req, UpstreamApi::V8),
        "tools[1].function.name",
        "is required",
    );
}

// ---- validation errors

#[test]
fn empty_messages_is_rejected() {
    assert_error(
        &error(&chat(json!([])), UpstreamApi::V8),
        "messages",
        "at least one message",
    );
}

#[test]
fn n_greater_than_one_is_rejected() {
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"x"}],"n":2}));
    assert_error(
        &error(&req, UpstreamApi::V8),
        "n",
        "n>1 is not supported; JetBrains AI returns one choice",
    );
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"x"}],"n":1}));
    assert!(build(&req, "p", UpstreamApi::V8, NOW).is_ok());
}

#[test]
fn unknown_role_lists_the_valid_ones() {
    let req = chat(json!([{"role":"user","content":"x"},{"role":"bot","content":"y"}]));
    let err = error(&req, UpstreamApi::V8);
    assert_error(&err, "messages[1].role", "\"bot\"");
    for role in ["system", "developer", "user", "assistant", "tool"] {
        assert!(err.message.contains(role), "{err}");
    }
}

#[test]
fn missing_or_mistyped_role() {
    assert_error(
        &error(&chat(json!([{"content":"x"}])), UpstreamApi::V8),
        "messages[0].role",
        "is required",
    );
    assert_error(
        &error(&chat(json!([{"role":3,"content":"x"}])), UpstreamApi::V8),
        "messages[0].role",
        "string",
    );
    assert_error(
        &error(&chat(json!(["hi"])), UpstreamApi::V8),
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
        let err = error(&chat(messages.clone()), UpstreamApi::V8);
        assert_eq!(err.param.as_deref(), Some(param), "{messages}: {err}");
        assert!(err.message.starts_with(param), "{err}");
    }
}

#[test]
fn missing_content_where_required() {
    for role in ["system", "developer", "user"] {
        let err = error(&chat(json!([{"role":role}])), UpstreamApi::V8);
        assert_error(&err, "messages[0].content", "is required");
    }
    let err = error(
        &chat(json!([{"role":"user","content":"x"},{"role":"assistant","content":null}])),
        UpstreamApi::V8,
    );
    assert_error(
        &err,
        "messages[1].content",
        "required when there are no tool_calls",
    );
    let err = error(
        &chat(
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
        let err = error(&chat(messages.clone()), UpstreamApi::V8);
        assert_eq!(err.param.as_deref(), Some(param), "{messages}: {err}");
    }
}

#[test]
fn errors_do_not_echo_long_client_text() {
    let long_role = "r".repeat(500);
    let err = error(
        &chat(json!([{"role":long_role,"content":"x"}])),
        UpstreamApi::V8,
    );
    assert!(err.message.len() < 250, "{err}");
}

// ---- prompt token estimate

#[test]
fn prompt_tokens_count_text_tools_and_images() {
    let text_only = build_ok(
        &chat(json!([{"role":"user","content":"x".repeat(400)}])),
        UpstreamApi::V8,
    )
    .0;
    assert_eq!(text_only.prompt_tokens, 100);

    let with_image = build_ok(
        &chat(json!([{"role":"user","content":[{"type":"text","text":"x".repeat(400)},
            {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{}", "A".repeat(4000))}}]}])),
        UpstreamApi::V8,
    )
    .0;
    assert_eq!(with_image.prompt_tokens, 100 + IMAGE_TOKENS);

    let with_tools = build_ok(
        &request(
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
