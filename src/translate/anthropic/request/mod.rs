//! The Anthropic Messages request (`/v1/messages`, `/v1/messages/count_tokens`), parsed with serde straight from the
//! body into the typed [`Conversation`] the OpenAI face also produces; every error names the Anthropic field at
//! fault (`messages[1].content[0].source`). `blocks` converts messages and the system prompt, `tools` the tools.
//!
//! - `system` → a system turn first.
//! - A user message's blocks → one user turn: `tool_result` blocks, text and `image` blocks in order; images inside
//!   a tool result become image parts of the same turn (the upstream's tool result is text only, so the result's
//!   text says they follow), and an error result keeps its flag.
//! - An assistant message's text blocks → its text; `tool_use` blocks → tool calls (input as its JSON text);
//!   `thinking` blocks are dropped (jbproxy never produces them; the upstream takes none).
//! - Tools `{name, description, input_schema}`; server tools (a `type` other than `custom`) are refused: the
//!   upstream cannot run them.
//!
//! Fields the upstream has no use for yet (`max_tokens`, `temperature`, `top_p`, `top_k`, `stop_sequences`,
//! `metadata`, `thinking`, `cache_control`) are accepted and dropped.
mod blocks;
mod tools;

use std::borrow::Cow;

use serde::Deserialize;

use crate::translate::TranslateError;
use crate::translate::conversation::{Conversation, Parameters, PartKind, Role, ToolChoice, Turn};
use crate::translate::parse::{self, Converted, Text, TextOr};

#[derive(Debug)]
pub struct MessagesRequest<'a> {
    pub model: Cow<'a, str>,
    pub stream: bool,
    pub conversation: Conversation<'a>,
}

impl<'a> MessagesRequest<'a> {
    /// Parses and validates a request body.
    pub fn parse(body: &'a [u8]) -> Result<Self, TranslateError> {
        let wire: Body<'a> = parse::body(body)?;
        let mut turns = wire.messages.0?;
        if turns.is_empty() {
            return Err(TranslateError::at(
                "messages",
                "must contain at least one message",
            ));
        }
        if let Some(system) = wire.system {
            let parts = blocks::system_parts(system)?;
            // An empty system prompt is not sent; several blocks are, even empty ones, joined by the mapping.
            let empty = match parts.as_slice() {
                [] => true,
                [one] => {
                    matches!(&one.kind, PartKind::Text(t) if t.is_empty())
                }
                _ => false,
            };
            if !empty {
                turns.insert(
                    0,
                    Turn {
                        role: Role::System,
                        parts,
                    },
                );
            }
        }
        let tools = match wire.tools {
            Some(tools) => tools.0?,
            None => Vec::new(),
        };
        Ok(MessagesRequest {
            model: wire.model.into_cow(),
            stream: wire.stream,
            conversation: Conversation {
                turns,
                tools,
                params: Parameters {
                    tool_choice: wire.tool_choice.and_then(WireToolChoice::into_choice),
                    ..Parameters::default()
                },
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a Messages request object")]
struct Body<'a> {
    #[serde(borrow)]
    model: Text<'a>,
    #[serde(borrow)]
    messages: Converted<blocks::Message<'a>>,
    #[serde(default, borrow)]
    system: Option<TextOr<'a, blocks::Block<'a>>>,
    #[serde(default)]
    stream: bool,
    #[serde(default, borrow)]
    tools: Option<Converted<tools::WireTool<'a>>>,
    /// Parsed leniently: anything jbproxy does not understand is ignored, as before it was read at all.
    #[serde(default, borrow)]
    tool_choice: Option<WireToolChoice<'a>>,
}

/// `messages`, converted to turns as they are read.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireToolChoice<'a> {
    Typed {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        #[serde(default, borrow)]
        name: Option<Cow<'a, str>>,
    },
    Other(serde::de::IgnoredAny),
}

impl<'a> WireToolChoice<'a> {
    fn into_choice(self) -> Option<ToolChoice<'a>> {
        let WireToolChoice::Typed { kind, name } = self else {
            return None;
        };
        match (kind.as_ref(), name) {
            ("auto", _) => Some(ToolChoice::Auto),
            ("none", _) => Some(ToolChoice::None),
            ("any", _) => Some(ToolChoice::Required),
            ("tool", Some(name)) => Some(ToolChoice::Named(name)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
