//! The request's parameters → [`Parameters`], each checked for its shape here; whether the profile takes it is the
//! mapping's business (`translate::grazie`). `thread` is refused: jbproxy keeps no server-side state.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::Body;
use crate::translate::TranslateError;
use crate::translate::conversation::{Parameters, ResponseFormat, ToolChoice};

impl<'a> Body<'a> {
    /// Takes the parameters out of the body (before its messages are converted).
    pub(super) fn parameters(&mut self) -> Result<Parameters<'a>, TranslateError> {
        if self.thread.take().is_some_and(|t| t != Value::Bool(false)) {
            return Err(TranslateError::at(
                "thread",
                "jbproxy keeps no server-side state, so it cannot hold a thread: send the whole conversation \
                 each time (with anthropic-python's tool runner, pass thread=False)",
            ));
        }
        let (tool_choice, no_parallel) = match self.tool_choice.take() {
            Some(value) => tool_choice(value)?,
            None => (None, false),
        };
        let (response_format, effort) = match self.output_config.take() {
            Some(value) => output_config(value)?,
            None => (None, None),
        };
        Ok(Parameters {
            n: None,
            tool_choice,
            response_format,
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            max_tokens: self.max_tokens,
            stop: self
                .stop_sequences
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(Cow::Owned)
                .collect(),
            seed: None,
            reasoning_effort: effort,
            verbosity: None,
            // `disable_parallel_tool_use: true` is the only way to ask; false is the default.
            parallel_tool_calls: no_parallel.then_some(false),
            thinking_budget: self.thinking.take().map(thinking).transpose()?.flatten(),
            prediction: None,
        })
    }
}

/// `{"type": "auto" | "any" | "none" | "tool", "name"?, "disable_parallel_tool_use"?}` → the choice, and whether
/// parallel calls are disabled.
fn tool_choice<'a>(value: Value) -> Result<(Option<ToolChoice<'a>>, bool), TranslateError> {
    const EXPECTED: &str = "must be {\"type\": \"auto\"}, {\"type\": \"any\"}, {\"type\": \"none\"} or \
                            {\"type\": \"tool\", \"name\": …}";
    let Value::Object(mut object) = value else {
        return Err(TranslateError::at("tool_choice", EXPECTED));
    };
    let no_parallel = match object.get("disable_parallel_tool_use") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(TranslateError::at(
                "tool_choice.disable_parallel_tool_use",
                "must be true or false",
            ));
        }
    };
    let choice = match object.get("type").and_then(Value::as_str) {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => match object.remove("name") {
            Some(Value::String(name)) if !name.is_empty() => ToolChoice::Named(Cow::Owned(name)),
            _ => {
                return Err(TranslateError::at(
                    "tool_choice.name",
                    "is required (a non-empty string) for {\"type\": \"tool\"}",
                ));
            }
        },
        _ => return Err(TranslateError::at("tool_choice", EXPECTED)),
    };
    Ok((Some(choice), no_parallel))
}

/// `{"type": "enabled", "budget_tokens": N}` → N; `disabled` and `adaptive` ask for no budget.
fn thinking(value: Value) -> Result<Option<u32>, TranslateError> {
    const EXPECTED: &str = "must be {\"type\": \"enabled\", \"budget_tokens\": N}, {\"type\": \"adaptive\"} or \
                            {\"type\": \"disabled\"}";
    let Value::Object(object) = value else {
        return Err(TranslateError::at("thinking", EXPECTED));
    };
    match object.get("type").and_then(Value::as_str) {
        Some("disabled" | "adaptive") => Ok(None),
        Some("enabled") => match object
            .get("budget_tokens")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
        {
            Some(budget) => Ok(Some(budget)),
            None => Err(TranslateError::at(
                "thinking.budget_tokens",
                "is required (a whole number of tokens) with {\"type\": \"enabled\"}",
            )),
        },
        _ => Err(TranslateError::at("thinking", EXPECTED)),
    }
}

/// `{"format": {"type": "json_schema", "schema": {…}}, "effort": "high"}` → the format (as OpenAI's json_schema
/// object, which the upstream's `response-format` takes) and the effort.
fn output_config<'a>(
    value: Value,
) -> Result<(Option<ResponseFormat>, Option<Cow<'a, str>>), TranslateError> {
    let Value::Object(mut object) = value else {
        return Err(TranslateError::at(
            "output_config",
            "must be an object such as {\"format\": {\"type\": \"json_schema\", \"schema\": {…}}}",
        ));
    };
    let effort = match object.remove("effort") {
        None | Some(Value::Null) => None,
        Some(Value::String(effort)) => Some(Cow::Owned(effort)),
        Some(_) => {
            return Err(TranslateError::at(
                "output_config.effort",
                "must be a string such as \"high\"",
            ));
        }
    };
    let format = match object.remove("format") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut format)) => {
            let json_schema = format.get("type").and_then(Value::as_str) == Some("json_schema");
            match (json_schema, format.remove("schema")) {
                (true, Some(Value::Object(schema))) => {
                    let mut spec = Map::new();
                    spec.insert("name".into(), json!("output"));
                    spec.insert("schema".into(), Value::Object(schema));
                    spec.insert("strict".into(), json!(true));
                    Some(ResponseFormat::JsonSchema(spec))
                }
                _ => {
                    return Err(TranslateError::at(
                        "output_config.format",
                        "must be {\"type\": \"json_schema\", \"schema\": {…}}",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(TranslateError::at(
                "output_config.format",
                "must be {\"type\": \"json_schema\", \"schema\": {…}}",
            ));
        }
    };
    Ok((format, effort))
}
