//! Validation of an OpenAI chat request and its translation into the upstream chat body (v8 or v7), with the
//! upstream path and a prompt-token estimate. Every rejection is a [`TranslateError`] naming the offending field.

mod image;
mod messages;
mod tools;

use std::fmt;

use serde::Serialize;

use super::openai::request::ChatRequest;
use super::usage;
use crate::config::UpstreamApi;
use crate::upstream::request::{GrazieRequest, path_for};

pub use image::MAX_IMAGE_BYTES;
use messages::{Chat, Message};

/// A request jbproxy will not send upstream. Becomes an OpenAI 400 `invalid_request_error`; `param` is the JSON path
/// of the offending field (`messages[2].content`), and the message names it too.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslateError {
    pub message: String,
    pub param: Option<String>,
}

impl TranslateError {
    fn at(param: impl Into<String>, message: impl fmt::Display) -> Self {
        let param = param.into();
        TranslateError {
            message: format!("{param}: {message}"),
            param: Some(param),
        }
    }
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TranslateError {}

/// Tokens an image counts for in the prompt estimate: what OpenAI bills a 1024×1024 image at high detail. Counting
/// the base64 text instead would overstate it a hundredfold.
const IMAGE_TOKENS: u32 = 765;

/// Validates `req` and builds the upstream request for `profile`. `now_ms` (epoch milliseconds) stamps the tools'
/// `modified` field; it is passed in to keep this function pure.
///
/// Sampling parameters, `tool_choice` and `stream_options` are not sent: the upstream has no such fields.
pub fn build(
    req: &ChatRequest,
    profile: &str,
    api: UpstreamApi,
    now_ms: i64,
) -> Result<GrazieRequest, TranslateError> {
    match req.n {
        Some(n) if n > 1 => {
            return Err(TranslateError::at(
                "n",
                "n>1 is not supported; JetBrains AI returns one choice",
            ));
        }
        Some(0) => return Err(TranslateError::at("n", "must be 1")),
        _ => {}
    }
    if req.messages.is_empty() {
        return Err(TranslateError::at(
            "messages",
            "must contain at least one message",
        ));
    }

    let mut chat = Chat::new(api, req.messages.len() + 4);
    for (i, message) in req.messages.iter().enumerate() {
        chat.push(i, message)?;
    }
    let tools = tools::value(req.tools.as_deref(), api)?;

    let (text_bytes, images, image_bytes) =
        chat.messages
            .iter()
            .fold((0, 0u32, 0), |(t, n, b), m| match m {
                Message::Media { data, .. } => (t, n + 1, b + data.len()),
                other => (t + other.text_len(), n, b),
            });
    let tools_len = tools.as_ref().map_or(0, String::len);
    let prompt_tokens = usage::tokens_for_bytes(text_bytes + tools_len)
        .saturating_add(images.saturating_mul(IMAGE_TOKENS));

    let body = Body {
        prompt: "ij.chat.request.new-chat-on-start",
        profile,
        chat: ChatBody {
            messages: &chat.messages,
        },
        parameters: tools.map(|value| tools::parameters(value, api, now_ms)),
    };
    // Escaping grows text a little; the per-message figure covers the type tags and keys.
    let capacity = 256
        + profile.len()
        + text_bytes
        + text_bytes / 8
        + image_bytes
        + tools_len * 2
        + chat.messages.len() * 64;
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, &body).map_err(|e| TranslateError {
        message: format!("could not serialize the upstream request: {e}"),
        param: None,
    })?;
    Ok(GrazieRequest {
        path: path_for(profile, api),
        body: buf,
        prompt_tokens,
    })
}

#[derive(Serialize)]
struct Body<'a> {
    prompt: &'static str,
    profile: &'a str,
    chat: ChatBody<'a>,
    /// Omitted entirely without tools: v8 answers `{"data":null}` with a 400.
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<tools::Parameters>,
}

#[derive(Serialize)]
struct ChatBody<'a> {
    messages: &'a [Message<'a>],
}

/// Client text quoted back in an error, cut so an error can never carry a whole prompt.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

#[cfg(test)]
mod tests;
