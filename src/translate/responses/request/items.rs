//! Responses `input` items → turns: messages (any role; content as a string or `input_text` / `input_image` /
//! `output_text` parts), the client's earlier `function_call` / `custom_tool_call` items and their outputs, and
//! `additional_tools` items (tools sent inside the input, as Codex does). Items that only OpenAI's servers can
//! make sense of (`reasoning` with encrypted content, hosted tool calls) are dropped and noted; an
//! `item_reference` needs stored items and is refused.
//!
//! A call follows an assistant message into the same turn, and results follow results, so a turn of text and
//! calls reaches the upstream as it would from the chat face.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;

use super::message::{image, message, no_files};
use super::tools::{Offered, WireTool, non_empty};
use crate::translate::conversation::{
    Part, PartKind, Role, Root, Source, ToolCall, ToolResult, Turn,
};
use crate::translate::parse::{AnObject, JsonText, Listed, Text, TextOr};
use crate::translate::responses::upstream_name;
use crate::translate::{TranslateError, truncate};

const ITEM_TYPES: &str = "message, function_call, function_call_output, custom_tool_call, custom_tool_call_output, \
     additional_tools, reasoning";
pub(super) const VALID_ROLES: &str = "user, assistant, system, developer";

/// Calls to tools OpenAI ran itself: history the upstream cannot read, dropped like the tools themselves.
const HOSTED_CALLS: [&str; 6] = [
    "web_search_call",
    "file_search_call",
    "code_interpreter_call",
    "image_generation_call",
    "mcp_list_tools",
    "tool_search_call",
];

/// One input item as sent; which fields matter depends on its `type`.
#[derive(Deserialize)]
pub(super) struct WireItem<'a> {
    #[serde(rename = "type", default, borrow)]
    pub(super) kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) role: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) content: Option<TextOr<'a, WirePart<'a>>>,
    #[serde(default, borrow)]
    pub(super) call_id: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) namespace: Option<Text<'a>>,
    /// A JSON string as specified; an object (sent by some clients) is kept as its JSON text.
    #[serde(default, borrow)]
    pub(super) arguments: Option<JsonText<'a>>,
    /// A custom tool call's input text.
    #[serde(default, borrow)]
    pub(super) input: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) output: Option<TextOr<'a, WirePart<'a>>>,
    #[serde(default, borrow)]
    pub(super) tools: Option<Vec<AnObject<WireTool<'a>>>>,
}

impl Listed for WireItem<'_> {
    const EXPECTING: &'static str = "a string or an array of input items";
    const NOT_AN_OBJECT: &'static str = "must be an object (an input item)";
}

/// A content part: `input_text`, `output_text`, `refusal`, `input_image`, `input_file`.
#[derive(Deserialize)]
pub(super) struct WirePart<'a> {
    #[serde(rename = "type", default, borrow)]
    pub(super) kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) text: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) refusal: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) image_url: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) file_id: Option<Text<'a>>,
}

impl Listed for WirePart<'_> {
    const EXPECTING: &'static str = "a string or an array of content parts";
    const NOT_AN_OBJECT: &'static str = "must be an object with a type";
}

/// Appends the turns of `items` (the `input` array) to `turns`, and their tools to `offered`.
pub(super) fn convert<'a>(
    items: Vec<WireItem<'a>>,
    turns: &mut Vec<Turn<'a>>,
    offered: &mut Offered<'a>,
    dropped: &mut Vec<String>,
) -> Result<(), TranslateError> {
    for (i, mut item) in items.into_iter().enumerate() {
        let at = Source::at(Root::Input, i);
        let kind = item.kind.take();
        let kind = match (&kind, &item.role) {
            (Some(kind), _) => kind.as_str(),
            // An item with a role and no type is a message (OpenAI's "easy input message").
            (None, Some(_)) => "message",
            (None, None) => {
                return Err(TranslateError::at(
                    at.field(".type"),
                    format!("is required; input items are {ITEM_TYPES}"),
                ));
            }
        };
        match kind {
            "message" => {
                if let Some(turn) = message(item, at, dropped)? {
                    turns.push(turn);
                }
            }
            "function_call" | "custom_tool_call" => {
                let part = call(item, at, kind == "custom_tool_call")?;
                match turns.last_mut() {
                    Some(turn) if turn.role == Role::Assistant => turn.parts.push(part),
                    _ => turns.push(Turn {
                        role: Role::Assistant,
                        parts: vec![part],
                    }),
                }
            }
            "function_call_output" | "custom_tool_call_output" => {
                let mut parts = call_output(item, at)?;
                match turns.last_mut() {
                    Some(turn) if turn.role == Role::User && only_results(&turn.parts) => {
                        turn.parts.append(&mut parts)
                    }
                    _ => turns.push(Turn {
                        role: Role::User,
                        parts,
                    }),
                }
            }
            "additional_tools" => {
                let Some(tools) = item.tools else {
                    return Err(TranslateError::at(
                        at.field(".tools"),
                        "is required (an array of tools)",
                    ));
                };
                offered.add_all(tools, &at.field(".tools"), false, dropped)?;
            }
            "reasoning" => dropped.push(format!(
                "{at}: a reasoning item (jbproxy writes none, and the upstream cannot read one)"
            )),
            "item_reference" => {
                return Err(TranslateError::at(
                    at.field(".type"),
                    "an item_reference names an item stored by OpenAI; jbproxy keeps no state, so send the item \
                     itself",
                ));
            }
            hosted if HOSTED_CALLS.contains(&hosted) => dropped.push(format!(
                "{at}: a {hosted} item (a call to a tool OpenAI runs; JetBrains AI cannot read it)"
            )),
            other => {
                return Err(TranslateError::at(
                    at.field(".type"),
                    format!(
                        "unsupported input item type {:?}; input items are {ITEM_TYPES}",
                        truncate(other)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether a user turn holds only tool results (and the images they carried), so more results may join it.
fn only_results(parts: &[Part<'_>]) -> bool {
    parts
        .iter()
        .all(|p| matches!(p.kind, PartKind::ToolResult(_) | PartKind::Image(_)))
        && parts
            .iter()
            .any(|p| matches!(p.kind, PartKind::ToolResult(_)))
}

/// A `function_call` or `custom_tool_call` the assistant made earlier, as a tool call under its upstream name. A
/// custom call's input text becomes the `{"input": …}` arguments its upstream function takes.
fn call<'a>(item: WireItem<'a>, at: Source, custom: bool) -> Result<Part<'a>, TranslateError> {
    let id = non_empty(item.call_id, || at.field(".call_id"))?;
    let name = non_empty(item.name, || at.field(".name"))?;
    let name = match item.namespace {
        Some(namespace) => Cow::Owned(upstream_name(Some(namespace.as_str()), &name)),
        None => name,
    };
    let arguments = if custom {
        let Some(input) = item.input else {
            return Err(TranslateError::at(
                at.field(".input"),
                "is required (a string)",
            ));
        };
        Cow::Owned(json!({"input": input.as_str()}).to_string())
    } else {
        item.arguments.map_or(Cow::Borrowed("{}"), |a| a.0)
    };
    Ok(Part::tool_call(
        at,
        ToolCall {
            id,
            name,
            arguments,
        },
    ))
}

/// A call's output: the result as text, then the images it held as image parts (the upstream's tool result is
/// text only; its text says how many follow).
fn call_output<'a>(item: WireItem<'a>, at: Source) -> Result<Vec<Part<'a>>, TranslateError> {
    let id = non_empty(item.call_id, || at.field(".call_id"))?;
    let Some(output) = item.output else {
        return Err(TranslateError::at(
            at.field(".output"),
            "is required (a string or an array of content parts)",
        ));
    };
    let mut texts: Vec<Cow<'a, str>> = Vec::new();
    let mut images = Vec::new();
    match output {
        TextOr::Text(text) => texts.push(text),
        TextOr::List(parts) => {
            for (k, part) in parts.into_iter().enumerate() {
                let path = format!("{at}.output[{k}]");
                let kind = part
                    .kind
                    .as_ref()
                    .map(Text::as_str)
                    .ok_or_else(|| TranslateError::at(format!("{path}.type"), "is required"))?;
                match kind {
                    "input_text" | "output_text" => match part.text {
                        Some(text) => texts.push(text.into_cow()),
                        None => {
                            return Err(TranslateError::at(
                                format!("{path}.text"),
                                "must be a string",
                            ));
                        }
                    },
                    // The item's own source: `Source` has no `.output[k]` level.
                    "input_image" => images.push(image(part, at, path)?),
                    "input_file" => return Err(no_files(format!("{path}.type"))),
                    other => {
                        return Err(TranslateError::at(
                            format!("{path}.type"),
                            format!(
                                "unsupported output part type {:?}; use \"input_text\" or \"input_image\"",
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
    let mut parts = Vec::with_capacity(1 + images.len());
    parts.push(Part::tool_result(
        at,
        ToolResult {
            call_id: id,
            id_field: ".call_id",
            content,
            is_error: false,
        },
    ));
    parts.append(&mut images);
    Ok(parts)
}
