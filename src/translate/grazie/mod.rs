//! The one mapping from a [`Conversation`] to the upstream's chat body, v8 or v7 (and, later, the native routes):
//! message types, the order the upstream wants, tool results named after their calls, the tools entry, and the
//! prompt-token estimate. Every face reaches the upstream through [`build`].

use std::borrow::Cow;
use std::collections::HashMap;

use serde::ser::{SerializeSeq, Serializer};

use super::TranslateError;
use super::conversation::{Conversation, Part, PartKind, Role};
use super::usage;
use crate::config::UpstreamApi;
use crate::upstream::request::{
    Body, ChatBody, FunctionCall, GrazieRequest, Message, PROMPT, Parameters, ToolDef, path_for,
    tools_json,
};

/// Tokens an image counts for in the prompt estimate: what OpenAI bills a 1024×1024 image at high detail. Counting
/// the base64 text instead would overstate it a hundredfold.
pub(crate) const IMAGE_TOKENS: u32 = 765;

/// Validates what only the upstream's terms can judge and builds the request for `profile`. `now_ms` (epoch
/// milliseconds) stamps the tools' `modified` field; it is passed in to keep this function pure.
///
/// - System turns → one `system_message` each (its text parts joined with newlines).
/// - User turns → their tool results first (`tool_message` / v7 `function_message`, named after the earlier call
///   with that id), then their images (`media_message`, v8 only), then one `user_message` per text part: the
///   upstream wants results right after the calls, and an image before the text about it.
/// - Assistant turns → their text (joined; left out when empty and there are calls), then one message per call.
/// - Sampling parameters and `tool_choice` are not sent yet; `n` above 1 is refused (one answer comes back).
pub fn build(
    conversation: &Conversation<'_>,
    profile: &str,
    api: UpstreamApi,
    now_ms: i64,
) -> Result<GrazieRequest, TranslateError> {
    match conversation.params.n {
        Some(n) if n > 1 => {
            return Err(TranslateError::at(
                "n",
                "n>1 is not supported; JetBrains AI returns one choice",
            ));
        }
        Some(0) => return Err(TranslateError::at("n", "must be 1")),
        _ => {}
    }
    // A first pass over the messages finds every error and sizes the body; the second writes it.
    let mut sizes = Sizes::default();
    each_message(conversation, api, |message| {
        sizes.add(&message);
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|stop| match stop {
        Stop::Invalid(err) => err,
        Stop::Emit(never) => match never {},
    })?;
    let tools = if conversation.tools.is_empty() {
        None
    } else {
        let defs = conversation.tools.iter().map(|tool| ToolDef {
            name: &tool.name,
            description: tool.description.as_deref(),
            schema: tool.schema.as_ref(),
        });
        Some(tools_json(defs, api).map_err(|e| TranslateError {
            message: format!("could not serialize the tools: {e}"),
            param: Some("tools".into()),
        })?)
    };
    let tools_len = tools.as_ref().map_or(0, String::len);
    let prompt_tokens = usage::tokens_for_bytes(sizes.text_bytes + tools_len)
        .saturating_add(sizes.images.saturating_mul(IMAGE_TOKENS));
    let body = Body {
        prompt: PROMPT,
        profile,
        chat: ChatBody {
            messages: Messages { conversation, api },
        },
        parameters: tools.map(|tools| Parameters::tools(tools, api, now_ms)),
    };
    // Escaping grows text a little; the per-message figure covers the type tags and keys.
    let capacity = 256
        + profile.len()
        + sizes.text_bytes
        + sizes.text_bytes / 8
        + sizes.image_bytes
        + tools_len * 2
        + sizes.messages * 64;
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, &body).map_err(|e| TranslateError {
        message: format!("could not serialize the upstream request: {e}"),
        param: None,
    })?;
    Ok(GrazieRequest {
        path: path_for(profile, api),
        body: buf.into(),
        prompt_tokens,
    })
}

/// What the first pass counts.
#[derive(Default)]
struct Sizes {
    messages: usize,
    text_bytes: usize,
    images: u32,
    image_bytes: usize,
}

impl Sizes {
    fn add(&mut self, message: &Message<'_>) {
        self.messages += 1;
        match message {
            Message::Media { data, .. } => {
                self.images = self.images.saturating_add(1);
                self.image_bytes += data.len();
            }
            other => self.text_bytes += other.text_len(),
        }
    }
}

/// The message list, serialized straight from the conversation: a long conversation is never held a second time
/// as upstream messages.
struct Messages<'c, 'a> {
    conversation: &'c Conversation<'a>,
    api: UpstreamApi,
}

impl serde::Serialize for Messages<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        each_message(self.conversation, self.api, |message| {
            seq.serialize_element(&message)
        })
        .map_err(|stop| match stop {
            // `build` found every error in its first pass.
            Stop::Invalid(err) => serde::ser::Error::custom(err.message),
            Stop::Emit(err) => err,
        })?;
        seq.end()
    }
}

/// Why [`each_message`] stopped: the conversation cannot be sent, or `emit` failed.
enum Stop<E> {
    Invalid(TranslateError),
    Emit(E),
}

/// Calls `emit` with every upstream message of the conversation, in order.
fn each_message<'c, E>(
    conversation: &'c Conversation<'_>,
    api: UpstreamApi,
    mut emit: impl FnMut(Message<'c>) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    let mut out = |message| emit(message).map_err(Stop::Emit);
    // The calls seen so far, id → name, to name tool results (the upstream wants the name, clients send the id).
    // A later call with the same id wins: results answer the most recent call (v7 ids like `call_0` repeat).
    let mut calls: HashMap<&'c str, &'c str> = HashMap::new();
    for turn in &conversation.turns {
        match turn.role {
            Role::System => out(Message::System {
                content: joined_text(&turn.parts),
            })?,
            Role::Assistant => assistant(&turn.parts, api, &mut calls, &mut out)?,
            Role::User => user(&turn.parts, api, &calls, &mut out)?,
        }
    }
    Ok(())
}

/// Text (if any) first, then one message per tool call. Faces put no other parts in an assistant turn.
fn assistant<'c, E>(
    parts: &'c [Part<'_>],
    api: UpstreamApi,
    calls: &mut HashMap<&'c str, &'c str>,
    out: &mut impl FnMut(Message<'c>) -> Result<(), Stop<E>>,
) -> Result<(), Stop<E>> {
    let text = joined_text(parts);
    let has_calls = parts
        .iter()
        .any(|p| matches!(p.kind, PartKind::ToolCall(_)));
    if !text.is_empty() || !has_calls {
        out(match api {
            UpstreamApi::V8 => Message::AssistantText { content: text },
            UpstreamApi::V7 => Message::Assistant {
                content: text,
                function_call: None,
            },
        })?;
    }
    for part in parts {
        let PartKind::ToolCall(call) = &part.kind else {
            continue;
        };
        calls.insert(&call.id, &call.name);
        out(match api {
            UpstreamApi::V8 => Message::AssistantTool {
                id: &call.id,
                tool_name: &call.name,
                content: &call.arguments,
            },
            // v7 carries one call per message.
            UpstreamApi::V7 => Message::Assistant {
                content: Cow::Borrowed(""),
                function_call: Some(FunctionCall {
                    function_name: &call.name,
                    content: &call.arguments,
                }),
            },
        })?;
    }
    Ok(())
}

/// Tool results, then images, then texts. Faces put no tool calls in a user turn.
fn user<'c, E>(
    parts: &'c [Part<'_>],
    api: UpstreamApi,
    calls: &HashMap<&'c str, &'c str>,
    out: &mut impl FnMut(Message<'c>) -> Result<(), Stop<E>>,
) -> Result<(), Stop<E>> {
    for part in parts {
        let PartKind::ToolResult(result) = &part.kind else {
            continue;
        };
        let Some(&name) = calls.get(result.call_id.as_ref()) else {
            return Err(Stop::Invalid(TranslateError::at(
                part.at.field(result.id_field),
                format!(
                    "{:?} matches no tool call of an earlier assistant message",
                    super::truncate(&result.call_id)
                ),
            )));
        };
        // The upstream has no error flag on a result: the text says so.
        let content = if result.is_error {
            Cow::Owned(format!("[tool error] {}", result.content))
        } else {
            Cow::Borrowed(result.content.as_ref())
        };
        out(match api {
            UpstreamApi::V8 => Message::ToolResult {
                id: &result.call_id,
                tool_name: name,
                result: content,
            },
            UpstreamApi::V7 => Message::Function {
                content,
                function_name: name,
            },
        })?;
    }
    for part in parts {
        let PartKind::Image(image) = &part.kind else {
            continue;
        };
        if api == UpstreamApi::V7 {
            return Err(Stop::Invalid(TranslateError::at(
                part.at.to_string(),
                "images are not supported by the v7 upstream API; set upstream_api to v8",
            )));
        }
        out(Message::Media {
            media_type: image.media_type,
            data: &image.data,
        })?;
    }
    for part in parts {
        if let PartKind::Text(text) = &part.kind {
            out(Message::User { content: text })?;
        }
    }
    Ok(())
}

/// The text parts of a turn as one string, joined with newlines (the upstream takes one string for system and
/// assistant messages). Borrowed when there is only one.
fn joined_text<'c>(parts: &'c [Part<'_>]) -> Cow<'c, str> {
    let mut texts = parts.iter().filter_map(|p| match &p.kind {
        PartKind::Text(text) => Some(text.as_ref()),
        _ => None,
    });
    let Some(first) = texts.next() else {
        return Cow::Borrowed("");
    };
    match texts.next() {
        None => Cow::Borrowed(first),
        Some(second) => {
            let mut joined = format!("{first}\n{second}");
            for text in texts {
                joined.push('\n');
                joined.push_str(text);
            }
            Cow::Owned(joined)
        }
    }
}

#[cfg(test)]
mod tests;
