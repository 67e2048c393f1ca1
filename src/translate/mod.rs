//! Pure translation between the client APIs and the JetBrains AI ("Grazie") chat stream: no I/O, no async.
//!
//! - `openai`: the OpenAI chat-completions face (request, streamed chunks, whole completion).
//! - `anthropic`: the Anthropic Messages face, mapped onto the same request path and events.
//! - `request`: validation and the upstream body (`build`), v8 or v7.
//! - `usage`: token estimates (the upstream reports none).
//!
//! The upstream's own wire model (its request body, its events and their parser) lives in `crate::upstream`.

pub mod anthropic;
pub mod openai;
pub mod request;
pub mod usage;

use crate::upstream::event::UpstreamEvent;

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
