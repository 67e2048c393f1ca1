//! The one mapping from a [`Conversation`] to the upstream's chat body, v8 or v7 (and, later, the native routes):
//! message types, the order the upstream wants, tool results named after their calls, the tools entry, the
//! parameters the profile takes (`params`), and the prompt-token estimate. Every face reaches the upstream through
//! [`build`].

mod params;

use std::borrow::Cow;
use std::collections::HashMap;

use serde::ser::{SerializeSeq, Serializer};

use super::TranslateError;
use super::conversation::{Conversation, Part, PartKind, Role, Source};
use super::usage;
use crate::config::UpstreamApi;
use crate::profiles::{Capabilities, Param};
use crate::upstream::parameters::Value;
use crate::upstream::request::{
    Body, ChatBody, FunctionCall, GrazieRequest, Message, PROMPT, ToolDef, path_for, tools_json,
};

/// Tokens an image counts for in the prompt estimate: what OpenAI bills a 1024×1024 image at high detail. Counting
/// the base64 text instead would overstate it a hundredfold.
pub(crate) const IMAGE_TOKENS: u32 = 765;

/// Validates what only the upstream's terms can judge and builds the request for `profile`, which takes what
/// `caps` says (`crate::profiles`).
///
/// - System turns → one `system_message` each (its text parts joined with newlines).
/// - User turns → their tool results first (`tool_message` / v7 `function_message`, named after the earlier call
///   with that id), then their images (`media_message`, v8 only), then one `user_message` per text part: the
///   upstream wants results right after the calls, and an image before the text about it.
/// - Assistant turns → their text as `assistant_message` (joined; left out when empty and there are calls), then
///   one message per call.
/// - Blank text (empty or only whitespace) is never sent: the upstream refuses it. A message left with nothing is
///   left out.
/// - A conversation that ends with an assistant message (prefill) is refused when the profile does not take one.
/// - Parameters: see `params` (sent when the profile takes them, else left out, or refused when leaving them out
///   would change the answer's shape).
pub fn build(
    conversation: &Conversation<'_>,
    profile: &str,
    caps: &Capabilities,
    api: UpstreamApi,
) -> Result<GrazieRequest, TranslateError> {
    let plan = params::plan(conversation, profile, caps, api == UpstreamApi::V7)?;
    // A first pass over the messages finds every error and sizes the body; the second writes it.
    let mut sizes = Sizes::default();
    each_message(conversation, api, |message, at| {
        sizes.add(&message, at);
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|stop| match stop {
        Stop::Invalid(err) => err,
        Stop::Emit(never) => match never {},
    })?;
    if sizes.messages == 0 {
        return Err(TranslateError::at(
            "messages",
            "hold no text, image or tool result to send (blank text is not sent)",
        ));
    }
    if let Some(at) = sizes.trailing_assistant
        && !caps.prefill
    {
        return Err(TranslateError::at(
            at.to_string(),
            format!(
                "the conversation ends with an assistant message (prefill), which profile {profile} does not take; \
                 end it with a user message"
            ),
        ));
    }
    let mut parameters = plan.parameters;
    if plan.send_tools {
        let defs = conversation.tools.iter().map(|tool| ToolDef {
            name: &tool.name,
            description: tool.description.as_deref(),
            schema: tool.schema.as_ref(),
        });
        let tools = tools_json(defs, api).map_err(|e| TranslateError {
            message: format!("could not serialize the tools: {e}"),
            param: Some("tools".into()),
        })?;
        parameters.set(Param::Tools, Value::Json(Cow::Owned(tools)));
    }
    if !plan.dropped.is_empty() {
        let names: Vec<&str> = plan.dropped.iter().map(|p| p.name()).collect();
        tracing::debug!(
            profile,
            parameters = %names.join(", "),
            "not sent upstream: the profile does not take these parameters"
        );
    }
    if plan.extra_stops > 0 {
        tracing::debug!(
            profile,
            left_out = plan.extra_stops,
            "only the first stop sequence is sent: the upstream takes one stop-token"
        );
    }
    let tools_len = match parameters.get(Param::Tools) {
        Some(Value::Json(tools)) => tools.len(),
        _ => 0,
    };
    let prompt_tokens = usage::tokens_for_bytes(sizes.text_bytes + tools_len)
        .saturating_add(sizes.images.saturating_mul(IMAGE_TOKENS));
    // Escaping grows text a little; the per-message figure covers the type tags and keys.
    let capacity = 256
        + profile.len()
        + sizes.text_bytes
        + sizes.text_bytes / 8
        + sizes.image_bytes
        + parameters.value_bytes() * 2
        + sizes.messages * 64;
    let body = Body {
        prompt: PROMPT,
        profile,
        chat: ChatBody {
            messages: Messages { conversation, api },
        },
        parameters: (!parameters.is_empty()).then_some(parameters),
    };
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, &body).map_err(|e| TranslateError {
        message: format!("could not serialize the upstream request: {e}"),
        param: None,
    })?;
    Ok(GrazieRequest {
        path: path_for(profile, api),
        body: buf.into(),
        prompt_tokens,
        native: None,
    })
}

/// What the first pass counts.
#[derive(Default)]
struct Sizes {
    messages: usize,
    text_bytes: usize,
    images: u32,
    image_bytes: usize,
    /// Where the last assistant message came from, while no user-side message has followed it.
    trailing_assistant: Option<Source>,
}

impl Sizes {
    fn add(&mut self, message: &Message<'_>, at: Source) {
        self.messages += 1;
        match message {
            Message::Assistant { .. } | Message::AssistantTool { .. } => {
                self.trailing_assistant = Some(at.message());
            }
            // A system message after the last answer does not make the user speak: the conversation still ends
            // with the assistant (aider sends a reminder there after a user message, which is fine).
            Message::System { .. } => {}
            _ => self.trailing_assistant = None,
        }
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
        each_message(self.conversation, self.api, |message, _| {
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

/// Calls `emit` with every upstream message of the conversation, in order, and where in the client's request it
/// came from.
fn each_message<'c, E>(
    conversation: &'c Conversation<'_>,
    api: UpstreamApi,
    mut emit: impl FnMut(Message<'c>, Source) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    // The calls seen so far, id → name, to name tool results (the upstream wants the name, clients send the id).
    // A later call with the same id wins: results answer the most recent call (v7 ids like `call_0` repeat).
    let mut calls: HashMap<&'c str, &'c str> = HashMap::new();
    for turn in &conversation.turns {
        let Some(first) = turn.parts.first() else {
            continue;
        };
        let at = first.at;
        let mut out = |message| emit(message, at).map_err(Stop::Emit);
        match turn.role {
            Role::System => {
                let content = joined_text(&turn.parts);
                if !content.is_empty() {
                    out(Message::System { content })?;
                }
            }
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
    if !text.is_empty() {
        out(Message::Assistant {
            content: text,
            function_call: None,
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
        if let PartKind::Text(text) = &part.kind
            && !is_blank(text)
        {
            out(Message::User { content: text })?;
        }
    }
    Ok(())
}

/// Text the upstream refuses as a message ("text content blocks must contain non-whitespace text").
fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// The non-blank text parts of a turn as one string, joined with newlines (the upstream takes one string for system
/// and assistant messages). Borrowed when there is only one; empty when there is none.
fn joined_text<'c>(parts: &'c [Part<'_>]) -> Cow<'c, str> {
    let mut texts = parts.iter().filter_map(|p| match &p.kind {
        PartKind::Text(text) if !is_blank(text) => Some(text.as_ref()),
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
