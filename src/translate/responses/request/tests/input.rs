//! The Responses request: items of the input: messages, calls and their outputs, images, what is dropped; and the tools.

use super::*;

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
