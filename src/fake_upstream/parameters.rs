//! The fake's strict reading of `parameters.data` (docs/UPSTREAM.md "Parameters"), and how its answers honour what
//! was asked: a key the profile does not take is a 400 as upstream (per the profile table the fake is given), and
//! `tool-choice-*`, `number-of-choices`, `length` and `response-format` shape the answer, so tests through the proxy
//! prove each mapping end to end.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::validate::{ApiVersion, Check, as_object, check_tool, only_keys};
use crate::profiles::{Capabilities, FQDN_PREFIX, Kind, Param};

/// What the request's parameters ask of the answer.
#[derive(Debug, Default)]
pub(super) struct Asked {
    /// The declared tools' names, in order (empty without tools).
    pub tools: Vec<String>,
    pub tool_choice: Option<Choice>,
    pub parallel_tool_calls: Option<bool>,
    /// Answers to give (`number-of-choices`), at least 1.
    pub choices: u32,
    /// `length`: the longest answer, in tokens (the fake counts four bytes a token).
    pub length: Option<u32>,
    /// The `response-format` value, parsed.
    pub response_format: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Choice {
    Auto,
    None,
    Required,
    Named(String),
}

/// Checks `parameters` (present: at least one pair) for `profile`, which takes what `caps` says.
pub(super) fn check(
    parameters: &Value,
    version: ApiVersion,
    profile: &str,
    caps: &Capabilities,
) -> Check<Asked> {
    let p = as_object(parameters, "parameters")?;
    only_keys(p, &["data"], "parameters")?;
    let data = match p.get("data") {
        Some(Value::Array(data)) if !data.is_empty() => data,
        Some(Value::Array(_)) => {
            return Err("parameters.data is empty: omit parameters when there are none".into());
        }
        Some(Value::Null) => {
            return Err("parameters.data is null: omit parameters when there are none".into());
        }
        _ => return Err("parameters.data is missing or not an array".into()),
    };
    if data.len() % 2 != 0 {
        return Err(format!(
            "parameters.data must be pairs of [key, value], found {} entries",
            data.len()
        ));
    }
    let mut asked = Asked {
        choices: 1,
        ..Asked::default()
    };
    let mut seen = HashSet::new();
    let mut named = None;
    for (i, pair) in data.chunks(2).enumerate() {
        let (key_at, value_at) = (
            format!("parameters.data[{}]", 2 * i),
            format!("parameters.data[{}]", 2 * i + 1),
        );
        let key = as_object(&pair[0], &key_at)?;
        only_keys(key, &["type", "fqdn"], &key_at)?;
        let fqdn = match key.get("fqdn") {
            Some(Value::String(fqdn)) if !fqdn.is_empty() => fqdn.as_str(),
            _ => return Err(format!("{key_at}.fqdn is missing or not a string")),
        };
        let param = known(fqdn, version)?;
        if !seen.insert(param) {
            return Err(format!("parameter {fqdn} is given twice"));
        }
        if !caps.takes(param) {
            // What the real service answers (jb-ai-proxy, 2026-04): a 400 rather than ignoring the key.
            return Err(format!(
                "parameter {fqdn} is not supported for profile {profile}"
            ));
        }
        let kind = param.kind().name();
        if key.get("type").and_then(Value::as_str) != Some(kind) {
            return Err(format!("{key_at}.type must be {kind:?} for {fqdn}"));
        }
        let entry = as_object(&pair[1], &value_at)?;
        only_keys(entry, &["type", "value", "modified"], &value_at)?;
        if entry.get("type").and_then(Value::as_str) != Some(kind) {
            return Err(format!("{value_at}.type must be {kind:?}, as its key says"));
        }
        // JetBrains' client writes 0, one peer epoch milliseconds, another nothing: all are accepted.
        if let Some(modified) = entry.get("modified")
            && !modified.is_i64()
        {
            return Err(format!("{value_at}.modified must be an integer"));
        }
        let value = entry
            .get("value")
            .ok_or_else(|| format!("{value_at}.value is missing"))?;
        let value = typed(value, param.kind(), &value_at)?;
        match param {
            Param::Tools => asked.tools = check_tools(value, version, profile)?,
            Param::ToolChoiceAuto => choose(&mut asked, Choice::Auto)?,
            Param::ToolChoiceNone => choose(&mut asked, Choice::None)?,
            Param::ToolChoiceRequired => choose(&mut asked, Choice::Required)?,
            Param::ToolChoiceNamed => named = Some(value.as_str().unwrap_or_default().to_owned()),
            Param::ParallelToolCalls => asked.parallel_tool_calls = value.as_bool(),
            Param::NumberOfChoices => {
                asked.choices = value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=16).contains(n))
                    .ok_or_else(|| format!("{value_at}.value must be from 1 to 16"))?;
            }
            Param::Length => {
                asked.length = Some(
                    value
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("{value_at}.value must be a positive integer"))?,
                );
            }
            Param::ResponseFormat => asked.response_format = Some(check_format(value)?),
            Param::StopToken
            | Param::Temperature
            | Param::TopP
            | Param::TopK
            | Param::Seed
            | Param::ReasoningEffort
            | Param::Verbosity
            | Param::ThinkingBudget
            | Param::PredictedOutput => {}
        }
    }
    if let Some(name) = named {
        choose(&mut asked, Choice::Named(name.clone()))?;
        if !asked.tools.contains(&name) {
            return Err(format!(
                "tool-choice-named {name:?} is not one of the declared tools"
            ));
        }
    }
    if asked.tool_choice.is_some() && asked.tools.is_empty() {
        return Err("a tool-choice parameter without tools".into());
    }
    Ok(asked)
}

/// The key a fqdn names, on this API version.
fn known(fqdn: &str, version: ApiVersion) -> Check<Param> {
    let unknown = || format!("unknown parameter {fqdn:?}");
    let name = fqdn.strip_prefix(FQDN_PREFIX).ok_or_else(unknown)?;
    match (name, version) {
        ("tools", ApiVersion::V7) => Err(format!(
            "V7 tools go under fqdn \"llm.parameters.functions\", not {fqdn:?}"
        )),
        ("functions", ApiVersion::V8) => Err(format!(
            "V8 tools go under fqdn \"llm.parameters.tools\", not {fqdn:?}"
        )),
        ("functions", ApiVersion::V7) => Ok(Param::Tools),
        (name, _) => Param::parse(name)
            .filter(|p| p.name() == name)
            .ok_or_else(unknown),
    }
}

/// The value as its kind wants it; a `json` value is parsed from its string.
fn typed(value: &Value, kind: Kind, at: &str) -> Check<Value> {
    let ok = match kind {
        Kind::Bool => value.is_boolean(),
        Kind::Int => value.is_i64() || value.is_u64(),
        Kind::Double => value.is_number(),
        Kind::Text => value.is_string(),
        Kind::Json => {
            let Some(text) = value.as_str() else {
                return Err(format!("{at}.value must be a string holding JSON"));
            };
            return serde_json::from_str(text)
                .map_err(|_| format!("{at}.value is not a JSON document"));
        }
    };
    if ok {
        Ok(value.clone())
    } else {
        Err(format!("{at}.value must be of type {}", kind.name()))
    }
}

fn choose(asked: &mut Asked, choice: Choice) -> Check {
    if asked.tool_choice.is_some() {
        return Err("more than one tool-choice parameter".into());
    }
    asked.tool_choice = Some(choice);
    Ok(())
}

/// The tools value: a non-empty list of valid, distinct tools; their names in order.
fn check_tools(tools: Value, version: ApiVersion, profile: &str) -> Check<Vec<String>> {
    let tools = match tools {
        Value::Array(tools) if !tools.is_empty() => tools,
        Value::Array(_) => return Err("the tools value holds an empty tools array".into()),
        _ => return Err("the tools value is not a JSON array of tools".into()),
    };
    let gemini = profile.starts_with("google-");
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let name = check_tool(tool, &format!("tools[{i}]"), version, gemini)?;
        if names.iter().any(|n| n == name) {
            return Err(format!("tool name {name:?} is declared twice"));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// `{"type": "json_object"}` or `{"type": "json_schema", "json_schema": {"schema": {…}, …}}`.
fn check_format(format: Value) -> Check<Value> {
    let ok = match format.get("type").and_then(Value::as_str) {
        Some("json_object") => true,
        Some("json_schema") => format
            .get("json_schema")
            .and_then(|s| s.get("schema"))
            .is_some_and(Value::is_object),
        _ => false,
    };
    if ok {
        Ok(format)
    } else {
        Err("response-format must be {\"type\": \"json_object\"} or {\"type\": \"json_schema\", \"json_schema\": {\"schema\": {…}}}".into())
    }
}

/// The answer text, shaped as asked: JSON under `response-format` (a json_schema answer fills every property its
/// schema lists, so a client's parser sees the keys it requires), cut to `length` tokens. Returns the text and the
/// finish reason.
pub(super) fn shaped_text(text: String, echo: &str, asked: &Asked) -> (String, &'static str) {
    let text = match &asked.response_format {
        Some(format) => match format.get("json_schema").and_then(|s| s.get("schema")) {
            Some(schema) => value_for(schema, echo, 0).to_string(),
            None => json!({"echo": echo}).to_string(),
        },
        None => text,
    };
    match asked.length {
        // Four bytes a token, cut on a character boundary.
        Some(tokens) if text.len() > tokens as usize * 4 => {
            let mut cut = tokens as usize * 4;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            (text[..cut].to_owned(), "length")
        }
        _ => (text, "stop"),
    }
}

/// A value that satisfies a JSON schema's common keywords: `enum` and `const` take their first value, objects get
/// every listed property, strings the echoed text.
fn value_for(schema: &Value, echo: &str, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut object = Map::new();
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (name, property) in properties {
                    object.insert(name.clone(), value_for(property, echo, depth + 1));
                }
            }
            Value::Object(object)
        }
        "array" => json!([]),
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => Value::String(echo.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_values_fill_every_property() {
        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string"}, "n": {"type": "integer"}, "ok": {"type": "boolean"},
            "tags": {"type": "array"}, "kind": {"enum": ["a", "b"]}, "maybe": {"type": ["null", "number"]},
            "inner": {"properties": {"x": {"const": 3}}}}});
        assert_eq!(
            value_for(&schema, "Paris", 0),
            json!({"name": "Paris", "n": 1, "ok": true, "tags": [], "kind": "a", "maybe": 1,
                   "inner": {"x": 3}})
        );
    }

    #[test]
    fn length_cuts_on_a_character_boundary() {
        let asked = Asked {
            length: Some(1),
            ..Asked::default()
        };
        assert_eq!(
            shaped_text("Echo: Paris".into(), "Paris", &asked),
            ("Echo".into(), "length")
        );
        assert_eq!(
            shaped_text("ééé".into(), "", &asked),
            ("éé".into(), "length")
        );
        let long = Asked {
            length: Some(100),
            ..Asked::default()
        };
        assert_eq!(
            shaped_text("Echo".into(), "", &long),
            ("Echo".into(), "stop")
        );
    }
}
