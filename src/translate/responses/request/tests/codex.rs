//! The Responses request: Codex CLI 0.171.0's requests, as captured (`tests/fixtures/agents/codex/`).

use super::*;

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
