//! The Responses face's request end to end: body bytes → conversation → upstream body, the tool names it
//! remembers, the parameters, and every refusal naming its field.

use serde_json::{Value, json};

use super::*;
use crate::config::UpstreamApi;
use crate::profiles::Capabilities;
use crate::translate::conversation::{PartKind, ResponseFormat, ToolChoice};
use crate::translate::grazie::build;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUg==";

fn parse_value(body: &Value) -> Result<ResponsesRequest<'static>, TranslateError> {
    // Leaked so the parsed request may borrow from it for the test's lifetime.
    let bytes: &'static [u8] = Box::leak(serde_json::to_vec(body).unwrap().into_boxed_slice());
    ResponsesRequest::parse(bytes)
}

fn parse_ok(body: Value) -> ResponsesRequest<'static> {
    parse_value(&body).unwrap_or_else(|e| panic!("{e}"))
}

fn error(body: Value) -> TranslateError {
    match parse_value(&body) {
        Ok(_) => panic!("accepted: {body}"),
        Err(err) => err,
    }
}

/// The upstream body (v8) of a parsed request.
fn upstream(req: &ResponsesRequest<'_>) -> Value {
    let built = build(
        &req.conversation,
        "openai-gpt-4o",
        &Capabilities::all(),
        UpstreamApi::V8,
    )
    .unwrap();
    serde_json::from_slice(&built.body).unwrap()
}

fn messages(body: Value) -> Value {
    upstream(&parse_ok(body))["chat"]["messages"].clone()
}

fn with_input(input: Value) -> Value {
    json!({"model": "gpt-4o", "input": input})
}

fn assert_error(err: &TranslateError, param: &str, needle: &str) {
    assert_eq!(err.param.as_deref(), Some(param), "{err}");
    assert!(err.message.starts_with(param), "{err}");
    assert!(err.message.contains(needle), "lacks {needle:?}: {err}");
}

mod codex;
mod input;
mod params;
mod refusals;
