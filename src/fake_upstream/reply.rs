//! The SSE events of a successful chat answer: echo text, a reply to a tool result, or tool calls; shaped by what the
//! parameters ask (`super::parameters`) and by the tool directive (`super::directive`). Every line carries
//! `"event_type": "data"`, and tool-call chunks `parallelToolIndex`, as JetBrains' gateway sends them.
//!
//! When the answer is a call, as a model under the same parameters would answer:
//!
//! - `tool-choice-none`: never; the answer is text whatever the message says.
//! - `tool-choice-named`: always that tool; `tool-choice-required`: always, the directive's tools or else the first
//!   declared; both whatever came last (a tool result included).
//! - otherwise (auto or unset): only when the last user message carries a directive; one that cannot be followed
//!   is answered with text saying why.
//!
//! Several calls (`[[tools]]`) go out at once, their fragments interleaved, unless `parallel-tool-calls` is false
//! (or the body is v7, which has no parallel calls): then only the first is made.

use bytes::Bytes;
use serde_json::{Value, json};

use super::directive;
use super::parameters::{Choice, shaped_text};
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
    let what = decide(input.summary, input.demo_text);
    let mut events: Vec<Value> = Vec::with_capacity(input.content_events + 6);
    if input.unknown_events {
        // Not a real event type: exercises the proxy's skip-unknown path early in every stream.
        events.push(json!({"type": "ThinkingMetadata"}));
    }
    let mut answers: Vec<std::vec::IntoIter<Value>> = (0..choices)
        .map(|choice| answer(input, &what, choice).into_iter())
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

/// What every answer of a request says.
enum Answer {
    /// Calls to make, `(tool, arguments as JSON text)` each.
    Calls(Vec<(String, String)>),
    /// Text, shaped as the parameters ask (`echo` is what a JSON answer repeats).
    Text { text: String, echo: String },
    /// The fake's own words about a directive it cannot follow, sent as they are.
    Note(String),
}

fn decide(summary: &ChatSummary, demo_text: Option<&str>) -> Answer {
    let asked = &summary.asked;
    let found = match summary.last {
        LastMessage::User => directive::find(&summary.last_user_text),
        _ => None,
    };
    let resolved = found.as_ref().map(|d| {
        d.as_ref()
            .map_err(Clone::clone)
            .and_then(|d| d.resolve(&asked.tools))
    });
    // The input a forced call takes when no directive gives one.
    let input = || {
        let text = match &found {
            Some(Ok(d)) => d.rest(),
            _ => summary.last_user_text.as_str(),
        };
        json!({"input": text}).to_string()
    };
    let calls = match (&asked.tool_choice, resolved) {
        (Some(Choice::None), _) => None,
        (Some(Choice::Named(name)), resolved) => {
            let arguments = match resolved {
                Some(Ok(calls)) => calls.into_iter().find(|(tool, _)| tool == name),
                _ => None,
            }
            .map_or_else(input, |(_, arguments)| arguments);
            Some(vec![(name.clone(), arguments)])
        }
        (Some(Choice::Required), Some(Ok(calls))) => Some(calls),
        (Some(Choice::Required), _) => asked
            .tools
            .first()
            .map(|first| vec![(first.clone(), input())]),
        (_, Some(Ok(calls))) => Some(calls),
        (_, Some(Err(why))) => return Answer::Note(format!("Fake upstream: {why}")),
        (_, None) => None,
    };
    if let Some(mut calls) = calls.filter(|c| !c.is_empty()) {
        if asked.parallel_tool_calls == Some(false) || summary.version == ApiVersion::V7 {
            calls.truncate(1);
        }
        return Answer::Calls(calls);
    }
    match &summary.last {
        LastMessage::ToolResult(result) => Answer::Text {
            text: format!("Tool said: {result}"),
            echo: result.clone(),
        },
        _ => Answer::Text {
            text: match demo_text {
                Some(text) => text.to_owned(),
                None => format!("Echo: {}", summary.last_user_text),
            },
            echo: summary.last_user_text.clone(),
        },
    }
}

/// The events of answer number `choice`, ending with its `FinishMetadata`.
fn answer(input: &ReplyInput<'_>, what: &Answer, choice: u32) -> Vec<Value> {
    let summary = input.summary;
    let pieces = input.content_events;
    let mut events = Vec::with_capacity(pieces + 2);
    let reason = match what {
        Answer::Calls(calls) => {
            match calls.as_slice() {
                [(tool, arguments)] => push_tool_call(
                    &mut events,
                    summary.version,
                    tool,
                    input.tool_serial,
                    &split_even(arguments, pieces.max(2)),
                ),
                several => push_parallel_calls(&mut events, several, input.tool_serial, pieces),
            }
            "tool_call"
        }
        Answer::Text { text, echo } => {
            let (text, reason) = shaped_text(text.clone(), echo, &summary.asked);
            push_content(&mut events, &numbered(text, choice), pieces);
            reason
        }
        Answer::Note(note) => {
            push_content(&mut events, note, pieces);
            "stop"
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

/// Several calls at once: every start, then the fragments interleaved call by call (each tagged with its
/// `parallelToolIndex`), as the upstream may send parallel calls.
fn push_parallel_calls(
    events: &mut Vec<Value>,
    calls: &[(String, String)],
    serial: u64,
    pieces: usize,
) {
    for (i, (tool, _)) in calls.iter().enumerate() {
        events.push(
            json!({"type": "ToolCall", "id": format!("toolu_{serial}_{i}"), "name": tool,
            "parallelToolIndex": i}),
        );
    }
    let fragments: Vec<Vec<&str>> = calls
        .iter()
        .map(|(_, arguments)| split_even(arguments, pieces.max(2)))
        .collect();
    for round in 0..pieces.max(2) {
        for (i, call) in fragments.iter().enumerate() {
            events
                .push(json!({"type": "ToolCall", "content": call[round], "parallelToolIndex": i}));
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
