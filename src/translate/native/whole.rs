//! A whole native answer built from the stream jbproxy asked for: a client that did not ask to stream still gets
//! a streamed answer from upstream, so the first-content and idle deadlines, and the failover of an answer cut
//! midway, work as for every other answer. The records are folded into the object the provider would have sent
//! whole: Anthropic's `message` (text, thinking with its signature, tool input from its JSON fragments, the usage
//! of `message_start` updated by `message_delta`), OpenAI's `chat.completion` (content, refusal and tool calls per
//! choice, the usage chunk). An answer that came whole is kept as it came.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::models::native::Family;

/// The fold of one answer's records.
pub enum Whole {
    Anthropic(AnthropicWhole),
    OpenAi(OpenAiWhole),
}

impl Whole {
    pub fn new(family: Family) -> Self {
        match family {
            Family::Anthropic => Whole::Anthropic(AnthropicWhole::default()),
            Family::OpenAi => Whole::OpenAi(OpenAiWhole::default()),
        }
    }

    pub fn push(&mut self, record: &Value) {
        match self {
            Whole::Anthropic(whole) => whole.push(record),
            Whole::OpenAi(whole) => whole.push(record),
        }
    }

    pub fn finish(self) -> Value {
        match self {
            Whole::Anthropic(whole) => whole.finish(),
            Whole::OpenAi(whole) => whole.finish(),
        }
    }
}

#[derive(Default)]
pub struct AnthropicWhole {
    /// An answer that came whole (`"type": "message"`).
    whole: Option<Value>,
    message: Map<String, Value>,
    blocks: Vec<Value>,
    /// A tool_use block's `input`, as JSON fragments until its `content_block_stop`.
    partial_json: BTreeMap<usize, String>,
}

impl AnthropicWhole {
    fn push(&mut self, record: &Value) {
        let index = record
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok());
        match record.get("type").and_then(Value::as_str) {
            Some("message") => self.whole = Some(record.clone()),
            Some("message_start") => {
                if let Some(Value::Object(message)) = record.get("message") {
                    self.message = message.clone();
                }
            }
            Some("content_block_start") => {
                // A block may only follow the ones before it: an index far ahead would make a vector of that size.
                if let (Some(i), Some(block)) = (index, record.get("content_block"))
                    && i <= self.blocks.len()
                {
                    if self.blocks.len() <= i {
                        self.blocks.resize(i + 1, Value::Null);
                    }
                    self.blocks[i] = block.clone();
                }
            }
            Some("content_block_delta") => {
                let (Some(i), Some(delta)) = (index, record.get("delta")) else {
                    return;
                };
                let Some(block) = self.blocks.get_mut(i) else {
                    return;
                };
                let text = |key| delta.get(key).and_then(Value::as_str).unwrap_or_default();
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => append(block, "text", text("text")),
                    Some("thinking_delta") => append(block, "thinking", text("thinking")),
                    Some("signature_delta") => block["signature"] = json!(text("signature")),
                    Some("input_json_delta") => self
                        .partial_json
                        .entry(i)
                        .or_default()
                        .push_str(text("partial_json")),
                    Some("citations_delta") => {
                        if let Some(citation) = delta.get("citation") {
                            match block.get_mut("citations").and_then(Value::as_array_mut) {
                                Some(list) => list.push(citation.clone()),
                                None => block["citations"] = json!([citation]),
                            }
                        }
                    }
                    _ => {}
                }
            }
            Some("content_block_stop") => {
                if let (Some(i), Some(json)) =
                    (index, index.and_then(|i| self.partial_json.remove(&i)))
                {
                    let input = serde_json::from_str(&json).unwrap_or_else(|err| {
                        tracing::warn!(
                            "the upstream's tool input for block {i} is not JSON ({err}); the client gets {{}}"
                        );
                        json!({})
                    });
                    if let Some(block) = self.blocks.get_mut(i) {
                        block["input"] = input;
                    }
                }
            }
            Some("message_delta") => {
                if let Some(Value::Object(delta)) = record.get("delta") {
                    for (key, value) in delta {
                        self.message.insert(key.clone(), value.clone());
                    }
                }
                if let Some(Value::Object(usage)) = record.get("usage") {
                    let merged = self.message.entry("usage").or_insert_with(|| json!({}));
                    for (key, value) in usage {
                        merged[key.as_str()] = value.clone();
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(self) -> Value {
        if let Some(whole) = self.whole {
            return whole;
        }
        let mut message = self.message;
        let blocks = self.blocks.into_iter().filter(|b| !b.is_null()).collect();
        message.insert("content".into(), Value::Array(blocks));
        Value::Object(message)
    }
}

/// One choice of an OpenAI answer, as its chunks build it.
#[derive(Default)]
struct Choice {
    role: Option<Value>,
    content: Option<String>,
    refusal: Option<String>,
    tool_calls: BTreeMap<u64, Value>,
    finish_reason: Value,
}

#[derive(Default)]
pub struct OpenAiWhole {
    whole: Option<Value>,
    /// `id`, `created`, `model`, `system_fingerprint`, `service_tier`, from the chunks.
    head: Map<String, Value>,
    choices: BTreeMap<u64, Choice>,
    usage: Option<Value>,
}

impl OpenAiWhole {
    fn push(&mut self, chunk: &Value) {
        if chunk.get("object").and_then(Value::as_str) == Some("chat.completion") {
            self.whole = Some(chunk.clone());
            return;
        }
        for key in [
            "id",
            "created",
            "model",
            "system_fingerprint",
            "service_tier",
        ] {
            if let Some(value) = chunk.get(key).filter(|v| !v.is_null()) {
                self.head.insert(key.into(), value.clone());
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        for choice in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let entry = self.choices.entry(index).or_default();
            if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
                entry.finish_reason = reason.clone();
            }
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(role) = delta.get("role").filter(|r| !r.is_null()) {
                entry.role = Some(role.clone());
            }
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                entry.content.get_or_insert_default().push_str(text);
            }
            if let Some(text) = delta.get("refusal").and_then(Value::as_str) {
                entry.refusal.get_or_insert_default().push_str(text);
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let at = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let slot = entry.tool_calls.entry(at).or_insert_with(
                    || json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}}),
                );
                for key in ["id", "type"] {
                    if let Some(value) = call.get(key).filter(|v| !v.is_null()) {
                        slot[key] = value.clone();
                    }
                }
                let function = call.get("function");
                let part = |key| function.and_then(|f| f.get(key)).and_then(Value::as_str);
                if let Some(name) = part("name") {
                    append(&mut slot["function"], "name", name);
                }
                if let Some(arguments) = part("arguments") {
                    append(&mut slot["function"], "arguments", arguments);
                }
            }
        }
    }

    fn finish(self) -> Value {
        if let Some(whole) = self.whole {
            return whole;
        }
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .map(|(index, choice)| {
                let mut message = json!({
                    "role": choice.role.unwrap_or_else(|| json!("assistant")),
                    "content": choice.content,
                    "refusal": choice.refusal,
                });
                if !choice.tool_calls.is_empty() {
                    message["tool_calls"] = Value::Array(choice.tool_calls.into_values().collect());
                }
                json!({"index": index, "message": message, "finish_reason": choice.finish_reason, "logprobs": null})
            })
            .collect();
        let mut answer = self.head;
        answer.insert("object".into(), json!("chat.completion"));
        answer.insert("choices".into(), Value::Array(choices));
        if let Some(usage) = self.usage {
            answer.insert("usage".into(), usage);
        }
        Value::Object(answer)
    }
}

/// Appends `text` to the string at `key` of `target` (an object), starting it when absent.
fn append(target: &mut Value, key: &str, text: &str) {
    match target.get_mut(key) {
        Some(Value::String(s)) => s.push_str(text),
        _ => target[key] = json!(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(family: Family, records: &[Value]) -> Value {
        let mut whole = Whole::new(family);
        for record in records {
            whole.push(record);
        }
        whole.finish()
    }

    #[test]
    fn an_anthropic_stream_folds_into_its_message() {
        let message = fold(
            Family::Anthropic,
            &[
                json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                    "model": "claude-opus-4-7", "content": [], "stop_reason": null,
                    "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 4}}}),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm, "}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "yes."}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
                json!({"type": "content_block_stop", "index": 1}),
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}}}),
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
                json!({"type": "content_block_stop", "index": 2}),
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 42}}),
                json!({"type": "message_stop"}),
            ],
        );
        assert_eq!(
            message["content"],
            json!([
                {"type": "thinking", "thinking": "Hm, yes.", "signature": "sig"},
                {"type": "text", "text": "Hi"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
            ])
        );
        assert_eq!(message["stop_reason"], "tool_use");
        assert_eq!(
            message["usage"],
            json!({"input_tokens": 10, "output_tokens": 42, "cache_read_input_tokens": 4})
        );
        assert_eq!(message["id"], "msg_1");
    }

    #[test]
    fn openai_chunks_fold_into_a_chat_completion() {
        let chunk = |choices: Value| json!({"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "gpt-4.1", "choices": choices});
        let mut last = chunk(json!([]));
        last["usage"] = json!({"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8});
        let completion = fold(
            Family::OpenAi,
            &[
                chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
                ),
                chunk(json!([{"index": 0, "delta": {"content": "He"}, "finish_reason": null}])),
                chunk(json!([{"index": 0, "delta": {"content": "llo"}, "finish_reason": null}])),
                chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": "f", "arguments": "{\"a\""}}]}, "finish_reason": null}]),
                ),
                chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]},
                    "finish_reason": null}]),
                ),
                chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
                last,
            ],
        );
        assert_eq!(completion["object"], "chat.completion");
        assert_eq!(completion["id"], "c1");
        let message = &completion["choices"][0]["message"];
        assert_eq!(message["content"], "Hello");
        assert_eq!(
            message["tool_calls"],
            json!([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}])
        );
        assert_eq!(completion["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(completion["usage"]["total_tokens"], 8);
    }

    #[test]
    fn an_answer_that_came_whole_is_kept() {
        let whole = json!({"type": "message", "content": [{"type": "text", "text": "x"}]});
        assert_eq!(fold(Family::Anthropic, std::slice::from_ref(&whole)), whole);
        let whole = json!({"object": "chat.completion", "choices": []});
        assert_eq!(fold(Family::OpenAi, std::slice::from_ref(&whole)), whole);
    }
}
