//! The request's parameters → the upstream's `parameters.data`, as far as the profile takes them
//! ([`Capabilities`], from `crate::profiles`). Three outcomes per parameter:
//!
//! - the profile takes it: sent, typed as JetBrains' client types it;
//! - the profile does not take it and leaving it out changes nothing the client can rely on (sampling: temperature,
//!   top_p, seed, a length limit, …): left out, and the caller logs it at debug level (the upstream answers 400 to
//!   a key the profile does not take);
//! - it changes the *shape* of the answer (a JSON format, a required or named tool call, several choices, one tool
//!   call at a time) and the profile cannot honour it: the request is refused with a 400 that says why. Never
//!   silently degraded.
//!
//! Errors name the field as OpenAI's chat API does (`response_format`); faces with other names rename them
//! ([`TranslateError::renamed`]).

use std::borrow::Cow;

use crate::profiles::{Capabilities, Param};
use crate::translate::TranslateError;
use crate::translate::conversation::{Conversation, PartKind, ResponseFormat, ToolChoice};
use crate::upstream::parameters::{Parameters, Value};

/// What the mapping decided about the tools and the parameters.
pub(super) struct Plan<'c> {
    /// Whether the tool definitions go upstream.
    pub send_tools: bool,
    /// Every pair but the tools (whose value the caller serializes).
    pub parameters: Parameters<'c>,
    /// Parameters the client set that the profile does not take, left out (for the debug log).
    pub dropped: Vec<Param>,
    /// Stop sequences after the first, which the upstream has no way to take (one `stop-token`).
    pub extra_stops: usize,
}

/// Decides what goes upstream. `v7` names the tools key for the upstream's older API.
pub(super) fn plan<'c>(
    conversation: &'c Conversation<'_>,
    profile: &str,
    caps: &Capabilities,
    v7: bool,
) -> Result<Plan<'c>, TranslateError> {
    let params = &conversation.params;
    let mut plan = Plan {
        send_tools: false,
        parameters: Parameters::new(v7),
        dropped: Vec::new(),
        extra_stops: 0,
    };
    tools(conversation, profile, caps, &mut plan)?;
    choices(params.n, profile, caps, &mut plan)?;
    format(params.response_format.as_ref(), profile, caps, &mut plan)?;
    let mut sampling = |param: Param, value: Option<Value<'c>>| {
        let Some(value) = value else { return };
        if caps.takes(param) {
            plan.parameters.set(param, value);
        } else {
            plan.dropped.push(param);
        }
    };
    sampling(Param::Temperature, params.temperature.map(Value::Double));
    sampling(Param::TopP, params.top_p.map(Value::Double));
    sampling(Param::TopK, params.top_k.map(|k| Value::Int(k.into())));
    sampling(
        Param::Length,
        params.max_tokens.map(|n| Value::Int(n.into())),
    );
    sampling(
        Param::StopToken,
        params
            .stop
            .first()
            .map(|s| Value::Text(Cow::Borrowed(s.as_ref()))),
    );
    sampling(Param::Seed, params.seed.map(Value::Int));
    sampling(
        Param::ReasoningEffort,
        params
            .reasoning_effort
            .as_deref()
            .map(|s| Value::Text(s.into())),
    );
    sampling(
        Param::Verbosity,
        params.verbosity.as_deref().map(|s| Value::Text(s.into())),
    );
    sampling(
        Param::ThinkingBudget,
        params.thinking_budget.map(|n| Value::Int(n.into())),
    );
    sampling(
        Param::PredictedOutput,
        params.prediction.as_deref().map(|s| Value::Text(s.into())),
    );
    plan.extra_stops = params.stop.len().saturating_sub(1);
    Ok(plan)
}

/// The tools, `tool_choice` and `parallel_tool_calls`.
fn tools<'c>(
    conversation: &'c Conversation<'_>,
    profile: &str,
    caps: &Capabilities,
    plan: &mut Plan<'c>,
) -> Result<(), TranslateError> {
    let params = &conversation.params;
    let offered = &conversation.tools;
    match &params.tool_choice {
        Some(ToolChoice::Required | ToolChoice::Named(_)) if offered.is_empty() => {
            return Err(TranslateError::at(
                "tool_choice",
                "asks for a tool call, but the request offers no tools",
            ));
        }
        Some(ToolChoice::Named(name)) if !offered.iter().any(|t| t.name == *name) => {
            return Err(TranslateError::at(
                "tool_choice",
                format!(
                    "names {:?}, which is not one of the tools offered",
                    super::super::truncate(name)
                ),
            ));
        }
        _ => {}
    }
    if offered.is_empty() {
        // Without tools, a tool choice or parallel setting has nothing to act on.
        return Ok(());
    }
    if !caps.takes(Param::Tools) {
        if let Some(ToolChoice::Required | ToolChoice::Named(_)) = params.tool_choice {
            return Err(TranslateError::at(
                "tool_choice",
                format!(
                    "asks for a tool call, but profile {profile} takes no tools (it answers in text only); use \
                     another model, or leave tool_choice out"
                ),
            ));
        }
        plan.dropped.push(Param::Tools);
        return Ok(());
    }
    plan.send_tools = true;
    match &params.tool_choice {
        None => {}
        Some(ToolChoice::Auto) => {
            if caps.takes(Param::ToolChoiceAuto) {
                plan.parameters
                    .set(Param::ToolChoiceAuto, Value::Bool(true));
            } else {
                // "auto" is what the model does anyway.
                plan.dropped.push(Param::ToolChoiceAuto);
            }
        }
        Some(ToolChoice::None) => {
            if caps.takes(Param::ToolChoiceNone) {
                // JetBrains' client sends the tools with tool-choice-none; the tools stay defined, which a
                // conversation that already holds tool calls needs (Anthropic refuses tool_use blocks without them).
                plan.parameters
                    .set(Param::ToolChoiceNone, Value::Bool(true));
            } else if history_has_tools(conversation) {
                return Err(TranslateError::at(
                    "tool_choice",
                    format!(
                        "\"none\" cannot be honoured: profile {profile} does not take tool-choice-none, and the \
                         tools cannot be left out instead because earlier messages hold tool calls or results"
                    ),
                ));
            } else {
                // The model cannot call a tool it is not offered.
                plan.send_tools = false;
                plan.dropped.push(Param::Tools);
                return Ok(());
            }
        }
        Some(ToolChoice::Required) => {
            require(caps, Param::ToolChoiceRequired, profile)?;
            plan.parameters
                .set(Param::ToolChoiceRequired, Value::Bool(true));
        }
        Some(ToolChoice::Named(name)) => {
            require(caps, Param::ToolChoiceNamed, profile)?;
            plan.parameters.set(
                Param::ToolChoiceNamed,
                Value::Text(Cow::Borrowed(name.as_ref())),
            );
        }
    }
    match params.parallel_tool_calls {
        Some(parallel) if caps.takes(Param::ParallelToolCalls) => plan
            .parameters
            .set(Param::ParallelToolCalls, Value::Bool(parallel)),
        // Parallel calls are allowed by default: leaving "true" out changes nothing.
        Some(true) => plan.dropped.push(Param::ParallelToolCalls),
        Some(false) => {
            return Err(TranslateError::at(
                "parallel_tool_calls",
                format!(
                    "false cannot be honoured: profile {profile} does not take parallel-tool-calls, so the model \
                     may call several tools at once; leave it out, or use another model"
                ),
            ));
        }
        None => {}
    }
    Ok(())
}

fn require(caps: &Capabilities, param: Param, profile: &str) -> Result<(), TranslateError> {
    if caps.takes(param) {
        return Ok(());
    }
    Err(TranslateError::at(
        "tool_choice",
        format!(
            "cannot be honoured: profile {profile} does not take {param}; use another model, or leave tool_choice \
             out"
        ),
    ))
}

/// Whether an earlier message holds a tool call or a tool result.
fn history_has_tools(conversation: &Conversation<'_>) -> bool {
    conversation.turns.iter().any(|turn| {
        turn.parts
            .iter()
            .any(|p| matches!(p.kind, PartKind::ToolCall(_) | PartKind::ToolResult(_)))
    })
}

/// `n`: one answer needs nothing; several need `number-of-choices`.
fn choices(
    n: Option<u32>,
    profile: &str,
    caps: &Capabilities,
    plan: &mut Plan<'_>,
) -> Result<(), TranslateError> {
    match n {
        None | Some(1) => Ok(()),
        Some(0) => Err(TranslateError::at("n", "must be at least 1")),
        Some(n) if caps.takes(Param::NumberOfChoices) => {
            plan.parameters
                .set(Param::NumberOfChoices, Value::Int(n.into()));
            Ok(())
        }
        Some(n) => Err(TranslateError::at(
            "n",
            format!(
                "{n} choices cannot be honoured: profile {profile} does not take number-of-choices and answers \
                 once; ask for one choice, or use another model"
            ),
        )),
    }
}

/// `response_format`: plain text needs nothing; JSON needs `response-format`, with OpenAI's object passed through.
fn format(
    format: Option<&ResponseFormat>,
    profile: &str,
    caps: &Capabilities,
    plan: &mut Plan<'_>,
) -> Result<(), TranslateError> {
    let value = match format {
        None | Some(ResponseFormat::Text) => return Ok(()),
        Some(ResponseFormat::JsonObject) => serde_json::json!({"type": "json_object"}),
        Some(ResponseFormat::JsonSchema(schema)) => {
            serde_json::json!({"type": "json_schema", "json_schema": schema})
        }
    };
    if !caps.takes(Param::ResponseFormat) {
        return Err(TranslateError::at(
            "response_format",
            format!(
                "JSON output cannot be guaranteed: profile {profile} does not take response-format; use a model \
                 that does (the gpt-4o, gpt-4.1 and gpt-5 families), or leave the format out"
            ),
        ));
    }
    plan.parameters.set(
        Param::ResponseFormat,
        Value::Json(Cow::Owned(value.to_string())),
    );
    Ok(())
}
