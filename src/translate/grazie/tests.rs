//! The mapping on conversations built by hand: what every face gets, whatever its own request looked like.

use serde_json::{Value, json};

use super::*;
use crate::translate::conversation::{Image, Parameters, Root, Source, ToolCall, ToolResult, Turn};

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
    let built = build(conversation, "p", api, 1).expect("builds");
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
            parts: vec![call(1, "x", "f")],
        },
        Turn {
            role: Role::Assistant,
            parts: vec![],
        },
    ]);
    assert_eq!(
        sent(&c, UpstreamApi::V8),
        json!([
            {"type": "system_message", "content": "A.\nB."},
            {"type": "assistant_message_tool", "id": "x", "toolName": "f", "content": "{}"},
            {"type": "assistant_message_text", "content": ""},
        ])
    );
}

#[test]
fn mapping_errors_name_the_source_of_the_part() {
    let unknown = turns(vec![Turn {
        role: Role::User,
        parts: vec![result(at(4).child(2), "nope", "r", false)],
    }]);
    let err = build(&unknown, "p", UpstreamApi::V8, 1).expect_err("no such call");
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
    let err = build(&pictured, "p", UpstreamApi::V7, 1).expect_err("v7 has no images");
    assert_eq!(
        err.param.as_deref(),
        Some("messages[1].content[0].content[3]")
    );
    assert!(err.message.contains("not supported by the v7"), "{err}");
    assert!(build(&pictured, "p", UpstreamApi::V8, 1).is_ok());
}

#[test]
fn only_one_answer_can_be_asked_for() {
    let mut c = Conversation::user_text("x");
    c.params = Parameters {
        n: Some(2),
        ..Parameters::default()
    };
    assert_eq!(
        build(&c, "p", UpstreamApi::V8, 1)
            .expect_err("n")
            .param
            .as_deref(),
        Some("n")
    );
    c.params.n = Some(1);
    assert!(build(&c, "p", UpstreamApi::V8, 1).is_ok());
}

#[test]
fn a_long_text_is_sent_whole_and_counted() {
    let text = "x".repeat(10_000);
    let c = Conversation::user_text(&text);
    let built = build(&c, "p", UpstreamApi::V8, 1).expect("builds");
    assert_eq!(built.prompt_tokens, 2500);
    let sent: Value = serde_json::from_slice(&built.body).expect("json");
    assert_eq!(sent["chat"]["messages"][0]["content"], text);
}
