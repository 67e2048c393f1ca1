//! The Responses face's request end to end: body bytes → conversation → upstream body, the tool names it
//! remembers, the parameters, and every refusal naming its field.

use serde_json::{Value, json};

use super::*;
use crate::config::UpstreamApi;
use crate::profiles::Capabilities;
use crate::translate::conversation::PartKind;
use crate::translate::grazie::build;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUg==";

fn parse_value(body: &Value) -> Result<ResponsesRequest<'static>, TranslateError> {
    // Leaked so the parsed request may borrow from it for the test's lifetime.
    let bytes: &'static [u8] = Box::leak(serde_json::to_vec(body).unwrap().into_boxed_slice());
    ResponsesRequest::parse(bytes)
}

fn parse_ok(body: Value) -> ResponsesRequest<'static> {
    parse_value(&body).unwrap_or_else(|e| panic!("{e}"))
}

fn error(body: Value) -> TranslateError {
    match parse_value(&body) {
        Ok(_) => panic!("accepted: {body}"),
        Err(err) => err,
    }
}

/// The upstream body (v8) of a parsed request.
fn upstream(req: &ResponsesRequest<'_>) -> Value {
    let built = build(
        &req.conversation,
        "openai-gpt-4o",
        &Capabilities::all(),
        UpstreamApi::V8,
    )
    .unwrap();
    serde_json::from_slice(&built.body).unwrap()
}

fn messages(body: Value) -> Value {
    upstream(&parse_ok(body))["chat"]["messages"].clone()
}

fn with_input(input: Value) -> Value {
    json!({"model": "gpt-4o", "input": input})
}

fn assert_error(err: &TranslateError, param: &str, needle: &str) {
    assert_eq!(err.param.as_deref(), Some(param), "{err}");
    assert!(err.message.starts_with(param), "{err}");
    assert!(err.message.contains(needle), "lacks {needle:?}: {err}");
}

// ---- input

#[test]
fn string_input_and_instructions() {
    let req = parse_ok(
        json!({"model": "gpt-4o", "input": "Hi", "instructions": "Be brief.", "stream": true}),
    );
    assert_eq!(req.model, "gpt-4o");
    assert!(req.stream);
    assert_eq!(
        upstream(&req)["chat"]["messages"],
        json!([{"type": "system_message", "content": "Be brief."}, {"type": "user_message", "content": "Hi"}])
    );
    assert_eq!(req.echo["instructions"], "Be brief.");
    assert!(req.dropped.is_empty());
}

#[test]
fn message_items_of_every_role_and_part() {
    let m = messages(with_input(json!([
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Rules."}]},
        {"role": "system", "content": "More rules."},
        {"role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG}"), "detail": "auto"}]},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "A pixel.", "annotations": []}]},
        {"role": "user", "content": "Thanks"}
    ])));
    assert_eq!(
        m,
        json!([
            {"type": "system_message", "content": "Rules."},
            {"type": "system_message", "content": "More rules."},
            {"type": "media_message", "mediaType": "image/png", "data": PNG},
            {"type": "user_message", "content": "What is this?"},
            {"type": "assistant_message", "content": "A pixel."},
            {"type": "user_message", "content": "Thanks"}
        ])
    );
}

#[test]
fn function_call_round_trip_follows_the_assistant_text() {
    let req = parse_ok(with_input(json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
            "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
    ])));
    assert_eq!(
        req.conversation.turns.len(),
        3,
        "the call joins the assistant's turn"
    );
    assert_eq!(
        upstream(&req)["chat"]["messages"],
        json!([
            {"type": "user_message", "content": "Weather in Paris?"},
            {"type": "assistant_message", "content": "Checking."},
            {"type": "assistant_message_tool", "id": "call_1", "toolName": "get_weather",
                "content": "{\"city\":\"Paris\"}"},
            {"type": "tool_message", "id": "call_1", "toolName": "get_weather", "result": "sunny"}
        ])
    );
}

#[test]
fn namespaced_and_custom_calls_use_their_upstream_names() {
    let m = messages(with_input(json!([
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "probe_nonce", "namespace": "mcp__probe",
            "arguments": "{\"input\":\"x\"}"},
        {"type": "custom_tool_call", "call_id": "c2", "name": "exec", "input": "text(\"hi\")"},
        {"type": "function_call_output", "call_id": "c1",
            "output": [{"type": "input_text", "text": "Wall time: 0.01 s"}, {"type": "input_text", "text": "nonce=n"}]},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "hi"}]}
    ])));
    assert_eq!(
        m,
        json!([
            {"type": "user_message", "content": "go"},
            {"type": "assistant_message_tool", "id": "c1", "toolName": "mcp__probe__probe_nonce",
                "content": "{\"input\":\"x\"}"},
            {"type": "assistant_message_tool", "id": "c2", "toolName": "exec",
                "content": "{\"input\":\"text(\\\"hi\\\")\"}"},
            {"type": "tool_message", "id": "c1", "toolName": "mcp__probe__probe_nonce",
                "result": "Wall time: 0.01 s\nnonce=n"},
            {"type": "tool_message", "id": "c2", "toolName": "exec", "result": "hi"}
        ])
    );
}

#[test]
fn images_in_a_call_output_follow_as_media() {
    let m = messages(with_input(json!([
        {"type": "function_call", "call_id": "c1", "name": "shot", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_text", "text": "here"},
            {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG}")}]}
    ])));
    assert_eq!(
        m[1]["result"],
        "here\n[1 image(s) of this result follow in the next user message]"
    );
    assert_eq!(m[2]["type"], "media_message");
}

#[test]
fn reasoning_items_and_blank_assistant_messages_are_dropped_and_noted() {
    let req = parse_ok(with_input(json!([
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"},
        {"type": "message", "role": "assistant", "content": []},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
        {"role": "user", "content": "again"}
    ])));
    assert_eq!(req.conversation.turns.len(), 2);
    assert_eq!(req.dropped.len(), 3, "{:?}", req.dropped);
    assert!(
        req.dropped[0].starts_with("input[1]: a reasoning item"),
        "{:?}",
        req.dropped
    );
    assert!(
        req.dropped[2].contains("web_search_call"),
        "{:?}",
        req.dropped
    );
}

// ---- tools

#[test]
fn tools_of_every_kind() {
    let req = parse_ok(json!({"model": "gpt-4o", "input": "hi", "tools": [
        {"type": "function", "name": "get_weather", "description": "Weather", "strict": false,
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"type": "namespace", "name": "mcp__probe", "description": "Probe server", "tools": [
            {"type": "function", "name": "probe_nonce", "parameters": {"type": "object", "properties": {}}}]},
        {"type": "custom", "name": "apply", "description": "Apply a patch",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
        {"type": "web_search", "external_web_access": false},
        {"type": "file_search", "vector_store_ids": ["vs_1"]}
    ]}));
    let names: Vec<&str> = req
        .conversation
        .tools
        .iter()
        .map(|t| t.name.as_ref())
        .collect();
    assert_eq!(names, ["get_weather", "mcp__probe__probe_nonce", "apply"]);
    let custom = req.conversation.tools[2].schema.as_ref().unwrap();
    assert_eq!(custom["required"], json!(["input"]));
    let note = custom["properties"]["input"]["description"]
        .as_str()
        .unwrap();
    assert!(
        note.contains("lark grammar") && note.contains("start: /.+/"),
        "{note}"
    );
    assert_eq!(req.dropped.len(), 2, "{:?}", req.dropped);
    assert!(
        req.dropped[0].starts_with("tools[3]: tool type \"web_search\""),
        "{:?}",
        req.dropped
    );
    let probe = req.names.client("mcp__probe__probe_nonce");
    assert_eq!(
        (
            probe.name.as_str(),
            probe.namespace.as_deref(),
            probe.custom
        ),
        ("probe_nonce", Some("mcp__probe"), false)
    );
    assert!(req.names.client("apply").custom);
    assert!(!req.names.client("get_weather").custom);
    // The echo repeats the tools jbproxy offers, normalized; hosted tools are not among them.
    let echoed = req.echo["tools"].as_array().unwrap();
    assert_eq!(echoed.len(), 3);
    assert_eq!(echoed[0]["strict"], false);
    assert_eq!(echoed[1]["tools"][0]["name"], "probe_nonce");
    assert_eq!(echoed[2]["format"]["syntax"], "lark");
}

#[test]
fn additional_tools_items_offer_tools_in_the_default_namespace_by_their_own_names() {
    let req = parse_ok(with_input(json!([
        {"type": "additional_tools", "role": "developer", "tools": [
            {"type": "namespace", "name": "functions", "description": "", "tools": [
                {"type": "custom", "name": "exec", "description": "Run JS", "format": {"type": "text"}},
                {"type": "function", "name": "wait", "parameters": {"type": "object", "properties": {}}}]},
            {"type": "namespace", "name": "clock", "description": "Time", "tools": [
                {"type": "function", "name": "sleep", "parameters": {"type": "object", "properties": {}}}]}]},
        {"role": "user", "content": "hi"}
    ])));
    let names: Vec<&str> = req
        .conversation
        .tools
        .iter()
        .map(|t| t.name.as_ref())
        .collect();
    assert_eq!(names, ["exec", "wait", "clock__sleep"]);
    assert_eq!(
        req.names.client("exec").namespace,
        None,
        "calls in the default namespace name none"
    );
    assert_eq!(
        req.names.client("clock__sleep").namespace.as_deref(),
        Some("clock")
    );
    assert!(req.names.client("exec").custom);
    assert_eq!(req.names.client("clock__sleep").name, "sleep");
    assert_eq!(
        req.echo["tools"],
        json!([]),
        "only top-level tools are repeated"
    );
}

#[test]
fn tool_errors_name_the_tool() {
    let cases = [
        (json!([{"name": "f"}]), "tools[0].type"),
        (json!([{"type": "function"}]), "tools[0].name"),
        (
            json!([{"type": "namespace", "name": "ns"}]),
            "tools[0].tools",
        ),
        (
            json!([{"type": "namespace", "name": "ns", "tools": [{"type": "web_search"}]}]),
            "tools[0].tools[0].type",
        ),
        (
            json!([{"type": "custom", "name": "c", "format": {"type": "regex"}}]),
            "tools[0].format.type",
        ),
        (
            json!([{"type": "custom", "name": "c", "format": {"type": "grammar"}}]),
            "tools[0].format.definition",
        ),
        (
            json!([{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]),
            "tools[1].name",
        ),
        (
            json!([{"type": "function", "name": "ns__f"}, {"type": "namespace", "name": "ns", "tools": [
                {"type": "function", "name": "f"}]}]),
            "tools[1].tools[0].name",
        ),
    ];
    for (tools, param) in cases {
        let err = error(json!({"model": "m", "input": "x", "tools": tools.clone()}));
        assert_eq!(err.param.as_deref(), Some(param), "{tools}: {err}");
    }
}

// ---- parameters

#[test]
fn parameters_fill_the_conversation() {
    let req = parse_ok(
        json!({"model": "gpt-5", "input": "x", "max_output_tokens": 64, "temperature": 0.2,
        "top_p": 0.9, "parallel_tool_calls": false, "reasoning": {"effort": "low", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "City", "strict": true,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}, "verbosity": "low"},
        "tools": [{"type": "function", "name": "f", "parameters": {}}], "tool_choice": "required"}),
    );
    let p = &req.conversation.params;
    assert_eq!(p.max_tokens, Some(64));
    assert_eq!(p.temperature, Some(0.2));
    assert_eq!(p.top_p, Some(0.9));
    assert_eq!(p.parallel_tool_calls, Some(false));
    assert_eq!(p.reasoning_effort.as_deref(), Some("low"));
    assert_eq!(p.verbosity.as_deref(), Some("low"));
    assert_eq!(p.tool_choice, Some(ToolChoice::Required));
    let Some(ResponseFormat::JsonSchema(schema)) = &p.response_format else {
        panic!("{:?}", p.response_format)
    };
    assert_eq!(schema["name"], "City");
    assert_eq!(schema["strict"], true);
    assert!(
        schema.get("type").is_none(),
        "the chat face's json_schema object has no type"
    );
    assert_eq!(p.n, None);
    // The echo states them as the answer repeats them.
    assert_eq!(req.echo["max_output_tokens"], 64);
    assert_eq!(req.echo["parallel_tool_calls"], false);
    assert_eq!(
        req.echo["reasoning"],
        json!({"effort": "low", "summary": "auto"})
    );
    assert_eq!(req.echo["text"]["verbosity"], "low");
    assert_eq!(req.echo["text"]["format"]["name"], "City");
    assert_eq!(req.echo["tool_choice"], "required");
    assert_eq!(req.echo["store"], false);
}

#[test]
fn defaults_when_nothing_is_asked() {
    let req = parse_ok(json!({"model": "m", "input": "x"}));
    assert_eq!(req.conversation.params, Parameters::default());
    assert_eq!(req.echo["tool_choice"], "auto");
    assert_eq!(req.echo["parallel_tool_calls"], true);
    assert_eq!(req.echo["text"], json!({"format": {"type": "text"}}));
    assert_eq!(req.echo["temperature"], Value::Null);
    assert_eq!(req.echo["instructions"], Value::Null);
}

#[test]
fn formats() {
    let format = |f: Value| {
        parse_ok(json!({"model": "m", "input": "x", "text": {"format": f}}))
            .conversation
            .params
            .response_format
    };
    assert_eq!(format(json!({"type": "text"})), Some(ResponseFormat::Text));
    assert_eq!(
        format(json!({"type": "json_object"})),
        Some(ResponseFormat::JsonObject)
    );
    let err = error(
        json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}}),
    );
    assert_error(&err, "text.format.schema", "is required");
    let err = error(json!({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}));
    assert_error(&err, "text.format.type", "\"yaml\"");
}

#[test]
fn tool_choices() {
    let tools = json!([
        {"type": "function", "name": "a", "parameters": {}},
        {"type": "function", "name": "b", "parameters": {}},
        {"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "function", "name": "c", "parameters": {}}]}
    ]);
    let choose = |choice: Value| {
        parse_value(
            &json!({"model": "m", "input": "x", "tools": tools.clone(), "tool_choice": choice}),
        )
    };
    let choice = |c: Value| choose(c).unwrap().conversation.params.tool_choice;
    assert_eq!(choice(json!("auto")), Some(ToolChoice::Auto));
    assert_eq!(choice(json!("none")), Some(ToolChoice::None));
    assert_eq!(
        choice(json!({"type": "function", "name": "b"})),
        Some(ToolChoice::Named("b".into()))
    );
    assert_eq!(
        choice(json!({"type": "function", "name": "c", "namespace": "ns"})),
        Some(ToolChoice::Named("ns__c".into()))
    );
    let allowed = choose(json!({"type": "allowed_tools", "mode": "required",
        "tools": [{"type": "function", "name": "b"}, {"type": "function", "name": "c", "namespace": "ns"}]}))
    .unwrap();
    assert_eq!(
        allowed.conversation.params.tool_choice,
        Some(ToolChoice::Required)
    );
    let kept: Vec<&str> = allowed
        .conversation
        .tools
        .iter()
        .map(|t| t.name.as_ref())
        .collect();
    assert_eq!(
        kept,
        ["b", "ns__c"],
        "allowed_tools keeps only the listed tools"
    );
    for (c, param, needle) in [
        (json!("sometimes"), "tool_choice", "\"sometimes\""),
        (
            json!({"type": "web_search_preview"}),
            "tool_choice.type",
            "OpenAI runs itself",
        ),
        (
            json!({"type": "function"}),
            "tool_choice.name",
            "is required",
        ),
        (
            json!({"type": "allowed_tools", "mode": "any", "tools": []}),
            "tool_choice.mode",
            "\"any\"",
        ),
        (json!(3), "tool_choice", "must be a string or an object"),
    ] {
        let Err(err) = choose(c.clone()) else {
            panic!("accepted {c}")
        };
        assert_error(&err, param, needle);
    }
}

// ---- state and refusals

#[test]
fn server_side_state_is_refused_with_what_to_send_instead() {
    for (extra, param, needle) in [
        (json!({"store": true}), "store", "\"store\": false"),
        (
            json!({"previous_response_id": "resp_1"}),
            "previous_response_id",
            "whole conversation",
        ),
        (
            json!({"conversation": "conv_1"}),
            "conversation",
            "no conversations",
        ),
        (json!({"background": true}), "background", "background"),
        (
            json!({"prompt": {"id": "pmpt_1"}}),
            "prompt",
            "instructions",
        ),
    ] {
        let mut body = json!({"model": "m", "input": "x"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let err = error(body);
        assert_error(&err, param, needle);
        assert!(err.message.contains("jbproxy"), "{err}");
    }
    // What Codex sends, and explicit nulls, are fine.
    parse_ok(
        json!({"model": "m", "input": "x", "store": false, "previous_response_id": null,
        "background": false, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
        "client_metadata": {"a": "b"}, "metadata": {"k": "v"}, "user": "u", "truncation": "auto"}),
    );
}

#[test]
fn input_errors_name_the_item() {
    let cases = [
        (json!({"model": "m"}), "input", "is required"),
        (with_input(json!([])), "input", "no message"),
        (
            json!({"model": "m", "input": [], "instructions": "x"}),
            "input",
            "no message",
        ),
        (with_input(json!(["hi"])), "input[0]", "must be an object"),
        (
            with_input(json!([{"content": "x"}])),
            "input[0].type",
            "is required",
        ),
        (
            with_input(json!([{"type": "item_reference", "id": "msg_1"}])),
            "input[0].type",
            "keeps no state",
        ),
        (
            with_input(json!([{"type": "computer_call_output", "call_id": "c"}])),
            "input[0].type",
            "unsupported input item type",
        ),
        (
            with_input(json!([{"role": "bot", "content": "x"}])),
            "input[0].role",
            "\"bot\"",
        ),
        (
            with_input(json!([{"type": "message", "content": "x"}])),
            "input[0].role",
            "is required",
        ),
        (
            with_input(json!([{"role": "user"}])),
            "input[0].content",
            "is required",
        ),
        (
            with_input(json!([{"role": "user", "content": []}])),
            "input[0].content",
            "empty",
        ),
        (
            with_input(
                json!([{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]),
            ),
            "input[0].content[0].type",
            "file inputs",
        ),
        (
            with_input(
                json!([{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]),
            ),
            "input[0].content[0].file_id",
            "inline",
        ),
        (
            with_input(
                json!([{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/a.png"}]}]),
            ),
            "input[0].content[0].image_url",
            "remote image URLs",
        ),
        (
            with_input(
                json!([{"role": "system", "content": [{"type": "input_image", "image_url": "x"}]}]),
            ),
            "input[0].content[0].type",
            "\"input_text\"",
        ),
        (
            with_input(json!([{"type": "function_call", "name": "f"}])),
            "input[0].call_id",
            "is required",
        ),
        (
            with_input(json!([{"type": "function_call", "call_id": "c"}])),
            "input[0].name",
            "is required",
        ),
        (
            with_input(json!([{"type": "custom_tool_call", "call_id": "c", "name": "f"}])),
            "input[0].input",
            "is required",
        ),
        (
            with_input(json!([{"type": "function_call_output", "call_id": "c"}])),
            "input[0].output",
            "is required",
        ),
        (
            with_input(
                json!([{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_file"}]}]),
            ),
            "input[0].output[0].type",
            "file inputs",
        ),
        (
            with_input(json!([{"type": "additional_tools"}])),
            "input[0].tools",
            "is required",
        ),
        (
            with_input(json!([{"role": "user", "content": [{"type": "input_text", "text": 5}]}])),
            "input[0].content[0].text",
            "string",
        ),
    ];
    for (body, param, needle) in cases {
        let err = error(body.clone());
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
        assert!(
            err.message.contains(needle),
            "{body}: lacks {needle:?}: {err}"
        );
    }
}

#[test]
fn an_output_answering_no_call_is_named_by_its_item() {
    let req = parse_ok(with_input(json!([
        {"role": "user", "content": "x"},
        {"type": "function_call_output", "call_id": "nope", "output": "r"}
    ])));
    let err = build(
        &req.conversation,
        "p",
        &Capabilities::all(),
        UpstreamApi::V8,
    )
    .unwrap_err();
    assert_error(&err, "input[1].call_id", "matches no tool call");
}

#[test]
fn text_borrows_from_the_body() {
    let req =
        ResponsesRequest::parse(br#"{"model":"m","input":[{"role":"user","content":"plain"}]}"#)
            .unwrap();
    match &req.conversation.turns[0].parts[0].kind {
        PartKind::Text(text) => assert!(matches!(text, Cow::Borrowed("plain"))),
        other => panic!("{other:?}"),
    }
}

// ---- Codex CLI 0.171.0, as captured (tests/fixtures/agents/codex/)

fn fixture(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/agents/codex/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str::<Vec<Value>>(&text)
        .unwrap()
        .into_iter()
        .map(|exchange| exchange["body"].clone())
        .collect()
}

#[test]
fn codex_classic_shape_parses() {
    let bodies = fixture("exec-gpt-5.1-codex-tool-roundtrip-mcp.json");
    let first = parse_ok(bodies[0].clone());
    assert!(first.stream);
    assert_eq!(
        first.conversation.tools.len(),
        10 + 5 + 1,
        "10 functions, 5 in multi_agent_v1, 1 in mcp__probe; web_search dropped"
    );
    assert!(
        first
            .names
            .client("mcp__probe__probe_nonce")
            .namespace
            .is_some()
    );
    assert_eq!(first.dropped.len(), 1, "{:?}", first.dropped);
    assert!(first.dropped[0].contains("web_search"));
    assert_eq!(
        first.conversation.params.tool_choice,
        Some(ToolChoice::Auto)
    );
    assert_eq!(first.conversation.params.parallel_tool_calls, Some(true));
    let second = parse_ok(bodies[1].clone());
    let body = upstream(&second);
    let messages = body["chat"]["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(messages[n - 2]["toolName"], "mcp__probe__probe_nonce");
    assert_eq!(messages[n - 1]["type"], "tool_message");
    assert_eq!(
        messages[n - 1]["result"],
        "Wall time: 0.0123 seconds\nOutput:\nnonce=n0nce-4242"
    );
}

#[test]
fn codex_lite_shape_parses() {
    let bodies = fixture("exec-default-tool-roundtrip-code-mode.json");
    let first = parse_ok(bodies[0].clone());
    assert_eq!(first.conversation.tools[0].name, "exec");
    assert!(first.names.client("exec").custom);
    assert_eq!(
        first.conversation.params.reasoning_effort.as_deref(),
        Some("low")
    );
    assert_eq!(first.conversation.params.verbosity.as_deref(), Some("low"));
    assert_eq!(first.conversation.params.parallel_tool_calls, Some(false));
    let second = parse_ok(bodies[1].clone());
    let body = upstream(&second);
    let messages = body["chat"]["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(messages[n - 2]["toolName"], "exec");
    let args: Value = serde_json::from_str(messages[n - 2]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        args["input"],
        "text(await tools.mcp__probe__probe_nonce({input: \"x\"}))"
    );
    assert!(
        messages[n - 1]["result"]
            .as_str()
            .unwrap()
            .contains("nonce=n0nce-4242")
    );
}
