//! The SSE events of a successful chat answer: echo text, a tool call when the last user message carries a tool
//! directive (`directive`), or a reply to a tool result.

use bytes::Bytes;
use serde_json::{Value, json};

use super::directive;
use super::validate::{ApiVersion, ChatSummary, LastMessage};

/// Everything that decides the events, gathered by the handler.
pub(super) struct ReplyInput<'a> {
    pub summary: &'a ChatSummary,
    pub content_events: usize,
    pub unknown_events: bool,
    pub demo_text: Option<&'a str>,
    /// A fresh number for the `toolu_<n>` id.
    pub tool_serial: u64,
    /// The `QuotaMetadata` event, already built from the token's quota after this call's cost.
    pub quota_event: Value,
}

/// The frames of the answer, each a complete `data: …\n\n` line, ending with `data: end`.
pub(super) fn chat_frames(input: &ReplyInput<'_>) -> Vec<Bytes> {
    let summary = input.summary;
    let mut events: Vec<Value> = Vec::with_capacity(input.content_events + 6);
    if input.unknown_events {
        // Not a real event type: exercises the proxy's skip-unknown path early in every stream.
        events.push(json!({"type": "ThinkingMetadata"}));
    }
    // A tool is called only when the last user message asks for one: agents offer tools on every turn and expect
    // text unless a call is wanted.
    let wanted = match summary.last {
        LastMessage::User => directive::find(&summary.last_user_text)
            .map(|found| found.and_then(|d| d.resolve(&summary.tools))),
        _ => None,
    };
    let reason = match (wanted, &summary.last) {
        (Some(Ok((tool, arguments))), _) => {
            let fragments = split_even(&arguments, input.content_events.max(2));
            push_tool_call(
                &mut events,
                summary.version,
                &tool,
                input.tool_serial,
                &fragments,
            );
            "tool_call"
        }
        (Some(Err(why)), _) => {
            push_content(
                &mut events,
                &format!("Fake upstream: {why}"),
                input.content_events,
            );
            "stop"
        }
        (None, LastMessage::ToolResult(result)) => {
            push_content(
                &mut events,
                &format!("Tool said: {result}"),
                input.content_events,
            );
            "stop"
        }
        (None, _) => {
            let text = match input.demo_text {
                Some(text) => text.to_owned(),
                None => format!("Echo: {}", summary.last_user_text),
            };
            push_content(&mut events, &text, input.content_events);
            "stop"
        }
    };
    events.push(json!({"type": "FinishMetadata", "reason": reason}));
    events.push(input.quota_event.clone());
    let mut frames: Vec<Bytes> = events
        .iter()
        .map(|e| Bytes::from(format!("data: {e}\n\n")))
        .collect();
    frames.push(Bytes::from_static(b"data: end\n\n"));
    frames
}

fn push_content(events: &mut Vec<Value>, text: &str, pieces: usize) {
    for piece in split_even(text, pieces) {
        events.push(json!({"type": "Content", "content": piece}));
    }
}

fn push_tool_call(
    events: &mut Vec<Value>,
    version: ApiVersion,
    tool: &str,
    serial: u64,
    fragments: &[&str],
) {
    match version {
        ApiVersion::V8 => {
            events.push(json!({"type": "ToolCall", "id": format!("toolu_{serial}"), "name": tool}));
            for fragment in fragments {
                events.push(json!({"type": "ToolCall", "content": fragment}));
            }
        }
        ApiVersion::V7 => {
            // v7 names the function on the first chunk only; later chunks carry `name: null` or no name at all,
            // and both forms are sent so the proxy handles each.
            for (i, fragment) in fragments.iter().enumerate() {
                events.push(match i {
                    0 => json!({"type": "FunctionCall", "name": tool, "content": fragment}),
                    1 => json!({"type": "FunctionCall", "name": null, "content": fragment}),
                    _ => json!({"type": "FunctionCall", "content": fragment}),
                });
            }
        }
    }
}

/// Splits `text` into exactly `pieces` parts of near-equal character counts whose concatenation is `text`.
/// Parts are empty only when the text has fewer characters than `pieces`.
pub(super) fn split_even(text: &str, pieces: usize) -> Vec<&str> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let chars = bounds.len() - 1;
    (0..pieces)
        .map(|i| &text[bounds[chars * i / pieces]..bounds[chars * (i + 1) / pieces]])
        .collect()
}
