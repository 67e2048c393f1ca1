//! The Responses request: the parameters: what fills the conversation, the defaults, formats and tool choices.

use super::*;

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
