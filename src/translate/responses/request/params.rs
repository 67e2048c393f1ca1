//! The two Responses parameters that need more than a copy: `tool_choice` (including `allowed_tools`, which
//! narrows the tools) and `text.format` (→ the mapping's `response_format`).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::translate::TranslateError;
use crate::translate::conversation::{ResponseFormat, Tool, ToolChoice};
use crate::translate::responses::upstream_name;
use crate::translate::truncate;

/// Tool types OpenAI runs itself; forcing one cannot work, since none of them reach the upstream.
const HOSTED_CHOICES: [&str; 11] = [
    "web_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "code_interpreter",
    "image_generation",
    "computer_use_preview",
    "mcp",
    "shell",
    "apply_patch",
    "programmatic_tool_calling",
];

/// `tool_choice`: `"auto"`, `"none"`, `"required"`, `{"type": "function" | "custom", "name", "namespace"?}`, or
/// `{"type": "allowed_tools", "mode", "tools"}`, which keeps only the listed tools. Everything else is refused.
pub(super) fn tool_choice<'a>(
    value: &Value,
    tools: &mut Vec<Tool<'a>>,
) -> Result<Option<ToolChoice<'a>>, TranslateError> {
    let unsupported = |what: String| {
        TranslateError::at(
            "tool_choice",
            format!(
                "{what}; use \"auto\", \"none\", \"required\", {{\"type\": \"function\", \"name\": …}} or \
                 {{\"type\": \"allowed_tools\", …}}"
            ),
        )
    };
    let object = match value {
        Value::Null => return Ok(None),
        Value::String(mode) => {
            return match mode.as_str() {
                "auto" => Ok(Some(ToolChoice::Auto)),
                "none" => Ok(Some(ToolChoice::None)),
                "required" => Ok(Some(ToolChoice::Required)),
                other => Err(unsupported(format!("unknown mode {:?}", truncate(other)))),
            };
        }
        Value::Object(object) => object,
        _ => return Err(unsupported("must be a string or an object".into())),
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    match text("type") {
        Some("function" | "custom") => {
            let Some(name) = text("name").filter(|n| !n.is_empty()) else {
                return Err(TranslateError::at(
                    "tool_choice.name",
                    "is required (a non-empty string)",
                ));
            };
            Ok(Some(ToolChoice::Named(Cow::Owned(upstream_name(
                text("namespace"),
                name,
            )))))
        }
        Some("allowed_tools") => {
            let mode = match text("mode") {
                Some("auto") | None => ToolChoice::Auto,
                Some("required") => ToolChoice::Required,
                Some(other) => {
                    return Err(TranslateError::at(
                        "tool_choice.mode",
                        format!(
                            "unknown mode {:?}; use \"auto\" or \"required\"",
                            truncate(other)
                        ),
                    ));
                }
            };
            let Some(allowed) = object.get("tools").and_then(Value::as_array) else {
                return Err(TranslateError::at(
                    "tool_choice.tools",
                    "is required (an array of tools)",
                ));
            };
            let allowed: Vec<String> = allowed
                .iter()
                .filter_map(|tool| {
                    let name = tool.get("name")?.as_str()?;
                    Some(upstream_name(
                        tool.get("namespace").and_then(Value::as_str),
                        name,
                    ))
                })
                .collect();
            tools.retain(|tool| allowed.iter().any(|name| *name == tool.name));
            Ok(Some(mode))
        }
        Some(hosted) if HOSTED_CHOICES.contains(&hosted) => Err(TranslateError::at(
            "tool_choice.type",
            format!(
                "{:?} forces a tool OpenAI runs itself; JetBrains AI cannot run it, so jbproxy does not offer it",
                truncate(hosted)
            ),
        )),
        Some(other) => Err(unsupported(format!("unknown type {:?}", truncate(other)))),
        None => Err(unsupported("an object needs a \"type\"".into())),
    }
}

/// `text.format`: `{"type": "text"}`, `{"type": "json_object"}` or `{"type": "json_schema", "name", "schema",
/// "strict"?, "description"?}`. The json_schema object reaches the mapping as the chat face's `json_schema`
/// (`{name, schema, strict, description}`).
pub(super) fn response_format(
    format: &Map<String, Value>,
) -> Result<ResponseFormat, TranslateError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            if !format.get("schema").is_some_and(Value::is_object) {
                return Err(TranslateError::at(
                    "text.format.schema",
                    "is required for \"json_schema\" (a JSON Schema object)",
                ));
            }
            let schema = format
                .iter()
                .filter(|(key, _)| key.as_str() != "type")
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            Ok(ResponseFormat::JsonSchema(schema))
        }
        Some(other) => Err(TranslateError::at(
            "text.format.type",
            format!(
                "unknown format {:?}; use \"text\", \"json_object\" or \"json_schema\"",
                truncate(other)
            ),
        )),
        None => Err(TranslateError::at(
            "text.format.type",
            "is required (\"text\", \"json_object\" or \"json_schema\")",
        )),
    }
}
