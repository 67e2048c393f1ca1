//! The mapping on conversations built by hand: what every face gets, whatever its own request looked like.

use serde_json::{Value, json};

use super::*;
use crate::profiles::Capabilities;
use crate::profiles::Param;
use crate::translate::conversation::{
    Image, Parameters, ResponseFormat, Root, Source, Tool, ToolCall, ToolChoice, ToolResult, Turn,
};

fn at(i: usize) -> Source {
    Source::at(Root::Messages, i)
}

fn call(i: usize, id: &'static str, name: &'static str) -> Part<'static> {
    Part::tool_call(
        at(i),
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: "{}".into(),
        },
    )
}

fn result(
    source: Source,
    id: &'static str,
    content: &'static str,
    is_error: bool,
) -> Part<'static> {
    Part::tool_result(
        source,
        ToolResult {
            call_id: id.into(),
            id_field: ".tool_use_id",
            content: content.into(),
            is_error,
        },
    )
}

fn image(source: Source) -> Part<'static> {
    Part::image(
        source,
        Image {
            media_type: "image/png",
            data: "iVBORw0KGgo=".into(),
        },
    )
}

fn turns(turns: Vec<Turn<'static>>) -> Conversation<'static> {
    Conversation {
        turns,
        ..Conversation::default()
    }
}

fn sent(conversation: &Conversation<'_>, api: UpstreamApi) -> Value {
    let built = build(conversation, "p", &Capabilities::all(), api).expect("builds");
    let body: Value = serde_json::from_slice(&built.body).expect("json");
    body["chat"]["messages"].clone()
}

#[test]
fn a_user_turn_sends_results_then_images_then_texts() {
    let c = turns(vec![
        Turn {
            role: Role::Assistant,
            parts: vec![call(0, "a", "run")],
        },
        Turn {
            role: Role::User,
            parts: vec![
                Part::text(at(1).child(0), "look"),
                image(at(1).child(1)),
                result(at(1).child(2), "a", "done", true),
            ],
        },
    ]);
    assert_eq!(
        sent(&c, UpstreamApi::V8),
        json!([
            {"type": "assistant_message_tool", "id": "a", "toolName": "run", "content": "{}"},
            {"type": "tool_message", "id": "a", "toolName": "run", "result": "[tool error] done"},
            {"type": "media_message", "mediaType": "image/png", "data": "iVBORw0KGgo="},
            {"type": "user_message", "content": "look"},
        ])
    );
}

#[test]
fn system_and_assistant_texts_are_joined_and_an_empty_text_beside_calls_is_left_out() {
    let c = turns(vec![
        Turn {
            role: Role::System,
            parts: vec![Part::text(at(0), "A."), Part::text(at(0), "B.")],
        },
        Turn {
            role: Role::Assistant,
            parts: vec![Part::text(at(1), ""), call(1, "x", "f")],
        },
        Turn {
            role: Role::User,
            parts: vec![result(at(2), "x", "ok", false)],
        },
        Turn {
            role: Role::Assistant,
            parts: vec![Part::text(at(3), "Done.")],
        },
    ]);
    assert_eq!(
        sent(&c, UpstreamApi::V8),
        json!([
            {"type": "system_message", "content": "A.\nB."},
            {"type": "assistant_message_tool", "id": "x", "toolName": "f", "content": "{}"},
            {"type": "tool_message", "id": "x", "toolName": "f", "result": "ok"},
            {"type": "assistant_message", "content": "Done."},
        ])
    );
}

#[test]
fn blank_text_is_never_sent_and_a_message_left_empty_goes() {
    let c = turns(vec![
        Turn {
            role: Role::System,
            parts: vec![Part::text(at(0), "  "), Part::text(at(0), "Rules.")],
        },
        Turn {
            role: Role::System,
            parts: vec![Part::text(at(1), "\n")],
        },
        Turn {
            role: Role::User,
            parts: vec![
                Part::text(at(2).child(0), " "),
                Part::text(at(2).child(1), "Hi"),
            ],
        },
        Turn {
            role: Role::Assistant,
            parts: vec![Part::text(at(3), "\t")],
        },
        Turn {
            role: Role::User,
            parts: vec![Part::text(at(4), "Again")],
        },
    ]);
    assert_eq!(
        sent(&c, UpstreamApi::V8),
        json!([
            {"type": "system_message", "content": "Rules."},
            {"type": "user_message", "content": "Hi"},
            {"type": "user_message", "content": "Again"},
        ])
    );
    let nothing = turns(vec![Turn {
        role: Role::User,
        parts: vec![Part::text(at(0), "   ")],
    }]);
    let err =
        build(&nothing, "p", &Capabilities::all(), UpstreamApi::V8).expect_err("nothing to send");
    assert_eq!(err.param.as_deref(), Some("messages"));
}

fn no_prefill() -> Capabilities {
    Capabilities {
        prefill: false,
        ..Capabilities::all()
    }
}

#[test]
fn a_trailing_assistant_message_is_refused_where_the_profile_takes_no_prefill() {
    let prefill = turns(vec![
        Turn {
            role: Role::User,
            parts: vec![Part::text(at(0), "Name a colour.")],
        },
        Turn {
            role: Role::Assistant,
            parts: vec![Part::text(at(1).child(0), "The colour is")],
        },
        // A system message after it does not make it the user's turn.
        Turn {
            role: Role::System,
            parts: vec![Part::text(at(2), "Be brief.")],
        },
    ]);
    let err = build(
        &prefill,
        "anthropic-claude-4-6-opus",
        &no_prefill(),
        UpstreamApi::V8,
    )
    .expect_err("prefill");
    assert_eq!(err.param.as_deref(), Some("messages[1]"));
    assert!(
        err.message
            .contains("ends with an assistant message (prefill)")
            && err.message.contains("anthropic-claude-4-6-opus")
            && err.message.contains("end it with a user message"),
        "{err}"
    );
    assert!(build(&prefill, "p", &Capabilities::all(), UpstreamApi::V8).is_ok());
    // Ending with a user message (or a tool result) is fine, and so is a blank trailing assistant text, which is
    // not sent at all.
    let blank_tail = turns(vec![
        Turn {
            role: Role::User,
            parts: vec![Part::text(at(0), "Hi")],
        },
        Turn {
            role: Role::Assistant,
            parts: vec![Part::text(at(1), " ")],
        },
    ]);
    assert!(build(&blank_tail, "p", &no_prefill(), UpstreamApi::V8).is_ok());
}

#[test]
fn mapping_errors_name_the_source_of_the_part() {
    let unknown = turns(vec![Turn {
        role: Role::User,
        parts: vec![result(at(4).child(2), "nope", "r", false)],
    }]);
    let err =
        build(&unknown, "p", &Capabilities::all(), UpstreamApi::V8).expect_err("no such call");
    assert_eq!(
        err.param.as_deref(),
        Some("messages[4].content[2].tool_use_id")
    );
    assert!(
        err.message.contains("\"nope\" matches no tool call"),
        "{err}"
    );

    let pictured = turns(vec![Turn {
        role: Role::User,
        parts: vec![image(Source::at(Root::Messages, 1).child(0).child(3))],
    }]);
    let err =
        build(&pictured, "p", &Capabilities::all(), UpstreamApi::V7).expect_err("v7 has no images");
    assert_eq!(
        err.param.as_deref(),
        Some("messages[1].content[0].content[3]")
    );
    assert!(err.message.contains("not supported by the v7"), "{err}");
    assert!(build(&pictured, "p", &Capabilities::all(), UpstreamApi::V8).is_ok());
}

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
