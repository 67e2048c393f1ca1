//! The OpenAI chat-completions request, parsed with serde straight from the body into the typed
//! [`Conversation`]: each message is converted as soon as it is read (a long conversation never exists as a tree
//! of JSON values), and every error names the field at fault (`messages[2].content[0].type`). `messages` converts
//! messages, `tools` the tool definitions, `params` the sampling and control parameters (temperature, max_tokens,
//! stop, n, response_format, tool_choice, …), which the mapping sends, leaves out or refuses per profile.

mod messages;
mod params;
mod tools;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::translate::TranslateError;
use crate::translate::conversation::Conversation;
use crate::translate::parse::{self, Converted, Text};

/// `POST /v1/chat/completions`, parsed. Text borrows from the body.
#[derive(Debug)]
pub struct ChatRequest<'a> {
    pub model: Cow<'a, str>,
    pub stream: bool,
    /// `stream_options.include_usage`: end a streamed answer with a usage chunk.
    pub include_usage: bool,
    pub conversation: Conversation<'a>,
}

impl<'a> ChatRequest<'a> {
    /// Parses and validates a request body.
    pub fn parse(body: &'a [u8]) -> Result<Self, TranslateError> {
        let mut wire: Body<'a> = parse::body(body)?;
        let params = wire.parameters()?;
        let turns = wire.messages.0?;
        if turns.is_empty() {
            return Err(TranslateError::at(
                "messages",
                "must contain at least one message",
            ));
        }
        let tools = match wire.tools {
            Some(tools) => tools.0?,
            None => Vec::new(),
        };
        Ok(ChatRequest {
            model: wire.model.into_cow(),
            stream: wire.stream,
            include_usage: wire.stream_options.is_some_and(|o| o.include_usage),
            conversation: Conversation {
                turns,
                tools,
                params,
            },
        })
    }
}

/// The body as serde reads it. Messages and tools are converted while they are read, into a result that carries
/// the first semantic error (a missing role, an unknown part type) with its path.
#[derive(Deserialize)]
#[serde(expecting = "a chat completion request object")]
struct Body<'a> {
    #[serde(borrow)]
    model: Text<'a>,
    #[serde(borrow)]
    messages: Converted<messages::Message<'a>>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default, borrow)]
    tools: Option<Converted<tools::WireTool<'a>>>,
    // The parameters (`params` reads them).
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    /// A string or a list of strings.
    #[serde(default)]
    stop: Option<Value>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default, borrow)]
    reasoning_effort: Option<Text<'a>>,
    #[serde(default, borrow)]
    verbosity: Option<Text<'a>>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    /// Read as JSON and checked by `params`, so a wrong shape gets jbproxy's words rather than serde's.
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    response_format: Option<Value>,
    #[serde(default)]
    prediction: Option<Value>,
    #[serde(default)]
    logprobs: Option<bool>,
    /// OpenAI's deprecated function calling: refused (see `params`).
    #[serde(default)]
    functions: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    function_call: Option<serde::de::IgnoredAny>,
}

/// `stream_options`: only `include_usage` means anything to jbproxy.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod message_tests;
#[cfg(test)]
mod tests;
