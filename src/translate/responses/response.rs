//! Non-streaming answers: upstream events → one Response object (`status` completed, or incomplete with
//! `incomplete_details` when the token limit cut it), with estimated usage.

use std::sync::Arc;

use serde_json::Value;

use super::Envelope;
use super::output::{Open, Output};
use crate::translate::AnswerBuilder;
use crate::upstream::event::UpstreamEvent;

/// Collects one answer's events. One per attempt.
pub struct ResponseBuilder {
    output: Output,
}

impl ResponseBuilder {
    pub fn new(env: Arc<Envelope>) -> Self {
        ResponseBuilder {
            output: Output::new(env),
        }
    }

    /// Records one event. End, Skip, Quota and Unknown are the caller's business and change nothing here.
    pub fn push(&mut self, event: &UpstreamEvent) {
        let out = &mut self.output;
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => {
                if out.open_kind() != Some(Open::Message) {
                    out.close(super::output::Status::Completed);
                    out.start_message();
                }
                out.append(text);
            }
            UpstreamEvent::ToolCallStart { id, name } => {
                out.close(super::output::Status::Completed);
                out.start_call(id, name);
            }
            // Arguments belong to the open call; with none open they cannot be attributed, and are dropped as on
            // the other faces.
            UpstreamEvent::ToolCallArgs(args) if out.open_kind() == Some(Open::Call) => {
                out.append(args)
            }
            UpstreamEvent::Finish(reason) => out.reason = Some(*reason),
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
                UpstreamEvent::ToolCallArgs("{\"city\":".into()),
                UpstreamEvent::ToolCallArgs("\"Paris\"}".into()),
                start("", "mcp__probe__probe_nonce"),
                UpstreamEvent::ToolCallArgs("{}".into()),
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
                UpstreamEvent::ToolCallArgs("{\"input\":\"text(1 + ".into()),
                UpstreamEvent::ToolCallArgs("1)\\n\"}".into()),
            ],
        );
        assert_eq!(
            v["output"][0],
            json!({"id": "ctc_abc_0", "type": "custom_tool_call", "status": "completed", "call_id": "toolu_9",
                "name": "exec", "input": "text(1 + 1)\n"})
        );
        // Arguments the model did not shape as {"input": …} are passed on as they are.
        let v = build(
            names,
            &[
                start("t", "exec"),
                UpstreamEvent::ToolCallArgs("ls -la".into()),
            ],
        );
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
            &[
                UpstreamEvent::ToolCallArgs("{}".into()),
                UpstreamEvent::Content(String::new()),
            ],
        );
        assert_eq!(v["output"], json!([]));
        assert_eq!(v["usage"]["output_tokens"], 0);
    }
}
