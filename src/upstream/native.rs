//! JetBrains AI's native provider routes, as far as they are known (docs/UPSTREAM.md, "Native provider routes";
//! unconfirmed against the real service): the paths, and how one `data:` payload of their streams (the provider's
//! own SSE format) reads as an [`UpstreamEvent`]. Records travel whole as [`UpstreamEvent::Native`]; only what the
//! relay needs is read from them: whether content has started (for the failover and the deadlines), the end, and a
//! reported error.

use serde_json::Value;

use super::event::{EventError, NativeRecord, UpstreamEvent, not_json, reported, snippet};
use crate::models::native::Family;

/// Anthropic Messages, Anthropic bodies and SSE.
pub const ANTHROPIC_MESSAGES: &str = "/user/v5/llm/anthropic/v1/messages";
/// OpenAI Chat Completions, OpenAI bodies and SSE.
pub const OPENAI_CHAT: &str = "/user/v5/llm/openai/v1/chat/completions";

/// The native route of a family.
pub fn path(family: Family) -> &'static str {
    match family {
        Family::Anthropic => ANTHROPIC_MESSAGES,
        Family::OpenAi => OPENAI_CHAT,
    }
}

/// What ends a complete answer of a family's route, for the error that says an answer was cut.
pub fn end_marker(family: Family) -> &'static str {
    match family {
        Family::Anthropic => "`message_stop`",
        Family::OpenAi => "`data: [DONE]`",
    }
}

/// Reads one payload of a native stream into `out`. jbproxy always asks these routes to stream (a client's whole
/// answer is folded from the stream: `translate::native`); a whole answer arriving as one payload all the same
/// reads as content followed by the end.
pub fn parse_into(
    family: Family,
    data: &str,
    out: &mut Vec<UpstreamEvent>,
) -> Result<(), EventError> {
    let data = data.trim();
    if data.is_empty() {
        return Ok(());
    }
    if family == Family::OpenAi && data == "[DONE]" {
        out.push(UpstreamEvent::End);
        return Ok(());
    }
    let json: Value = serde_json::from_str(data).map_err(|e| not_json(&e, data))?;
    if let Some(error) = json.get("error").filter(|_| is_error(family, &json)) {
        return Err(reported(error.get("message").and_then(Value::as_str)));
    }
    let (event, content, ends) = match family {
        Family::Anthropic => {
            let Some(kind) = json.get("type").and_then(Value::as_str) else {
                return Err(EventError::NoType {
                    snippet: snippet(data),
                });
            };
            let content = matches!(
                kind,
                "content_block_start" | "content_block_delta" | "message"
            );
            (
                Some(kind.to_owned()),
                content,
                matches!(kind, "message_stop" | "message"),
            )
        }
        Family::OpenAi => {
            let whole = json.get("object").and_then(Value::as_str) == Some("chat.completion");
            (None, whole || has_delta(&json), whole)
        }
    };
    out.push(UpstreamEvent::Native(NativeRecord {
        event,
        data: data.to_owned(),
        json,
        content,
    }));
    if ends {
        out.push(UpstreamEvent::End);
    }
    Ok(())
}

/// Anthropic reports errors as `{"type": "error", "error": {…}}`; OpenAI as an object with `error`.
fn is_error(family: Family, json: &Value) -> bool {
    match family {
        Family::Anthropic => json.get("type").and_then(Value::as_str) == Some("error"),
        Family::OpenAi => json.get("error").is_some_and(Value::is_object),
    }
}

/// Whether an OpenAI chunk carries content: text, a refusal or a tool call.
fn has_delta(chunk: &Value) -> bool {
    let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
        return false;
    };
    choices.iter().any(|choice| {
        let Some(delta) = choice.get("delta") else {
            return false;
        };
        let text = |key| {
            delta
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
        };
        text("content")
            || text("refusal")
            || delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .is_some_and(|calls| !calls.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(family: Family, data: &str) -> Result<Vec<UpstreamEvent>, EventError> {
        let mut out = Vec::new();
        parse_into(family, data, &mut out).map(|()| out)
    }

    fn content_and_end(events: &[UpstreamEvent]) -> (bool, bool) {
        (
            events.iter().any(UpstreamEvent::is_content),
            events.last() == Some(&UpstreamEvent::End),
        )
    }

    #[test]
    fn anthropic_records_say_when_content_starts_and_when_the_answer_ends() {
        let a = Family::Anthropic;
        let start = parse(
            a,
            r#"{"type":"message_start","message":{"usage":{"input_tokens":3}}}"#,
        )
        .unwrap();
        assert_eq!(content_and_end(&start), (false, false));
        let UpstreamEvent::Native(record) = &start[0] else {
            panic!("{start:?}")
        };
        assert_eq!(record.event.as_deref(), Some("message_start"));
        assert_eq!(
            record.json["message"]["usage"]["input_tokens"], 3,
            "the record travels parsed"
        );
        let block = parse(
            a,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking"}}"#,
        );
        assert_eq!(content_and_end(&block.unwrap()), (true, false));
        assert_eq!(
            content_and_end(&parse(a, r#"{"type":"message_stop"}"#).unwrap()),
            (false, true)
        );
        let whole = parse(a, r#"{"type":"message","content":[]}"#).unwrap();
        assert_eq!(content_and_end(&whole), (true, true));
        let err = parse(
            a,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
        );
        assert!(
            matches!(err, Err(EventError::Reported { ref message }) if message == "busy"),
            "{err:?}"
        );
        assert!(matches!(
            parse(a, r#"{"no":"type"}"#),
            Err(EventError::NoType { .. })
        ));
    }

    #[test]
    fn openai_chunks_count_as_content_only_with_a_delta() {
        let o = Family::OpenAi;
        let role = parse(
            o,
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        );
        assert_eq!(content_and_end(&role.unwrap()), (false, false));
        let text = parse(o, r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#);
        assert_eq!(content_and_end(&text.unwrap()), (true, false));
        let call = parse(
            o,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}"#,
        );
        assert_eq!(content_and_end(&call.unwrap()), (true, false));
        assert_eq!(parse(o, "[DONE]").unwrap(), vec![UpstreamEvent::End]);
        let whole = parse(o, r#"{"object":"chat.completion","choices":[]}"#).unwrap();
        assert_eq!(content_and_end(&whole), (true, true));
        let err = parse(o, r#"{"error":{"message":"no","type":"server_error"}}"#);
        assert!(matches!(err, Err(EventError::Reported { .. })), "{err:?}");
    }
}
