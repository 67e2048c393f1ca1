//! The Responses API request (`POST /v1/responses`), parsed with serde straight from the body into the typed
//! [`Conversation`]; every error names the field at fault (`input[3].content[0].type`). `items` converts `input`,
//! `tools` the tool definitions.
//!
//! - `instructions` → a system turn first; `input` as a string → one user turn.
//! - Parameters: `tool_choice`, `text.format` (→ `response_format`), `text.verbosity`, `max_output_tokens`,
//!   `reasoning.effort`, `parallel_tool_calls`, `temperature`, `top_p`; the upstream mapping sends, leaves out or
//!   refuses each per profile, as for the other faces, its errors renamed to this API's fields ([`FIELD_NAMES`]).
//!   The Responses API has no `n`: one sent anyway above 1 is refused rather than answered once.
//! - Refused, since jbproxy keeps no state: `store: true`, `previous_response_id`, `conversation`,
//!   `background: true`, `prompt` (a stored prompt template).
//! - Accepted and without effect here: `store: false`, `include` (jbproxy writes no reasoning or hosted-tool output
//!   to include), `reasoning.summary`, `prompt_cache_key`, `client_metadata`, `metadata` (repeated in the answer),
//!   `user`, `safety_identifier`, `service_tier`, `truncation`.

mod echo;
mod items;
mod message;
mod params;
mod tools;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ToolNames;
use crate::translate::TranslateError;
use crate::translate::conversation::{Conversation, Parameters, Part, Role, Root, Source, Turn};
use crate::translate::parse::{self, AnObject, Text, TextOr};
use echo::Echo;
use params::{response_format, tool_choice};

/// The mapping's field names (OpenAI chat's) → this API's, for [`TranslateError::renamed`].
pub const FIELD_NAMES: &[(&str, &str)] =
    &[("response_format", "text.format"), ("messages", "input")];

/// `POST /v1/responses`, parsed. Text borrows from the body.
#[derive(Debug)]
pub struct ResponsesRequest<'a> {
    pub model: Cow<'a, str>,
    pub stream: bool,
    pub conversation: Conversation<'a>,
    /// How to write the upstream's tool calls back in the client's terms.
    pub names: ToolNames,
    /// The request fields a Response object repeats: `instructions`, `tools`, `tool_choice`, `temperature`,
    /// `top_p`, `parallel_tool_calls`, `metadata`, `max_output_tokens`, `text`, `reasoning`, and `store`,
    /// `truncation`, `previous_response_id`, `background` as jbproxy runs them.
    pub echo: Map<String, Value>,
    /// What the request held that jbproxy does not send upstream (hosted tools, reasoning items), each with where
    /// and why: the handler logs them at debug level.
    pub dropped: Vec<String>,
}

impl<'a> ResponsesRequest<'a> {
    /// Parses and validates a request body.
    pub fn parse(body: &'a [u8]) -> Result<Self, TranslateError> {
        let wire: Body<'a> = parse::body(body)?;
        refuse_state(&wire)?;
        if wire.n.is_some_and(|n| n != 1) {
            return Err(TranslateError::at(
                "n",
                "the Responses API answers once per request and has no `n`; leave it out and send one request per \
                 answer (or use /v1/chat/completions, whose `n` jbproxy maps where the model takes it)",
            ));
        }
        let mut dropped = Vec::new();
        let mut offered = tools::Offered::default();
        if let Some(list) = wire.tools {
            offered.add_all(list, "tools", true, &mut dropped)?;
        }
        let mut turns = Vec::new();
        let instructions = wire.instructions.map(Text::into_cow);
        let echoed_instructions = instructions.as_deref().map(str::to_string);
        if let Some(instructions) = instructions.filter(|i| !i.is_empty()) {
            turns.push(Turn {
                role: Role::System,
                parts: vec![Part::text(Source::root(Root::Instructions), instructions)],
            });
        }
        match wire.input {
            None => {
                return Err(TranslateError::at(
                    "input",
                    "is required (a string or an array of input items)",
                ));
            }
            Some(TextOr::Text(text)) => turns.push(Turn {
                role: Role::User,
                parts: vec![Part::text(Source::root(Root::Input), text)],
            }),
            Some(TextOr::List(list)) => {
                items::convert(list, &mut turns, &mut offered, &mut dropped)?;
            }
        }
        if !turns.iter().any(|t| t.role != Role::System) {
            return Err(TranslateError::at(
                "input",
                "has no message or tool output to answer",
            ));
        }
        let choice = match &wire.tool_choice {
            None => None,
            Some(value) => tool_choice(value, &mut offered.tools)?,
        };
        let text = wire.text.map(|AnObject(text)| text);
        let (format, verbosity) = match text {
            Some(text) => (text.format.map(|AnObject(f)| f), text.verbosity),
            None => (None, None),
        };
        let response_format = format.as_ref().map(response_format).transpose()?;
        let reasoning = wire.reasoning.map(|AnObject(r)| r);
        let echo = Echo {
            instructions: echoed_instructions,
            tools: offered.echo,
            tool_choice: wire.tool_choice,
            temperature: wire.temperature,
            top_p: wire.top_p,
            max_output_tokens: wire.max_output_tokens,
            parallel_tool_calls: wire.parallel_tool_calls,
            metadata: wire.metadata,
            format,
            verbosity: verbosity.as_ref().map(|v| v.as_str().to_string()),
            reasoning: reasoning.as_ref().map(|r| {
                json!({
                    "effort": r.effort.as_ref().map(Text::as_str),
                    "summary": r.summary.as_ref().map(Text::as_str),
                })
            }),
        }
        .into_map();
        Ok(ResponsesRequest {
            model: wire.model.into_cow(),
            stream: wire.stream,
            conversation: Conversation {
                turns,
                tools: offered.tools,
                params: Parameters {
                    tool_choice: choice,
                    response_format,
                    temperature: wire.temperature,
                    top_p: wire.top_p,
                    max_tokens: wire.max_output_tokens,
                    reasoning_effort: reasoning.and_then(|r| r.effort).map(Text::into_cow),
                    verbosity: verbosity.map(Text::into_cow),
                    parallel_tool_calls: wire.parallel_tool_calls,
                    ..Parameters::default()
                },
            },
            names: offered.names,
            echo,
            dropped,
        })
    }
}

/// The body as serde reads it. Fields jbproxy neither uses nor refuses are not named here: serde skips them.
#[derive(Deserialize)]
#[serde(expecting = "a Responses API request object")]
struct Body<'a> {
    #[serde(borrow)]
    model: Text<'a>,
    #[serde(default, borrow)]
    input: Option<TextOr<'a, items::WireItem<'a>>>,
    #[serde(default, borrow)]
    instructions: Option<Text<'a>>,
    #[serde(default)]
    stream: bool,
    #[serde(default, borrow)]
    tools: Option<Vec<AnObject<tools::WireTool<'a>>>>,
    /// Read by hand: its shapes are many, and each is checked against the tools.
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default, borrow)]
    text: Option<AnObject<TextParam<'a>>>,
    #[serde(default, borrow)]
    reasoning: Option<AnObject<ReasoningParam<'a>>>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    previous_response_id: Option<Value>,
    #[serde(default)]
    conversation: Option<Value>,
    #[serde(default)]
    background: Option<bool>,
    #[serde(default)]
    prompt: Option<Value>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    /// Not a field of this API; read only to refuse several answers (see the module doc).
    #[serde(default)]
    n: Option<u64>,
}

/// `text`: the answer's format and verbosity.
#[derive(Deserialize)]
struct TextParam<'a> {
    #[serde(default)]
    format: Option<AnObject<Map<String, Value>>>,
    #[serde(default, borrow)]
    verbosity: Option<Text<'a>>,
}

/// `reasoning`: the effort is a parameter upstream; `summary` (and `context`, which Codex sends) are accepted,
/// and mean nothing here: jbproxy writes no reasoning items.
#[derive(Deserialize)]
struct ReasoningParam<'a> {
    #[serde(default, borrow)]
    effort: Option<Text<'a>>,
    #[serde(default, borrow)]
    summary: Option<Text<'a>>,
}

/// Refuses what needs state jbproxy does not keep, saying what to send instead.
fn refuse_state(wire: &Body<'_>) -> Result<(), TranslateError> {
    const STATELESS: &str = "jbproxy keeps no state";
    if wire.store == Some(true) {
        return Err(TranslateError::at(
            "store",
            format!(
                "{STATELESS}, so it cannot store responses; send \"store\": false and the whole conversation in \
                 \"input\" on every turn"
            ),
        ));
    }
    if wire.previous_response_id.is_some() {
        return Err(TranslateError::at(
            "previous_response_id",
            format!(
                "{STATELESS}, so it cannot continue a stored response; send the whole conversation in \"input\" \
                 (earlier messages, function_call and function_call_output items) and \"store\": false"
            ),
        ));
    }
    if wire.conversation.is_some() {
        return Err(TranslateError::at(
            "conversation",
            format!(
                "{STATELESS}, so it has no conversations; send the whole conversation in \"input\""
            ),
        ));
    }
    if wire.background == Some(true) {
        return Err(TranslateError::at(
            "background",
            format!(
                "{STATELESS}, so it cannot run a response in the background to fetch later; leave it out"
            ),
        ));
    }
    if wire.prompt.is_some() {
        return Err(TranslateError::at(
            "prompt",
            "stored prompt templates live at OpenAI, and jbproxy cannot read them; send the text in \
             \"instructions\" and \"input\"",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
