//! One upstream SSE `data:` payload → an [`UpstreamEvent`]. Covers both stream dialects: v8 (`ToolCall`) and v7
//! (`FunctionCall`), plus the end markers and the quota report. Unknown event types are reported, never fatal.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

/// What one `data:` payload of the upstream stream means.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamEvent {
    /// A text delta.
    Content(String),
    /// A tool call starts. v8 `ToolCall` with an `id` (and `name`). v7 `FunctionCall` with a `name` has no id: `id`
    /// is then empty and the stream layer generates one (`call_<n>`).
    ToolCallStart { id: String, name: String },
    /// A fragment of the current tool call's arguments: v8 `ToolCall {content}` without id, v7 `FunctionCall
    /// {content}` without name.
    ToolCallArgs(String),
    /// `FinishMetadata {reason}`.
    Finish(FinishReason),
    /// `QuotaMetadata`: what the token has left.
    Quota(QuotaUpdate),
    /// `end` or `[DONE]`: the answer is complete.
    End,
    /// `null` or an empty payload: nothing to do.
    Skip,
    /// An event `type` this code does not know (the type name): count it, never fail on it.
    Unknown(String),
}

impl UpstreamEvent {
    /// Text or a tool call: what the client is waiting for. Only content counts against the first-content and idle
    /// deadlines; keep-alives, metadata and empty deltas do not.
    pub fn is_content(&self) -> bool {
        match self {
            UpstreamEvent::Content(text) | UpstreamEvent::ToolCallArgs(text) => !text.is_empty(),
            UpstreamEvent::ToolCallStart { .. } => true,
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
}

/// The fields of every known event type; serde ignores the rest.
#[derive(Deserialize)]
struct RawEvent<'a> {
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

/// Parses `data`, the text after `data: ` on one SSE line.
///
/// A tool-call start that also carries argument text (`{"id","name","content"}` in one chunk) is not expressible as
/// one event; [`parse_data_into`] returns both events, while this function returns the start and drops the text.
pub fn parse_data(data: &str) -> Result<UpstreamEvent, EventError> {
    parse_raw(data).map(|(event, _)| event)
}

/// Like [`parse_data`], but appends every event the payload holds to `out`: a tool-call start that also carries
/// argument text yields `ToolCallStart` then `ToolCallArgs`. Prefer this one in the stream loop.
pub fn parse_data_into(data: &str, out: &mut Vec<UpstreamEvent>) -> Result<(), EventError> {
    let (event, extra_args) = parse_raw(data)?;
    out.push(event);
    if let Some(args) = extra_args {
        out.push(UpstreamEvent::ToolCallArgs(args));
    }
    Ok(())
}

/// The event, plus argument text that came in the same chunk as a tool-call start.
fn parse_raw(data: &str) -> Result<(UpstreamEvent, Option<String>), EventError> {
    let data = data.trim();
    match data {
        "" | "null" => return Ok((UpstreamEvent::Skip, None)),
        "end" | "[DONE]" => return Ok((UpstreamEvent::End, None)),
        _ => {}
    }
    // serde's own message is not used: for a wrong-typed payload it quotes the value, which may be long.
    let raw: RawEvent<'_> = serde_json::from_str(data).map_err(|e| EventError::NotJson {
        detail: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
        snippet: snippet(data),
    })?;
    let Some(kind) = raw.kind else {
        return Err(EventError::NoType {
            snippet: snippet(data),
        });
    };
    let content = raw.content.filter(|c| !c.0.is_empty());
    let event = match kind.0.as_ref() {
        "Content" => match content {
            Some(text) => UpstreamEvent::Content(text.into_string()),
            None => UpstreamEvent::Skip,
        },
        "ToolCall" => match raw.id.filter(|id| !id.0.is_empty()) {
            Some(id) => {
                let start = UpstreamEvent::ToolCallStart {
                    id: id.into_string(),
                    name: raw.name.map(Text::into_string).unwrap_or_default(),
                };
                return Ok((start, content.map(Text::into_string)));
            }
            None => args_or_skip(content),
        },
        // v7: the name is present only on a call's first chunk (null or absent afterwards), and there is no id.
        "FunctionCall" => match raw.name.filter(|n| !n.0.is_empty()) {
            Some(name) => {
                let start = UpstreamEvent::ToolCallStart {
                    id: String::new(),
                    name: name.into_string(),
                };
                return Ok((start, content.map(Text::into_string)));
            }
            None => args_or_skip(content),
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
    Ok((event, None))
}

fn args_or_skip(content: Option<Text<'_>>) -> UpstreamEvent {
    match content {
        Some(text) => UpstreamEvent::ToolCallArgs(text.into_string()),
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

/// At most [`SNIPPET_CHARS`] characters of `data`, cut on a character boundary.
fn snippet(data: &str) -> String {
    match data.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &data[..cut]),
        None => data.to_owned(),
    }
}

#[cfg(test)]
mod tests;
