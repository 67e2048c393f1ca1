//! The native provider routes' share of translation, which is almost none: the client's body goes up as it came
//! with the provider's model id in place of the client's, and a streamed answer comes back as it came (each record
//! re-framed). What jbproxy adds is its own: the error record of a stream cut after it started, in the face's
//! format, and for a client that did not ask to stream, a streamed request upstream folded into the whole answer
//! (`whole`), so its deadlines and failover are those of every answer.

mod whole;

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{AnswerBuilder, SseWriter, StreamFailure, TranslateError, parse};
use crate::models::native::Family;
use crate::upstream::event::UpstreamEvent;

/// The `model` of a body, read without building the body's tree: routing reads only the model, and most bodies go
/// by v8, whose parser reads them again. Borrowed from the body unless the name has escapes. `None` for a body
/// that is not an object with a string `model` (v8's parser then says what is wrong).
pub fn peek_model(body: &[u8]) -> Option<Cow<'_, str>> {
    /// serde borrows a `Cow` only when it is the field's own type, not inside an `Option`: a missing model is an
    /// error here, which is `None` all the same.
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(borrow)]
        model: Cow<'a, str>,
    }
    // A derived struct also reads a JSON array (`["gpt-4.1"]`); that is not a body, whatever it holds.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice::<Peek<'_>>(body)
        .ok()
        .map(|peek| peek.model)
}

/// A request for a native route, read only as far as routing needs: the model, and whether to stream.
pub struct NativeRequest {
    fields: Map<String, Value>,
}

impl NativeRequest {
    /// The body as a JSON object with a string `model`; the rest is the upstream's to check.
    pub fn parse(body: &[u8]) -> Result<Self, TranslateError> {
        let fields: Map<String, Value> = parse::body(body)?;
        match fields.get("model") {
            Some(Value::String(_)) => Ok(Self { fields }),
            Some(_) => Err(TranslateError::at("model", "must be a string")),
            None => Err(TranslateError::at("model", "is required")),
        }
    }

    pub fn model(&self) -> &str {
        self.fields
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn stream(&self) -> bool {
        self.fields.get("stream").and_then(Value::as_bool) == Some(true)
    }

    /// The upstream body: the client's, with `native_id` as the model; a request that does not stream is asked to
    /// (with OpenAI's usage chunk), and its answer folded whole again by [`NativeAnswer`].
    pub fn into_upstream(mut self, native_id: &str, family: Family) -> Bytes {
        self.fields
            .insert("model".into(), Value::String(native_id.to_owned()));
        if !self.stream() {
            self.fields.insert("stream".into(), Value::Bool(true));
            if family == Family::OpenAi {
                self.fields.insert(
                    "stream_options".into(),
                    serde_json::json!({"include_usage": true}),
                );
            }
        }
        Bytes::from(Value::Object(self.fields).to_string())
    }
}

/// Writes a native stream's records in the family's SSE framing (Anthropic's `event:` lines, OpenAI's
/// `data: [DONE]`).
pub struct NativeWriter {
    family: Family,
    finished: bool,
}

impl NativeWriter {
    pub fn new(family: Family) -> Self {
        Self {
            family,
            finished: false,
        }
    }
}

impl SseWriter for NativeWriter {
    fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        let UpstreamEvent::Native(record) = event else {
            return;
        };
        if let Some(name) = &record.event {
            out.push_str("event: ");
            out.push_str(name);
            out.push('\n');
        }
        out.push_str("data: ");
        out.push_str(&record.data);
        out.push_str("\n\n");
    }

    fn finish(&mut self, out: &mut String) {
        if !self.finished && self.family == Family::OpenAi {
            out.push_str("data: [DONE]\n\n");
        }
        self.finished = true;
    }

    fn fail(&mut self, failure: &StreamFailure<'_>, out: &mut String) {
        if self.finished {
            return;
        }
        self.finished = true;
        match self.family {
            Family::Anthropic => {
                let kind = super::anthropic::error_type(failure.status);
                let body = super::anthropic::error_body(kind, failure.message);
                out.push_str(&format!("event: error\ndata: {body}\n\n"));
            }
            Family::OpenAi => {
                let body =
                    super::openai::error_body(failure.message, failure.kind, failure.code, None);
                out.push_str(&format!("data: {body}\n\n"));
            }
        }
    }
}

/// A whole native answer, folded from the stream's records (or kept as it came whole).
pub struct NativeAnswer {
    whole: whole::Whole,
}

impl NativeAnswer {
    pub fn new(family: Family) -> Self {
        Self {
            whole: whole::Whole::new(family),
        }
    }
}

impl AnswerBuilder for NativeAnswer {
    fn push(&mut self, event: &UpstreamEvent) {
        if let UpstreamEvent::Native(record) = event {
            self.whole.push(&record.json);
        }
    }

    fn finish(self) -> Value {
        self.whole.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::event::NativeRecord;

    #[test]
    fn the_body_keeps_everything_but_the_model() {
        let body = br#"{"model":"claude-opus-4-7","stream":true,"thinking":{"type":"enabled","budget_tokens":2048},
            "messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}"#;
        let req = NativeRequest::parse(body).expect("parses");
        assert_eq!((req.model(), req.stream()), ("claude-opus-4-7", true));
        let up: Value =
            serde_json::from_slice(&req.into_upstream("claude-opus-4-7-native", Family::Anthropic))
                .unwrap();
        assert_eq!(up["model"], "claude-opus-4-7-native");
        assert_eq!(up["thinking"]["budget_tokens"], 2048);
        assert_eq!(
            up["messages"][0]["content"][0]["cache_control"]["type"],
            "ephemeral"
        );
        let whole = NativeRequest::parse(br#"{"model":"gpt-4.1","messages":[]}"#).expect("parses");
        let up: Value =
            serde_json::from_slice(&whole.into_upstream("gpt-4.1", Family::OpenAi)).unwrap();
        assert_eq!(
            up["stream"], true,
            "asked to stream, to be folded whole again"
        );
        assert_eq!(up["stream_options"]["include_usage"], true);
        let err = NativeRequest::parse(br#"{"model": 3}"#)
            .err()
            .expect("refused");
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(NativeRequest::parse(b"[]").is_err());
    }

    #[test]
    fn the_model_is_peeked_without_reading_the_rest() {
        let body =
            br#"{"messages":[{"role":"user","content":"x"}],"model":"gpt-4.1","stream":true}"#;
        assert!(matches!(peek_model(body), Some(Cow::Borrowed("gpt-4.1"))));
        let escaped = peek_model(br#"{"model":"gpt\u002d4.1"}"#);
        assert_eq!(escaped.as_deref(), Some("gpt-4.1"));
        for refused in [
            &br#"{"model":3}"#[..],
            br#"{"messages":[]}"#,
            br#"["gpt-4.1"]"#,
            b"not json",
            br#"{"model":"gpt-4.1""#,
        ] {
            assert_eq!(
                peek_model(refused),
                None,
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
    }

    #[test]
    fn records_are_reframed_and_a_cut_ends_in_the_face_format() {
        let record = |event: Option<&str>| {
            UpstreamEvent::Native(NativeRecord {
                event: event.map(str::to_owned),
                data: r#"{"x":1}"#.into(),
                json: serde_json::json!({"x": 1}),
                content: true,
            })
        };
        let mut out = String::new();
        let mut anthropic = NativeWriter::new(Family::Anthropic);
        anthropic.push(&record(Some("content_block_delta")), &mut out);
        anthropic.finish(&mut out);
        assert_eq!(out, "event: content_block_delta\ndata: {\"x\":1}\n\n");
        let mut out = String::new();
        let mut openai = NativeWriter::new(Family::OpenAi);
        openai.push(&record(None), &mut out);
        let failure = StreamFailure {
            status: 502,
            kind: "upstream_error",
            code: Some("stream_interrupted"),
            message: "cut",
        };
        openai.fail(&failure, &mut out);
        openai.finish(&mut out);
        assert!(
            out.starts_with("data: {\"x\":1}\n\ndata: {\"error\""),
            "{out}"
        );
        assert!(!out.contains("[DONE]"), "{out}");
    }
}
