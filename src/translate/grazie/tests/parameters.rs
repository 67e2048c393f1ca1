//! The mapping and the profile table: which parameters go up, which are left out, which requests are refused.

use super::*;

fn takes(params: &[Param]) -> Capabilities {
    Capabilities {
        parameters: params.iter().copied().collect(),
        prefill: true,
    }
}

fn with_tools(choice: Option<ToolChoice<'static>>, history: bool) -> Conversation<'static> {
    let mut c = if history {
        turns(vec![
            Turn {
                role: Role::User,
                parts: vec![Part::text(at(0), "Weather?")],
            },
            Turn {
                role: Role::Assistant,
                parts: vec![call(1, "c1", "get_weather")],
            },
            Turn {
                role: Role::User,
                parts: vec![result(at(2), "c1", "sunny", false)],
            },
        ])
    } else {
        Conversation::user_text("Weather?")
    };
    c.tools = ["get_weather", "get_time"]
        .into_iter()
        .map(|name| Tool {
            name: name.into(),
            description: None,
            schema: None,
        })
        .collect();
    c.params.tool_choice = choice;
    c
}

/// The `parameters.data` keys sent, in order.
fn keys(c: &Conversation<'_>, caps: &Capabilities) -> Result<Vec<String>, TranslateError> {
    let built = build(c, "some-profile", caps, UpstreamApi::V8)?;
    let body: Value = serde_json::from_slice(&built.body).expect("json");
    Ok(body["parameters"]["data"]
        .as_array()
        .map(|d| {
            d.iter()
                .step_by(2)
                .filter_map(|k| k["fqdn"].as_str())
                .map(|f| f.trim_start_matches("llm.parameters.").to_owned())
                .collect()
        })
        .unwrap_or_default())
}

#[test]
fn a_parameter_the_profile_does_not_take_is_left_out() {
    let mut c = Conversation::user_text("x");
    c.params = Parameters {
        temperature: Some(0.2),
        top_k: Some(3),
        max_tokens: Some(10),
        seed: Some(1),
        thinking_budget: Some(1024),
        ..Parameters::default()
    };
    assert_eq!(
        keys(&c, &takes(&[Param::Length, Param::TopK])).unwrap(),
        ["top-k", "length"]
    );
    // Nothing taken: no `parameters` at all, never an empty list.
    let built = build(&c, "p", &takes(&[]), UpstreamApi::V8).expect("builds");
    let body: Value = serde_json::from_slice(&built.body).expect("json");
    assert!(body.get("parameters").is_none(), "{body}");
}

#[test]
fn several_answers_need_number_of_choices() {
    let mut c = Conversation::user_text("x");
    c.params.n = Some(3);
    assert_eq!(
        keys(&c, &takes(&[Param::NumberOfChoices])).unwrap(),
        ["number-of-choices"]
    );
    let err = keys(&c, &takes(&[])).expect_err("refused");
    assert_eq!(err.param.as_deref(), Some("n"));
    assert!(
        err.message.contains("does not take number-of-choices"),
        "{err}"
    );
    c.params.n = Some(0);
    assert!(keys(&c, &Capabilities::all()).is_err());
    c.params.n = Some(1);
    assert_eq!(keys(&c, &takes(&[])).unwrap(), Vec::<String>::new());
}

#[test]
fn json_output_needs_response_format() {
    let mut c = Conversation::user_text("x");
    c.params.response_format = Some(ResponseFormat::JsonObject);
    let built = build(&c, "p", &takes(&[Param::ResponseFormat]), UpstreamApi::V8).expect("builds");
    let body: Value = serde_json::from_slice(&built.body).expect("json");
    assert_eq!(
        body["parameters"]["data"][1]["value"],
        "{\"type\":\"json_object\"}"
    );
    let err = keys(&c, &takes(&[])).expect_err("refused");
    assert_eq!(err.param.as_deref(), Some("response_format"));
    assert!(
        err.message.contains("does not take response-format"),
        "{err}"
    );
    // Plain text is the default: nothing to send, nothing to refuse.
    c.params.response_format = Some(ResponseFormat::Text);
    assert!(keys(&c, &takes(&[])).is_ok());
}

#[test]
fn tool_choice_is_sent_or_refused_by_what_the_profile_takes() {
    let all = Capabilities::all();
    assert_eq!(
        keys(&with_tools(Some(ToolChoice::Required), false), &all).unwrap(),
        ["tools", "tool-choice-required"]
    );
    assert_eq!(
        keys(
            &with_tools(Some(ToolChoice::Named("get_time".into())), false),
            &all
        )
        .unwrap(),
        ["tools", "tool-choice-named"]
    );
    assert_eq!(
        keys(&with_tools(Some(ToolChoice::Auto), false), &all).unwrap(),
        ["tools", "tool-choice-auto"]
    );
    let tools_only = takes(&[Param::Tools]);
    for choice in [ToolChoice::Required, ToolChoice::Named("get_time".into())] {
        let err = keys(&with_tools(Some(choice), false), &tools_only).expect_err("refused");
        assert_eq!(err.param.as_deref(), Some("tool_choice"), "{err}");
        assert!(err.message.contains("cannot be honoured"), "{err}");
    }
    // "auto" is what the model does anyway.
    assert_eq!(
        keys(&with_tools(Some(ToolChoice::Auto), false), &tools_only).unwrap(),
        ["tools"]
    );
    // A named tool must be one of the tools; a required call needs tools.
    let err = keys(
        &with_tools(Some(ToolChoice::Named("nope".into())), false),
        &all,
    )
    .expect_err("unknown");
    assert!(err.message.contains("not one of the tools"), "{err}");
    let mut bare = Conversation::user_text("x");
    bare.params.tool_choice = Some(ToolChoice::Required);
    assert!(
        keys(&bare, &all)
            .expect_err("no tools")
            .message
            .contains("offers no tools")
    );
}

#[test]
fn tool_choice_none_keeps_the_tools_where_it_can_and_strips_them_where_that_is_safe() {
    let all = Capabilities::all();
    // As JetBrains' client sends it: the tools, and tool-choice-none.
    assert_eq!(
        keys(&with_tools(Some(ToolChoice::None), true), &all).unwrap(),
        ["tools", "tool-choice-none"]
    );
    // Without the key, and with no tool call in the history, the tools are left out.
    let tools_only = takes(&[Param::Tools]);
    assert_eq!(
        keys(&with_tools(Some(ToolChoice::None), false), &tools_only).unwrap(),
        Vec::<String>::new()
    );
    // With tool calls in the history they cannot be left out (Anthropic needs them defined): refused.
    let err = keys(&with_tools(Some(ToolChoice::None), true), &tools_only).expect_err("refused");
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
    assert!(
        err.message.contains("earlier messages hold tool calls"),
        "{err}"
    );
}

#[test]
fn a_profile_without_tools_gets_none_unless_a_call_is_required() {
    let codex = takes(&[]);
    assert_eq!(
        keys(&with_tools(None, false), &codex).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        keys(&with_tools(Some(ToolChoice::Auto), false), &codex).unwrap(),
        Vec::<String>::new()
    );
    let err = keys(&with_tools(Some(ToolChoice::Required), false), &codex).expect_err("refused");
    assert!(err.message.contains("takes no tools"), "{err}");
}

#[test]
fn one_call_at_a_time_needs_parallel_tool_calls() {
    let mut c = with_tools(None, false);
    c.params.parallel_tool_calls = Some(false);
    assert_eq!(
        keys(&c, &Capabilities::all()).unwrap(),
        ["tools", "parallel-tool-calls"]
    );
    let err = keys(&c, &takes(&[Param::Tools])).expect_err("refused");
    assert_eq!(err.param.as_deref(), Some("parallel_tool_calls"));
    // Parallel calls are the default: asking for them changes nothing.
    c.params.parallel_tool_calls = Some(true);
    assert_eq!(keys(&c, &takes(&[Param::Tools])).unwrap(), ["tools"]);
}

#[test]
fn a_long_text_is_sent_whole_and_counted() {
    let text = "x".repeat(10_000);
    let c = Conversation::user_text(&text);
    let built = build(&c, "p", &Capabilities::all(), UpstreamApi::V8).expect("builds");
    assert_eq!(built.prompt_tokens, 2500);
    let sent: Value = serde_json::from_slice(&built.body).expect("json");
    assert_eq!(sent["chat"]["messages"][0]["content"], text);
}
