//! The answer as it is assembled from upstream events, shared by the streamed and the whole answer: output items
//! (an assistant `message` of `output_text`, `function_call`, `custom_tool_call`) and the Response object around
//! them. Text goes to the open message; a tool call starts a new item, and its arguments go to its own item (the
//! caller finds it by the call's `parallelToolIndex`, `translate::calls`), so the items come out in the order the
//! upstream began them.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Envelope;
use crate::translate::usage;
use crate::upstream::event::FinishReason;

/// What a Response's `status` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    InProgress,
    Completed,
    /// Cut at the token limit (`max_output_tokens`).
    Incomplete,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete => "incomplete",
            Status::Failed => "failed",
        }
    }
}

pub(super) enum Item {
    Message {
        id: String,
        text: String,
        status: Status,
    },
    Call(Call),
}

pub(super) struct Call {
    pub id: String,
    pub call_id: String,
    /// The client's name and namespace (see `ToolNames`).
    pub name: String,
    pub namespace: Option<String>,
    pub custom: bool,
    /// The upstream's arguments, as JSON text.
    pub arguments: String,
    pub status: Status,
}

impl Call {
    /// A custom tool's input text: the `input` string of the arguments its upstream function took, or the raw
    /// arguments when the model did not write that shape.
    pub fn input(&self) -> String {
        match serde_json::from_str::<Value>(&self.arguments) {
            Ok(Value::Object(mut args)) => match args.remove("input") {
                Some(Value::String(input)) => input,
                _ => self.arguments.clone(),
            },
            _ => self.arguments.clone(),
        }
    }
}

/// One answer's output so far.
pub(super) struct Output {
    pub env: Arc<Envelope>,
    pub items: Vec<Item>,
    /// Whether the last item still takes text or arguments.
    pub open: bool,
    /// The first `FinishMetadata` (JetBrains' client keeps the first); content may still follow it.
    pub reason: Option<FinishReason>,
    /// UTF-8 bytes of text and arguments, estimated as tokens once at the end.
    output_bytes: usize,
    messages: usize,
}

/// The kind of the open item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Open {
    Message,
    Call,
}

impl Output {
    pub fn new(env: Arc<Envelope>) -> Self {
        Output {
            env,
            items: Vec::new(),
            open: false,
            reason: None,
            output_bytes: 0,
            messages: 0,
        }
    }

    pub fn open_kind(&self) -> Option<Open> {
        match self.items.last() {
            Some(Item::Message { .. }) if self.open => Some(Open::Message),
            Some(Item::Call(_)) if self.open => Some(Open::Call),
            _ => None,
        }
    }

    /// The id's random part, which item ids share so they stay unique across turns.
    fn suffix(&self) -> &str {
        self.env.id.strip_prefix("resp_").unwrap_or(&self.env.id)
    }

    /// Starts a message (the caller closed the open item); its index.
    pub fn start_message(&mut self) -> usize {
        let id = format!("msg_{}_{}", self.suffix(), self.messages);
        self.messages += 1;
        self.items.push(Item::Message {
            id,
            text: String::new(),
            status: Status::InProgress,
        });
        self.open = true;
        self.items.len() - 1
    }

    /// Starts call number `n` of the answer (0-based, in the order the calls began), of the upstream tool
    /// `upstream_name` (the caller closed the open item); its index. A call without an upstream id (v7) gets one
    /// derived from the response's.
    pub fn start_call(&mut self, upstream_id: &str, upstream_name: &str, n: usize) -> usize {
        let tool = self.env.names.client(upstream_name);
        let suffix = self.suffix();
        let call_id = match upstream_id {
            "" => format!("call_{suffix}_{n}"),
            id => id.to_string(),
        };
        let prefix = if tool.custom { "ctc" } else { "fc" };
        let id = format!("{prefix}_{suffix}_{n}");
        self.output_bytes += upstream_name.len();
        self.items.push(Item::Call(Call {
            id,
            call_id,
            name: tool.name,
            namespace: tool.namespace,
            custom: tool.custom,
            arguments: String::new(),
            status: Status::InProgress,
        }));
        self.open = true;
        self.items.len() - 1
    }

    /// Appends text or arguments to the item at `index`.
    pub fn append(&mut self, index: usize, delta: &str) {
        self.output_bytes += delta.len();
        match self.items.get_mut(index) {
            Some(Item::Message { text, .. }) => text.push_str(delta),
            Some(Item::Call(call)) => call.arguments.push_str(delta),
            None => {}
        }
    }

    /// Closes the open item with `status`; its index, or `None` when no item was open.
    pub fn close(&mut self, status: Status) -> Option<usize> {
        if !self.open {
            return None;
        }
        self.open = false;
        match self.items.last_mut() {
            Some(Item::Message { status: s, .. }) => *s = status,
            Some(Item::Call(call)) => call.status = status,
            None => return None,
        }
        Some(self.items.len() - 1)
    }

    /// How the answer ends: incomplete when the upstream stopped at the token limit.
    pub fn final_status(&self) -> Status {
        match self.reason {
            Some(FinishReason::Length) => Status::Incomplete,
            _ => Status::Completed,
        }
    }

    /// The item as the client sees it.
    pub fn item_json(&self, index: usize) -> Value {
        match &self.items[index] {
            Item::Message { id, text, status } => json!({
                "id": id,
                "type": "message",
                "role": "assistant",
                "status": status.as_str(),
                "content": if *status == Status::InProgress && text.is_empty() {
                    json!([])
                } else {
                    json!([text_part(text)])
                },
            }),
            Item::Call(call) => {
                let mut item = if call.custom {
                    let input = if call.status == Status::InProgress {
                        String::new()
                    } else {
                        call.input()
                    };
                    json!({"type": "custom_tool_call", "input": input})
                } else {
                    json!({"type": "function_call", "arguments": call.arguments})
                };
                item["id"] = json!(call.id);
                item["call_id"] = json!(call.call_id);
                item["name"] = json!(call.name);
                item["status"] = json!(call.status.as_str());
                if let Some(namespace) = &call.namespace {
                    item["namespace"] = json!(namespace);
                }
                item
            }
        }
    }

    /// The Response object: the envelope's fields, `status`, the items (none while in progress), and for an
    /// answer that ended, usage (estimated) and, when it failed, `error`.
    pub fn response(&self, status: Status, error: Option<&str>) -> Value {
        let env = &self.env;
        let mut response = Map::with_capacity(env.echo.len() + 12);
        response.insert("id".into(), json!(env.id));
        response.insert("object".into(), json!("response"));
        response.insert("created_at".into(), json!(env.created_at));
        response.insert("status".into(), json!(status.as_str()));
        response.insert("model".into(), json!(env.model));
        let output: Vec<Value> = match status {
            Status::InProgress => Vec::new(),
            _ => (0..self.items.len()).map(|i| self.item_json(i)).collect(),
        };
        response.insert("output".into(), Value::Array(output));
        response.insert(
            "error".into(),
            match error {
                Some(message) => json!({"code": "server_error", "message": message}),
                None => Value::Null,
            },
        );
        response.insert(
            "incomplete_details".into(),
            match status {
                Status::Incomplete => json!({"reason": "max_output_tokens"}),
                _ => Value::Null,
            },
        );
        // `usage` is an object or absent (the spec does not allow null): absent until the answer ends.
        if status != Status::InProgress {
            response.insert("usage".into(), self.usage());
        }
        for (key, value) in &env.echo {
            response.insert(key.clone(), value.clone());
        }
        Value::Object(response)
    }

    /// `usage`, estimated (the upstream reports no token counts).
    fn usage(&self) -> Value {
        let input = self.env.input_tokens;
        let output = usage::tokens_for_bytes(self.output_bytes);
        json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input.saturating_add(output),
        })
    }
}

/// An `output_text` content part.
pub(super) fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}
