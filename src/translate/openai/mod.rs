//! The OpenAI chat-completions face: the request as parsed (`request`), streamed answers as `chat.completion.chunk`
//! records (`stream`), and whole answers as one `chat.completion` object (`response`).

pub mod request;
pub mod response;
pub mod stream;

use crate::upstream::event::FinishReason;

/// Maps an upstream finish reason to OpenAI's; without one, tool calls mean `tool_calls`, otherwise `stop`.
/// Shared by `stream` and `response` so both answers agree.
fn finish_reason_str(reason: Option<FinishReason>, saw_tool_calls: bool) -> &'static str {
    match reason {
        Some(FinishReason::Stop) => "stop",
        Some(FinishReason::Length) => "length",
        Some(FinishReason::ToolCalls) => "tool_calls",
        None if saw_tool_calls => "tool_calls",
        None => "stop",
    }
}

/// The id given to a tool call whose upstream event carried none (v7 `FunctionCall` has no ids): `call_<index>`.
fn generated_call_id(index: usize) -> String {
    format!("call_{index}")
}

/// OpenAI's error object, `{"error": {"message", "type", "code", "param"}}`: the body of an error response and of a
/// stream's last record when the answer was cut.
pub fn error_body(
    message: &str,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({"error": {"message": message, "type": kind, "code": code, "param": param}})
}
