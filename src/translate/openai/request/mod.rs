//! The OpenAI chat-completions request, parsed with serde straight from the body into the typed
//! [`Conversation`]: each message is converted as soon as it is read (a long conversation never exists as a tree
//! of JSON values), and every error names the field at fault (`messages[2].content[0].type`). `messages` converts
//! messages, `tools` the tool definitions. Fields the upstream has no use for yet (temperature, max_tokens, top_p,
//! stop, …) are accepted and dropped.

mod messages;
mod tools;

use std::borrow::Cow;

use serde::Deserialize;

use crate::translate::TranslateError;
use crate::translate::conversation::{Conversation, Parameters, ResponseFormat, ToolChoice};
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
        let wire: Body<'a> = parse::body(body)?;
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
                params: Parameters {
                    n: wire.n,
                    tool_choice: wire.tool_choice.and_then(WireToolChoice::into_choice),
                    response_format: wire.response_format.and_then(WireFormat::into_format),
                    ..Parameters::default()
                },
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
    /// Parsed leniently: anything jbproxy does not understand is ignored, as before it was read at all.
    #[serde(default, borrow)]
    tool_choice: Option<WireToolChoice<'a>>,
    #[serde(default)]
    n: Option<u32>,
    /// Parsed leniently, like `tool_choice`.
    #[serde(default)]
    response_format: Option<WireFormat>,
}

/// `stream_options`: only `include_usage` means anything to jbproxy.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// `tool_choice` as sent: `"auto"`, `"none"`, `"required"` or `{"type":"function","function":{"name"}}`.
/// Anything else is accepted and means nothing, as before jbproxy read this field.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireToolChoice<'a> {
    Mode(#[serde(borrow)] Cow<'a, str>),
    Function {
        #[serde(borrow)]
        function: NamedFunction<'a>,
    },
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct NamedFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

impl<'a> WireToolChoice<'a> {
    fn into_choice(self) -> Option<ToolChoice<'a>> {
        match self {
            WireToolChoice::Mode(mode) => match mode.as_ref() {
                "auto" => Some(ToolChoice::Auto),
                "none" => Some(ToolChoice::None),
                "required" => Some(ToolChoice::Required),
                _ => None,
            },
            WireToolChoice::Function { function } => Some(ToolChoice::Named(function.name)),
            WireToolChoice::Other(_) => None,
        }
    }
}

/// `response_format` as sent: `{"type": "text" | "json_object"}` or `{"type": "json_schema", "json_schema": {…}}`.
/// Anything else is accepted and means nothing, as before jbproxy read this field.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireFormat {
    Typed {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        json_schema: Option<serde_json::Map<String, serde_json::Value>>,
    },
    Other(serde::de::IgnoredAny),
}

impl WireFormat {
    fn into_format(self) -> Option<ResponseFormat> {
        let WireFormat::Typed { kind, json_schema } = self else {
            return None;
        };
        match (kind.as_str(), json_schema) {
            ("text", _) => Some(ResponseFormat::Text),
            ("json_object", _) => Some(ResponseFormat::JsonObject),
            ("json_schema", Some(schema)) => Some(ResponseFormat::JsonSchema(schema)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod message_tests;
#[cfg(test)]
mod tests;
