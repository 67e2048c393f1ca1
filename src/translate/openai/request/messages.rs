//! OpenAI messages → turns: roles, content strings and parts (text, refusal, image_url), tool calls and tool
//! results, each checked field by field so an error names its path.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, Visitor};

use crate::translate::TranslateError;
use crate::translate::conversation::{
    Image, Part, PartKind, Role, Root, Source, ToolCall, ToolResult, Turn,
};
use crate::translate::image;
use crate::translate::parse::{AnObject, Convert, JsonText, Listed, Text, TextOr};

const VALID_ROLES: &str = "system, developer, user, assistant, tool";

/// One message as sent. Every field is optional here so that a missing one is reported in jbproxy's words.
#[derive(Deserialize)]
pub(super) struct Message<'a> {
    #[serde(default, borrow)]
    role: Option<Text<'a>>,
    #[serde(default, borrow)]
    content: Option<Content<'a>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<AnObject<WireCall<'a>>>>,
    #[serde(default, borrow)]
    tool_call_id: Option<Text<'a>>,
}

/// A message's `content`: a string, or an array of parts.
type Content<'a> = TextOr<'a, WirePart<'a>>;

impl Listed for WirePart<'_> {
    const EXPECTING: &'static str = "a string or an array of content parts";
    const NOT_AN_OBJECT: &'static str = "must be an object with a type";
}

impl<'a> Convert for Message<'a> {
    const ARRAY: &'static str = "an array of messages";
    const NOT_AN_OBJECT: &'static str = "must be an object with a role";
    type Output = Turn<'a>;

    fn convert(self, index: usize) -> Result<Turn<'a>, TranslateError> {
        self.into_turn(index)
    }
}

/// A content part as sent: `text`, `refusal` (assistant) or `image_url`.
#[derive(Deserialize)]
struct WirePart<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    text: Option<Text<'a>>,
    #[serde(default, borrow)]
    refusal: Option<Text<'a>>,
    #[serde(default, borrow)]
    image_url: Option<ImageUrl<'a>>,
}

/// `image_url`: `{"url": …}` as specified, or a bare string, which some clients send.
enum ImageUrl<'a> {
    Bare(Cow<'a, str>),
    Object(Option<Cow<'a, str>>),
}

#[derive(Deserialize)]
struct UrlObject<'a> {
    #[serde(default, borrow)]
    url: Option<Text<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ImageUrl<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ImageUrl<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with a url")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(ImageUrl::Bare(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ImageUrl::Bare(Cow::Owned(v.to_owned())))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let object =
                    UrlObject::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ImageUrl::Object(object.url.map(Text::into_cow)))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// An assistant's tool call as sent.
#[derive(Deserialize)]
struct WireCall<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    function: Option<AnObject<WireFunctionCall<'a>>>,
}

#[derive(Deserialize)]
struct WireFunctionCall<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    /// A JSON string in OpenAI's format; an object (sent by some clients) is kept as its JSON text.
    #[serde(default, borrow)]
    arguments: Option<JsonText<'a>>,
}

impl<'a> Message<'a> {
    fn into_turn(self, i: usize) -> Result<Turn<'a>, TranslateError> {
        let at = Source::at(Root::Messages, i);
        let role = match self.role {
            Some(role) => role,
            None => {
                return Err(TranslateError::at(
                    at.field(".role"),
                    format!("is required; valid roles are {VALID_ROLES}"),
                ));
            }
        };
        let (role, parts) = match role.as_str() {
            "system" | "developer" => (Role::System, text_parts(required(self.content, at)?, at)?),
            "user" => (Role::User, user_parts(required(self.content, at)?, at)?),
            "assistant" => (
                Role::Assistant,
                assistant_parts(self.content, self.tool_calls, at)?,
            ),
            "tool" => {
                let content = required(self.content, at)?;
                let Some(id) = self.tool_call_id else {
                    return Err(TranslateError::at(
                        at.field(".tool_call_id"),
                        "is required for role \"tool\"",
                    ));
                };
                let content = joined(text_parts(content, at)?);
                let result = ToolResult {
                    call_id: id.into_cow(),
                    id_field: ".tool_call_id",
                    content,
                    is_error: false,
                };
                (Role::User, vec![Part::tool_result(at, result)])
            }
            other => {
                return Err(TranslateError::at(
                    at.field(".role"),
                    format!(
                        "unknown role {:?}; valid roles are {VALID_ROLES}",
                        crate::translate::truncate(other)
                    ),
                ));
            }
        };
        Ok(Turn { role, parts })
    }
}

fn required(content: Option<Content<'_>>, at: Source) -> Result<Content<'_>, TranslateError> {
    content.ok_or_else(|| TranslateError::at(at.field(".content"), "is required"))
}

/// A string becomes one text part; an array keeps its text and image parts in order (the mapping sends images
/// before the text about them).
fn user_parts<'a>(content: Content<'a>, at: Source) -> Result<Vec<Part<'a>>, TranslateError> {
    let parts = match content {
        TextOr::Text(text) => return Ok(vec![Part::text(at, text)]),
        TextOr::List(parts) if parts.is_empty() => {
            return Err(TranslateError::at(
                at.field(".content"),
                "must not be an empty array",
            ));
        }
        TextOr::List(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        let part_at = at.child(j);
        match Text::part_type(part.kind.as_ref(), part_at)? {
            "text" => out.push(Part::text(
                part_at,
                Text::required(part.text, ".text", part_at)?,
            )),
            "image_url" => out.push(Part::image(part_at, image_part(part.image_url, part_at)?)),
            other => {
                return Err(TranslateError::at(
                    part_at.field(".type"),
                    format!(
                        "unsupported content part type {:?}; use \"text\" or \"image_url\"",
                        crate::translate::truncate(other)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn image_part<'a>(url: Option<ImageUrl<'a>>, at: Source) -> Result<Image<'a>, TranslateError> {
    let (url, url_at) = match url {
        Some(ImageUrl::Bare(url)) => (url, at.field(".image_url")),
        Some(ImageUrl::Object(Some(url))) => (url, at.field(".image_url.url")),
        Some(ImageUrl::Object(None)) => {
            return Err(TranslateError::at(
                at.field(".image_url.url"),
                "is required (a string)",
            ));
        }
        None => {
            return Err(TranslateError::at(
                at.field(".image_url"),
                "is required (an object with a url)",
            ));
        }
    };
    image::from_data_url(url).map_err(|message| TranslateError::at(url_at, message))
}

/// System, assistant and tool content: a string, or an array of text parts (assistant `refusal` parts count as
/// text).
fn text_parts<'a>(content: Content<'a>, at: Source) -> Result<Vec<Part<'a>>, TranslateError> {
    let parts = match content {
        TextOr::Text(text) => return Ok(vec![Part::text(at, text)]),
        TextOr::List(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        let part_at = at.child(j);
        let text = match Text::part_type(part.kind.as_ref(), part_at)? {
            "text" => Text::required(part.text, ".text", part_at)?,
            "refusal" => Text::required(part.refusal, ".refusal", part_at)?,
            other => {
                return Err(TranslateError::at(
                    part_at.field(".type"),
                    format!(
                        "unsupported content part type {:?} here; only \"text\" is allowed",
                        crate::translate::truncate(other)
                    ),
                ));
            }
        };
        out.push(Part::text(part_at, text));
    }
    Ok(out)
}

/// The text of text parts, joined with newlines (a tool result is one string).
fn joined(parts: Vec<Part<'_>>) -> Cow<'_, str> {
    let mut texts: Vec<Cow<'_, str>> = parts
        .into_iter()
        .filter_map(|p| match p.kind {
            PartKind::Text(text) => Some(text),
            _ => None,
        })
        .collect();
    match texts.len() {
        0 => Cow::Borrowed(""),
        1 => texts.swap_remove(0),
        _ => Cow::Owned(texts.join("\n")),
    }
}

/// Text (if any), then the tool calls. Text is required when there are no tool calls.
fn assistant_parts<'a>(
    content: Option<Content<'a>>,
    calls: Option<Vec<AnObject<WireCall<'a>>>>,
    at: Source,
) -> Result<Vec<Part<'a>>, TranslateError> {
    let calls = calls.unwrap_or_default();
    let mut parts = match content {
        Some(content) => text_parts(content, at)?,
        None if calls.is_empty() => {
            return Err(TranslateError::at(
                at.field(".content"),
                "is required when there are no tool_calls",
            ));
        }
        None => Vec::with_capacity(calls.len()),
    };
    for (j, AnObject(call)) in calls.into_iter().enumerate() {
        let call_at = format!("{at}.tool_calls[{j}]");
        if call.kind.as_ref().is_some_and(|k| k.as_str() != "function") {
            return Err(TranslateError::at(
                format!("{call_at}.type"),
                "must be \"function\"",
            ));
        }
        let id = non_empty(call.id, || format!("{call_at}.id"))?;
        let Some(AnObject(function)) = call.function else {
            return Err(TranslateError::at(
                format!("{call_at}.function"),
                "is required",
            ));
        };
        let name = non_empty(function.name, || format!("{call_at}.function.name"))?;
        let arguments = function.arguments.map_or(Cow::Borrowed("{}"), |a| a.0);
        parts.push(Part::tool_call(
            at,
            ToolCall {
                id,
                name,
                arguments,
            },
        ));
    }
    Ok(parts)
}

pub(super) fn non_empty<'a>(
    text: Option<Text<'a>>,
    at: impl FnOnce() -> String,
) -> Result<Cow<'a, str>, TranslateError> {
    match text {
        Some(text) if !text.as_str().is_empty() => Ok(text.into_cow()),
        _ => Err(TranslateError::at(at(), "is required (a non-empty string)")),
    }
}
