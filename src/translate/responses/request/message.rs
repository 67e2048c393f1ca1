//! Responses `message` items → turns: the role, and a content list's parts (`input_text`, `output_text`,
//! `refusal`, `input_image`), each checked against what its role may carry.

use super::items::{VALID_ROLES, WireItem, WirePart};
use crate::translate::conversation::{Part, PartKind, Role, Source, Turn};
use crate::translate::parse::{Text, TextOr};
use crate::translate::{TranslateError, image, truncate};

/// A message item; `None` for an assistant message without text (nothing to send, and the upstream refuses blank
/// text).
pub(super) fn message<'a>(
    item: WireItem<'a>,
    at: Source,
    dropped: &mut Vec<String>,
) -> Result<Option<Turn<'a>>, TranslateError> {
    let Some(role) = item.role else {
        return Err(TranslateError::at(
            at.field(".role"),
            format!("is required; valid roles are {VALID_ROLES}"),
        ));
    };
    let Some(content) = item.content else {
        return Err(TranslateError::at(at.field(".content"), "is required"));
    };
    let role = match role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" | "developer" => Role::System,
        other => {
            return Err(TranslateError::at(
                at.field(".role"),
                format!(
                    "unknown role {:?}; valid roles are {VALID_ROLES}",
                    truncate(other)
                ),
            ));
        }
    };
    let parts = match content {
        TextOr::Text(text) => vec![Part::text(at, text)],
        TextOr::List(parts) if parts.is_empty() && role == Role::User => {
            return Err(TranslateError::at(
                at.field(".content"),
                "must not be an empty array",
            ));
        }
        TextOr::List(parts) => content_parts(parts, role, at)?,
    };
    let blank = parts
        .iter()
        .all(|p| matches!(&p.kind, PartKind::Text(t) if t.trim().is_empty()));
    if role == Role::Assistant && blank {
        dropped.push(format!("{at}: an assistant message without text"));
        return Ok(None);
    }
    Ok(Some(Turn { role, parts }))
}

/// The parts of a message's content list, each checked against what its role may carry.
pub(super) fn content_parts<'a>(
    parts: Vec<WirePart<'a>>,
    role: Role,
    at: Source,
) -> Result<Vec<Part<'a>>, TranslateError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        let part_at = at.child(j);
        let kind = Text::part_type(part.kind.as_ref(), part_at)?;
        match (kind, role) {
            ("input_text" | "output_text", _) => out.push(Part::text(
                part_at,
                Text::required(part.text, ".text", part_at)?,
            )),
            ("refusal", Role::Assistant) => out.push(Part::text(
                part_at,
                Text::required(part.refusal, ".refusal", part_at)?,
            )),
            ("input_image", Role::User) => out.push(image(part, part_at, part_at.to_string())?),
            ("input_file", _) => return Err(no_files(part_at.field(".type"))),
            (other, _) => {
                let allowed = match role {
                    Role::User => "\"input_text\" or \"input_image\"",
                    Role::Assistant => "\"output_text\" or \"refusal\"",
                    Role::System => "\"input_text\"",
                };
                return Err(TranslateError::at(
                    part_at.field(".type"),
                    format!(
                        "unsupported content part type {:?} here; use {allowed}",
                        truncate(other)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// An `input_image` part: an inline `data:` URL (remote URLs are not fetched, and a `file_id` needs OpenAI's
/// Files API). `path` is where the part is, in the client's terms; `at` is the part's [`Source`].
pub(super) fn image<'a>(
    part: WirePart<'a>,
    at: Source,
    path: String,
) -> Result<Part<'a>, TranslateError> {
    match (part.image_url, part.file_id) {
        (Some(url), _) => image::from_data_url(url.into_cow())
            .map(|image| Part::image(at, image))
            .map_err(|message| TranslateError::at(format!("{path}.image_url"), message)),
        (None, Some(_)) => Err(TranslateError::at(
            format!("{path}.file_id"),
            "files uploaded to OpenAI cannot be read through jbproxy; send the image inline as image_url \
             (data:image/png;base64,...)",
        )),
        (None, None) => Err(TranslateError::at(
            format!("{path}.image_url"),
            "is required (a data URL)",
        )),
    }
}

pub(super) fn no_files(param: String) -> TranslateError {
    TranslateError::at(
        param,
        "file inputs are not supported; JetBrains AI takes text and images only",
    )
}
