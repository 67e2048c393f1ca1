//! Non-streaming answers: upstream events → one OpenAI `chat.completion` object, with (estimated) usage.

use serde_json::{Value, json};

use super::stream::Usage;
use super::{finish_reason_str, generated_call_id};
use crate::translate::AnswerBuilder;
use crate::upstream::event::{FinishReason, UpstreamEvent};

/// Collects one answer's events. One per response.
pub struct ResponseBuilder {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: u32,
    content: String,
    tool_calls: Vec<ToolCall>,
    /// The last `FinishMetadata`; content may still follow it.
    reason: Option<FinishReason>,
}

struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

impl ResponseBuilder {
    pub fn new(id: String, model: String, created: u64, prompt_tokens: u32) -> Self {
        ResponseBuilder {
            id,
            model,
            created,
            prompt_tokens,
            content: String::new(),
            tool_calls: Vec::new(),
            reason: None,
        }
    }

    /// Records one event. End, Skip, Quota and Unknown are the caller's business and change nothing here.
    pub fn push(&mut self, event: &UpstreamEvent) {
        match event {
            UpstreamEvent::Content(text) => self.content.push_str(text),
            UpstreamEvent::ToolCallStart { id, name } => {
                let id = if id.is_empty() {
                    generated_call_id(self.tool_calls.len())
                } else {
                    id.clone()
                };
                self.tool_calls.push(ToolCall {
                    id,
                    name: name.clone(),
                    arguments: String::new(),
                });
            }
            // Arguments before any call started cannot be attributed to a call: dropped, as when streaming.
            UpstreamEvent::ToolCallArgs(args) => {
                if let Some(call) = self.tool_calls.last_mut() {
                    call.arguments.push_str(args);
                }
            }
            UpstreamEvent::Finish(reason) => self.reason = Some(*reason),
            UpstreamEvent::Quota(_)
            | UpstreamEvent::End
            | UpstreamEvent::Skip
            | UpstreamEvent::Unknown(_) => {}
        }
    }

    /// The `chat.completion` object. `content` is null when the answer is only tool calls; `usage` is always
    /// present and estimated.
    pub fn finish(self) -> Value {
        let completion_bytes = self.content.len()
            + self
                .tool_calls
                .iter()
                .map(|c| c.arguments.len())
                .sum::<usize>();
        let usage = Usage::new(self.prompt_tokens, completion_bytes);
        let finish_reason = finish_reason_str(self.reason, !self.tool_calls.is_empty());
        let content = if self.content.is_empty() && !self.tool_calls.is_empty() {
            Value::Null
        } else {
            Value::String(self.content)
        };
        // `refusal` and `logprobs` are required (nullable) in OpenAI's spec: strict clients reject answers without.
        let mut message = json!({ "role": "assistant", "content": content, "refusal": null });
        if !self.tool_calls.is_empty() {
            let calls: Vec<Value> = self
                .tool_calls
                .into_iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
            message["tool_calls"] = Value::Array(calls);
        }
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason }],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        })
    }
}

impl AnswerBuilder for ResponseBuilder {
    fn push(&mut self, event: &UpstreamEvent) {
        ResponseBuilder::push(self, event);
    }

    fn finish(self) -> Value {
        ResponseBuilder::finish(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn build(events: &[UpstreamEvent]) -> Value {
        let mut b = ResponseBuilder::new(
            "chatcmpl-9".into(),
            "claude-sonnet-4-5".into(),
            1700000001,
            10,
        );
        for event in events {
            b.push(event);
        }
        b.finish()
    }

    #[test]
    fn text_answer() {
        let v = build(&[
            UpstreamEvent::Content("Hello, ".into()),
            UpstreamEvent::Content("world".into()),
            UpstreamEvent::Finish(FinishReason::Stop),
            UpstreamEvent::Quota(Default::default()),
            UpstreamEvent::End,
        ]);
        assert_eq!(
            v,
            json!({"id":"chatcmpl-9","object":"chat.completion","created":1700000001,"model":"claude-sonnet-4-5",
                   "choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world","refusal":null},"logprobs":null,"finish_reason":"stop"}],
                   "usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13}})
        );
    }

    #[test]
    fn only_tool_calls_have_null_content() {
        let v = build(&[
            UpstreamEvent::ToolCallStart {
                id: "toolu_01".into(),
                name: "get_weather".into(),
            },
            UpstreamEvent::ToolCallArgs("{\"city\":".into()),
            UpstreamEvent::ToolCallArgs("\"Paris\"}".into()),
            UpstreamEvent::ToolCallStart {
                id: "toolu_02".into(),
                name: "get_time".into(),
            },
            UpstreamEvent::Finish(FinishReason::ToolCalls),
        ]);
        let message = &v["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(
            message["tool_calls"],
            json!([
                {"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":""}}
            ])
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn text_and_tool_calls_without_finish_event() {
        let v = build(&[
            UpstreamEvent::Content("Checking.".into()),
            UpstreamEvent::ToolCallStart {
                id: String::new(),
                name: "f".into(),
            },
            UpstreamEvent::ToolCallArgs("{}".into()),
            UpstreamEvent::Content(" More.".into()),
        ]);
        let message = &v["choices"][0]["message"];
        assert_eq!(message["content"], "Checking. More.");
        assert_eq!(message["tool_calls"][0]["id"], "call_0");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn empty_answer_is_empty_string_and_stop() {
        let v = build(&[UpstreamEvent::Unknown("X".into())]);
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role":"assistant","content":"","refusal":null})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens":10,"completion_tokens":0,"total_tokens":10})
        );
    }

    #[test]
    fn length_finish_is_kept() {
        let v = build(&[
            UpstreamEvent::Content("x".into()),
            UpstreamEvent::Finish(FinishReason::Length),
        ]);
        assert_eq!(v["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn orphan_arguments_are_dropped() {
        let v = build(&[
            UpstreamEvent::ToolCallArgs("{}".into()),
            UpstreamEvent::Content("ok".into()),
        ]);
        assert!(v["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(v["usage"]["completion_tokens"], 1);
    }
}
