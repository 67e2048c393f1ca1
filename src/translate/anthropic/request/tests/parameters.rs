//! Sampling and control parameters: what becomes an upstream parameter, what is required, what is refused.

use super::*;

#[test]
fn sampling_and_control_parameters_become_upstream_parameters() {
    let body = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "temperature": 0.3, "top_k": 5, "top_p": 0.9,
        "stop_sequences": ["\n\nHuman:", "END"], "metadata": {"user_id": "u"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}},
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": true},
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "hi"}]
    });
    let bytes = serde_json::to_vec(&body).expect("json");
    let req = MessagesRequest::parse_create(&bytes).expect("parses");
    assert!(!req.stream);
    let params = &req.conversation.params;
    assert_eq!(params.tool_choice, Some(ToolChoice::Named("f".into())));
    assert_eq!(params.parallel_tool_calls, Some(false));
    assert_eq!(params.thinking_budget, Some(2048));
    assert_eq!(params.reasoning_effort.as_deref(), Some("high"));
    let built = build_body(&body, UpstreamApi::V8).expect("builds");
    let sent: Value = serde_json::from_slice(&built.body).expect("json");
    let data = sent["parameters"]["data"].as_array().expect("pairs");
    let keys: Vec<&str> = data
        .iter()
        .step_by(2)
        .filter_map(|k| k["fqdn"].as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "llm.parameters.tools",
            "llm.parameters.tool-choice-named",
            "llm.parameters.parallel-tool-calls",
            "llm.parameters.temperature",
            "llm.parameters.top-p",
            "llm.parameters.top-k",
            "llm.parameters.length",
            "llm.parameters.stop-token",
            "llm.parameters.response-format",
            "llm.parameters.reasoning-effort",
            "llm.parameters.thinking-budget",
        ]
    );
    assert_eq!(data[15]["value"], "\n\nHuman:", "the first stop sequence");
    let format: Value =
        serde_json::from_str(data[17]["value"].as_str().expect("json text")).expect("json");
    assert_eq!(
        format,
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": true}})
    );
}

#[test]
fn max_tokens_is_required_on_messages_but_not_for_counting() {
    let body = br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#;
    let err = MessagesRequest::parse_create(body).expect_err("required");
    assert_eq!(err.param.as_deref(), Some("max_tokens"));
    assert!(err.message.starts_with("max_tokens: is required"), "{err}");
    assert!(MessagesRequest::parse(body).is_ok());
}

#[test]
fn a_thread_is_refused_with_the_way_out() {
    let body = br#"{"model": "m", "max_tokens": 9, "thread": {"type": "create"},
        "messages": [{"role": "user", "content": "hi"}]}"#;
    let err = MessagesRequest::parse_create(body).expect_err("refused");
    assert_eq!(err.param.as_deref(), Some("thread"));
    assert!(
        err.message.contains("no server-side state") && err.message.contains("thread=False"),
        "{err}"
    );
    for none in ["null", "false"] {
        let body = format!(
            r#"{{"model": "m", "max_tokens": 9, "thread": {none}, "messages": [{{"role": "user", "content": "hi"}}]}}"#
        );
        assert!(
            MessagesRequest::parse_create(body.as_bytes()).is_ok(),
            "{none}"
        );
    }
}

#[test]
fn wrong_shaped_parameters_are_refused_not_ignored() {
    for (extra, param) in [
        (json!({"tool_choice": {"type": "sometimes"}}), "tool_choice"),
        (json!({"tool_choice": {"type": "tool"}}), "tool_choice.name"),
        (
            json!({"thinking": {"type": "enabled"}}),
            "thinking.budget_tokens",
        ),
        (json!({"thinking": {"type": "deep"}}), "thinking"),
        (
            json!({"output_config": {"format": {"type": "xml"}}}),
            "output_config.format",
        ),
    ] {
        let mut body =
            json!({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let bytes = serde_json::to_vec(&body).expect("json");
        let err = MessagesRequest::parse_create(&bytes).expect_err("refused");
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
    }
}
