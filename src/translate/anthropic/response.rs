//! Non-streamed answers in Anthropic's format: upstream events → one `message` object with its content blocks
//! (text and tool_use, in the order they began; a tool call's fragments grouped by `parallelToolIndex`), stop
//! reason and estimated usage.

use serde_json::{Value, json};

use super::{generated_tool_id, stop_reason};
use crate::translate::calls::{CallSlots, Slot};
use crate::translate::{AnswerBuilder, usage};
use crate::upstream::event::{FinishReason, UpstreamEvent};

/// Collects one answer's events. One per response.
pub struct MessageBuilder {
    id: String,
    model: String,
    input_tokens: u32,
    blocks: Vec<Block>,
    calls: CallSlots,
    /// The block of each call, by call number.
    call_blocks: Vec<usize>,
    /// The first `FinishMetadata` (JetBrains' client keeps the first); content may still follow it.
    reason: Option<FinishReason>,
}

enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: String,
    },
}

impl MessageBuilder {
    pub fn new(id: String, model: String, input_tokens: u32) -> Self {
        MessageBuilder {
            id,
            model,
            input_tokens,
            blocks: Vec::new(),
            calls: CallSlots::default(),
            call_blocks: Vec::new(),
            reason: None,
        }
    }

    /// Records one event. Consecutive text deltas form one text block; End, Skip, Quota and Unknown change nothing.
    pub fn push(&mut self, event: &UpstreamEvent) {
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => match self.blocks.last_mut() {
                Some(Block::Text(current)) => current.push_str(text),
                _ => self.blocks.push(Block::Text(text.clone())),
            },
            UpstreamEvent::ToolCallStart { id, name, index } => {
                let Slot::New(call) = self.calls.start(*index, id) else {
                    return;
                };
                let id = if id.is_empty() {
                    generated_tool_id(&self.id, call)
                } else {
                    id.clone()
                };
                self.call_blocks.push(self.blocks.len());
                self.blocks.push(Block::ToolUse {
                    id,
                    name: name.clone(),
                    input: String::new(),
                });
            }
            // Arguments of no started call cannot be attributed to a call: dropped, as when streaming.
            UpstreamEvent::ToolCallArgs { args, index } => {
                let block = self
                    .calls
                    .args(*index)
                    .and_then(|call| self.call_blocks.get(call))
                    .and_then(|&b| self.blocks.get_mut(b));
                if let Some(Block::ToolUse { input, .. }) = block {
                    input.push_str(args);
                }
            }
            UpstreamEvent::Finish(reason) => {
                self.reason.get_or_insert(*reason);
            }
            _ => {}
        }
    }

    /// The `message` object. A tool's `input` is its arguments parsed as JSON (`{}` when there were none); arguments
    /// that are not valid JSON are passed on as a string, so the client sees what the model produced rather than a
    /// silently emptied input.
    pub fn finish(self) -> Value {
        let mut output_bytes = 0;
        let content: Vec<Value> = self
            .blocks
            .into_iter()
            .map(|block| match block {
                Block::Text(text) => {
                    output_bytes += text.len();
                    json!({"type": "text", "text": text})
                }
                Block::ToolUse { id, name, input } => {
                    output_bytes += name.len() + input.len();
                    let parsed = if input.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&input).unwrap_or(Value::String(input))
                    };
                    json!({"type": "tool_use", "id": id, "name": name, "input": parsed})
                }
            })
            .collect();
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason(self.reason, !self.calls.is_empty()),
            "stop_sequence": null,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": usage::tokens_for_bytes(output_bytes),
            },
        })
    }
}

impl AnswerBuilder for MessageBuilder {
    fn push(&mut self, event: &UpstreamEvent) {
        MessageBuilder::push(self, event);
    }

    fn finish(self) -> Value {
        MessageBuilder::finish(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(id: &str, name: &str) -> UpstreamEvent {
        UpstreamEvent::ToolCallStart {
            id: id.into(),
            name: name.into(),
            index: None,
        }
    }

    fn args(args: &str) -> UpstreamEvent {
        UpstreamEvent::ToolCallArgs {
            args: args.into(),
            index: None,
        }
    }

    fn build(events: &[UpstreamEvent]) -> Value {
        let mut b = MessageBuilder::new("msg_7".into(), "claude-haiku-4-5".into(), 30);
        for e in events {
            b.push(e);
        }
        b.finish()
    }

    #[test]
    fn text_answer() {
        let m = build(&[
            UpstreamEvent::Content("Hello ".into()),
            UpstreamEvent::Content("world".into()),
            UpstreamEvent::Finish(FinishReason::Stop),
            UpstreamEvent::End,
        ]);
        assert_eq!(
            m,
            json!({
                "id": "msg_7", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                "content": [{"type": "text", "text": "Hello world"}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 30, "output_tokens": 3},
            })
        );
    }

    #[test]
    fn tool_use_blocks_carry_parsed_input_in_order() {
        let m = build(&[
            UpstreamEvent::Content("Checking.".into()),
            start("toolu_1", "get_weather"),
            args("{\"city\":"),
            args("\"Paris\"}"),
            start("", "no_args"),
            UpstreamEvent::Finish(FinishReason::ToolCalls),
        ]);
        assert_eq!(
            m["content"],
            json!([
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_7_1", "name": "no_args", "input": {}},
            ])
        );
        assert_eq!(m["stop_reason"], "tool_use");
    }

    #[test]
    fn broken_arguments_are_passed_on_as_text_and_length_is_max_tokens() {
        let m = build(&[
            start("t", "f"),
            args("{\"cut"),
            UpstreamEvent::Finish(FinishReason::Length),
        ]);
        assert_eq!(m["content"][0]["input"], "{\"cut");
        assert_eq!(m["stop_reason"], "max_tokens");
    }

    #[test]
    fn empty_answer_has_no_blocks() {
        let m = build(&[UpstreamEvent::End]);
        assert_eq!(m["content"], json!([]));
        assert_eq!(m["stop_reason"], "end_turn");
        assert_eq!(m["usage"]["output_tokens"], 0);
    }
}
