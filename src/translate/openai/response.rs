//! Non-streaming answers: upstream events → one OpenAI `chat.completion` object, with (estimated) usage. Several
//! answers (`n`) are `choices[i]`; tool calls are grouped by their `parallelToolIndex` (see `translate::calls`).

use serde_json::{Value, json};

use super::stream::Usage;
use super::{finish_reason_str, generated_call_id};
use crate::translate::AnswerBuilder;
use crate::translate::calls::{CallSlots, Slot};
use crate::upstream::event::{FinishReason, UpstreamEvent};

/// Answers above this index are not kept (see the stream's limit).
const MAX_CHOICES: usize = 128;

/// Collects one answer's events. One per response.
pub struct ResponseBuilder {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: u32,
    /// Per answer; at least one.
    choices: Vec<Answer>,
    current: usize,
}

#[derive(Default)]
struct Answer {
    content: String,
    tool_calls: Vec<ToolCall>,
    slots: CallSlots,
    /// The first `FinishMetadata` (JetBrains' client keeps the first); content may still follow it.
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
            choices: vec![Answer::default()],
            current: 0,
        }
    }

    /// Records one event. End, Skip, Quota and Unknown are the caller's business and change nothing here.
    pub fn push(&mut self, event: &UpstreamEvent) {
        if let UpstreamEvent::Choice(i) = event {
            let i = usize::try_from(*i).unwrap_or(usize::MAX);
            if i < MAX_CHOICES {
                if self.choices.len() <= i {
                    self.choices.resize_with(i + 1, Answer::default);
                }
                self.current = i;
            }
            return;
        }
        let answer = &mut self.choices[self.current];
        match event {
            UpstreamEvent::Content(text) => answer.content.push_str(text),
            UpstreamEvent::ToolCallStart { id, name, index } => {
                match answer.slots.start(*index, id) {
                    Slot::New(n) => answer.tool_calls.push(ToolCall {
                        id: if id.is_empty() {
                            generated_call_id(n)
                        } else {
                            id.clone()
                        },
                        name: name.clone(),
                        arguments: String::new(),
                    }),
                    // JetBrains' client takes the first non-empty name of a call.
                    Slot::Same(n) => {
                        if let Some(call) = answer.tool_calls.get_mut(n)
                            && call.name.is_empty()
                        {
                            call.name.clone_from(name);
                        }
                    }
                }
            }
            // Arguments of no started call cannot be attributed to a call: dropped, as when streaming.
            UpstreamEvent::ToolCallArgs { args, index } => {
                if let Some(call) = answer
                    .slots
                    .args(*index)
                    .and_then(|n| answer.tool_calls.get_mut(n))
                {
                    call.arguments.push_str(args);
                }
            }
            UpstreamEvent::Finish(reason) => {
                answer.reason.get_or_insert(*reason);
            }
            UpstreamEvent::Choice(_)
            | UpstreamEvent::Quota(_)
            | UpstreamEvent::End
            | UpstreamEvent::Skip
            | UpstreamEvent::Unknown(_)
            | UpstreamEvent::Native(_) => {}
        }
    }

    /// The `chat.completion` object. `content` is null when an answer is only tool calls; `usage` is always
    /// present and estimated.
    pub fn finish(self) -> Value {
        let completion_bytes: usize = self
            .choices
            .iter()
            .map(|a| {
                a.content.len()
                    + a.tool_calls
                        .iter()
                        .map(|c| c.arguments.len())
                        .sum::<usize>()
            })
            .sum();
        let usage = Usage::new(self.prompt_tokens, completion_bytes);
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .enumerate()
            .map(|(index, answer)| choice(index, answer))
            .collect();
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        })
    }
}

fn choice(index: usize, answer: Answer) -> Value {
    let finish_reason = finish_reason_str(answer.reason, !answer.tool_calls.is_empty());
    let content = if answer.content.is_empty() && !answer.tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(answer.content)
    };
    // `refusal` and `logprobs` are required (nullable) in OpenAI's spec: strict clients reject answers without.
    let mut message = json!({ "role": "assistant", "content": content, "refusal": null });
    if !answer.tool_calls.is_empty() {
        let calls: Vec<Value> = answer
            .tool_calls
            .into_iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        message["tool_calls"] = Value::Array(calls);
    }
    json!({ "index": index, "message": message, "logprobs": null, "finish_reason": finish_reason })
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
            start("toolu_01", "get_weather"),
            args("{\"city\":"),
            args("\"Paris\"}"),
            start("toolu_02", "get_time"),
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
            start("", "f"),
            args("{}"),
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
        let v = build(&[args("{}"), UpstreamEvent::Content("ok".into())]);
        assert!(v["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(v["usage"]["completion_tokens"], 1);
    }
}
