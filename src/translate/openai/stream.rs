//! Streaming answers: upstream events → OpenAI's SSE records, `data: <chat.completion.chunk>` each, ending with
//! `data: [DONE]` (or, when the answer is cut, an error object and no `[DONE]`). Several answers (`n`) are
//! `choices[i]` of their own chunks; a tool call is `tool_calls[j]` by its `parallelToolIndex`, so interleaved
//! fragments of parallel calls stream as they come, each to its own call.

use std::io::Write;

use serde::Serialize;

use super::{error_body, finish_reason_str, generated_call_id};
use crate::translate::calls::{CallSlots, Slot};
use crate::translate::{SseWriter, StreamFailure, usage};
use crate::upstream::event::{FinishReason, UpstreamEvent};

/// Turns one answer's events into chunk records. One per response; not reusable.
pub struct ChunkTranslator {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    prompt_tokens: u32,
    /// Per answer (`choices[i]`); at least one.
    choices: Vec<ChoiceState>,
    /// The answer the latest events belong to.
    current: usize,
    /// Whether any content or tool call has been emitted.
    output: bool,
    /// UTF-8 bytes of content and tool arguments emitted, estimated as tokens once at the end.
    completion_bytes: usize,
    finished: bool,
    /// Every chunk's constant start, rendered once (see `chunk_prefix`).
    prefix: String,
    /// Where a chunk's variable part is serialized before it is appended (serde_json writes bytes, the records
    /// are text); kept between chunks so a stream allocates it once.
    scratch: Vec<u8>,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [Choice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    delta: Delta<'a>,
    /// Serialized as `null` until the last chunk, as OpenAI does.
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// What one answer has sent so far.
#[derive(Default)]
struct ChoiceState {
    /// `delta.role` goes on the answer's first chunk only.
    role_sent: bool,
    calls: CallSlots,
    /// The first `FinishMetadata` of the answer (JetBrains' client keeps the first), sent at `finish` because
    /// content may still follow it.
    reason: Option<FinishReason>,
}

/// Answers above this index are not opened: a stream of chunks for a thousand phantom choices is not an answer.
const MAX_CHOICES: usize = 128;

/// OpenAI's `usage` object; estimates (see `usage`).
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl Usage {
    pub(super) fn new(prompt_tokens: u32, completion_bytes: usize) -> Self {
        let completion_tokens = usage::tokens_for_bytes(completion_bytes);
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        }
    }
}

/// Bytes of a chunk without its variable text: the buffer is sized once.
const CHUNK_OVERHEAD: usize = 160;

impl ChunkTranslator {
    pub fn new(
        id: String,
        model: String,
        created: u64,
        include_usage: bool,
        prompt_tokens: u32,
    ) -> Self {
        ChunkTranslator {
            prefix: chunk_prefix(&id, &model, created),
            id,
            model,
            created,
            include_usage,
            prompt_tokens,
            choices: vec![ChoiceState::default()],
            current: 0,
            output: false,
            completion_bytes: 0,
            finished: false,
            scratch: Vec::with_capacity(256),
        }
    }

    /// Appends zero or more chunk records for this event to `out`. End, Skip, Quota and Unknown produce nothing
    /// (the caller acts on them); Finish is remembered and sent by [`finish`](Self::finish).
    pub fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        let choice = self.current;
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => {
                self.completion_bytes += text.len();
                self.output = true;
                let delta = Delta {
                    content: Some(text),
                    ..Delta::default()
                };
                self.chunk(choice, delta, None, out);
            }
            UpstreamEvent::ToolCallStart { id, name, index } => {
                let Slot::New(call) = self.choices[choice].calls.start(*index, id) else {
                    return;
                };
                self.output = true;
                let generated;
                let id = if id.is_empty() {
                    generated = generated_call_id(call);
                    &generated
                } else {
                    id
                };
                let call = ToolCallDelta {
                    index: call,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDelta {
                        name: Some(name),
                        arguments: "",
                    },
                };
                let delta = Delta {
                    tool_calls: Some([call]),
                    ..Delta::default()
                };
                self.chunk(choice, delta, None, out);
            }
            UpstreamEvent::ToolCallArgs { args, index } if !args.is_empty() => {
                // Arguments of no started call cannot be attributed to a call: dropped.
                let Some(call) = self.choices[choice].calls.args(*index) else {
                    return;
                };
                self.completion_bytes += args.len();
                let call = ToolCallDelta {
                    index: call,
                    id: None,
                    kind: None,
                    function: FunctionDelta {
                        name: None,
                        arguments: args,
                    },
                };
                let delta = Delta {
                    tool_calls: Some([call]),
                    ..Delta::default()
                };
                self.chunk(choice, delta, None, out);
            }
            UpstreamEvent::Finish(reason) => {
                let state = &mut self.choices[choice];
                state.reason.get_or_insert(*reason);
            }
            UpstreamEvent::Choice(i) => {
                let i = usize::try_from(*i).unwrap_or(usize::MAX);
                if i < MAX_CHOICES {
                    if self.choices.len() <= i {
                        self.choices.resize_with(i + 1, ChoiceState::default);
                    }
                    self.current = i;
                }
            }
            _ => {}
        }
    }

    /// At stream end: per answer the chunk carrying its `finish_reason`, then, when usage was asked for, the usage
    /// chunk (`choices: []`), then `data: [DONE]`. Calling it again appends nothing.
    pub fn finish(&mut self, out: &mut String) {
        if self.finished {
            return;
        }
        self.finished = true;
        for choice in 0..self.choices.len() {
            let state = &self.choices[choice];
            let reason = finish_reason_str(state.reason, !state.calls.is_empty());
            self.chunk(choice, Delta::default(), Some(reason), out);
        }
        if self.include_usage {
            let usage = Usage::new(self.prompt_tokens, self.completion_bytes);
            let chunk = Chunk {
                id: &self.id,
                object: "chat.completion.chunk",
                created: self.created,
                model: &self.model,
                choices: &[],
                usage: Some(usage),
            };
            record(
                out,
                &to_json(&chunk, CHUNK_OVERHEAD + self.id.len() + self.model.len()),
            );
        }
        out.push_str("data: [DONE]\n\n");
    }

    /// A failure after the stream started: an error object in OpenAI's shape and no `[DONE]`, so clients know the
    /// answer was cut. Nothing is written after it.
    pub fn fail(&mut self, failure: &StreamFailure<'_>, out: &mut String) {
        if self.finished {
            return;
        }
        self.finished = true;
        let body = error_body(failure.message, failure.kind, failure.code, None);
        record(out, &body.to_string());
    }

    /// Whether any content or tool call has been emitted (after that, an upstream failure can no longer be retried
    /// on another token without the client seeing it).
    pub fn has_output(&self) -> bool {
        self.output
    }

    /// Appends one chunk record with this delta for answer `choice`.
    fn chunk(
        &mut self,
        choice: usize,
        mut delta: Delta<'_>,
        finish_reason: Option<&'static str>,
        out: &mut String,
    ) {
        if let Some(state) = self.choices.get_mut(choice)
            && !state.role_sent
        {
            state.role_sent = true;
            delta.role = Some("assistant");
        }
        // Byte for byte what serializing `Chunk { choices: [Choice { index, delta, finish_reason }], usage: None }`
        // writes, but the part that is the same in every chunk (id, object, created, model) is rendered once per
        // stream instead of escaped again for each of its chunks.
        self.scratch.clear();
        // The index is almost always 0: formatting it through `write!` cost a third of the chunk's instructions
        // (callgrind), so one digit is pushed directly.
        match u8::try_from(choice) {
            Ok(digit @ 0..=9) => self.scratch.push(b'0' + digit),
            // Writing a number into a Vec cannot fail.
            _ => {
                let _ = write!(self.scratch, "{choice}");
            }
        }
        self.scratch.extend_from_slice(b",\"delta\":");
        // Writing these plain structs into a Vec cannot fail: string keys only, no I/O.
        if serde_json::to_writer(&mut self.scratch, &delta).is_err() {
            return;
        }
        self.scratch.extend_from_slice(b",\"finish_reason\":");
        if serde_json::to_writer(&mut self.scratch, &finish_reason).is_err() {
            return;
        }
        // serde_json writes UTF-8 only.
        let Ok(variable) = std::str::from_utf8(&self.scratch) else {
            return;
        };
        out.reserve(self.prefix.len() + variable.len() + 16);
        out.push_str("data: ");
        out.push_str(&self.prefix);
        out.push_str(variable);
        out.push_str("}]}\n\n");
    }
}

/// Appends `data: <payload>` and the blank line that ends the record.
fn record(out: &mut String, payload: &str) {
    out.reserve(payload.len() + 8);
    out.push_str("data: ");
    out.push_str(payload);
    out.push_str("\n\n");
}

impl SseWriter for ChunkTranslator {
    fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        ChunkTranslator::push(self, event, out);
    }

    fn finish(&mut self, out: &mut String) {
        ChunkTranslator::finish(self, out);
    }

    fn fail(&mut self, failure: &StreamFailure<'_>, out: &mut String) {
        ChunkTranslator::fail(self, failure, out);
    }
}

/// `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[{"index":`: the start of every
/// chunk of one stream, up to its choice's index.
fn chunk_prefix(id: &str, model: &str, created: u64) -> String {
    let chunk = Chunk {
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices: &[],
        usage: None,
    };
    let mut prefix = to_json(&chunk, CHUNK_OVERHEAD + id.len() + model.len());
    // `…"choices":[]}` → `…"choices":[{"index":0,"delta":`
    if prefix.ends_with("[]}") {
        prefix.truncate(prefix.len() - 2);
    }
    prefix.push_str("{\"index\":");
    prefix
}

/// Serializes into a buffer of `capacity` bytes (a guess that avoids regrowth for typical deltas).
fn to_json<T: Serialize>(value: &T, capacity: usize) -> String {
    let mut buf = Vec::with_capacity(capacity);
    // Writing these plain structs into a Vec cannot fail: string keys only, no I/O.
    if serde_json::to_writer(&mut buf, value).is_err() {
        return String::new();
    }
    // serde_json writes UTF-8 only.
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests;
