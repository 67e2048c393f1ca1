//! Streaming answers in Anthropic's format: upstream events → complete SSE records (`event: <name>` and
//! `data: <json>`). The sequence is `message_start`, `ping`, then per block `content_block_start`,
//! `content_block_delta`*, `content_block_stop`, and at the end `message_delta` (stop reason, output usage) and
//! `message_stop`. A failure after the start is an `error` record and no `message_stop`.
//!
//! Anthropic's blocks cannot interleave, and a closed block cannot be reopened, while the upstream's parallel tool
//! calls may interleave their fragments (`parallelToolIndex`). So the first tool call streams live, and its block
//! stays open to the end; whatever comes after it opened (another call, more text) is held and sent at the end,
//! each block whole (start, one delta, stop), in the order it began.

use serde::Serialize;
use serde_json::json;

use super::{error_body, error_type, generated_tool_id, stop_reason};
use crate::translate::calls::{CallSlots, Slot};
use crate::translate::usage;
use crate::translate::{SseWriter, StreamFailure};
use crate::upstream::event::{FinishReason, UpstreamEvent};

/// The kind of the content block currently open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    ToolUse,
}

/// A block held back until the end of the answer.
enum Held {
    Text(String),
    ToolUse {
        call: usize,
        id: String,
        name: String,
        input: String,
    },
}

/// Turns one answer's events into Anthropic SSE records. One per response; not reusable.
pub struct EventWriter {
    id: String,
    model: String,
    input_tokens: u32,
    started: bool,
    /// The open block; its index is `blocks - 1`.
    open: Option<Open>,
    /// Blocks started so far.
    blocks: usize,
    calls: CallSlots,
    /// The call streaming live in the open tool-use block: the answer's first.
    live: Option<usize>,
    /// Blocks that began after the live call did, sent whole at the end.
    held: Vec<Held>,
    /// The first `FinishMetadata` (JetBrains' client keeps the first), sent at the end because content may still
    /// follow it.
    reason: Option<FinishReason>,
    /// UTF-8 bytes of text and tool input emitted, estimated as tokens once at the end.
    output_bytes: usize,
    finished: bool,
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    delta: DeltaBody<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum DeltaBody<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

impl EventWriter {
    /// `id` is the message id (`msg_…`), `model` the client's model name, `input_tokens` the prompt estimate.
    pub fn new(id: String, model: String, input_tokens: u32) -> Self {
        EventWriter {
            id,
            model,
            input_tokens,
            started: false,
            open: None,
            blocks: 0,
            calls: CallSlots::default(),
            live: None,
            held: Vec::new(),
            reason: None,
            output_bytes: 0,
            finished: false,
        }
    }

    /// Appends the records for one event. The first call also writes `message_start` and a `ping`. End, Skip,
    /// Quota, Unknown and Choice write nothing else; Finish is remembered for `message_delta`.
    pub fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        self.start(out);
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => {
                self.output_bytes += text.len();
                if self.live.is_some() {
                    match self.held.last_mut() {
                        Some(Held::Text(held)) => held.push_str(text),
                        _ => self.held.push(Held::Text(text.clone())),
                    }
                    return;
                }
                if self.open != Some(Open::Text) {
                    self.open_block(Open::Text, json!({"type": "text", "text": ""}), out);
                }
                self.delta(DeltaBody::Text { text }, out);
            }
            UpstreamEvent::ToolCallStart { id, name, index } => {
                let Slot::New(call) = self.calls.start(*index, id) else {
                    return;
                };
                let id = if id.is_empty() {
                    generated_tool_id(&self.id, call)
                } else {
                    id.clone()
                };
                self.output_bytes += name.len();
                if self.live.is_some() {
                    self.held.push(Held::ToolUse {
                        call,
                        id,
                        name: name.clone(),
                        input: String::new(),
                    });
                    return;
                }
                self.live = Some(call);
                self.open_block(
                    Open::ToolUse,
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    out,
                );
            }
            UpstreamEvent::ToolCallArgs { args, index } if !args.is_empty() => {
                // Arguments of no started call cannot be attributed to a call: dropped.
                let Some(call) = self.calls.args(*index) else {
                    return;
                };
                self.output_bytes += args.len();
                if self.live == Some(call) {
                    self.delta(DeltaBody::InputJson { partial_json: args }, out);
                } else if let Some(input) = self.held.iter_mut().find_map(|h| match h {
                    Held::ToolUse { call: c, input, .. } if *c == call => Some(input),
                    _ => None,
                }) {
                    input.push_str(args);
                }
            }
            UpstreamEvent::Finish(reason) => {
                self.reason.get_or_insert(*reason);
            }
            _ => {}
        }
    }

    /// The normal end: closes the open block, sends the held blocks, then `message_delta` and `message_stop`.
    /// Calling it again appends nothing.
    pub fn finish(&mut self, out: &mut String) {
        if self.finished {
            return;
        }
        self.start(out);
        self.finished = true;
        self.close_block(out);
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::Text(text) => {
                    self.open_block(Open::Text, json!({"type": "text", "text": ""}), out);
                    self.delta(DeltaBody::Text { text: &text }, out);
                }
                Held::ToolUse {
                    id, name, input, ..
                } => {
                    self.open_block(
                        Open::ToolUse,
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                        out,
                    );
                    if !input.is_empty() {
                        self.delta(
                            DeltaBody::InputJson {
                                partial_json: &input,
                            },
                            out,
                        );
                    }
                }
            }
            self.close_block(out);
        }
        let output_tokens = usage::tokens_for_bytes(self.output_bytes);
        record(
            out,
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(self.reason, !self.calls.is_empty()), "stop_sequence": null},
                "usage": {"input_tokens": self.input_tokens, "output_tokens": output_tokens},
            }),
        );
        record(out, "message_stop", &json!({"type": "message_stop"}));
    }

    /// A failure after the stream started: an `error` record (`kind` is Anthropic's error type) and nothing after
    /// it, so the client knows the answer is incomplete.
    pub fn error(&mut self, kind: &str, message: &str, out: &mut String) {
        if self.finished {
            return;
        }
        self.finished = true;
        record(out, "error", &error_body(kind, message));
    }

    fn start(&mut self, out: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
            },
        });
        record(out, "message_start", &message);
        record(out, "ping", &json!({"type": "ping"}));
    }

    fn open_block(&mut self, kind: Open, block: serde_json::Value, out: &mut String) {
        self.close_block(out);
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some(kind);
        record(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
    }

    fn close_block(&mut self, out: &mut String) {
        if self.open.take().is_some() {
            record(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.blocks - 1}),
            );
        }
    }

    fn delta(&mut self, delta: DeltaBody<'_>, out: &mut String) {
        record(
            out,
            "content_block_delta",
            &Delta {
                kind: "content_block_delta",
                index: self.blocks.saturating_sub(1),
                delta,
            },
        );
    }
}

/// Appends one SSE record. Serializing these plain values cannot fail; if it ever did, the record is left out
/// rather than written half.
fn record<T: Serialize>(out: &mut String, event: &str, data: &T) {
    if let Ok(json) = serde_json::to_string(data) {
        out.reserve(json.len() + event.len() + 16);
        out.push_str("event: ");
        out.push_str(event);
        out.push_str("\ndata: ");
        out.push_str(&json);
        out.push_str("\n\n");
    }
}

impl SseWriter for EventWriter {
    fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        EventWriter::push(self, event, out);
    }

    fn finish(&mut self, out: &mut String) {
        EventWriter::finish(self, out);
    }

    /// Anthropic's error type follows the status, as its own errors do.
    fn fail(&mut self, failure: &StreamFailure<'_>, out: &mut String) {
        self.error(error_type(failure.status), failure.message, out);
    }
}

#[cfg(test)]
mod tests;
