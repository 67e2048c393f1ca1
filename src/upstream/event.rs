//! One upstream SSE `data:` payload → an [`UpstreamEvent`]. Covers both stream dialects: v8 (`ToolCall`) and v7
//! (`FunctionCall`), plus the end markers and the quota report. Unknown event types are reported, never fatal; a
//! payload with `"event_type": "error"` is the upstream saying the answer failed ([`EventError::Reported`]).
//!
//! `parallelToolIndex` (which of several parallel tool calls a fragment belongs to) travels on the tool-call events;
//! `choiceIndex` (which of several answers, with `number-of-choices`) comes back beside the event, and the stream
//! layer turns a change of it into [`UpstreamEvent::Choice`].

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

/// What one `data:` payload of the upstream stream means.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamEvent {
    /// A text delta.
    Content(String),
    /// A tool call starts. v8 `ToolCall` with an `id` (and `name`). v7 `FunctionCall` with a `name` has no id: `id`
    /// is then empty and the face generates one (`call_<n>`). `index` is the upstream's `parallelToolIndex`: a start
    /// with an index already seen continues that call.
    ToolCallStart {
        id: String,
        name: String,
        index: Option<u32>,
    },
    /// A fragment of a tool call's arguments: v8 `ToolCall {content}` without id, v7 `FunctionCall {content}` without
    /// name. With `index` (`parallelToolIndex`) it belongs to the call of that index, fragments of parallel calls
    /// being free to interleave; without, to the latest call.
    ToolCallArgs { args: String, index: Option<u32> },
    /// `FinishMetadata {reason}`.
    Finish(FinishReason),
    /// The events from here on belong to answer number `i` (the upstream's `choiceIndex`, with
    /// `number-of-choices`). Absent while everything is answer 0.
    Choice(u32),
    /// `QuotaMetadata`: what the token has left.
    Quota(QuotaUpdate),
    /// `end` or `[DONE]`: the answer is complete.
    End,
    /// `null` or an empty payload: nothing to do.
    Skip,
    /// An event `type` this code does not know (the type name): count it, never fail on it.
    Unknown(String),
    /// One record of a native provider route's answer, passed to the client as it came (`native`).
    Native(NativeRecord),
}

/// A native route's record: its SSE event name (Anthropic's, which is its `type`), its text as it came (relayed
/// verbatim), the same parsed (read once, when the stream is read, and folded from for a whole answer), and whether
/// it carries content (text, thinking, a tool call, or a whole answer).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeRecord {
    pub event: Option<String>,
    pub data: String,
    pub json: Value,
    pub content: bool,
}

impl UpstreamEvent {
    /// Text or a tool call: what the client is waiting for. Only content counts against the first-content and idle
    /// deadlines; keep-alives, metadata and empty deltas do not.
    pub fn is_content(&self) -> bool {
        match self {
            UpstreamEvent::Content(text) | UpstreamEvent::ToolCallArgs { args: text, .. } => {
                !text.is_empty()
            }
            UpstreamEvent::ToolCallStart { .. } => true,
            UpstreamEvent::Native(record) => record.content,
            _ => false,
        }
    }
}

/// Why the upstream stopped. Unknown or missing reasons read as `Stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
}

/// `QuotaMetadata`, flattened. The upstream sends amounts as decimal strings; any field that is missing or does not
/// parse is `None`, since a quota report must never break an answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaUpdate {
    /// `updated.current.amount`: quota used so far.
    pub used: Option<f64>,
    /// `updated.maximum.amount`.
    pub maximum: Option<f64>,
    /// `updated.until`: when the quota resets, epoch milliseconds.
    pub until_ms: Option<i64>,
    /// `spent.amount`: credits this request cost (credits, not tokens).
    pub spent: Option<f64>,
}

/// How much of a bad payload an error may quote: enough to recognise it, too little to leak a conversation.
const SNIPPET_CHARS: usize = 100;

/// A payload that is not an event. The message quotes at most [`SNIPPET_CHARS`] characters of it.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("upstream event is not a JSON object ({detail}): {snippet}")]
    NotJson { detail: String, snippet: String },
    #[error("upstream event has no \"type\": {snippet}")]
    NoType { snippet: String },
    /// `"event_type": "error"`: the upstream ended the answer with an error. The message is the upstream's
    /// `error_message`, scrubbed and cut short.
    #[error("upstream reported an error: {message}")]
    Reported { message: String },
}

/// The fields of every known event type; serde ignores the rest.
#[derive(Deserialize)]
struct RawEvent<'a> {
    /// `data` or `error` on every line of JetBrains' own gateway; peers' streams omit it (read as `data`).
    #[serde(borrow, default)]
    event_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    error_message: Option<Text<'a>>,
    #[serde(rename = "choiceIndex", default)]
    choice_index: Option<u32>,
    #[serde(rename = "parallelToolIndex", default)]
    parallel_tool_index: Option<u32>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    content: Option<Text<'a>>,
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    reason: Option<Text<'a>>,
    // Quota events are rare and loosely typed (numbers or strings), so they are read as plain JSON.
    #[serde(default)]
    updated: Option<Value>,
    #[serde(default)]
    spent: Option<Value>,
}

/// A JSON string that borrows from the payload when it has no escapes. (serde borrows a `Cow` only when it is the
/// field's own type, not inside an `Option`, hence the newtype.) A delta then costs one allocation: its `String`.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl Text<'_> {
    fn into_string(self) -> String {
        self.0.into_owned()
    }
}

/// What one payload holds: its event, argument text that came in the same chunk as a tool-call start, and the
/// answer it belongs to (`choiceIndex`), when it says.
struct Parsed {
    event: UpstreamEvent,
    extra_args: Option<String>,
    choice: Option<u32>,
}

/// Parses `data`, the text after `data: ` on one SSE line.
///
/// A tool-call start that also carries argument text (`{"id","name","content"}` in one chunk) is not expressible as
/// one event; [`parse_data_into`] returns both events, while this function returns the start and drops the text.
pub fn parse_data(data: &str) -> Result<UpstreamEvent, EventError> {
    parse_raw(data).map(|parsed| parsed.event)
}

/// Like [`parse_data`], but appends every event the payload holds to `out` (a tool-call start that also carries
/// argument text yields `ToolCallStart` then `ToolCallArgs`) and returns the payload's `choiceIndex`. Prefer this
/// one in the stream loop.
pub fn parse_data_into(
    data: &str,
    out: &mut Vec<UpstreamEvent>,
) -> Result<Option<u32>, EventError> {
    let parsed = parse_raw(data)?;
    let index = match &parsed.event {
        UpstreamEvent::ToolCallStart { index, .. } => *index,
        _ => None,
    };
    out.push(parsed.event);
    if let Some(args) = parsed.extra_args {
        out.push(UpstreamEvent::ToolCallArgs { args, index });
    }
    Ok(parsed.choice)
}

fn parse_raw(data: &str) -> Result<Parsed, EventError> {
    let plain = |event| {
        Ok(Parsed {
            event,
            extra_args: None,
            choice: None,
        })
    };
    let data = data.trim();
    match data {
        "" | "null" => return plain(UpstreamEvent::Skip),
        "end" | "[DONE]" => return plain(UpstreamEvent::End),
        _ => {}
    }
    let raw: RawEvent<'_> = serde_json::from_str(data).map_err(|e| not_json(&e, data))?;
    match raw.event_type.as_ref().map(|t| t.0.as_ref()) {
        None | Some("data") => {}
        Some("error") => return Err(reported(raw.error_message.as_ref().map(|m| m.0.as_ref()))),
        // JetBrains' client refuses any other; jbproxy skips the line and counts it.
        Some(other) => return plain(UpstreamEvent::Unknown(format!("event_type {other}"))),
    }
    let Some(kind) = raw.kind else {
        return Err(EventError::NoType {
            snippet: snippet(data),
        });
    };
    let choice = raw.choice_index;
    let index = raw.parallel_tool_index;
    let content = raw.content.filter(|c| !c.0.is_empty());
    let start = |event, content: Option<Text<'_>>| {
        Ok(Parsed {
            event,
            extra_args: content.map(Text::into_string),
            choice,
        })
    };
    let event = match kind.0.as_ref() {
        "Content" => match content {
            Some(text) => UpstreamEvent::Content(text.into_string()),
            None => UpstreamEvent::Skip,
        },
        "ToolCall" => match raw.id.filter(|id| !id.0.is_empty()) {
            Some(id) => {
                let event = UpstreamEvent::ToolCallStart {
                    id: id.into_string(),
                    name: raw.name.map(Text::into_string).unwrap_or_default(),
                    index,
                };
                return start(event, content);
            }
            None => args_or_skip(content, index),
        },
        // v7: the name is present only on a call's first chunk (null or absent afterwards), and there is no id.
        "FunctionCall" => match raw.name.filter(|n| !n.0.is_empty()) {
            Some(name) => {
                let event = UpstreamEvent::ToolCallStart {
                    id: String::new(),
                    name: name.into_string(),
                    index,
                };
                return start(event, content);
            }
            None => args_or_skip(content, index),
        },
        "FinishMetadata" => {
            UpstreamEvent::Finish(match raw.reason.as_ref().map(|r| r.0.as_ref()) {
                Some("length") => FinishReason::Length,
                Some("tool_call") | Some("tool_calls") | Some("function_call") => {
                    FinishReason::ToolCalls
                }
                _ => FinishReason::Stop,
            })
        }
        "QuotaMetadata" => UpstreamEvent::Quota(quota(raw.updated.as_ref(), raw.spent.as_ref())),
        other => UpstreamEvent::Unknown(other.to_owned()),
    };
    Ok(Parsed {
        event,
        extra_args: None,
        choice,
    })
}

fn args_or_skip(content: Option<Text<'_>>, index: Option<u32>) -> UpstreamEvent {
    match content {
        Some(text) => UpstreamEvent::ToolCallArgs {
            args: text.into_string(),
            index,
        },
        None => UpstreamEvent::Skip,
    }
}

fn quota(updated: Option<&Value>, spent: Option<&Value>) -> QuotaUpdate {
    let at = |path: &str| updated.and_then(|u| u.pointer(path));
    QuotaUpdate {
        used: at("/current/amount").and_then(number),
        maximum: at("/maximum/amount").and_then(number),
        until_ms: at("/until").and_then(integer),
        spent: spent.and_then(|s| s.get("amount")).and_then(number),
    }
}

/// A decimal string (`"1234.5"`, what the upstream sends) or a JSON number.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_f64(),
    }
    .filter(|n: &f64| n.is_finite())
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_i64(),
    }
}

/// `data` is not JSON (or not of the expected shape). serde's own message is not used: for a wrong-typed payload
/// it quotes the value, which may be long.
pub(super) fn not_json(e: &serde_json::Error, data: &str) -> EventError {
    EventError::NotJson {
        detail: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
        snippet: snippet(data),
    }
}

/// The upstream said the answer failed, with this message (scrubbed; `(no message)` when it says nothing).
pub(super) fn reported(message: Option<&str>) -> EventError {
    let message = message
        .map(|m| super::error::opaque(m, &[]))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "(no message)".into());
    EventError::Reported { message }
}

/// At most [`SNIPPET_CHARS`] characters of `data`, cut on a character boundary, on one line and with anything
/// JWT-shaped scrubbed (it goes into a log line).
pub(super) fn snippet(data: &str) -> String {
    match data.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", super::error::opaque(&data[..cut], &[])),
        None => super::error::opaque(data, &[]),
    }
}

#[cfg(test)]
mod tests;
