//! Anthropic messages and the system prompt → turns: content blocks (text, image, tool_use, tool_result, thinking)
//! checked field by field so an error names its path.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::image_block::{ImageSource, image_block};
use super::system::system_message;
use crate::translate::conversation::{Part, Role, Root, Source, ToolCall, ToolResult, Turn};
use crate::translate::parse::{AnObject, Convert, Listed, Text, TextOr};
use crate::translate::{TranslateError, truncate};

#[derive(Deserialize)]
pub(super) struct Message<'a> {
    #[serde(default, borrow)]
    role: Option<Text<'a>>,
    #[serde(default, borrow)]
    content: Option<Blocks<'a>>,
}

/// Content: a string (one text block) or an array of blocks.
impl<'a> Convert for Message<'a> {
    const ARRAY: &'static str = "an array of messages";
    const NOT_AN_OBJECT: &'static str = "must be an object with a role and content";
    type Output = Turn<'a>;

    fn convert(self, index: usize) -> Result<Turn<'a>, TranslateError> {
        self.into_turn(index)
    }
}

/// Content: a string (one text block) or an array of blocks.
pub(super) type Blocks<'a> = TextOr<'a, Block<'a>>;

impl Listed for Block<'_> {
    const EXPECTING: &'static str = "a string or an array of content blocks";
    const NOT_AN_OBJECT: &'static str = "must be an object with a type";
}

#[derive(Deserialize)]
pub(super) struct Block<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) text: Option<Text<'a>>,
    #[serde(default, borrow)]
    source: Option<AnObject<ImageSource<'a>>>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default, borrow)]
    tool_use_id: Option<Text<'a>>,
    #[serde(default)]
    is_error: Option<bool>,
    /// A tool result's content.
    #[serde(default, borrow)]
    content: Option<Blocks<'a>>,
}

pub(super) fn block_type<'b>(
    block: &'b Block<'_>,
    at: &dyn fmt::Display,
) -> Result<&'b str, TranslateError> {
    block
        .kind
        .as_ref()
        .map(Text::as_str)
        .ok_or_else(|| TranslateError::at(format!("{at}.type"), "is required (a string)"))
}

pub(super) fn take_text<'a>(
    text: Option<Text<'a>>,
    at: &dyn fmt::Display,
) -> Result<Cow<'a, str>, TranslateError> {
    text.map(Text::into_cow)
        .ok_or_else(|| TranslateError::at(format!("{at}.text"), "must be a string"))
}

pub(super) fn non_empty<'a>(
    text: Option<Text<'a>>,
    at: &dyn fmt::Display,
    key: &str,
) -> Result<Cow<'a, str>, TranslateError> {
    match text {
        Some(text) if !text.as_str().is_empty() => Ok(text.into_cow()),
        _ => Err(TranslateError::at(
            format!("{at}.{key}"),
            "is required (a non-empty string)",
        )),
    }
}

impl<'a> Message<'a> {
    fn into_turn(self, i: usize) -> Result<Turn<'a>, TranslateError> {
        let at = Source::at(Root::Messages, i);
        let role = match self.role {
            Some(role) => role,
            None => {
                return Err(TranslateError::at(
                    at.field(".role"),
                    "is required (\"user\", \"assistant\" or \"system\")",
                ));
            }
        };
        let Some(content) = self.content else {
            return Err(TranslateError::at(at.field(".content"), "is required"));
        };
        match role.as_str() {
            "user" => Ok(Turn {
                role: Role::User,
                parts: user(content, at)?,
            }),
            "assistant" => Ok(Turn {
                role: Role::Assistant,
                parts: assistant(content, at)?,
            }),
            // Mid-conversation system messages (Claude Code sends them on newer models): instructions at this place.
            "system" => Ok(Turn {
                role: Role::System,
                parts: system_message(content, at)?,
            }),
            other => Err(TranslateError::at(
                at.field(".role"),
                format!(
                    "unknown role {:?}; use \"user\", \"assistant\" or \"system\"",
                    truncate(other)
                ),
            )),
        }
    }
}

/// The blocks of a message: a string is one text block; an empty array is refused.
fn blocks(content: Blocks<'_>, at: Source) -> Result<Vec<Block<'_>>, TranslateError> {
    match content {
        TextOr::Text(text) => Ok(vec![Block::text(text)]),
        TextOr::List(blocks) if blocks.is_empty() => Err(TranslateError::at(
            at.field(".content"),
            "must not be an empty array",
        )),
        TextOr::List(blocks) => Ok(blocks),
    }
}

impl<'a> Block<'a> {
    fn text(text: Cow<'a, str>) -> Self {
        Block {
            kind: Some(Text(Cow::Borrowed("text"))),
            text: Some(Text(text)),
            source: None,
            id: None,
            name: None,
            input: None,
            tool_use_id: None,
            is_error: None,
            content: None,
        }
    }
}

fn user<'a>(content: Blocks<'a>, at: Source) -> Result<Vec<Part<'a>>, TranslateError> {
    // A plain string is sent as it is, even empty.
    if let TextOr::Text(text) = content {
        return Ok(vec![Part::text(at, text)]);
    }
    let mut parts = Vec::new();
    let mut sendable = false;
    for (j, block) in blocks(content, at)?.into_iter().enumerate() {
        let block_at = at.child(j);
        match block_type(&block, &block_at)? {
            "text" => {
                let text = take_text(block.text, &block_at)?;
                // Empty text blocks carry nothing, and an empty user message is not worth sending upstream.
                if !text.is_empty() {
                    parts.push(Part::text(block_at, text));
                    sendable = true;
                }
            }
            "image" => {
                parts.push(Part::image(block_at, image_block(block.source, block_at)?));
                sendable = true;
            }
            "tool_result" => {
                tool_result(block, block_at, &mut parts)?;
                sendable = true;
            }
            other => {
                return Err(TranslateError::at(
                    block_at.field(".type"),
                    format!(
                        "unsupported content block type {:?} in a user message; use \"text\", \"image\" or \"tool_result\"",
                        truncate(other)
                    ),
                ));
            }
        }
    }
    if !sendable {
        return Err(TranslateError::at(
            at.field(".content"),
            "has no text, image or tool_result to send",
        ));
    }
    Ok(parts)
}

fn assistant<'a>(content: Blocks<'a>, at: Source) -> Result<Vec<Part<'a>>, TranslateError> {
    let mut parts = Vec::new();
    for (j, block) in blocks(content, at)?.into_iter().enumerate() {
        let block_at = at.child(j);
        match block_type(&block, &block_at)? {
            "text" => {
                let text = take_text(block.text, &block_at)?;
                if !text.is_empty() {
                    parts.push(Part::text(block_at, text));
                }
            }
            "tool_use" => {
                let id = non_empty(block.id, &block_at, "id")?;
                let name = non_empty(block.name, &block_at, "name")?;
                let arguments = match block.input {
                    None | Some(Value::Null) => Cow::Borrowed("{}"),
                    Some(input @ Value::Object(_)) => Cow::Owned(input.to_string()),
                    Some(_) => {
                        return Err(TranslateError::at(
                            block_at.field(".input"),
                            "must be an object",
                        ));
                    }
                };
                parts.push(Part::tool_call(
                    block_at,
                    ToolCall {
                        id,
                        name,
                        arguments,
                    },
                ));
            }
            // The model's private reasoning from an earlier turn: the upstream has nowhere to put it.
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(TranslateError::at(
                    block_at.field(".type"),
                    format!(
                        "unsupported content block type {:?} in an assistant message; use \"text\" or \"tool_use\"",
                        truncate(other)
                    ),
                ));
            }
        }
    }
    Ok(parts)
}

/// `tool_result {tool_use_id, content, is_error}` → a tool-result part, then the images it held as image parts
/// (the upstream's result is text only; its text says how many follow).
fn tool_result<'a>(
    block: Block<'a>,
    at: Source,
    parts: &mut Vec<Part<'a>>,
) -> Result<(), TranslateError> {
    let id = non_empty(block.tool_use_id, &at, "tool_use_id")?;
    let is_error = block.is_error.unwrap_or(false);
    let mut texts: Vec<Cow<'a, str>> = Vec::new();
    let mut images = Vec::new();
    match block.content {
        None => {}
        Some(TextOr::Text(text)) => texts.push(text),
        Some(TextOr::List(inner)) => {
            for (k, part) in inner.into_iter().enumerate() {
                let part_at = at.child(k);
                match block_type(&part, &part_at)? {
                    "text" => texts.push(take_text(part.text, &part_at)?),
                    "image" => {
                        images.push(Part::image(part_at, image_block(part.source, part_at)?))
                    }
                    other => {
                        return Err(TranslateError::at(
                            part_at.field(".type"),
                            format!(
                                "unsupported block type {:?} in a tool_result; use \"text\" or \"image\"",
                                truncate(other)
                            ),
                        ));
                    }
                }
            }
        }
    }
    let mut content = match texts.len() {
        0 => Cow::Borrowed(""),
        1 => texts.swap_remove(0),
        _ => Cow::Owned(texts.join("\n")),
    };
    if !images.is_empty() {
        let content = content.to_mut();
        if !content.is_empty() {
            content.push('\n');
        }
        content.push_str(&format!(
            "[{} image(s) of this result follow in the next user message]",
            images.len()
        ));
    }
    parts.push(Part::tool_result(
        at,
        ToolResult {
            call_id: id,
            id_field: ".tool_use_id",
            content,
            is_error,
        },
    ));
    parts.append(&mut images);
    Ok(())
}
