//! Responses tool definitions → upstream tools: `function` tools as they are, the function and custom tools of a
//! `namespace` under the flat name `<namespace>__<name>`, and `custom` (free-text) tools as a function taking
//! `{"input": string}` whose description carries the tool's grammar. Other tool types are run by OpenAI itself
//! (`web_search`, `file_search`, `code_interpreter`, …): the upstream cannot run them, so they are dropped and
//! noted, since agents offer them by default.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::{ClientTool, DEFAULT_NAMESPACE, ToolNames, upstream_name};
use crate::translate::conversation::Tool;
use crate::translate::parse::{AnObject, Schema, Text};
use crate::translate::{TranslateError, truncate};

#[derive(Deserialize)]
pub(super) struct WireTool<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    description: Option<Text<'a>>,
    #[serde(default)]
    parameters: Schema,
    #[serde(default)]
    strict: Option<bool>,
    /// A custom tool's input format: `{"type": "text"}` or `{"type": "grammar", "syntax", "definition"}`.
    #[serde(default)]
    format: Option<AnObject<Map<String, Value>>>,
    /// A namespace's tools.
    #[serde(default, borrow)]
    tools: Option<Vec<AnObject<WireTool<'a>>>>,
}

/// The tools offered so far (top-level `tools` and `additional_tools` items), with their upstream names.
#[derive(Default)]
pub(super) struct Offered<'a> {
    pub tools: Vec<Tool<'a>>,
    pub names: ToolNames,
    /// The top-level tools as a Response object repeats them.
    pub echo: Vec<Value>,
    /// Upstream name → where the tool was defined, to refuse two tools that would share a name upstream.
    defined_at: HashMap<String, String>,
}

impl<'a> Offered<'a> {
    /// Adds the tools of one list (`tools`, or `input[i].tools`); `echo` for the top-level list.
    pub fn add_all(
        &mut self,
        list: Vec<AnObject<WireTool<'a>>>,
        at: &str,
        echo: bool,
        dropped: &mut Vec<String>,
    ) -> Result<(), TranslateError> {
        for (i, AnObject(tool)) in list.into_iter().enumerate() {
            let tool_at = format!("{at}[{i}]");
            if let Some(echoed) = self.add(tool, &tool_at, dropped)?
                && echo
            {
                self.echo.push(echoed);
            }
        }
        Ok(())
    }

    /// One tool; its echo, or `None` when it was dropped.
    fn add(
        &mut self,
        tool: WireTool<'a>,
        at: &str,
        dropped: &mut Vec<String>,
    ) -> Result<Option<Value>, TranslateError> {
        let Some(kind) = tool.kind.as_ref().map(|k| k.as_str().to_string()) else {
            return Err(TranslateError::at(
                format!("{at}.type"),
                "is required (\"function\", \"custom\" or \"namespace\")",
            ));
        };
        match kind.as_str() {
            "function" | "custom" => self.add_callable(tool, None, at).map(Some),
            "namespace" => self.add_namespace(tool, at).map(Some),
            hosted => {
                dropped.push(format!(
                    "{at}: tool type {:?} (run by OpenAI itself; JetBrains AI cannot run it)",
                    truncate(hosted)
                ));
                Ok(None)
            }
        }
    }

    fn add_namespace(&mut self, tool: WireTool<'a>, at: &str) -> Result<Value, TranslateError> {
        let name = non_empty(tool.name, || format!("{at}.name"))?;
        let Some(inner) = tool.tools else {
            return Err(TranslateError::at(
                format!("{at}.tools"),
                "is required (the namespace's function and custom tools)",
            ));
        };
        let mut echoed = Vec::with_capacity(inner.len());
        for (j, AnObject(member)) in inner.into_iter().enumerate() {
            let member_at = format!("{at}.tools[{j}]");
            match member.kind.as_ref().map(Text::as_str) {
                Some("function" | "custom") => {
                    echoed.push(self.add_callable(member, Some(&name), &member_at)?)
                }
                other => {
                    return Err(TranslateError::at(
                        format!("{member_at}.type"),
                        format!(
                            "{} in a namespace; it holds \"function\" and \"custom\" tools only",
                            other.map_or("is required".to_string(), |t| format!(
                                "unsupported tool type {:?}",
                                truncate(t)
                            ))
                        ),
                    ));
                }
            }
        }
        let description = tool.description.map(Text::into_cow);
        Ok(json!({
            "type": "namespace",
            "name": name,
            "description": description.unwrap_or_default(),
            "tools": echoed,
        }))
    }

    /// A function or custom tool, in `namespace` when given.
    fn add_callable(
        &mut self,
        tool: WireTool<'a>,
        namespace: Option<&str>,
        at: &str,
    ) -> Result<Value, TranslateError> {
        let custom = tool.kind.as_ref().is_some_and(|k| k.as_str() == "custom");
        let name = non_empty(tool.name, || format!("{at}.name"))?;
        let upstream: Cow<'a, str> = match namespace {
            Some(namespace) => Cow::Owned(upstream_name(Some(namespace), &name)),
            None => name.clone(),
        };
        if let Some(first) = self.defined_at.get(upstream.as_ref()) {
            return Err(TranslateError::at(
                format!("{at}.name"),
                format!(
                    "tool {:?} is offered twice (also at {first}); tool names must be unique",
                    truncate(&upstream)
                ),
            ));
        }
        self.defined_at.insert(upstream.to_string(), at.to_string());
        // The default namespace is not named in calls: Codex runs `exec` from it when the call has no namespace.
        let call_namespace = namespace.filter(|n| *n != DEFAULT_NAMESPACE);
        self.names.insert(
            upstream.to_string(),
            ClientTool {
                name: name.to_string(),
                namespace: call_namespace.map(str::to_string),
                custom,
            },
        );
        let description = tool.description.map(Text::into_cow);
        let (schema, echo) = if custom {
            let format = tool.format.map(|AnObject(format)| format);
            let echo = json!({
                "type": "custom",
                "name": name,
                "description": description,
                "format": format.clone().unwrap_or_else(text_format),
            });
            (custom_schema(format.as_ref(), at)?, echo)
        } else {
            let schema = tool.parameters.0;
            let echo = json!({
                "type": "function",
                "name": name,
                "description": description,
                "parameters": schema,
                "strict": tool.strict,
            });
            (schema, echo)
        };
        self.tools.push(Tool {
            name: upstream,
            description,
            schema,
        });
        Ok(echo)
    }
}

fn text_format() -> Map<String, Value> {
    let mut format = Map::new();
    format.insert("type".into(), "text".into());
    format
}

/// The upstream schema of a custom tool: one string, `input`, described by the tool's format so the model writes
/// it in the right grammar.
fn custom_schema(
    format: Option<&Map<String, Value>>,
    at: &str,
) -> Result<Option<Map<String, Value>>, TranslateError> {
    let kind = format.and_then(|f| f.get("type")).and_then(Value::as_str);
    let note = match kind {
        None | Some("text") => "The tool's input, as free text.".to_string(),
        Some("grammar") => {
            let field = |key: &str| format.and_then(|f| f.get(key)).and_then(Value::as_str);
            let Some(definition) = field("definition") else {
                return Err(TranslateError::at(
                    format!("{at}.format.definition"),
                    "is required for a grammar format (a string)",
                ));
            };
            let syntax = field("syntax").unwrap_or("the given");
            format!("The tool's input: text that matches this {syntax} grammar.\n{definition}")
        }
        Some(other) => {
            return Err(TranslateError::at(
                format!("{at}.format.type"),
                format!(
                    "unsupported custom tool format {:?}; use \"text\" or \"grammar\"",
                    truncate(other)
                ),
            ));
        }
    };
    let schema = json!({
        "type": "object",
        "properties": {"input": {"type": "string", "description": note}},
        "required": ["input"],
        "additionalProperties": false,
    });
    Ok(match schema {
        Value::Object(schema) => Some(schema),
        _ => None,
    })
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
