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

mod parameters;
