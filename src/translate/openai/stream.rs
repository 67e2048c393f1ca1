//! Streaming answers: upstream events → OpenAI's SSE records, `data: <chat.completion.chunk>` each, ending with
//! `data: [DONE]` (or, when the answer is cut, an error object and no `[DONE]`).

use serde::Serialize;

use super::{error_body, finish_reason_str, generated_call_id};
use crate::translate::{SseWriter, StreamFailure, usage};
use crate::upstream::event::{FinishReason, UpstreamEvent};

/// Turns one answer's events into chunk records. One per response; not reusable.
pub struct ChunkTranslator {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    prompt_tokens: u32,
    /// `delta.role` goes on the first chunk only.
    role_sent: bool,
    /// Tool calls started so far; the current call's OpenAI `index` is `tool_calls - 1`.
    tool_calls: usize,
    /// Whether any content or tool call has been emitted.
    output: bool,
    /// The last `FinishMetadata`, sent at `finish` because content may still follow it.
    reason: Option<FinishReason>,
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
            role_sent: false,
            tool_calls: 0,
            output: false,
            reason: None,
            completion_bytes: 0,
            finished: false,
            scratch: Vec::with_capacity(256),
        }
    }

    /// Appends zero or more chunk records for this event to `out`. End, Skip, Quota and Unknown produce nothing
    /// (the caller acts on them); Finish is remembered and sent by [`finish`](Self::finish).
    pub fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => {
                self.completion_bytes += text.len();
                self.output = true;
                let delta = Delta {
                    content: Some(text),
                    ..Delta::default()
                };
                self.chunk(delta, None, out);
            }
            UpstreamEvent::ToolCallStart { id, name } => {
                let index = self.tool_calls;
                self.tool_calls += 1;
                self.output = true;
                let generated;
                let id = if id.is_empty() {
                    generated = generated_call_id(index);
                    &generated
                } else {
                    id
                };
                let call = ToolCallDelta {
                    index,
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
                self.chunk(delta, None, out);
            }
            // Arguments before any call started cannot be attributed to a call: dropped.
            UpstreamEvent::ToolCallArgs(args) if !args.is_empty() && self.tool_calls > 0 => {
                self.completion_bytes += args.len();
                let call = ToolCallDelta {
                    index: self.tool_calls - 1,
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
                self.chunk(delta, None, out);
            }
            UpstreamEvent::Finish(reason) => self.reason = Some(*reason),
            _ => {}
        }
    }

    /// At stream end: the chunk carrying `finish_reason`, then, when usage was asked for, the usage chunk
    /// (`choices: []`), then `data: [DONE]`. Calling it again appends nothing.
    pub fn finish(&mut self, out: &mut String) {
        if self.finished {
            return;
        }
        self.finished = true;
        let reason = finish_reason_str(self.reason, self.tool_calls > 0);
        self.chunk(Delta::default(), Some(reason), out);
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

    /// Appends one chunk record with this delta.
    fn chunk(
        &mut self,
        mut delta: Delta<'_>,
        finish_reason: Option<&'static str>,
        out: &mut String,
    ) {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some("assistant");
        }
        // Byte for byte what serializing `Chunk { choices: [Choice { index: 0, delta, finish_reason }], usage: None }`
        // writes, but the part that is the same in every chunk (id, object, created, model) is rendered once per
        // stream instead of escaped again for each of its chunks.
        self.scratch.clear();
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
        out.reserve(self.prefix.len() + variable.len() + 12);
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

/// `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[{"index":0,"delta":`: the start of
/// every chunk of one stream, up to its delta.
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
    prefix.push_str("{\"index\":0,\"delta\":");
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
