//! The Anthropic Messages request as jbproxy reads it, and its conversion into the OpenAI chat shape that
//! [`request::build`] already maps to the upstream. Converting (rather than mapping to Grazie a second time) keeps
//! one copy of the message mapping, the image checks and the tool-schema cleaning for both faces.
//!
//! Parsing is lenient: fields the upstream has no use for are accepted and dropped. `max_tokens`, `temperature`,
//! `top_p`, `top_k`, `stop_sequences`, `metadata`, `thinking` and `cache_control` have no upstream equivalent (JetBrains
//! AI takes no sampling parameters); `tool_choice` is not sent either. Errors name the Anthropic field at fault.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::UpstreamApi;
use crate::translate::openai::request::ChatRequest;
use crate::translate::request::{self, TranslateError};
use crate::upstream::request::GrazieRequest;

/// `POST /v1/messages` (and `/v1/messages/count_tokens`) body. Messages, system and tools stay raw JSON so that
/// every error can name its exact path.
#[derive(Debug, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<Value>,
    /// A string or an array of text blocks.
    #[serde(default)]
    pub system: Option<Value>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    /// Accepted, never sent: the upstream has no such field.
    #[serde(default)]
    pub tool_choice: Option<Value>,
}

/// A request in the OpenAI shape, plus where each of its parts came from in the Anthropic request, so that errors
/// from the shared mapping can name the Anthropic field.
#[derive(Debug)]
pub struct Converted {
    pub chat: ChatRequest,
    origins: Vec<Origin>,
}

/// Where one OpenAI message came from: the Anthropic path of the message (or block), and of each content part when
/// the OpenAI message has parts.
#[derive(Debug, Clone, PartialEq)]
struct Origin {
    at: String,
    parts: Vec<String>,
}

impl Converted {
    /// The upstream request, via the shared mapping; its errors are relocated to Anthropic paths.
    pub fn build(
        &self,
        profile: &str,
        api: UpstreamApi,
        now_ms: i64,
    ) -> Result<GrazieRequest, TranslateError> {
        request::build(&self.chat, profile, api, now_ms).map_err(|e| self.relocate(e))
    }

    fn relocate(&self, err: TranslateError) -> TranslateError {
        let Some(param) = err.param.as_deref() else {
            return err;
        };
        let detail = err
            .message
            .strip_prefix(param)
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(&err.message);
        let at = self.anthropic_path(param);
        TranslateError {
            message: format!("{at}: {detail}"),
            param: Some(at),
        }
    }

    /// The Anthropic path for an OpenAI-shaped `param` such as `messages[3].content[1].image_url.url`.
    fn anthropic_path(&self, param: &str) -> String {
        if let Some((n, rest)) = indexed(param, "messages[") {
            let Some(origin) = self.origins.get(n) else {
                return param.to_string();
            };
            if let Some((j, tail)) = indexed(rest, ".content[")
                && let Some(part) = origin.parts.get(j)
            {
                return format!("{part}{}", rename(tail));
            }
            return format!("{}{}", origin.at, rename(rest));
        }
        if let Some((i, tail)) = indexed(param, "tools[") {
            let tail = match tail {
                ".function.parameters" => ".input_schema",
                ".function" => "",
                other => other.strip_prefix(".function").unwrap_or(other),
            };
            return format!("tools[{i}]{tail}");
        }
        param.to_string()
    }
}

/// `("messages[3].content", "[")` style split: the index after `prefix` and the rest after its `]`.
fn indexed<'a>(text: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let (index, rest) = text.strip_prefix(prefix)?.split_once(']')?;
    Some((index.parse().ok()?, rest))
}

/// OpenAI field names → Anthropic ones, for the tail of a relocated path.
fn rename(tail: &str) -> String {
    match tail {
        ".image_url.url" | ".image_url" => ".source".into(),
        ".tool_call_id" => ".tool_use_id".into(),
        other => other.into(),
    }
}

fn error(at: impl Into<String>, message: impl std::fmt::Display) -> TranslateError {
    let at = at.into();
    TranslateError {
        message: format!("{at}: {message}"),
        param: Some(at),
    }
}

/// Client text quoted back in an error, cut so an error can never carry a whole prompt.
fn short(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

impl MessagesRequest {
    /// Converts into the OpenAI shape. Consumes the request so large strings (images) move instead of copying twice.
    ///
    /// - `system` → one `system` message.
    /// - A user message's `tool_result` blocks → one `tool` message each, first (the upstream wants results right
    ///   after the calls); its text and `image` blocks, and images inside tool results, → one user message after them.
    /// - An assistant message's text blocks → its text; `tool_use` blocks → `tool_calls` (input serialized as the
    ///   arguments JSON); `thinking` blocks are dropped (jbproxy never produces them; the upstream takes none).
    /// - Tools `{name, description, input_schema}` → function tools. Server tools (a `type` other than `custom`)
    ///   are refused: the upstream cannot run them.
    pub fn into_chat(self) -> Result<Converted, TranslateError> {
        if self.messages.is_empty() {
            return Err(error("messages", "must contain at least one message"));
        }
        let mut out = Vec::with_capacity(self.messages.len() + 2);
        let mut origins = Vec::with_capacity(self.messages.len() + 2);
        if let Some(system) = self.system
            && let Some(text) = system_text(system)?
            && !text.is_empty()
        {
            out.push(json!({"role": "system", "content": text}));
            origins.push(Origin {
                at: "system".into(),
                parts: Vec::new(),
            });
        }
        for (i, message) in self.messages.into_iter().enumerate() {
            convert_message(i, message, &mut out, &mut origins)?;
        }
        let tools = match self.tools {
            None => None,
            Some(tools) => Some(
                tools
                    .into_iter()
                    .enumerate()
                    .map(|(i, tool)| convert_tool(i, tool))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(Converted {
            chat: ChatRequest {
                model: self.model,
                messages: out,
                stream: self.stream,
                stream_options: None,
                tools,
                tool_choice: None,
                n: None,
            },
            origins,
        })
    }
}

/// The system prompt as one string: a string, or text blocks joined with newlines. `None` for JSON `null`.
fn system_text(system: Value) -> Result<Option<String>, TranslateError> {
    match system {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (j, block) in blocks.into_iter().enumerate() {
                let at = format!("system[{j}]");
                match block_type(&block, &at)? {
                    "text" => texts.push(take_text(block, &at)?),
                    other => {
                        return Err(error(
                            format!("{at}.type"),
                            format!(
                                "unsupported system block type {:?}; only \"text\" is allowed",
                                short(other)
                            ),
                        ));
                    }
                }
            }
            Ok(Some(texts.join("\n")))
        }
        _ => Err(error(
            "system",
            "must be a string or an array of text blocks",
        )),
    }
}

fn convert_message(
    i: usize,
    message: Value,
    out: &mut Vec<Value>,
    origins: &mut Vec<Origin>,
) -> Result<(), TranslateError> {
    let at = format!("messages[{i}]");
    let Value::Object(mut object) = message else {
        return Err(error(at, "must be an object with a role and content"));
    };
    let role = match object.get("role") {
        Some(Value::String(role)) => role.clone(),
        None | Some(Value::Null) => {
            return Err(error(
                format!("{at}.role"),
                "is required (\"user\" or \"assistant\")",
            ));
        }
        Some(_) => return Err(error(format!("{at}.role"), "must be a string")),
    };
    let content = match object.remove("content") {
        None | Some(Value::Null) => return Err(error(format!("{at}.content"), "is required")),
        Some(content) => content,
    };
    match role.as_str() {
        "user" => user(&at, content, out, origins),
        "assistant" => assistant(&at, content, out, origins),
        "system" => Err(error(
            format!("{at}.role"),
            "\"system\" is not a message role in the Messages API; use the top-level `system` field",
        )),
        other => Err(error(
            format!("{at}.role"),
            format!(
                "unknown role {:?}; use \"user\" or \"assistant\"",
                short(other)
            ),
        )),
    }
}

/// Content as a list of blocks: a string is one text block.
fn blocks(at: &str, content: Value) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::String(text) => Ok(vec![json!({"type": "text", "text": text})]),
        Value::Array(blocks) if blocks.is_empty() => {
            Err(error(format!("{at}.content"), "must not be an empty array"))
        }
        Value::Array(blocks) => Ok(blocks),
        _ => Err(error(
            format!("{at}.content"),
            "must be a string or an array of content blocks",
        )),
    }
}

fn user(
    at: &str,
    content: Value,
    out: &mut Vec<Value>,
    origins: &mut Vec<Origin>,
) -> Result<(), TranslateError> {
    if let Value::String(text) = content {
        out.push(json!({"role": "user", "content": text}));
        origins.push(Origin {
            at: at.to_string(),
            parts: Vec::new(),
        });
        return Ok(());
    }
    // Text and images, with the path of each, for the user message that follows the tool results.
    let mut parts: Vec<Value> = Vec::new();
    let mut part_paths: Vec<String> = Vec::new();
    let mut results = 0;
    for (j, block) in blocks(at, content)?.into_iter().enumerate() {
        let block_at = format!("{at}.content[{j}]");
        match block_type(&block, &block_at)? {
            "text" => {
                let text = take_text(block, &block_at)?;
                // Empty text blocks carry nothing, and an empty user message is not worth sending upstream.
                if !text.is_empty() {
                    parts.push(json!({"type": "text", "text": text}));
                    part_paths.push(block_at);
                }
            }
            "image" => {
                parts.push(image_part(block, &block_at)?);
                part_paths.push(block_at);
            }
            "tool_result" => {
                let (message, images) = tool_result(block, &block_at)?;
                results += 1;
                out.push(message);
                origins.push(Origin {
                    at: block_at.clone(),
                    parts: Vec::new(),
                });
                for (k, image) in images {
                    parts.push(image);
                    part_paths.push(format!("{block_at}.content[{k}]"));
                }
            }
            other => {
                return Err(error(
                    format!("{block_at}.type"),
                    format!(
                        "unsupported content block type {:?} in a user message; use \"text\", \"image\" or \"tool_result\"",
                        short(other)
                    ),
                ));
            }
        }
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": parts}));
        origins.push(Origin {
            at: at.to_string(),
            parts: part_paths,
        });
    } else if results == 0 {
        return Err(error(
            format!("{at}.content"),
            "has no text, image or tool_result to send",
        ));
    }
    Ok(())
}

fn assistant(
    at: &str,
    content: Value,
    out: &mut Vec<Value>,
    origins: &mut Vec<Origin>,
) -> Result<(), TranslateError> {
    let mut texts: Vec<String> = Vec::new();
    let mut calls: Vec<Value> = Vec::new();
    for (j, block) in blocks(at, content)?.into_iter().enumerate() {
        let block_at = format!("{at}.content[{j}]");
        match block_type(&block, &block_at)? {
            "text" => {
                let text = take_text(block, &block_at)?;
                if !text.is_empty() {
                    texts.push(text);
                }
            }
            "tool_use" => calls.push(tool_use(block, &block_at)?),
            // The model's private reasoning from an earlier turn: the upstream has nowhere to put it.
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(error(
                    format!("{block_at}.type"),
                    format!(
                        "unsupported content block type {:?} in an assistant message; use \"text\" or \"tool_use\"",
                        short(other)
                    ),
                ));
            }
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert("content".into(), Value::String(texts.join("\n")));
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    out.push(Value::Object(message));
    origins.push(Origin {
        at: at.to_string(),
        parts: Vec::new(),
    });
    Ok(())
}

/// `tool_use {id, name, input}` → an OpenAI tool call with the input as its arguments JSON.
fn tool_use(block: Value, at: &str) -> Result<Value, TranslateError> {
    let id = non_empty(&block, "id", at)?;
    let name = non_empty(&block, "name", at)?;
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(input @ Value::Object(_)) => input.to_string(),
        Some(_) => return Err(error(format!("{at}.input"), "must be an object")),
    };
    Ok(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
}

/// `tool_result {tool_use_id, content, is_error}` → an OpenAI `tool` message, plus the images it held (with their
/// block index), which the upstream's text-only tool result cannot carry. An error result says so in its text, since
/// the upstream has no error flag.
fn tool_result(block: Value, at: &str) -> Result<(Value, Vec<(usize, Value)>), TranslateError> {
    let id = non_empty(&block, "tool_use_id", at)?.to_string();
    let is_error = match block.get("is_error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(error(format!("{at}.is_error"), "must be a boolean")),
    };
    let Value::Object(mut object) = block else {
        return Err(error(at, "must be an object"));
    };
    let mut texts: Vec<String> = Vec::new();
    let mut images = Vec::new();
    match object.remove("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => texts.push(text),
        Some(Value::Array(inner)) => {
            for (k, part) in inner.into_iter().enumerate() {
                let part_at = format!("{at}.content[{k}]");
                match block_type(&part, &part_at)? {
                    "text" => texts.push(take_text(part, &part_at)?),
                    "image" => images.push((k, image_part(part, &part_at)?)),
                    other => {
                        return Err(error(
                            format!("{part_at}.type"),
                            format!(
                                "unsupported block type {:?} in a tool_result; use \"text\" or \"image\"",
                                short(other)
                            ),
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(error(
                format!("{at}.content"),
                "must be a string or an array of text and image blocks",
            ));
        }
    }
    let mut result = texts.join("\n");
    if !images.is_empty() {
        let note = format!(
            "[{} image(s) of this result follow in the next user message]",
            images.len()
        );
        if !result.is_empty() {
            result.push('\n');
        }
        result.push_str(&note);
    }
    if is_error {
        result.insert_str(0, "[tool error] ");
    }
    Ok((
        json!({"role": "tool", "tool_call_id": id, "content": result}),
        images,
    ))
}

/// `image {source: {type: "base64", media_type, data}}` → an OpenAI `image_url` part with a data URL; the shared
/// mapping checks the type, the base64 and the size. A `url` source is passed on as a URL, which the shared mapping
/// refuses with its message (remote images are never fetched).
fn image_part(block: Value, at: &str) -> Result<Value, TranslateError> {
    let source_at = format!("{at}.source");
    let Some(source) = block.get("source").filter(|s| s.is_object()) else {
        return Err(error(source_at, "is required (an object)"));
    };
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media_type = source
                .get("media_type")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    error(format!("{source_at}.media_type"), "is required (a string)")
                })?;
            let data = source
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| error(format!("{source_at}.data"), "is required (a string)"))?;
            let url = format!("data:{media_type};base64,{data}");
            Ok(json!({"type": "image_url", "image_url": {"url": url}}))
        }
        Some("url") => {
            let url = source
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| error(format!("{source_at}.url"), "is required (a string)"))?;
            Ok(json!({"type": "image_url", "image_url": {"url": url}}))
        }
        Some(other) => Err(error(
            format!("{source_at}.type"),
            format!(
                "unsupported image source {:?}; send the image inline as {{\"type\":\"base64\",\"media_type\",\"data\"}}",
                short(other)
            ),
        )),
        None => Err(error(
            format!("{source_at}.type"),
            "is required (\"base64\")",
        )),
    }
}

/// `{name, description, input_schema}` → `{"type":"function","function":{name, description, parameters}}`.
fn convert_tool(i: usize, tool: Value) -> Result<Value, TranslateError> {
    let at = format!("tools[{i}]");
    let Value::Object(mut object) = tool else {
        return Err(error(at, "must be an object"));
    };
    match object.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind == "custom" => {}
        Some(Value::String(kind)) => {
            return Err(error(
                format!("{at}.type"),
                format!(
                    "server tool {:?} is not supported; JetBrains AI runs no tools itself, so only client tools (with an input_schema) can be used",
                    short(kind)
                ),
            ));
        }
        Some(_) => return Err(error(format!("{at}.type"), "must be a string")),
    }
    let mut function = Map::new();
    if let Some(name) = object.remove("name") {
        function.insert("name".into(), name);
    }
    if let Some(description) = object.remove("description") {
        function.insert("description".into(), description);
    }
    if let Some(schema) = object.remove("input_schema") {
        function.insert("parameters".into(), schema);
    }
    Ok(json!({"type": "function", "function": function}))
}

fn block_type<'a>(block: &'a Value, at: &str) -> Result<&'a str, TranslateError> {
    if !block.is_object() {
        return Err(error(at, "must be an object with a type"));
    }
    block
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| error(format!("{at}.type"), "is required (a string)"))
}

/// The `text` of a text block, moved out.
fn take_text(block: Value, at: &str) -> Result<String, TranslateError> {
    match block {
        Value::Object(mut object) => match object.remove("text") {
            Some(Value::String(text)) => Ok(text),
            _ => Err(error(format!("{at}.text"), "must be a string")),
        },
        _ => Err(error(at, "must be an object")),
    }
}

fn non_empty<'a>(block: &'a Value, key: &str, at: &str) -> Result<&'a str, TranslateError> {
    match block.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(error(
            format!("{at}.{key}"),
            "is required (a non-empty string)",
        )),
    }
}

/// Estimated input tokens of a request, for `count_tokens`: the same figure `message_start` reports, computed by
/// the same mapping (text of system, messages and tool definitions at about four bytes a token, plus a fixed
/// amount per image). The upstream reports no token counts, so this is an estimate, never a tokenizer's count.
pub fn input_tokens(
    req: MessagesRequest,
    profile: &str,
    api: UpstreamApi,
) -> Result<u32, TranslateError> {
    Ok(req.into_chat()?.build(profile, api, 0)?.prompt_tokens)
}

#[cfg(test)]
mod tests;
