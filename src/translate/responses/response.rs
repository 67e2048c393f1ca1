//! Non-streaming answers: upstream events → one Response object (`status` completed, or incomplete with
//! `incomplete_details` when the token limit cut it), with estimated usage. A tool call's fragments are grouped by
//! `parallelToolIndex`, so interleaved parallel calls each get their own whole item.

use std::sync::Arc;

use serde_json::Value;

use super::Envelope;
use super::output::{Open, Output, Status};
use crate::translate::AnswerBuilder;
use crate::translate::calls::{CallSlots, Slot};
use crate::upstream::event::UpstreamEvent;

/// Collects one answer's events. One per attempt.
pub struct ResponseBuilder {
    output: Output,
    calls: CallSlots,
    /// The item of each call, by call number.
    call_items: Vec<usize>,
}

impl ResponseBuilder {
    pub fn new(env: Arc<Envelope>) -> Self {
        ResponseBuilder {
            output: Output::new(env),
            calls: CallSlots::default(),
            call_items: Vec::new(),
        }
    }

    /// Records one event. End, Skip, Quota, Unknown and Choice (this API has no `n`, so there is one answer) are
    /// the caller's business and change nothing here.
    pub fn push(&mut self, event: &UpstreamEvent) {
        let out = &mut self.output;
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => {
                if out.open_kind() != Some(Open::Message) {
                    out.close(Status::Completed);
                    out.start_message();
                }
                out.append(out.items.len() - 1, text);
            }
            UpstreamEvent::ToolCallStart { id, name, index } => {
                let Slot::New(call) = self.calls.start(*index, id) else {
                    return;
                };
                out.close(Status::Completed);
                let item = out.start_call(id, name, call);
                self.call_items.push(item);
            }
            // Arguments of no started call cannot be attributed to a call: dropped, as on the other faces.
            UpstreamEvent::ToolCallArgs { args, index } => {
                if let Some(&item) = self
                    .calls
                    .args(*index)
                    .and_then(|call| self.call_items.get(call))
                {
                    out.append(item, args);
                }
            }
            // JetBrains' client keeps the first reason, as the other faces do.
            UpstreamEvent::Finish(reason) => {
                out.reason.get_or_insert(*reason);
            }
            _ => {}
        }
    }

    /// The Response object.
    pub fn finish(mut self) -> Value {
        let status = self.output.final_status();
        self.output.close(status);
        self.output.response(status, None)
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
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::translate::responses::{ClientTool, ToolNames};
    use crate::upstream::event::FinishReason;

    pub(crate) fn envelope(names: ToolNames) -> Arc<Envelope> {
        let mut echo = serde_json::Map::new();
        echo.insert("tools".into(), json!([]));
        echo.insert("store".into(), json!(false));
        Arc::new(Envelope {
            id: "resp_abc".into(),
            created_at: 1700000000,
            model: "gpt-4o".into(),
            input_tokens: 10,
            echo,
            names,
        })
    }

    fn build(names: ToolNames, events: &[UpstreamEvent]) -> Value {
        let mut b = ResponseBuilder::new(envelope(names));
        for event in events {
            b.push(event);
        }
        b.finish()
    }

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

    #[test]
    fn text_answer() {
        let v = build(
            ToolNames::default(),
            &[
                UpstreamEvent::Content("Hello, ".into()),
                UpstreamEvent::Content("world".into()),
                UpstreamEvent::Finish(FinishReason::Stop),
                UpstreamEvent::End,
            ],
        );
        assert_eq!(v["id"], "resp_abc");
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["created_at"], 1700000000);
        assert_eq!(v["model"], "gpt-4o");
        assert_eq!(v["error"], Value::Null);
        assert_eq!(v["incomplete_details"], Value::Null);
        assert_eq!(v["store"], false, "the echo is merged in");
        assert_eq!(
            v["output"],
            json!([{"id": "msg_abc_0", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": "Hello, world", "annotations": [], "logprobs": []}]}])
        );
        assert_eq!(
            v["usage"],
            json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 13})
        );
    }

    #[test]
    fn text_then_calls_are_separate_items_in_order() {
        let mut names = ToolNames::default();
        names.insert(
            "mcp__probe__probe_nonce".into(),
            ClientTool {
                name: "probe_nonce".into(),
                namespace: Some("mcp__probe".into()),
                custom: false,
            },
        );
        let v = build(
            names,
            &[
                UpstreamEvent::Content("Checking.".into()),
                start("toolu_1", "get_weather"),
                args("{\"city\":"),
                args("\"Paris\"}"),
                start("", "mcp__probe__probe_nonce"),
                args("{}"),
                UpstreamEvent::Finish(FinishReason::ToolCalls),
            ],
        );
        let output = v["output"].as_array().unwrap();
        assert_eq!(output.len(), 3, "{v}");
        assert_eq!(output[0]["content"][0]["text"], "Checking.");
        assert_eq!(
            output[1],
            json!({"id": "fc_abc_0", "type": "function_call", "status": "completed", "call_id": "toolu_1",
                "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
        );
        assert_eq!(
            output[2],
            json!({"id": "fc_abc_1", "type": "function_call", "status": "completed", "call_id": "call_abc_1",
                "name": "probe_nonce", "namespace": "mcp__probe", "arguments": "{}"})
        );
        assert_eq!(v["status"], "completed");
    }

    #[test]
    fn custom_tool_calls_carry_the_input_text() {
        let mut names = ToolNames::default();
        names.insert(
            "exec".into(),
            ClientTool {
                name: "exec".into(),
                namespace: None,
                custom: true,
            },
        );
        let v = build(
            names.clone(),
            &[
                start("toolu_9", "exec"),
                args("{\"input\":\"text(1 + "),
                args("1)\\n\"}"),
            ],
        );
        assert_eq!(
            v["output"][0],
            json!({"id": "ctc_abc_0", "type": "custom_tool_call", "status": "completed", "call_id": "toolu_9",
                "name": "exec", "input": "text(1 + 1)\n"})
        );
        // Arguments the model did not shape as {"input": …} are passed on as they are.
        let v = build(names, &[start("t", "exec"), args("ls -la")]);
        assert_eq!(v["output"][0]["input"], "ls -la");
    }

    #[test]
    fn the_token_limit_makes_an_incomplete_response() {
        let v = build(
            ToolNames::default(),
            &[
                UpstreamEvent::Content("Once upon".into()),
                UpstreamEvent::Finish(FinishReason::Length),
            ],
        );
        assert_eq!(v["status"], "incomplete");
        assert_eq!(
            v["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(v["output"][0]["status"], "incomplete");
    }

    #[test]
    fn orphan_arguments_and_empty_text_make_no_items() {
        let v = build(
            ToolNames::default(),
            &[args("{}"), UpstreamEvent::Content(String::new())],
        );
        assert_eq!(v["output"], json!([]));
        assert_eq!(v["usage"]["output_tokens"], 0);
    }
}
