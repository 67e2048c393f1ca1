//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic face, for Claude clients (Claude Code,
//! the anthropic SDKs). It converts the request to the OpenAI shape and hands it to the same mapping and relay as
//! the OpenAI face (same pool, failover, streaming and shutdown), writing answers and errors in Anthropic's format.
//!
//! Auth takes `x-api-key` (what Anthropic clients send) or `Authorization: Bearer`. `usage` figures are estimates:
//! the upstream reports no token counts.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::relay::{self, Meta};
use super::{ApiError, AppState, auth};
use crate::live::Live;
use crate::translate::anthropic::request::{self, MessagesRequest};
use crate::translate::anthropic::response::MessageBuilder;
use crate::translate::anthropic::stream::EventWriter;

/// `POST /v1/messages`, streamed (`"stream": true`) or not.
pub async fn create(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let live = app.snapshot();
    let started = Instant::now();
    let result = tokio::select! {
        result = handle(&app, &live, &headers, body, started) => result,
        // Past the shutdown grace period a request still waiting for its answer is ended too.
        _ = app.drain.cancelled() => Err(shutting_down()),
    };
    respond(result, started, "message")
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the same estimate `message_start` reports (text of the
/// system prompt, messages and tool definitions at about four bytes a token, a fixed amount per image). It is an
/// estimate, not a tokenizer's count, and costs no upstream call. The request is validated like a real one, and an
/// unknown model is a 404.
pub async fn count_tokens(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let live = app.snapshot();
    let started = Instant::now();
    let result = async {
        let (req, profile) = parse(&live, &headers, body).await?;
        let tokens = request::input_tokens(req, &profile, live.config.upstream_api)?;
        Ok((StatusCode::OK, axum::Json(json!({"input_tokens": tokens}))).into_response())
    }
    .await;
    respond(result, started, "token count")
}

fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable_error",
        "the proxy is shutting down",
    )
}

fn respond(result: Result<Response, ApiError>, started: Instant, what: &str) -> Response {
    match result {
        Ok(response) => response,
        Err(err) => {
            crate::metrics::request_finished(err.status.as_u16(), "");
            tracing::info!(
                status = err.status.as_u16(),
                kind = err.anthropic_kind(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "anthropic {what} failed: {}",
                err.message
            );
            err.into_anthropic_response()
        }
    }
}

/// Auth, body, JSON and model: everything both endpoints check before any upstream call. Returns the request and
/// the profile that serves its model.
async fn parse(
    live: &Arc<Live>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(MessagesRequest, String), ApiError> {
    auth::check(live.client_key.as_ref(), headers)?;
    let bytes = relay::read_body(body, live.config.max_body_size).await?;
    let req: MessagesRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    let profile = live
        .models
        .profile_for(&req.model)
        .ok_or_else(|| ApiError::model_not_found(&req.model))?
        .to_string();
    Ok((req, profile))
}

async fn handle(
    app: &AppState,
    live: &Arc<Live>,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Result<Response, ApiError> {
    let (req, profile) = parse(live, headers, body).await?;
    let model = req.model.clone();
    let stream = req.stream;
    let grazie = req
        .into_chat()?
        .build(&profile, live.config.upstream_api, relay::now_ms())?;
    let id = relay::random_id("msg_");
    let input_tokens = grazie.prompt_tokens;
    let meta = Meta {
        model: model.clone(),
        started,
    };
    if stream {
        let format = EventWriter::new(id, model, input_tokens);
        relay::stream(live, grazie, meta, format, app.drain.clone()).await
    } else {
        let json = relay::collect(live, grazie, &meta, || {
            MessageBuilder::new(id.clone(), model.clone(), input_tokens)
        })
        .await?;
        Ok((StatusCode::OK, axum::Json(json)).into_response())
    }
}
