//! The one typed conversation: what every API face parses its request into and what the one upstream mapping
//! (`translate::grazie`) reads. Turns of parts (text, image, tool call, tool result), the tools offered, and the
//! request's parameters. Text borrows from the client's request body wherever JSON allows (no escapes), so a
//! parsed request costs its structure, not a second copy of its text.
//!
//! Each part carries the [`Source`] it came from in the client's request, so an error found while mapping (an
//! image the v7 API cannot take, a tool result answering no call) names the client's own field.

use std::borrow::Cow;
use std::fmt;

/// A face-neutral conversation.
#[derive(Debug, Default, PartialEq)]
pub struct Conversation<'a> {
    /// In order. System turns at the start are the system prompt; later ones are mid-conversation instructions
    /// (OpenAI allows them, and the upstream takes a system message anywhere).
    pub turns: Vec<Turn<'a>>,
    /// The tools the model may call; empty when none were offered.
    pub tools: Vec<Tool<'a>>,
    pub params: Parameters<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of the conversation. Tool results are parts of a user turn (as in Anthropic's API; an OpenAI
/// `tool` message becomes a user turn holding one).
#[derive(Debug, PartialEq)]
pub struct Turn<'a> {
    pub role: Role,
    pub parts: Vec<Part<'a>>,
}

/// A part of a turn and where it came from.
#[derive(Debug, PartialEq)]
pub struct Part<'a> {
    pub at: Source,
    pub kind: PartKind<'a>,
}

/// What a part holds. The rarer, larger kinds are boxed so that a conversation of many short texts stays small
/// (a part is 48 bytes).
#[derive(Debug, PartialEq)]
pub enum PartKind<'a> {
    Text(Cow<'a, str>),
    Image(Box<Image<'a>>),
    ToolCall(Box<ToolCall<'a>>),
    ToolResult(Box<ToolResult<'a>>),
}

/// An inline image, already checked by the face: a known type, valid base64, within the size limit.
#[derive(Debug, PartialEq)]
pub struct Image<'a> {
    /// Canonical MIME type (`image/jpeg`, never `image/jpg`).
    pub media_type: &'static str,
    /// Base64, without a `data:` prefix.
    pub data: Cow<'a, str>,
}

/// A call the assistant made in an earlier turn.
#[derive(Debug, PartialEq)]
pub struct ToolCall<'a> {
    pub id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    /// The arguments as a JSON text.
    pub arguments: Cow<'a, str>,
}

/// The result of an earlier call, as text. Images a client put in a result travel as image parts of the same
/// turn (the upstream's tool result is text only); the face notes them in `content`.
#[derive(Debug, PartialEq)]
pub struct ToolResult<'a> {
    pub call_id: Cow<'a, str>,
    /// The face's name of the field holding `call_id` (`.tool_call_id`, `.tool_use_id`), appended to the part's
    /// [`Source`] when the id answers no call.
    pub id_field: &'static str,
    pub content: Cow<'a, str>,
    /// The client marked the result as a failure (the upstream has no such flag: the mapping says so in the text).
    pub is_error: bool,
}

/// A function the model may call.
#[derive(Debug, PartialEq)]
pub struct Tool<'a> {
    pub name: Cow<'a, str>,
    pub description: Option<Cow<'a, str>>,
    /// A JSON Schema object; `None` for a function without parameters.
    pub schema: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What the client asked of the answer besides the conversation, in one face-neutral place: each face fills the
/// fields its API has, and the one upstream mapping decides what the profile takes (`parameters.data`, see
/// docs/UPSTREAM.md). A field a face leaves `None` was not asked for.
#[derive(Debug, Default, PartialEq)]
pub struct Parameters<'a> {
    /// OpenAI `n`: how many answers.
    pub n: Option<u32>,
    /// Which tool the model must (or must not) call.
    pub tool_choice: Option<ToolChoice<'a>>,
    /// The shape the answer must take (OpenAI `response_format`, Responses `text.format`, Anthropic
    /// `output_config.format`).
    pub response_format: Option<ResponseFormat>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Anthropic `top_k`.
    pub top_k: Option<u32>,
    /// The longest answer: OpenAI `max_tokens` / `max_completion_tokens`, Responses `max_output_tokens`,
    /// Anthropic `max_tokens`.
    pub max_tokens: Option<u32>,
    /// OpenAI `stop`, Anthropic `stop_sequences`.
    pub stop: Vec<Cow<'a, str>>,
    pub seed: Option<i64>,
    /// OpenAI `reasoning_effort`, Responses `reasoning.effort`.
    pub reasoning_effort: Option<Cow<'a, str>>,
    /// OpenAI `verbosity`, Responses `text.verbosity`.
    pub verbosity: Option<Cow<'a, str>>,
    pub parallel_tool_calls: Option<bool>,
    /// Anthropic `thinking.budget_tokens`.
    pub thinking_budget: Option<u32>,
    /// OpenAI `prediction.content`: text most of the answer is expected to repeat (upstream `predicted-output`).
    pub prediction: Option<Cow<'a, str>>,
}

/// OpenAI's `response_format`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    /// `json_schema`: the client's `{name, schema, strict, …}` object as sent.
    JsonSchema(serde_json::Map<String, serde_json::Value>),
}

/// The client's `tool_choice`, in either face's spelling.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice<'a> {
    /// The model decides (OpenAI `auto`, Anthropic `auto`).
    Auto,
    /// No tool call (OpenAI `none`, Anthropic `none`).
    None,
    /// Some tool call (OpenAI `required`, Anthropic `any`).
    Required,
    /// This tool (OpenAI `{function: {name}}`, Anthropic `{type: "tool", name}`).
    Named(Cow<'a, str>),
}

/// Where a part came from in the client's request: a root field and up to three indices, rendered the way the
/// client's JSON nests them (`messages[3]`, `messages[3].content[1]`, `messages[3].content[1].content[0]`,
/// `system`). Sixteen bytes, so every part can carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    root: Root,
    depth: u8,
    index: [u32; 3],
}

/// The top-level field a [`Source`] starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Messages,
    System,
    Input,
    /// The Responses API's `instructions` string.
    Instructions,
}

impl Root {
    fn name(self) -> &'static str {
        match self {
            Root::Messages => "messages",
            Root::System => "system",
            Root::Input => "input",
            Root::Instructions => "instructions",
        }
    }
}

impl Source {
    /// The root field itself (`system` given as a string).
    pub const fn root(root: Root) -> Self {
        Source {
            root,
            depth: 0,
            index: [0; 3],
        }
    }

    /// An element of the root array (`messages[i]`).
    pub fn at(root: Root, i: usize) -> Self {
        Self::root(root).child(i)
    }

    /// One level deeper: `[i]` on the root, `.content[i]` below it. A fourth level is not needed by any face and
    /// is not recorded.
    pub fn child(self, i: usize) -> Self {
        let mut next = self;
        if let Some(slot) = next.index.get_mut(usize::from(self.depth)) {
            *slot = u32::try_from(i).unwrap_or(u32::MAX);
            next.depth += 1;
        }
        next
    }

    /// The message (or system block) this source lies in: `messages[3]` for `messages[3].content[1]`.
    pub fn message(self) -> Self {
        Source {
            depth: self.depth.min(1),
            index: [self.index[0], 0, 0],
            ..self
        }
    }

    /// The path of a field of this element: `messages[2].tool_call_id` for `".tool_call_id"`.
    pub fn field(self, suffix: &str) -> String {
        format!("{self}{suffix}")
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.root.name())?;
        for (level, i) in self.index[..usize::from(self.depth)].iter().enumerate() {
            if level == 0 {
                write!(f, "[{i}]")?;
            } else {
                write!(f, ".content[{i}]")?;
            }
        }
        Ok(())
    }
}

impl<'a> Part<'a> {
    pub fn text(at: Source, text: impl Into<Cow<'a, str>>) -> Self {
        Part {
            at,
            kind: PartKind::Text(text.into()),
        }
    }

    pub fn image(at: Source, image: Image<'a>) -> Self {
        Part {
            at,
            kind: PartKind::Image(Box::new(image)),
        }
    }

    pub fn tool_call(at: Source, call: ToolCall<'a>) -> Self {
        Part {
            at,
            kind: PartKind::ToolCall(Box::new(call)),
        }
    }

    pub fn tool_result(at: Source, result: ToolResult<'a>) -> Self {
        Part {
            at,
            kind: PartKind::ToolResult(Box::new(result)),
        }
    }
}

impl<'a> Conversation<'a> {
    /// A conversation of one user text: what the opt-in chat health check sends.
    pub fn user_text(text: &'a str) -> Self {
        Conversation {
            turns: vec![Turn {
                role: Role::User,
                parts: vec![Part::text(Source::at(Root::Messages, 0), text)],
            }],
            ..Conversation::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_render_as_the_client_nests_its_json() {
        let message = Source::at(Root::Messages, 3);
        assert_eq!(message.to_string(), "messages[3]");
        assert_eq!(message.child(1).to_string(), "messages[3].content[1]");
        assert_eq!(
            message.child(1).child(0).to_string(),
            "messages[3].content[1].content[0]"
        );
        assert_eq!(Source::root(Root::System).to_string(), "system");
        assert_eq!(Source::at(Root::System, 2).to_string(), "system[2]");
        assert_eq!(
            Source::at(Root::Input, 0).child(4).to_string(),
            "input[0].content[4]"
        );
        assert_eq!(message.field(".tool_call_id"), "messages[3].tool_call_id");
        assert_eq!(message.child(1).child(0).message(), message);
    }

    #[test]
    fn parts_stay_small() {
        assert!(std::mem::size_of::<Source>() <= 16);
        assert!(
            std::mem::size_of::<Part<'_>>() <= 48,
            "{}",
            std::mem::size_of::<Part<'_>>()
        );
    }
}
