//! Streaming answers: upstream events → OpenAI `chat.completion.chunk` payloads, one string per SSE `data:` line.
//! The `[DONE]` marker is the HTTP layer's; everything between the first chunk and the usage chunk is here.

use serde::Serialize;

use super::events::{FinishReason, UpstreamEvent};
use super::{finish_reason_str, generated_call_id, usage};

/// Turns one answer's events into chunks. One per response; not reusable.
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
        }
    }

    /// Appends zero or more chunk payloads for this event to `out`. End, Skip, Quota and Unknown produce nothing
    /// (the caller acts on them); Finish is remembered and sent by [`finish`](Self::finish).
    pub fn push(&mut self, event: &UpstreamEvent, out: &mut Vec<String>) {
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => {
                self.completion_bytes += text.len();
                self.output = true;
                let delta = Delta {
                    content: Some(text),
                    ..Delta::default()
                };
                out.push(self.chunk(delta, None, text.len()));
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
                out.push(self.chunk(delta, None, id.len() + name.len()));
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
                // Arguments are JSON text, so escaping may double them.
                out.push(self.chunk(delta, None, args.len() * 2));
            }
            UpstreamEvent::Finish(reason) => self.reason = Some(*reason),
            _ => {}
        }
    }

    /// At stream end: the chunk carrying `finish_reason` (once), then, when usage was asked for, the usage chunk
    /// (`choices: []`). Never the `[DONE]` marker. Calling it again appends nothing.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let reason = finish_reason_str(self.reason, self.tool_calls > 0);
        out.push(self.chunk(Delta::default(), Some(reason), 0));
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
            out.push(to_json(
                &chunk,
                CHUNK_OVERHEAD + self.id.len() + self.model.len(),
            ));
        }
    }

    /// Whether any content or tool call has been emitted (after that, an upstream failure can no longer be retried
    /// on another token without the client seeing it).
    pub fn has_output(&self) -> bool {
        self.output
    }

    fn chunk(
        &mut self,
        mut delta: Delta<'_>,
        finish_reason: Option<&'static str>,
        text_len: usize,
    ) -> String {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some("assistant");
        }
        // Byte for byte what serializing `Chunk { choices: [Choice { index: 0, delta, finish_reason }], usage: None }`
        // writes, but the part that is the same in every chunk (id, object, created, model) is rendered once per
        // stream instead of escaped again for each of its chunks.
        let mut buf = Vec::with_capacity(self.prefix.len() + 64 + text_len);
        buf.extend_from_slice(self.prefix.as_bytes());
        // Writing these plain structs into a Vec cannot fail: string keys only, no I/O.
        if serde_json::to_writer(&mut buf, &delta).is_err() {
            return String::new();
        }
        buf.extend_from_slice(b",\"finish_reason\":");
        if serde_json::to_writer(&mut buf, &finish_reason).is_err() {
            return String::new();
        }
        buf.extend_from_slice(b"}]}");
        // serde_json writes UTF-8 only, and the prefix is a `String`.
        String::from_utf8(buf).unwrap_or_default()
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
