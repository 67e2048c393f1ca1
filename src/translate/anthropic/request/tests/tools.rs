//! Tool definitions, tool use and tool results.

use super::*;

#[test]
fn tool_use_and_tool_result_round_trip() {
    let messages = upstream(json!({"model": "m", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
            {"type": "text", "text": "and tomorrow?"}
        ]}
    ]}));
    assert_eq!(
        messages,
        [
            json!({"type": "user_message", "content": "weather?"}),
            json!({"type": "assistant_message", "content": "Checking."}),
            json!({"type": "assistant_message_tool", "id": "toolu_1", "toolName": "get_weather",
                "content": "{\"city\":\"Paris\"}"}),
            json!({"type": "tool_message", "id": "toolu_1", "toolName": "get_weather", "result": "sunny"}),
            json!({"type": "user_message", "content": "and tomorrow?"}),
        ]
    );
}

#[test]
fn tool_results_as_string_error_or_with_images() {
    let messages = upstream(json!({"model": "m", "messages": [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "a", "name": "run", "input": {}},
            {"type": "tool_use", "id": "b", "name": "look", "input": {}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "a", "content": "exit 1", "is_error": true},
            {"type": "tool_result", "tool_use_id": "b", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
            ]}
        ]}
    ]}));
    assert_eq!(messages[2]["result"], "[tool error] exit 1");
    assert_eq!(
        messages[3]["result"],
        "[1 image(s) of this result follow in the next user message]"
    );
    assert_eq!(messages[4]["type"], "media_message");
    assert_eq!(messages.len(), 5);
}

#[test]
fn tools_take_input_schema_and_server_tools_are_refused() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema":
            {"$schema": "x", "type": "object", "properties": {"city": {"type": "string"}}},
            "cache_control": {"type": "ephemeral"}}]});
    let bytes = serde_json::to_vec(&body).expect("json");
    let req = MessagesRequest::parse(&bytes).expect("parses");
    let tools = &req.conversation.tools;
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "get_weather");
    assert_eq!(tools[0].description.as_deref(), Some("Weather"));
    assert_eq!(
        tools[0].schema.as_ref().map(|s| Value::Object(s.clone())),
        Some(json!({"$schema": "x", "type": "object", "properties": {"city": {"type": "string"}}}))
    );
    let built = build_body(&body, UpstreamApi::V8).expect("builds");
    let body: Value = serde_json::from_slice(&built.body).expect("json");
    let tools: Value = serde_json::from_str(
        body["parameters"]["data"][1]["value"]
            .as_str()
            .expect("value"),
    )
    .expect("tools");
    assert_eq!(
        tools,
        json!([{"name": "get_weather", "description": "Weather",
            "parameters": {"schema": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
    );

    let err = failure(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
    );
    assert_eq!(err.param.as_deref(), Some("tools[0].type"));
    assert!(err.message.contains("server tool"), "{}", err.message);
}
