//! Strict checking of chat request bodies against docs/UPSTREAM.md, so a proxy mapping bug is a 400 in tests rather
//! than something the fake quietly tolerates: message shapes, blank text and a trailing assistant message on a
//! profile without prefill (refused as the real service refuses them), and the parameters (`super::parameters`).
//! Returns what the reply needs to know about the conversation.

use std::collections::{HashMap, HashSet};

use super::parameters::{self, Asked};
use crate::profiles::{Capabilities, ProfileTable};

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// Which body dialect an endpoint speaks. The responses endpoint takes the v8 body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ApiVersion {
    V7,
    V8,
}

/// What the fake needs to shape its answer.
#[derive(Debug)]
pub(super) struct ChatSummary {
    pub version: ApiVersion,
    /// Content of the last `user_message`, empty if there is none.
    pub last_user_text: String,
    /// How the conversation ends.
    pub last: LastMessage,
    /// What the parameters ask of the answer, the declared tools' names among it.
    pub asked: Asked,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum LastMessage {
    User,
    /// A tool (v8) or function (v7) result, with its text.
    ToolResult(String),
    Other,
}

const MEDIA_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Base64 as Java decodes it: standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(super) type Check<T = ()> = Result<T, String>;

/// Validates a chat body for `version`, with `profiles` saying what each profile takes; the error says what is
/// wrong, for the 400 body.
pub(super) fn validate_chat(
    body: &Value,
    version: ApiVersion,
    profiles: &ProfileTable,
) -> Check<ChatSummary> {
    let top = as_object(body, "body")?;
    only_keys(top, &["prompt", "profile", "chat", "parameters"], "body")?;
    non_empty_str(top, "prompt", "body")?;
    let profile = non_empty_str(top, "profile", "body")?;
    if profile.contains(char::is_whitespace) {
        return Err(format!("profile {profile:?} contains whitespace"));
    }
    let chat = as_object(top.get("chat").unwrap_or(&Value::Null), "chat")?;
    only_keys(chat, &["messages"], "chat")?;
    let messages = match chat.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => return Err("chat.messages is empty".into()),
        _ => return Err("chat.messages is missing or not an array".into()),
    };
    let caps = profiles.capabilities(profile);
    let (last_user_text, last) = match version {
        ApiVersion::V8 => check_v8_messages(messages)?,
        ApiVersion::V7 => check_v7_messages(messages)?,
    };
    check_refusals(messages, profile, &caps)?;
    let asked = match top.get("parameters") {
        None => Asked {
            choices: 1,
            ..Asked::default()
        },
        Some(parameters) => parameters::check(parameters, version, profile, &caps)?,
    };
    Ok(ChatSummary {
        version,
        last_user_text,
        last,
        asked,
    })
}

/// What the service refuses though the shapes are right (docs/UPSTREAM.md "Messages"; the texts are Anthropic's
/// own errors): blank text, on Claude profiles, and a conversation ending with an assistant message on a profile
/// without prefill.
fn check_refusals(messages: &[Value], profile: &str, caps: &Capabilities) -> Check {
    fn text_of(m: &Value) -> Option<&str> {
        let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
        let calls = m.get("functionCall").is_some_and(|c| !c.is_null());
        match kind {
            "system_message" | "user_message" | "assistant_message_text" => m.get("content"),
            "assistant_message" if !calls => m.get("content"),
            _ => None,
        }
        .and_then(Value::as_str)
    }
    if profile.starts_with("anthropic-") {
        for (i, message) in messages.iter().enumerate() {
            if text_of(message).is_some_and(|t| t.trim().is_empty()) {
                return Err(format!(
                    "chat.messages[{i}]: messages: text content blocks must contain non-whitespace text"
                ));
            }
        }
    }
    let last = messages
        .iter()
        .rev()
        .find(|m| m.get("type").and_then(Value::as_str) != Some("system_message"))
        .and_then(|m| m.get("type"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if last.starts_with("assistant_message") && !caps.prefill {
        return Err(format!(
            "profile {profile}: This model does not support assistant message prefill. The conversation must end \
             with a user message."
        ));
    }
    Ok(())
}

fn check_v8_messages(messages: &[Value]) -> Check<(String, LastMessage)> {
    let mut calls: HashMap<&str, &str> = HashMap::new(); // tool call id → tool name
    let mut last_user_text = String::new();
    let mut last = LastMessage::Other;
    for (i, message) in messages.iter().enumerate() {
        let at = format!("chat.messages[{i}]");
        let m = as_object(message, &at)?;
        last = LastMessage::Other;
        match message_type(m, &at)? {
            // `assistant_message` is what JetBrains' own v8 client writes; `assistant_message_text` the peers'.
            "system_message" | "assistant_message" | "assistant_message_text" => {
                only_keys(m, &["type", "content"], &at)?;
                string(m, "content", &at)?;
            }
            "user_message" => {
                only_keys(m, &["type", "content"], &at)?;
                last_user_text = string(m, "content", &at)?.to_owned();
                last = LastMessage::User;
            }
            "media_message" => {
                only_keys(m, &["type", "mediaType", "data"], &at)?;
                let media_type = string(m, "mediaType", &at)?;
                if !MEDIA_TYPES.contains(&media_type) {
                    return Err(format!(
                        "{at}.mediaType {media_type:?} is not one of {MEDIA_TYPES:?}"
                    ));
                }
                let data = non_empty_str(m, "data", &at)?;
                if data.starts_with("data:") {
                    return Err(format!(
                        "{at}.data must be bare base64, without the data: URL prefix"
                    ));
                }
                if BASE64.decode(data).is_err() {
                    return Err(format!("{at}.data is not valid base64"));
                }
            }
            "assistant_message_tool" => {
                only_keys(m, &["type", "id", "toolName", "content"], &at)?;
                let id = non_empty_str(m, "id", &at)?;
                let name = non_empty_str(m, "toolName", &at)?;
                string(m, "content", &at)?;
                if calls.insert(id, name).is_some() {
                    return Err(format!("{at}: tool call id {id:?} is used twice"));
                }
            }
            "tool_message" => {
                only_keys(m, &["type", "id", "toolName", "result"], &at)?;
                let id = non_empty_str(m, "id", &at)?;
                let name = non_empty_str(m, "toolName", &at)?;
                let result = string(m, "result", &at)?;
                match calls.get(id) {
                    None => {
                        return Err(format!(
                            "{at}: tool_message id {id:?} matches no earlier assistant_message_tool"
                        ));
                    }
                    Some(called) if *called != name => {
                        return Err(format!(
                            "{at}: toolName {name:?} differs from the call's {called:?}"
                        ));
                    }
                    Some(_) => {}
                }
                last = LastMessage::ToolResult(result.to_owned());
            }
            other => return Err(unknown_type(&at, other, "v8")),
        }
    }
    Ok((last_user_text, last))
}

fn check_v7_messages(messages: &[Value]) -> Check<(String, LastMessage)> {
    let mut called: HashSet<&str> = HashSet::new(); // function names called so far
    let mut last_user_text = String::new();
    let mut last = LastMessage::Other;
    for (i, message) in messages.iter().enumerate() {
        let at = format!("chat.messages[{i}]");
        let m = as_object(message, &at)?;
        last = LastMessage::Other;
        match message_type(m, &at)? {
            "system_message" => {
                only_keys(m, &["type", "content"], &at)?;
                string(m, "content", &at)?;
            }
            "user_message" => {
                only_keys(m, &["type", "content"], &at)?;
                last_user_text = string(m, "content", &at)?.to_owned();
                last = LastMessage::User;
            }
            "assistant_message" => {
                only_keys(m, &["type", "content", "functionCall"], &at)?;
                string(m, "content", &at)?;
                // Kotlin-style serialisers write an absent optional as null; both mean "no call".
                match m.get("functionCall") {
                    None | Some(Value::Null) => {}
                    Some(call) => {
                        let call_at = format!("{at}.functionCall");
                        let call = as_object(call, &call_at)?;
                        only_keys(call, &["functionName", "content"], &call_at)?;
                        called.insert(non_empty_str(call, "functionName", &call_at)?);
                        string(call, "content", &call_at)?;
                    }
                }
            }
            "function_message" => {
                only_keys(m, &["type", "content", "functionName"], &at)?;
                let result = string(m, "content", &at)?;
                let name = non_empty_str(m, "functionName", &at)?;
                if !called.contains(name) {
                    return Err(format!(
                        "{at}: function_message {name:?} follows no functionCall of that name"
                    ));
                }
                last = LastMessage::ToolResult(result.to_owned());
            }
            other => return Err(unknown_type(&at, other, "v7")),
        }
    }
    Ok((last_user_text, last))
}

pub(super) fn check_tool<'a>(
    tool: &'a Value,
    at: &str,
    version: ApiVersion,
    gemini: bool,
) -> Check<&'a str> {
    let t = as_object(tool, at)?;
    only_keys(t, &["name", "description", "parameters"], at)?;
    let name = non_empty_str(t, "name", at)?;
    let valid_name = name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid_name {
        return Err(format!(
            "{at}.name {name:?} must match ^[a-zA-Z0-9_.-]{{1,64}}$"
        ));
    }
    // JetBrains' client writes `"description": null` for a tool without one.
    if let Some(description) = t.get("description")
        && !description.is_string()
        && !description.is_null()
    {
        return Err(format!("{at}.description is not a string"));
    }
    let schema = match (t.get("parameters"), version) {
        (None, _) => return Ok(name),
        (Some(Value::Object(p)), ApiVersion::V8) => {
            let p_at = format!("{at}.parameters");
            only_keys(p, &["schema"], &p_at)?;
            let schema = p
                .get("schema")
                .ok_or_else(|| format!("{p_at}.schema is missing"))?;
            as_object(schema, &format!("{p_at}.schema"))?;
            schema
        }
        (Some(schema @ Value::Object(_)), ApiVersion::V7) => schema,
        (Some(_), _) => return Err(format!("{at}.parameters is not an object")),
    };
    if gemini && let Some(key) = dollar_key(schema) {
        return Err(format!(
            "{at}: schema key {key:?} starts with '$', which google-* profiles reject"
        ));
    }
    Ok(name)
}

/// The first object key anywhere in `value` that starts with `$`.
fn dollar_key(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.starts_with('$') {
                Some(k.as_str())
            } else {
                dollar_key(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(dollar_key),
        _ => None,
    }
}

fn unknown_type(at: &str, found: &str, version: &str) -> String {
    format!("{at}: message type {found:?} is not a {version} message type")
}

fn message_type<'a>(m: &'a Map<String, Value>, at: &str) -> Check<&'a str> {
    non_empty_str(m, "type", at)
}

pub(super) fn as_object<'a>(value: &'a Value, at: &str) -> Check<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| format!("{at} is missing or not a JSON object"))
}

pub(super) fn only_keys(m: &Map<String, Value>, allowed: &[&str], at: &str) -> Check {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(format!(
            "{at} has unexpected field {extra:?} (allowed: {allowed:?})"
        )),
        None => Ok(()),
    }
}

fn string<'a>(m: &'a Map<String, Value>, key: &str, at: &str) -> Check<&'a str> {
    match m.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{at}.{key} is not a string")),
        None => Err(format!("{at}.{key} is missing")),
    }
}

fn non_empty_str<'a>(m: &'a Map<String, Value>, key: &str, at: &str) -> Check<&'a str> {
    match string(m, key, at)? {
        "" => Err(format!("{at}.{key} is empty")),
        s => Ok(s),
    }
}
