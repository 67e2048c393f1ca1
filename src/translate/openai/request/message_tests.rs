//! OpenAI messages → upstream messages, v8 and v7.

use serde_json::{Value, json};

use super::tests::*;
use crate::config::UpstreamApi;
use crate::translate::image::MAX_IMAGE_BYTES;

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
            {"type":"assistant_message","content":"Hello."},
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
            &error(req.clone(), UpstreamApi::V8),
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
        &error(req.clone(), UpstreamApi::V8),
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
            {"type":"assistant_message","content":"Looks like Paris."},
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
        &error(req.clone(), UpstreamApi::V8),
        "messages[2].tool_call_id",
        "matches no tool call",
    );
    // The call must come earlier than its result.
    let req = chat(json!([
        {"role":"tool","tool_call_id":"t1","content":"r"},
        {"role":"assistant","tool_calls":[tool_call("t1","f","{}")]}
    ]));
    assert_error(
        &error(req.clone(), UpstreamApi::V8),
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
        chat(json!([
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
        &error(req.clone(), UpstreamApi::V7),
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
    let (_, body) = build_ok(req, UpstreamApi::V7);
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
