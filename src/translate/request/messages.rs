//! The conversation: OpenAI messages → upstream chat messages (v8 or v7 types), validated field by field so each
//! error names its JSON path. Text is borrowed from the client's request wherever it can be.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::{TranslateError, image, truncate};
use crate::config::UpstreamApi;

const VALID_ROLES: &str = "system, developer, user, assistant, tool";

/// One upstream chat message, v8 and v7 types together; `Chat` picks the ones of its API version.
/// Text borrows from the client's request wherever it can.
#[derive(Serialize, Debug, PartialEq)]
#[serde(tag = "type")]
pub(super) enum Message<'a> {
    #[serde(rename = "system_message")]
    System { content: Cow<'a, str> },
    #[serde(rename = "user_message")]
    User { content: &'a str },
    /// v8 only.
    #[serde(rename = "media_message")]
    Media {
        #[serde(rename = "mediaType")]
        media_type: &'static str,
        data: &'a str,
    },
    /// v8 assistant text.
    #[serde(rename = "assistant_message_text")]
    AssistantText { content: Cow<'a, str> },
    /// v8 tool call.
    #[serde(rename = "assistant_message_tool")]
    AssistantTool {
        id: &'a str,
        #[serde(rename = "toolName")]
        tool_name: &'a str,
        content: Cow<'a, str>,
    },
    /// v8 tool result.
    #[serde(rename = "tool_message")]
    ToolResult {
        id: &'a str,
        #[serde(rename = "toolName")]
        tool_name: &'a str,
        result: Cow<'a, str>,
    },
    /// v7 assistant text, or one tool call (`content` empty).
    #[serde(rename = "assistant_message")]
    Assistant {
        content: Cow<'a, str>,
        #[serde(rename = "functionCall", skip_serializing_if = "Option::is_none")]
        function_call: Option<FunctionCall<'a>>,
    },
    /// v7 tool result.
    #[serde(rename = "function_message")]
    Function {
        content: Cow<'a, str>,
        #[serde(rename = "functionName")]
        function_name: &'a str,
    },
}

#[derive(Serialize, Debug, PartialEq)]
pub(super) struct FunctionCall<'a> {
    #[serde(rename = "functionName")]
    function_name: &'a str,
    content: Cow<'a, str>,
}

impl Message<'_> {
    /// Text bytes the model reads, for the prompt estimate.
    pub(super) fn text_len(&self) -> usize {
        match self {
            Message::System { content } | Message::AssistantText { content } => content.len(),
            Message::User { content } => content.len(),
            Message::Media { .. } => 0,
            Message::AssistantTool {
                tool_name, content, ..
            } => tool_name.len() + content.len(),
            Message::ToolResult { result, .. } => result.len(),
            Message::Assistant {
                content,
                function_call,
            } => {
                content.len()
                    + function_call
                        .as_ref()
                        .map_or(0, |f| f.function_name.len() + f.content.len())
            }
            Message::Function { content, .. } => content.len(),
        }
    }
}

/// The conversation being translated, and the tool calls seen so far (id → name) for naming tool results.
pub(super) struct Chat<'a> {
    api: UpstreamApi,
    pub(super) messages: Vec<Message<'a>>,
    /// A later call with the same id wins: results answer the most recent call (v7 ids like `call_0` repeat).
    calls: HashMap<&'a str, &'a str>,
}

impl<'a> Chat<'a> {
    pub(super) fn new(api: UpstreamApi, capacity: usize) -> Self {
        Chat {
            api,
            messages: Vec::with_capacity(capacity),
            calls: HashMap::new(),
        }
    }

    pub(super) fn push(&mut self, i: usize, message: &'a Value) -> Result<(), TranslateError> {
        let at = format!("messages[{i}]");
        let Some(object) = message.as_object() else {
            return Err(TranslateError::at(at, "must be an object with a role"));
        };
        let role = match object.get("role") {
            Some(Value::String(role)) => role.as_str(),
            None | Some(Value::Null) => {
                return Err(TranslateError::at(
                    format!("{at}.role"),
                    format!("is required; valid roles are {VALID_ROLES}"),
                ));
            }
            Some(_) => return Err(TranslateError::at(format!("{at}.role"), "must be a string")),
        };
        let content = object.get("content").filter(|c| !c.is_null());
        match role {
            "system" | "developer" => {
                let content = text_content(required(content, &at)?, &at)?;
                self.messages.push(Message::System { content });
            }
            "user" => self.user(required(content, &at)?, &at)?,
            "assistant" => self.assistant(object, content, &at)?,
            "tool" => self.tool_result(object, required(content, &at)?, &at)?,
            other => {
                return Err(TranslateError::at(
                    format!("{at}.role"),
                    format!(
                        "unknown role {:?}; valid roles are {VALID_ROLES}",
                        truncate(other)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A string becomes one `user_message`. An array becomes one `media_message` per image, first, then one
    /// `user_message` per text part: the upstream expects the image before the text about it.
    fn user(&mut self, content: &'a Value, at: &str) -> Result<(), TranslateError> {
        let parts = match content {
            Value::String(text) => {
                self.messages.push(Message::User { content: text });
                return Ok(());
            }
            Value::Array(parts) if parts.is_empty() => {
                return Err(TranslateError::at(
                    format!("{at}.content"),
                    "must not be an empty array",
                ));
            }
            Value::Array(parts) => parts,
            _ => {
                return Err(TranslateError::at(
                    format!("{at}.content"),
                    "must be a string or an array of content parts",
                ));
            }
        };
        for (j, part) in parts.iter().enumerate() {
            let part_at = format!("{at}.content[{j}]");
            match part_type(part, &part_at)? {
                "text" => {
                    part_text(part, "text", &part_at)?;
                }
                "image_url" => {
                    if self.api == UpstreamApi::V7 {
                        return Err(TranslateError::at(
                            part_at,
                            "images are not supported by the v7 upstream API; set upstream_api to v8",
                        ));
                    }
                    let (media_type, data) = image::from_part(part, &part_at)?;
                    self.messages.push(Message::Media { media_type, data });
                }
                other => {
                    return Err(TranslateError::at(
                        format!("{part_at}.type"),
                        format!(
                            "unsupported content part type {:?}; use \"text\" or \"image_url\"",
                            truncate(other)
                        ),
                    ));
                }
            }
        }
        for (j, part) in parts.iter().enumerate() {
            if part.get("type").and_then(Value::as_str) == Some("text") {
                let text = part_text(part, "text", &format!("{at}.content[{j}]"))?;
                self.messages.push(Message::User { content: text });
            }
        }
        Ok(())
    }

    /// Text (if any) first, then one message per tool call. Text is required when there are no tool calls.
    fn assistant(
        &mut self,
        object: &'a serde_json::Map<String, Value>,
        content: Option<&'a Value>,
        at: &str,
    ) -> Result<(), TranslateError> {
        let calls = match object.get("tool_calls") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(calls)) => calls.as_slice(),
            Some(_) => {
                return Err(TranslateError::at(
                    format!("{at}.tool_calls"),
                    "must be an array",
                ));
            }
        };
        let text = match content {
            Some(content) => text_content(content, at)?,
            None if calls.is_empty() => {
                return Err(TranslateError::at(
                    format!("{at}.content"),
                    "is required when there are no tool_calls",
                ));
            }
            None => Cow::Borrowed(""),
        };
        if !text.is_empty() || calls.is_empty() {
            self.messages.push(match self.api {
                UpstreamApi::V8 => Message::AssistantText { content: text },
                UpstreamApi::V7 => Message::Assistant {
                    content: text,
                    function_call: None,
                },
            });
        }
        for (j, call) in calls.iter().enumerate() {
            let (id, name, arguments) = tool_call(call, &format!("{at}.tool_calls[{j}]"))?;
            self.calls.insert(id, name);
            self.messages.push(match self.api {
                UpstreamApi::V8 => Message::AssistantTool {
                    id,
                    tool_name: name,
                    content: arguments,
                },
                // v7 carries one call per message.
                UpstreamApi::V7 => Message::Assistant {
                    content: Cow::Borrowed(""),
                    function_call: Some(FunctionCall {
                        function_name: name,
                        content: arguments,
                    }),
                },
            });
        }
        Ok(())
    }

    /// A tool result, named after the earlier call it answers (the upstream wants the name, OpenAI sends the id).
    fn tool_result(
        &mut self,
        object: &'a serde_json::Map<String, Value>,
        content: &'a Value,
        at: &str,
    ) -> Result<(), TranslateError> {
        let id_at = format!("{at}.tool_call_id");
        let id = match object.get("tool_call_id") {
            Some(Value::String(id)) => id.as_str(),
            None | Some(Value::Null) => {
                return Err(TranslateError::at(id_at, "is required for role \"tool\""));
            }
            Some(_) => return Err(TranslateError::at(id_at, "must be a string")),
        };
        let Some(&name) = self.calls.get(id) else {
            return Err(TranslateError::at(
                id_at,
                format!(
                    "{:?} matches no tool call of an earlier assistant message",
                    truncate(id)
                ),
            ));
        };
        let result = text_content(content, at)?;
        self.messages.push(match self.api {
            UpstreamApi::V8 => Message::ToolResult {
                id,
                tool_name: name,
                result,
            },
            UpstreamApi::V7 => Message::Function {
                content: result,
                function_name: name,
            },
        });
        Ok(())
    }
}

fn required<'a>(content: Option<&'a Value>, at: &str) -> Result<&'a Value, TranslateError> {
    content.ok_or_else(|| TranslateError::at(format!("{at}.content"), "is required"))
}

/// A string, or an array of text parts joined with newlines (system, assistant and tool content; the upstream takes
/// one string). Assistant `refusal` parts count as text.
fn text_content<'a>(content: &'a Value, at: &str) -> Result<Cow<'a, str>, TranslateError> {
    let parts = match content {
        Value::String(text) => return Ok(Cow::Borrowed(text)),
        Value::Array(parts) => parts,
        _ => {
            return Err(TranslateError::at(
                format!("{at}.content"),
                "must be a string or an array of text parts",
            ));
        }
    };
    let mut texts = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let part_at = format!("{at}.content[{j}]");
        let text = match part_type(part, &part_at)? {
            "text" => part_text(part, "text", &part_at)?,
            "refusal" => part_text(part, "refusal", &part_at)?,
            other => {
                return Err(TranslateError::at(
                    format!("{part_at}.type"),
                    format!(
                        "unsupported content part type {:?} here; only \"text\" is allowed",
                        truncate(other)
                    ),
                ));
            }
        };
        texts.push(text);
    }
    Ok(match texts.as_slice() {
        [one] => Cow::Borrowed(*one),
        many => Cow::Owned(many.join("\n")),
    })
}

fn part_type<'a>(part: &'a Value, at: &str) -> Result<&'a str, TranslateError> {
    if !part.is_object() {
        return Err(TranslateError::at(at, "must be an object with a type"));
    }
    part.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| TranslateError::at(format!("{at}.type"), "is required"))
}

fn part_text<'a>(part: &'a Value, key: &str, at: &str) -> Result<&'a str, TranslateError> {
    part.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| TranslateError::at(format!("{at}.{key}"), "must be a string"))
}

/// `(id, name, arguments)` of one assistant tool call. Arguments are a JSON string in OpenAI's format; an object
/// (sent by some clients) is serialized, and missing arguments read as `{}`.
fn tool_call<'a>(
    call: &'a Value,
    at: &str,
) -> Result<(&'a str, &'a str, Cow<'a, str>), TranslateError> {
    if !call.is_object() {
        return Err(TranslateError::at(at, "must be an object"));
    }
    let kind = call.get("type").filter(|t| !t.is_null());
    if kind.is_some_and(|k| k.as_str() != Some("function")) {
        return Err(TranslateError::at(
            format!("{at}.type"),
            "must be \"function\"",
        ));
    }
    let id = match call.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.as_str(),
        _ => {
            return Err(TranslateError::at(
                format!("{at}.id"),
                "is required (a non-empty string)",
            ));
        }
    };
    let function = call
        .get("function")
        .ok_or_else(|| TranslateError::at(format!("{at}.function"), "is required"))?;
    let name = match function.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.as_str(),
        _ => {
            return Err(TranslateError::at(
                format!("{at}.function.name"),
                "is required (a non-empty string)",
            ));
        }
    };
    let arguments = match function.get("arguments") {
        Some(Value::String(args)) => Cow::Borrowed(args.as_str()),
        None | Some(Value::Null) => Cow::Borrowed("{}"),
        Some(other) => Cow::Owned(other.to_string()),
    };
    Ok((id, name, arguments))
}
