//! The fake's OpenAI Chat Completions route: OpenAI's request rules (no unknown arguments, the model among the
//! route's ids, `stream_options` only with `stream`) and OpenAI's answer, with the usage chunk when asked.

use serde_json::{Value, json};

use super::{Answer, Asked, Refusal, content_text, sse, text_chars, tokens};
use crate::models::native::{Family, ids_of};

const FIELDS: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "n",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "seed",
    "reasoning_effort",
    "verbosity",
    "metadata",
    "store",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
];

fn refuse(message: String, param: Option<&str>) -> Refusal {
    Refusal(
        json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}}),
    )
}

/// Checks a body as OpenAI's API does.
pub fn validate(body: &Value) -> Result<Asked, Refusal> {
    let Some(fields) = body.as_object() else {
        return Err(refuse("the body must be a JSON object".into(), None));
    };
    if let Some(extra) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(refuse(
            format!("Unrecognized request argument supplied: {extra}"),
            Some(extra),
        ));
    }
    let model = fields.get("model").and_then(Value::as_str).unwrap_or("");
    if !ids_of(Family::OpenAi).any(|id| id == model) {
        let known: Vec<&str> = ids_of(Family::OpenAi).collect();
        return Err(refuse(
            format!("Unsupported model [{}]", known.join(", ")),
            Some("model"),
        ));
    }
    let stream = fields.get("stream").and_then(Value::as_bool) == Some(true);
    if fields.contains_key("stream_options") && !stream {
        return Err(refuse(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.".into(),
            Some("stream_options"),
        ));
    }
    let Some(messages) = fields
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
    else {
        return Err(refuse(
            "messages: at least one message is required".into(),
            Some("messages"),
        ));
    };
    let mut last_user_text = String::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        if !matches!(
            role,
            Some("system" | "developer" | "user" | "assistant" | "tool")
        ) {
            return Err(refuse(
                format!("Invalid value for 'messages[{i}].role'"),
                Some("messages"),
            ));
        }
        if role == Some("user") {
            last_user_text = content_text(message.get("content"));
        }
    }
    let include_usage = fields
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true);
    Ok(Asked {
        model: model.to_owned(),
        stream,
        last_user_text,
        thinking: false,
        cached_blocks: 0,
        include_usage,
        input_tokens: tokens(text_chars(&json!(messages))),
    })
}

/// The answer: an echo of the last user text.
pub fn answer(asked: &Asked, serial: u64, pieces: usize) -> Answer {
    let id = format!("chatcmpl-fake{serial}");
    let created = crate::epoch::now_secs_unsigned();
    let text = format!("Echo: {}", asked.last_user_text);
    let completion = tokens(text.len());
    let usage = json!({
        "prompt_tokens": asked.input_tokens,
        "completion_tokens": completion,
        "total_tokens": asked.input_tokens + completion,
    });
    if !asked.stream {
        return Answer::Whole(json!({
            "id": id, "object": "chat.completion", "created": created, "model": asked.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage,
        }));
    }
    let chunk = |choices: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": asked.model,
            "choices": choices})
    };
    let mut frames = vec![sse(
        None,
        &chunk(
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
        ),
    )];
    for piece in crate::fake_upstream::reply::split_even(&text, pieces) {
        frames.push(sse(
            None,
            &chunk(json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}])),
        ));
    }
    frames.push(sse(
        None,
        &chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
    ));
    if asked.include_usage {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        frames.push(sse(None, &last));
    }
    frames.push(bytes::Bytes::from_static(b"data: [DONE]\n\n"));
    Answer::Stream(frames)
}
