//! Strict checking of chat request bodies against UPSTREAM.md, so a proxy mapping bug is a 400 in tests rather
//! than something the fake quietly tolerates. Returns what the reply needs to know about the conversation.

use std::collections::{HashMap, HashSet};

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

impl ApiVersion {
    fn tools_fqdn(self) -> &'static str {
        match self {
            ApiVersion::V7 => "llm.parameters.functions",
            ApiVersion::V8 => "llm.parameters.tools",
        }
    }
}

/// What the fake needs to shape its answer.
#[derive(Debug)]
pub(super) struct ChatSummary {
    pub version: ApiVersion,
    /// Content of the last `user_message`, empty if there is none.
    pub last_user_text: String,
    /// How the conversation ends.
    pub last: LastMessage,
    /// The declared tools' names, in order; empty when no tools were sent.
    pub tools: Vec<String>,
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

type Check<T = ()> = Result<T, String>;

/// Validates a chat body for `version`; the error says what is wrong, for the 400 body.
pub(super) fn validate_chat(body: &Value, version: ApiVersion) -> Check<ChatSummary> {
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
    let (last_user_text, last) = match version {
        ApiVersion::V8 => check_v8_messages(messages)?,
        ApiVersion::V7 => check_v7_messages(messages)?,
    };
    let tools = match top.get("parameters") {
        None => Vec::new(),
        Some(parameters) => check_parameters(parameters, version, profile.starts_with("google-"))?,
    };
    Ok(ChatSummary {
        version,
        last_user_text,
        last,
        tools,
    })
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
            "system_message" | "assistant_message_text" => {
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

/// Checks `parameters` (present means tools) and returns the tools' names in order.
fn check_parameters(parameters: &Value, version: ApiVersion, gemini: bool) -> Check<Vec<String>> {
    let p = as_object(parameters, "parameters")?;
    only_keys(p, &["data"], "parameters")?;
    let data = match p.get("data") {
        Some(Value::Array(data)) if !data.is_empty() => data,
        Some(Value::Array(_)) => {
            return Err("parameters.data is empty: omit parameters when there are no tools".into());
        }
        Some(Value::Null) => {
            return Err("parameters.data is null: omit parameters when there are no tools".into());
        }
        _ => return Err("parameters.data is missing or not an array".into()),
    };
    // The data list is a marker entry naming the parameter by fqdn, then the entry with its value.
    if data.len() != 2 {
        return Err(format!(
            "parameters.data must be [fqdn marker, value], found {} entries",
            data.len()
        ));
    }
    let marker = as_object(&data[0], "parameters.data[0]")?;
    only_keys(marker, &["type", "fqdn"], "parameters.data[0]")?;
    json_type(marker, "parameters.data[0]")?;
    let fqdn = non_empty_str(marker, "fqdn", "parameters.data[0]")?;
    if fqdn != version.tools_fqdn() {
        return Err(format!(
            "{version:?} tools go under fqdn {:?}, not {fqdn:?}",
            version.tools_fqdn()
        ));
    }
    let entry = as_object(&data[1], "parameters.data[1]")?;
    only_keys(entry, &["type", "value", "modified"], "parameters.data[1]")?;
    json_type(entry, "parameters.data[1]")?;
    match (entry.get("modified"), version) {
        (None, ApiVersion::V7) => {}
        (None, ApiVersion::V8) => {
            return Err("parameters.data[1].modified (epoch ms) is missing".into());
        }
        // Seconds instead of milliseconds would be below 10^12 for any date after 2001.
        (Some(Value::Number(n)), _) if n.as_i64().is_some_and(|ms| ms >= 1_000_000_000_000) => {}
        (Some(_), _) => {
            return Err(
                "parameters.data[1].modified must be an integer epoch in milliseconds".into(),
            );
        }
    }
    let Some(Value::String(text)) = entry.get("value") else {
        return Err(
            "parameters.data[1].value must be a JSON string holding the tools array".into(),
        );
    };
    let tools = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(tools)) if !tools.is_empty() => tools,
        Ok(Value::Array(_)) => {
            return Err("parameters.data[1].value holds an empty tools array".into());
        }
        _ => return Err("parameters.data[1].value is not a JSON array of tools".into()),
    };
    let mut names = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let name = check_tool(tool, &format!("tools[{i}]"), version, gemini)?;
        if names.iter().any(|n| n == name) {
            return Err(format!("tool name {name:?} is declared twice"));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn check_tool<'a>(tool: &'a Value, at: &str, version: ApiVersion, gemini: bool) -> Check<&'a str> {
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
    if let Some(description) = t.get("description")
        && !description.is_string()
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

fn json_type(m: &Map<String, Value>, at: &str) -> Check {
    match m.get("type") {
        Some(Value::String(t)) if t == "json" => Ok(()),
        _ => Err(format!("{at}.type must be \"json\"")),
    }
}

fn as_object<'a>(value: &'a Value, at: &str) -> Check<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| format!("{at} is missing or not a JSON object"))
}

fn only_keys(m: &Map<String, Value>, allowed: &[&str], at: &str) -> Check {
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
