//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic face, for Claude clients (Claude Code,
//! the anthropic SDKs). It parses the request into the same typed conversation as the OpenAI face and hands it to
//! the same mapping and relay (same pool, failover, streaming and shutdown), writing answers and errors in
//! Anthropic's format.
//!
//! Auth takes `x-api-key` (what Anthropic clients send) or `Authorization: Bearer`. `usage` figures are estimates:
//! the upstream reports no token counts.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::relay::{self, Meta};
use super::{ApiError, AppState, auth};
use crate::live::Live;
use crate::translate::anthropic::request::{FIELD_NAMES, MessagesRequest};
use crate::translate::anthropic::response::MessageBuilder;
use crate::translate::anthropic::stream::EventWriter;
use crate::translate::grazie;
use crate::upstream::request::GrazieRequest;

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
        let bytes = read(&live, &headers, body).await?;
        let (_, _, grazie) = prepare(&live, &bytes, Endpoint::CountTokens)?;
        let tokens = grazie.prompt_tokens;
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
            super::request_finished(err.status.as_u16(), "");
            if err.status == StatusCode::UNAUTHORIZED {
                // Anyone can send these; a line each would let them fill the log.
                crate::logging::refused_unauthenticated();
            } else {
                tracing::info!(
                    status = err.status.as_u16(),
                    kind = err.anthropic_kind(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "anthropic {what} failed: {}",
                    err.message
                );
            }
            err.into_anthropic_response()
        }
    }
}

/// Auth and body: what both endpoints check before reading the request.
async fn read(live: &Arc<Live>, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    auth::check(live.client_key.as_ref(), headers)?;
    relay::read_body(body, live.config.max_body_size).await
}

/// Which endpoint a body came to: `max_tokens` is required on `/v1/messages` only.
#[derive(Clone, Copy)]
enum Endpoint {
    Create,
    CountTokens,
}

/// Parses the body into the typed conversation (borrowing its text), maps the model and builds the upstream body
/// (the same mapping answers `count_tokens`); the conversation is gone when this returns. Returns the model as the
/// client named it, whether to stream, and the upstream request.
fn prepare(
    live: &Live,
    bytes: &[u8],
    endpoint: Endpoint,
) -> Result<(String, bool, GrazieRequest), ApiError> {
    let req = match endpoint {
        Endpoint::Create => MessagesRequest::parse_create(bytes)?,
        Endpoint::CountTokens => MessagesRequest::parse(bytes)?,
    };
    let profile = live
        .models
        .profile_for(&req.model)
        .ok_or_else(|| ApiError::model_not_found(&req.model))?;
    let caps = live.profiles.capabilities(profile);
    let grazie = grazie::build(&req.conversation, profile, &caps, live.config.upstream_api)
        .map_err(|e| e.renamed(FIELD_NAMES))?;
    Ok((req.model.into_owned(), req.stream, grazie))
}

async fn handle(
    app: &AppState,
    live: &Arc<Live>,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Result<Response, ApiError> {
    let bytes = read(live, headers, body).await?;
    let (model, stream, grazie) = prepare(live, &bytes, Endpoint::Create)?;
    // The body is not needed again: only the upstream body it became is kept, for the failover's attempts.
    drop(bytes);
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
