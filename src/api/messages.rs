//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic face, for Claude clients (Claude Code,
//! the anthropic SDKs). It parses the request into the same typed conversation as the OpenAI face and hands it to
//! the same mapping and relay (same pool, failover, streaming and shutdown), writing answers and errors in
//! Anthropic's format. With `native_routes.anthropic` on, a Claude model's message goes to the native route
//! instead, as the client wrote it (`api::native`).
//!
//! Auth takes `x-api-key` (what Anthropic clients send) or `Authorization: Bearer`. `usage` figures are estimates:
//! the upstream reports no token counts.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use tokio_util::sync::CancellationToken;

use super::auth::ClientAuth;
use super::face::{self, Face};
use super::relay::{self, Meta};
use super::{ApiError, AppState, body, ids, native};
use crate::live::Live;
use crate::models::native::Family;
use crate::translate::anthropic::request::{FIELD_NAMES, MessagesRequest};
use crate::translate::anthropic::response::MessageBuilder;
use crate::translate::anthropic::stream::EventWriter;
use crate::translate::grazie;
use crate::upstream::request::GrazieRequest;

/// `POST /v1/messages`, streamed (`"stream": true`) or not.
pub async fn create(
    State(app): State<AppState>,
    auth: Result<ClientAuth, ApiError>,
    body: Body,
) -> Response {
    let drain = app.drain.clone();
    let face = Face::Anthropic { what: "message" };
    face::serve(&app, auth, face, |live, started| {
        handle(live, body, started, drain)
    })
    .await
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the same estimate `message_start` reports (text of the
/// system prompt, messages and tool definitions at about four bytes a token, a fixed amount per image). It is an
/// estimate, not a tokenizer's count, and costs no upstream call. The request is validated like a real one, and an
/// unknown model is a 404.
pub async fn count_tokens(
    State(app): State<AppState>,
    auth: Result<ClientAuth, ApiError>,
    body: Body,
) -> Response {
    let face = Face::Anthropic {
        what: "token count",
    };
    face::serve(&app, auth, face, |live, _| async move {
        let bytes = body::read(body, live.config.max_body_size).await?;
        let (_, _, grazie) = prepare(&live, &bytes, Endpoint::CountTokens)?;
        let tokens = grazie.prompt_tokens;
        Ok((StatusCode::OK, axum::Json(json!({"input_tokens": tokens}))).into_response())
    })
    .await
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
    live: Arc<Live>,
    body: Body,
    started: Instant,
    drain: CancellationToken,
) -> Result<Response, ApiError> {
    let bytes = body::read(body, live.config.max_body_size).await?;
    if let Some(native) = native::route(&live, &bytes, Family::Anthropic) {
        drop(bytes);
        return native::relay(&live, native, started, drain).await;
    }
    let (model, stream, grazie) = prepare(&live, &bytes, Endpoint::Create)?;
    // The body is not needed again: only the upstream body it became is kept, for the failover's attempts.
    drop(bytes);
    let id = ids::random("msg_");
    let input_tokens = grazie.prompt_tokens;
    let meta = Meta {
        model: model.clone(),
        started,
    };
    if stream {
        let format = EventWriter::new(id, model, input_tokens);
        relay::stream(&live, grazie, meta, format, drain).await
    } else {
        let json = relay::collect(&live, grazie, &meta, || {
            MessageBuilder::new(id.clone(), model.clone(), input_tokens)
        })
        .await?;
        Ok((StatusCode::OK, axum::Json(json)).into_response())
    }
}
