//! The fake's Anthropic Messages route: Anthropic's request rules (no unknown fields, `max_tokens` required,
//! thinking blocks signed, `cache_control` ephemeral, a thinking budget of at least 1024 below `max_tokens`) and
//! Anthropic's answer, with a signed thinking block when thinking is on and the usage Anthropic reports.

use serde_json::{Map, Value, json};

use super::{Answer, Asked, Refusal, content_text, sse, text_chars, tokens};
use crate::models::native::{Family, ids_of};

const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "service_tier",
];
const BLOCKS: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
];

fn refuse(message: String) -> Refusal {
    Refusal(
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}),
    )
}

/// Checks a body as Anthropic's API does.
pub fn validate(body: &Value) -> Result<Asked, Refusal> {
    let Some(fields) = body.as_object() else {
        return Err(refuse("the body must be a JSON object".into()));
    };
    if let Some(extra) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(refuse(format!("{extra}: Extra inputs are not permitted")));
    }
    let model = fields.get("model").and_then(Value::as_str).unwrap_or("");
    if !ids_of(Family::Anthropic).any(|id| id == model) {
        let known: Vec<&str> = ids_of(Family::Anthropic).collect();
        return Err(refuse(format!("Unsupported model [{}]", known.join(", "))));
    }
    let Some(max_tokens) = fields
        .get("max_tokens")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
    else {
        return Err(refuse(
            "max_tokens: Field required (a positive integer)".into(),
        ));
    };
    let thinking = thinking(fields, max_tokens)?;
    let mut cached_blocks = 0;
    if let Some(system) = fields.get("system") {
        match system {
            Value::String(_) => {}
            Value::Array(blocks) => {
                for (j, block) in blocks.iter().enumerate() {
                    let at = format!("system.{j}");
                    if block.get("type").and_then(Value::as_str) != Some("text") {
                        return Err(refuse(format!("{at}.type: Input should be 'text'")));
                    }
                    cached_blocks += cache_control(block, &at)?;
                }
            }
            _ => {
                return Err(refuse(
                    "system: Input should be a string or a list of blocks".into(),
                ));
            }
        }
    }
    let Some(messages) = fields
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
    else {
        return Err(refuse("messages: at least one message is required".into()));
    };
    let mut last_user_text = String::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages.{i}");
        let role = message.get("role").and_then(Value::as_str);
        if !matches!(role, Some("user" | "assistant")) {
            return Err(refuse(format!(
                "{at}.role: Input should be 'user' or 'assistant'"
            )));
        }
        match message.get("content") {
            Some(Value::String(_)) => {}
            Some(Value::Array(blocks)) if !blocks.is_empty() => {
                for (j, block) in blocks.iter().enumerate() {
                    cached_blocks += check_block(
                        block,
                        role == Some("assistant"),
                        &format!("{at}.content.{j}"),
                    )?;
                }
            }
            _ => {
                return Err(refuse(format!(
                    "{at}.content: a string or a non-empty list of blocks"
                )));
            }
        }
        if role == Some("user") {
            last_user_text = content_text(message.get("content"));
        }
    }
    Ok(Asked {
        model: model.to_owned(),
        stream: fields.get("stream").and_then(Value::as_bool) == Some(true),
        last_user_text,
        thinking,
        cached_blocks,
        include_usage: true,
        input_tokens: tokens(text_chars(body)),
    })
}

fn thinking(fields: &Map<String, Value>, max_tokens: u64) -> Result<bool, Refusal> {
    let Some(thinking) = fields.get("thinking") else {
        return Ok(false);
    };
    match thinking.get("type").and_then(Value::as_str) {
        Some("disabled") => Ok(false),
        Some("enabled") => match thinking.get("budget_tokens").and_then(Value::as_u64) {
            Some(budget) if budget >= 1024 && budget < max_tokens => Ok(true),
            _ => Err(refuse(
                "thinking.budget_tokens: must be at least 1024 and less than max_tokens".into(),
            )),
        },
        _ => Err(refuse(
            "thinking.type: Input should be 'enabled' or 'disabled'".into(),
        )),
    }
}

/// One content block; returns 1 when it carries `cache_control`.
fn check_block(block: &Value, assistant: bool, at: &str) -> Result<usize, Refusal> {
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
    if !BLOCKS.contains(&kind) {
        return Err(refuse(format!("{at}.type: unknown block type {kind:?}")));
    }
    let string = |key: &str| {
        block
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match kind {
        "text" if string("text").is_none() => {
            return Err(refuse(format!(
                "{at}.text: text content blocks must be non-empty"
            )));
        }
        "thinking" if !assistant => {
            return Err(refuse(format!(
                "{at}: thinking blocks belong to assistant messages"
            )));
        }
        "thinking" if string("signature").is_none() => {
            return Err(refuse(format!("{at}.signature: Field required")));
        }
        "tool_use" if string("id").is_none() || string("name").is_none() => {
            return Err(refuse(format!("{at}: tool_use needs an id and a name")));
        }
        "tool_result" if string("tool_use_id").is_none() => {
            return Err(refuse(format!("{at}.tool_use_id: Field required")));
        }
        _ => {}
    }
    cache_control(block, at)
}

fn cache_control(block: &Value, at: &str) -> Result<usize, Refusal> {
    match block.get("cache_control") {
        None => Ok(0),
        Some(cc) if cc.get("type").and_then(Value::as_str) == Some("ephemeral") => Ok(1),
        Some(_) => Err(refuse(format!(
            "{at}.cache_control.type: Input should be 'ephemeral'"
        ))),
    }
}

/// The answer: an echo of the last user text, after a signed thinking block when thinking is on.
pub fn answer(asked: &Asked, serial: u64, pieces: usize) -> Answer {
    let id = format!("msg_fake_{serial}");
    let text = format!("Echo: {}", asked.last_user_text);
    let thought = "Thinking about the echo.";
    let signature = format!("sig-fake-{serial}");
    let output_tokens = tokens(text.len() + if asked.thinking { thought.len() } else { 0 });
    let cache_creation = if asked.cached_blocks > 0 {
        asked.input_tokens
    } else {
        0
    };
    let usage = json!({
        "input_tokens": asked.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": 0,
    });
    let mut content = Vec::new();
    if asked.thinking {
        content.push(json!({"type": "thinking", "thinking": thought, "signature": signature}));
    }
    content.push(json!({"type": "text", "text": text}));
    if !asked.stream {
        return Answer::Whole(json!({
            "id": id, "type": "message", "role": "assistant", "model": asked.model, "content": content,
            "stop_reason": "end_turn", "stop_sequence": null, "usage": usage,
        }));
    }
    let start_usage = json!({
        "input_tokens": asked.input_tokens, "output_tokens": 1,
        "cache_creation_input_tokens": cache_creation, "cache_read_input_tokens": 0,
    });
    let mut frames = vec![sse(
        Some("message_start"),
        &json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant",
            "model": asked.model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
    )];
    let mut index = 0;
    if asked.thinking {
        frames.push(sse(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ));
        frames.push(sse(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": thought}}),
        ));
        frames.push(sse(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": signature}}),
        ));
        frames.push(sse(
            Some("content_block_stop"),
            &json!({"type": "content_block_stop", "index": 0}),
        ));
        index = 1;
    }
    frames.push(sse(
        Some("content_block_start"),
        &json!({"type": "content_block_start", "index": index,
        "content_block": {"type": "text", "text": ""}}),
    ));
    for piece in crate::fake_upstream::reply::split_even(&text, pieces) {
        frames.push(sse(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    frames.push(sse(
        Some("content_block_stop"),
        &json!({"type": "content_block_stop", "index": index}),
    ));
    frames.push(sse(Some("message_delta"), &json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": output_tokens}})));
    frames.push(sse(Some("message_stop"), &json!({"type": "message_stop"})));
    Answer::Stream(frames)
}
