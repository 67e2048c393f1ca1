//! The SSE events of a successful chat answer: echo text, a tool call, or a reply to a tool result; shaped by what
//! the parameters ask (`super::parameters`: several answers, a length limit, a JSON format). Every line carries
//! `"event_type": "data"`, and tool-call chunks `parallelToolIndex`, as JetBrains' gateway sends them.

use bytes::Bytes;
use serde_json::{Value, json};

use super::parameters::shaped_text;
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

/// The frames of the answer, each a complete `data: …\n\n` line, ending with `data: end`. Several answers
/// (`number-of-choices`) interleave event by event, each event tagged with its `choiceIndex`.
pub(super) fn chat_frames(input: &ReplyInput<'_>) -> Vec<Bytes> {
    let choices = input.summary.asked.choices.max(1);
    let mut events: Vec<Value> = Vec::with_capacity(input.content_events + 6);
    if input.unknown_events {
        // Not a real event type: exercises the proxy's skip-unknown path early in every stream.
        events.push(json!({"type": "ThinkingMetadata"}));
    }
    let mut answers: Vec<std::vec::IntoIter<Value>> = (0..choices)
        .map(|choice| answer(input, choice).into_iter())
        .collect();
    loop {
        let mut any = false;
        for (choice, answer) in answers.iter_mut().enumerate() {
            if let Some(mut event) = answer.next() {
                if choices > 1 {
                    event["choiceIndex"] = json!(choice);
                }
                events.push(event);
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    events.push(input.quota_event.clone());
    let mut frames: Vec<Bytes> = events
        .into_iter()
        .map(|mut e| {
            e["event_type"] = json!("data");
            Bytes::from(format!("data: {e}\n\n"))
        })
        .collect();
    frames.push(Bytes::from_static(b"data: end\n\n"));
    frames
}

/// The events of answer number `choice`, ending with its `FinishMetadata`.
fn answer(input: &ReplyInput<'_>, choice: u32) -> Vec<Value> {
    let summary = input.summary;
    let mut events = Vec::with_capacity(input.content_events + 2);
    // A required (or named) tool choice is a call whatever came last, as a model under it answers.
    let call = match (&summary.first_tool, &summary.last) {
        (Some(tool), _) if summary.asked.tool_required() => Some(tool),
        (Some(tool), LastMessage::User) => Some(tool),
        _ => None,
    };
    let reason = match (call, &summary.last) {
        (Some(tool), _) => {
            let arguments = json!({"input": summary.last_user_text}).to_string();
            let fragments = split_even(&arguments, input.content_events.max(2));
            match parallel_tools(summary) {
                Some(tools) => {
                    push_parallel_calls(&mut events, tools, input.tool_serial, &fragments)
                }
                None => push_tool_call(
                    &mut events,
                    summary.version,
                    tool,
                    input.tool_serial,
                    &fragments,
                ),
            }
            "tool_call"
        }
        (_, LastMessage::ToolResult(result)) => {
            let (text, reason) =
                shaped_text(format!("Tool said: {result}"), result, &summary.asked);
            push_content(&mut events, &numbered(text, choice), input.content_events);
            reason
        }
        _ => {
            let text = match input.demo_text {
                Some(text) => text.to_owned(),
                None => format!("Echo: {}", summary.last_user_text),
            };
            let (text, reason) = shaped_text(text, &summary.last_user_text, &summary.asked);
            push_content(&mut events, &numbered(text, choice), input.content_events);
            reason
        }
    };
    events.push(json!({"type": "FinishMetadata", "reason": reason}));
    events
}

/// Answers after the first say which they are, so a test can tell them apart (JSON answers stay as they are).
fn numbered(text: String, choice: u32) -> String {
    if choice == 0 || text.starts_with('{') {
        text
    } else {
        format!("{text} [{}]", choice + 1)
    }
}

fn push_content(events: &mut Vec<Value>, text: &str, pieces: usize) {
    for piece in split_even(text, pieces) {
        events.push(json!({"type": "Content", "content": piece}));
    }
}

/// The tools to call at once: every declared tool, when the request explicitly allows parallel calls
/// (`parallel-tool-calls: true`), offers several tools and names none; v7 has no parallel calls.
fn parallel_tools(summary: &ChatSummary) -> Option<&[String]> {
    let asked = &summary.asked;
    let named = matches!(asked.tool_choice, Some(super::parameters::Choice::Named(_)));
    (summary.version == ApiVersion::V8
        && asked.parallel_tool_calls == Some(true)
        && asked.tools.len() > 1
        && !named)
        .then_some(asked.tools.as_slice())
}

/// One call per tool, their fragments interleaved (each tagged with its `parallelToolIndex`), as the upstream may
/// send parallel calls.
fn push_parallel_calls(events: &mut Vec<Value>, tools: &[String], serial: u64, fragments: &[&str]) {
    for (i, tool) in tools.iter().enumerate() {
        events.push(
            json!({"type": "ToolCall", "id": format!("toolu_{serial}_{i}"), "name": tool,
            "parallelToolIndex": i}),
        );
    }
    for fragment in fragments {
        for i in 0..tools.len() {
            events.push(json!({"type": "ToolCall", "content": fragment, "parallelToolIndex": i}));
        }
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
            events.push(
                json!({"type": "ToolCall", "id": format!("toolu_{serial}"), "name": tool,
                "parallelToolIndex": 0}),
            );
            for fragment in fragments {
                events
                    .push(json!({"type": "ToolCall", "content": fragment, "parallelToolIndex": 0}));
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
