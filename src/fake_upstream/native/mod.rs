//! The fake's native provider routes (`/user/v5/llm/anthropic/v1/messages`, `/user/v5/llm/openai/v1/chat/completions`):
//! each checks its body as the provider's own API would (unknown fields, the model among the route's native ids,
//! required fields, block shapes) and answers in the provider's format, streamed (SSE records, one frame each, so
//! the timing behaviours apply) or whole (JSON). What the fake knows of these routes is what docs/UPSTREAM.md says,
//! which comes from a peer proxy; the shapes are the providers' public APIs.

pub mod anthropic;
pub mod openai;

use bytes::Bytes;
use serde_json::Value;

/// What a valid request asked, for the answer.
pub struct Asked {
    pub model: String,
    pub stream: bool,
    /// The last user message's text, echoed back.
    pub last_user_text: String,
    /// Anthropic: the thinking budget, when thinking is on.
    pub thinking: bool,
    /// Anthropic: how many blocks carry `cache_control`.
    pub cached_blocks: usize,
    /// OpenAI: `stream_options.include_usage`.
    pub include_usage: bool,
    /// About four characters a token, of every text in the request.
    pub input_tokens: u64,
}

/// The answer to a valid request: SSE frames, or one JSON body.
pub enum Answer {
    Stream(Vec<Bytes>),
    Whole(Value),
}

/// A 400 in the provider's error shape.
pub struct Refusal(pub Value);

fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

/// Every string under `value` whose key is `text` (or a string `content`), by length: the input's size in
/// characters.
fn text_chars(value: &Value) -> usize {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, v)| match (key.as_str(), v) {
                ("text" | "content" | "thinking", Value::String(s)) => s.chars().count(),
                _ => text_chars(v),
            })
            .sum(),
        Value::Array(items) => items.iter().map(text_chars).sum(),
        _ => 0,
    }
}

/// The text of a message's `content`: a string, or its text parts joined.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn sse(event: Option<&str>, data: &Value) -> Bytes {
    Bytes::from(match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    })
}
