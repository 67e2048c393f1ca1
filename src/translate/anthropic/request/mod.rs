//! The Anthropic Messages request (`/v1/messages`, `/v1/messages/count_tokens`), parsed with serde straight from the
//! body into the typed [`Conversation`] the OpenAI face also produces; every error names the Anthropic field at
//! fault (`messages[1].content[0].source`). `blocks` converts messages and the system prompt, `tools` the tools,
//! `params` the sampling and control parameters.
//!
//! - `system` → a system turn first, without blocks that are client metadata rather than instructions
//!   ([`system::CLIENT_METADATA`]); a `system` message inside `messages` (Claude Code's mid-conversation system
//!   messages) → a system turn at that place.
//! - A user message's blocks → one user turn: `tool_result` blocks, text and `image` blocks in order; images inside
//!   a tool result become image parts of the same turn (the upstream's tool result is text only, so the result's
//!   text says they follow), and an error result keeps its flag.
//! - An assistant message's text blocks → its text; `tool_use` blocks → tool calls (input as its JSON text);
//!   `thinking` blocks are dropped (jbproxy never produces them; the upstream takes none).
//! - Tools `{name, description, input_schema}`; server tools (a `type` other than `custom`) are refused: the
//!   upstream cannot run them.
//! - `max_tokens`, `temperature`, `top_p`, `top_k`, `stop_sequences`, `thinking.budget_tokens`, `tool_choice`
//!   (with `disable_parallel_tool_use`) and `output_config` (`format`, `effort`) become parameters; `thread` is
//!   refused (jbproxy keeps no server-side state). `metadata`, `cache_control` and `context_management` are not
//!   read: the upstream has nothing they could change.
mod blocks;
mod image_block;
mod params;
mod system;
mod tools;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::translate::TranslateError;
use crate::translate::conversation::{Conversation, Role, Turn};
use crate::translate::parse::{self, Converted, Text, TextOr};

pub use system::CLIENT_METADATA;

#[derive(Debug)]
pub struct MessagesRequest<'a> {
    pub model: Cow<'a, str>,
    pub stream: bool,
    pub conversation: Conversation<'a>,
}

/// The Anthropic face's names for the request-wide fields the mapping names the OpenAI way, for
/// [`TranslateError::renamed`].
pub const FIELD_NAMES: &[(&str, &str)] = &[
    ("response_format", "output_config.format"),
    (
        "parallel_tool_calls",
        "tool_choice.disable_parallel_tool_use",
    ),
    ("stop", "stop_sequences"),
];

impl<'a> MessagesRequest<'a> {
    /// Parses and validates a `/v1/messages` body: as [`parse`](Self::parse), and `max_tokens` is required, as
    /// Anthropic's API requires it.
    pub fn parse_create(body: &'a [u8]) -> Result<Self, TranslateError> {
        let req = Self::parse(body)?;
        if req.conversation.params.max_tokens.is_none() {
            return Err(TranslateError::at(
                "max_tokens",
                "is required (the longest answer, in tokens), as in Anthropic's API",
            ));
        }
        Ok(req)
    }

    /// Parses and validates a body; `max_tokens` is optional (`count_tokens` takes none).
    pub fn parse(body: &'a [u8]) -> Result<Self, TranslateError> {
        let mut wire: Body<'a> = parse::body(body)?;
        let params = wire.parameters()?;
        let mut turns = wire.messages.0?;
        if turns.is_empty() {
            return Err(TranslateError::at(
                "messages",
                "must contain at least one message",
            ));
        }
        if let Some(system) = wire.system {
            let parts = system::system_parts(system)?;
            if !parts.is_empty() {
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
                params,
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
    // The parameters (`params` reads them).
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    /// Read as JSON and checked by `params`, so a wrong shape gets jbproxy's words rather than serde's.
    #[serde(default)]
    thinking: Option<Value>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    output_config: Option<Value>,
    /// Server-side threads (anthropic-python's tool runner): refused unless `null` or `false`.
    #[serde(default)]
    thread: Option<Value>,
}

#[cfg(test)]
mod tests;
