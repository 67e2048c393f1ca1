//! The request's sampling and control parameters → [`Parameters`]: each checked for its shape here, in jbproxy's
//! words; whether the profile takes it is the mapping's business (`translate::grazie`). Nothing the client set is
//! ignored: `functions`/`function_call` (deprecated) and `logprobs: true` (the upstream reports none) are refused.
//! The penalties, `logit_bias`, `user`, `metadata` and `store` have no upstream counterpart and are not read.

use std::borrow::Cow;

use serde_json::Value;

use super::Body;
use crate::translate::TranslateError;
use crate::translate::conversation::{Parameters, ResponseFormat, ToolChoice};

impl<'a> Body<'a> {
    /// Takes the parameters out of the body (before its messages are converted).
    pub(super) fn parameters(&mut self) -> Result<Parameters<'a>, TranslateError> {
        if self.functions.is_some() || self.function_call.is_some() {
            let field = if self.functions.is_some() {
                "functions"
            } else {
                "function_call"
            };
            return Err(TranslateError::at(
                field,
                "OpenAI's deprecated function calling is not translated: send the functions as `tools` \
                 ([{\"type\": \"function\", \"function\": {…}}]) and `tool_choice` instead of `function_call`",
            ));
        }
        if self.logprobs == Some(true) {
            return Err(TranslateError::at(
                "logprobs",
                "cannot be honoured: JetBrains AI reports no log probabilities; leave logprobs out",
            ));
        }
        Ok(Parameters {
            n: self.n,
            tool_choice: self.tool_choice.take().map(tool_choice).transpose()?,
            response_format: self
                .response_format
                .take()
                .map(response_format)
                .transpose()?
                .flatten(),
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: None,
            // The newer name wins when a client sends both.
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            stop: self.stop.take().map(stop).transpose()?.unwrap_or_default(),
            seed: self.seed,
            reasoning_effort: self.reasoning_effort.take().map(|t| t.into_cow()),
            verbosity: self.verbosity.take().map(|t| t.into_cow()),
            parallel_tool_calls: self.parallel_tool_calls,
            thinking_budget: None,
            prediction: self
                .prediction
                .take()
                .map(prediction)
                .transpose()?
                .flatten(),
        })
    }
}

/// `"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name": N}}`.
fn tool_choice<'a>(value: Value) -> Result<ToolChoice<'a>, TranslateError> {
    const EXPECTED: &str = "must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}";
    match value {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(TranslateError::at("tool_choice", EXPECTED)),
        },
        Value::Object(mut object) => {
            let name = object
                .get_mut("function")
                .and_then(|f| f.get_mut("name"))
                .map(Value::take);
            match name {
                Some(Value::String(name)) if !name.is_empty() => {
                    Ok(ToolChoice::Named(Cow::Owned(name)))
                }
                _ => Err(TranslateError::at("tool_choice", EXPECTED)),
            }
        }
        _ => Err(TranslateError::at("tool_choice", EXPECTED)),
    }
}

/// `{"type": "text"}` (the default: `None`), `{"type": "json_object"}` or `{"type": "json_schema", "json_schema":
/// {name, schema, strict, …}}`.
fn response_format(value: Value) -> Result<Option<ResponseFormat>, TranslateError> {
    let Value::Object(mut object) = value else {
        return Err(TranslateError::at(
            "response_format",
            "must be an object such as {\"type\": \"json_object\"}",
        ));
    };
    match object.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => match object.remove("json_schema") {
            Some(Value::Object(schema)) if schema.get("schema").is_some_and(Value::is_object) => {
                Ok(Some(ResponseFormat::JsonSchema(schema)))
            }
            _ => Err(TranslateError::at(
                "response_format.json_schema",
                "must be an object with a `schema` object (and a `name`)",
            )),
        },
        _ => Err(TranslateError::at(
            "response_format.type",
            "must be \"text\", \"json_object\" or \"json_schema\"",
        )),
    }
}

/// A string, or a list of strings (empty strings dropped).
fn stop<'a>(value: Value) -> Result<Vec<Cow<'a, str>>, TranslateError> {
    const EXPECTED: &str = "must be a string or a list of strings";
    match value {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![Cow::Owned(s)]),
        Value::Array(items) => items
            .into_iter()
            .filter(|item| item.as_str() != Some(""))
            .map(|item| match item {
                Value::String(s) => Ok(Cow::Owned(s)),
                _ => Err(TranslateError::at("stop", EXPECTED)),
            })
            .collect(),
        _ => Err(TranslateError::at("stop", EXPECTED)),
    }
}

/// `{"type": "content", "content": text or [text parts]}`.
fn prediction<'a>(value: Value) -> Result<Option<Cow<'a, str>>, TranslateError> {
    const EXPECTED: &str =
        "must be {\"type\": \"content\", \"content\": a string or a list of text parts}";
    let Value::Object(mut object) = value else {
        return Err(TranslateError::at("prediction", EXPECTED));
    };
    if object.get("type").and_then(Value::as_str) != Some("content") {
        return Err(TranslateError::at("prediction.type", "must be \"content\""));
    }
    match object.remove("content") {
        Some(Value::String(text)) => Ok(Some(Cow::Owned(text))),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for part in parts {
                match part_text(part) {
                    Some(t) => text.push_str(&t),
                    None => return Err(TranslateError::at("prediction.content", EXPECTED)),
                }
            }
            Ok(Some(Cow::Owned(text)))
        }
        _ => Err(TranslateError::at("prediction.content", EXPECTED)),
    }
}

fn part_text(part: Value) -> Option<String> {
    match part {
        Value::Object(mut part) => match part.remove("text") {
            Some(Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}
