//! Pure translation between the client APIs and the JetBrains AI ("Grazie") chat: no I/O, no async.
//!
//! A request goes face → [`conversation::Conversation`] → upstream body; an answer goes upstream events → face.
//!
//! - `openai`, `anthropic`, `responses` (OpenAI's Responses API): the API faces. Each parses its request with serde
//!   straight into the one typed conversation (`request`), and writes answers from the upstream's events: streamed
//!   as SSE records (`stream`, an [`SseWriter`]) or whole (`response`, an [`AnswerBuilder`]).
//! - `conversation`: the typed conversation every face produces: turns of parts, tools, parameters.
//! - `grazie`: the one mapping from a conversation to the upstream body (v8, v7).
//! - `parse`: the serde helpers the faces share (located errors, borrowed text); `image`: image checks; `calls`:
//!   which tool call an upstream fragment belongs to (`parallelToolIndex`), for every face's writer.
//! - `usage`: token estimates (the upstream reports none).
//!
//! The upstream's own wire model (its request body, its events and their parser) lives in `crate::upstream`.

pub mod anthropic;
pub mod calls;
pub mod conversation;
pub mod grazie;
pub mod image;
pub mod native;
pub mod openai;
mod parse;
pub mod responses;
pub mod usage;

use std::fmt;

use crate::upstream::event::UpstreamEvent;

/// A request jbproxy will not send upstream. Becomes a 400 `invalid_request_error`; `param` is the JSON path of
/// the offending field in the client's request (`messages[2].content`), and the message names it too.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslateError {
    pub message: String,
    pub param: Option<String>,
}

impl TranslateError {
    pub(crate) fn at(param: impl Into<String>, message: impl fmt::Display) -> Self {
        let param = param.into();
        TranslateError {
            message: format!("{param}: {message}"),
            param: Some(param),
        }
    }
}

impl TranslateError {
    /// The same error in a face's own field names. The mapping names a request-wide field the way OpenAI's chat API
    /// does (`response_format`); a face whose field is called otherwise (`output_config.format`) passes its names
    /// here, `(mapping's, face's)`.
    pub fn renamed(mut self, names: &[(&str, &str)]) -> Self {
        let Some((from, to)) = names
            .iter()
            .find(|(from, _)| self.param.as_deref() == Some(*from))
        else {
            return self;
        };
        if let Some(rest) = self.message.strip_prefix(from) {
            self.message = format!("{to}{rest}");
        }
        self.param = Some((*to).to_owned());
        self
    }
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TranslateError {}

/// Client text quoted back in an error, cut so an error can never carry a whole prompt.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

/// How a face writes a streamed answer. Every call appends whole SSE records to `out`, never part of one, so the
/// relay can send whatever `out` holds as one frame.
pub trait SseWriter: Send + 'static {
    /// The records for one upstream event; often none (quota, unknown and finish events write nothing).
    fn push(&mut self, event: &UpstreamEvent, out: &mut String);
    /// The normal end: the last records and the face's end marker (`data: [DONE]`, `message_stop`).
    fn finish(&mut self, out: &mut String);
    /// A failure after the answer started, written so the client can tell the answer was cut: an error record and
    /// no end marker.
    fn fail(&mut self, failure: &StreamFailure<'_>, out: &mut String);
}

/// Why a started stream ended early, in terms both faces can render: the HTTP status it would have had, OpenAI's
/// error `type` and `code`, and the message.
#[derive(Debug, Clone, Copy)]
pub struct StreamFailure<'a> {
    pub status: u16,
    pub kind: &'a str,
    pub code: Option<&'a str>,
    pub message: &'a str,
}

/// How a face builds a whole (non-streamed) answer from the upstream's events.
pub trait AnswerBuilder {
    /// Records one event; `End`, `Skip`, `Quota` and `Unknown` change nothing.
    fn push(&mut self, event: &UpstreamEvent);
    /// The answer object.
    fn finish(self) -> serde_json::Value;
}
