//! Pure translation between the OpenAI chat API and the JetBrains AI ("Grazie") chat stream: no I/O, no async.
//!
//! - `openai`: the client's request as parsed (leniently) from JSON.
//! - `request`: validation and the upstream body (`build`), v8 or v7.
//! - `events`: one upstream SSE `data:` payload → an `UpstreamEvent`.
//! - `stream`: events → OpenAI `chat.completion.chunk` payloads (streaming answers).
//! - `response`: events → one `chat.completion` object (non-streaming answers).
//! - `usage`: token estimates (the upstream reports none).
//! - `anthropic`: the Anthropic Messages face, mapped onto the same request path and events.

pub mod anthropic;
pub mod events;
pub mod openai;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

/// Maps an upstream finish reason to OpenAI's; without one, tool calls mean `tool_calls`, otherwise `stop`.
/// Shared by `stream` and `response` so both answers agree.
fn finish_reason_str(reason: Option<events::FinishReason>, saw_tool_calls: bool) -> &'static str {
    match reason {
        Some(events::FinishReason::Stop) => "stop",
        Some(events::FinishReason::Length) => "length",
        Some(events::FinishReason::ToolCalls) => "tool_calls",
        None if saw_tool_calls => "tool_calls",
        None => "stop",
    }
}

/// The id given to a tool call whose upstream event carried none (v7 `FunctionCall` has no ids): `call_<index>`.
fn generated_call_id(index: usize) -> String {
    format!("call_{index}")
}
