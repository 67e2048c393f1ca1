//! Anthropic request → conversation → upstream body, and errors named by Anthropic paths.

use serde_json::{Value, json};

use super::*;
use crate::config::UpstreamApi;
use crate::profiles::Capabilities;
use crate::translate::conversation::ToolChoice;
use crate::translate::grazie;
use crate::upstream::request::GrazieRequest;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// Parses `body` from its bytes, as the server does, and builds the upstream request.
fn build_body(body: &Value, api: UpstreamApi) -> Result<GrazieRequest, TranslateError> {
    let bytes = serde_json::to_vec(body).expect("json");
    let req = MessagesRequest::parse(&bytes)?;
    grazie::build(
        &req.conversation,
        "anthropic-claude-4-5-sonnet",
        &Capabilities::all(),
        api,
    )
}

/// The upstream chat messages the request becomes.
fn upstream(body: Value) -> Vec<Value> {
    let built = build_body(&body, UpstreamApi::V8).expect("builds");
    let body: Value = serde_json::from_slice(&built.body).expect("json");
    body["chat"]["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

fn failure(body: Value) -> TranslateError {
    build_body(&body, UpstreamApi::V8).expect_err("fails")
}

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

#[test]
fn mid_conversation_system_messages_stay_in_place_and_billing_metadata_is_dropped() {
    let messages = upstream(json!({"model": "m",
    "system": [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.abc; cc_entrypoint=sdk-cli;"},
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
    ],
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Available agent types for the Agent tool: general."},
        {"role": "assistant", "content": "Hello"},
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "go"}
    ]}));
    assert_eq!(
        messages,
        [
            json!({"type": "system_message", "content": "You are Claude Code."}),
            json!({"type": "user_message", "content": "hi"}),
            json!({"type": "system_message", "content": "Available agent types for the Agent tool: general."}),
            json!({"type": "assistant_message", "content": "Hello"}),
            json!({"type": "system_message", "content": "Be brief."}),
            json!({"type": "user_message", "content": "go"}),
        ]
    );
    // A system prompt that is nothing but the metadata sends no system message at all.
    let messages = upstream(json!({"model": "m",
        "system": "x-anthropic-billing-header: cc_version=1; cc_entrypoint=cli;",
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(messages, [json!({"type": "user_message", "content": "hi"})]);
}

#[test]
fn system_prompt_as_string_or_blocks() {
    let messages = upstream(json!({"model": "m", "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        messages,
        [
            json!({"type": "system_message", "content": "Be brief."}),
            json!({"type": "user_message", "content": "hi"})
        ]
    );
    let messages = upstream(json!({"model": "m",
        "system": [{"type": "text", "text": "One.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Two."}],
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        messages[0],
        json!({"type": "system_message", "content": "One.\nTwo."})
    );
    let messages = upstream(
        json!({"model": "m", "system": "", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(messages.len(), 1, "an empty system prompt is not sent");
}

#[test]
fn images_become_media_messages_before_the_text() {
    let messages = upstream(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
        ]}]}),
    );
    assert_eq!(
        messages,
        [
            json!({"type": "media_message", "mediaType": "image/png", "data": PNG}),
            json!({"type": "user_message", "content": "what is this"})
        ]
    );
}

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
fn thinking_blocks_are_dropped_and_string_content_works_for_assistants() {
    let messages = upstream(json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Hello"}]},
        {"role": "assistant", "content": "More"},
    ]}));
    assert_eq!(
        messages[1],
        json!({"type": "assistant_message", "content": "Hello"})
    );
    assert_eq!(
        messages[2],
        json!({"type": "assistant_message", "content": "More"})
    );
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

#[test]
fn errors_from_the_shared_mapping_name_anthropic_fields() {
    // The image's media type is checked by the shared mapping, and reported at the Anthropic block.
    let err = failure(json!({"model": "m", "system": "s", "messages": [
        {"role": "user", "content": "first"},
        {"role": "user", "content": [{"type": "text", "text": "see"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": PNG}}]}
    ]}));
    assert_eq!(err.param.as_deref(), Some("messages[1].content[1].source"));
    assert!(
        err.message
            .starts_with("messages[1].content[1].source: unsupported image type")
    );

    let err = failure(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]}]}),
    );
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].content[0].source.url")
    );
    // In Anthropic's terms: a base64 source, not OpenAI's data URL.
    assert!(
        err.message.contains("not fetched") && err.message.contains("base64 source"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("data URL"), "{}", err.message);

    let err = failure(json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]}));
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].content[0].tool_use_id")
    );

    let err = failure(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"description": "no name"}]}),
    );
    assert_eq!(err.param.as_deref(), Some("tools[0].name"));

    let err = failure(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "f", "input_schema": "not a schema"}]}),
    );
    assert_eq!(err.param.as_deref(), Some("tools[0].input_schema"));
}

#[test]
fn malformed_requests_are_refused_with_their_path() {
    for (body, param) in [
        (json!({"model": "m", "messages": []}), "messages"),
        (json!({"model": "m", "messages": ["hi"]}), "messages[0]"),
        (
            json!({"model": "m", "messages": [{"content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "bot", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": []}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "document"}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages[0].content[0].text",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image"}]}]}),
            "messages[0].content[0].source",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f"}]}]}),
            "messages[0].content[0].id",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "content": [
            {"type": "tool_use", "id": "a", "name": "f", "input": [1]}]}]}),
            "messages[0].content[0].input",
        ),
        (
            json!({"model": "m", "system": 3, "messages": [{"role": "user", "content": "x"}]}),
            "system",
        ),
        (
            json!({"model": "m", "system": [{"type": "image"}], "messages": [{"role": "user", "content": "x"}]}),
            "system[0].type",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            "messages[0].content",
        ),
    ] {
        let err = failure(body.clone());
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {}", err.message);
        assert!(err.message.starts_with(param), "{}", err.message);
    }
    assert!(MessagesRequest::parse(br#"{"messages": []}"#).is_err());
}

#[test]
fn v7_is_spoken_through_the_same_mapping() {
    let built = build_body(
        &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        UpstreamApi::V7,
    )
    .expect("builds");
    assert_eq!(built.path, "/user/v5/llm/chat/stream/v7");
}

#[test]
fn input_tokens_count_system_messages_tools_and_images() {
    let tokens = |body: Value| {
        let bytes = serde_json::to_vec(&body).expect("json");
        let req = MessagesRequest::parse(&bytes).expect("parses");
        // What `count_tokens` answers: the prompt estimate of the upstream request.
        grazie::build(
            &req.conversation,
            "anthropic-claude-4-5-sonnet",
            &Capabilities::all(),
            UpstreamApi::V8,
        )
        .expect("counts")
        .prompt_tokens
    };
    let base = tokens(json!({"model": "m", "messages": [{"role": "user", "content": "abcdefgh"}]}));
    assert_eq!(base, 2, "8 bytes at 4 bytes a token");
    let with_system = tokens(json!({"model": "m", "system": "abcd",
        "messages": [{"role": "user", "content": "abcdefgh"}]}));
    assert_eq!(with_system, 3);
    let with_tools = tokens(
        json!({"model": "m", "messages": [{"role": "user", "content": "abcdefgh"}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}),
    );
    assert!(with_tools > base + 5, "{with_tools}");
    let with_image = tokens(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "abcdefgh"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}),
    );
    assert!(
        with_image > base + 100,
        "an image counts as a fixed amount: {with_image}"
    );
}
