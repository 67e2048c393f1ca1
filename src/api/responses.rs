//! `POST /v1/responses`: the OpenAI Responses API face (the Vercel AI SDK's default, `client.responses.create`,
//! Codex CLI). Parses the request into the same typed conversation as the other faces and hands it to the same
//! mapping and relay (pool, failover, streaming, shutdown), writing answers as Response objects and typed events
//! and errors as OpenAI error objects.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use tokio_util::sync::CancellationToken;

use super::auth::ClientAuth;
use super::face::{self, Face};
use super::relay::{self, Meta};
use super::{ApiError, AppState, body, ids};
use crate::live::Live;
use crate::translate::grazie;
use crate::translate::responses::Envelope;
use crate::translate::responses::request::{FIELD_NAMES, ResponsesRequest};
use crate::translate::responses::response::ResponseBuilder;
use crate::translate::responses::stream::EventWriter;

pub async fn create(
    State(app): State<AppState>,
    auth: Result<ClientAuth, ApiError>,
    body: Body,
) -> Response {
    let drain = app.drain.clone();
    let face = Face::OpenAi { what: "response" };
    face::serve(&app, auth, face, |live, started| {
        handle(live, body, started, drain)
    })
    .await
}

async fn handle(
    live: Arc<Live>,
    body: Body,
    started: Instant,
    drain: CancellationToken,
) -> Result<Response, ApiError> {
    let bytes = body::read(body, live.config.max_body_size).await?;
    let (stream, env, grazie) = prepare(&live, &bytes)?;
    // The body is not needed again: only the upstream body it became is kept, for the failover's attempts.
    drop(bytes);
    let meta = Meta {
        model: env.model.clone(),
        started,
    };
    if stream {
        relay::stream(&live, grazie, meta, EventWriter::new(env), drain).await
    } else {
        let json = relay::collect(&live, grazie, &meta, || {
            ResponseBuilder::new(Arc::clone(&env))
        })
        .await?;
        Ok((StatusCode::OK, axum::Json(json)).into_response())
    }
}

/// Parses the body into the typed conversation (borrowing its text), maps the model and builds the upstream body;
/// the conversation is gone when this returns. Returns whether to stream, what the answer needs, and the upstream
/// request.
fn prepare(
    live: &Live,
    bytes: &[u8],
) -> Result<(bool, Arc<Envelope>, crate::upstream::request::GrazieRequest), ApiError> {
    let req = ResponsesRequest::parse(bytes)?;
    for what in &req.dropped {
        tracing::debug!("responses: not sent upstream: {what}");
    }
    let profile = live
        .models
        .profile_for(&req.model)
        .ok_or_else(|| ApiError::model_not_found(&req.model))?;
    let caps = live.profiles.capabilities(profile);
    let grazie = grazie::build(&req.conversation, profile, &caps, live.config.upstream_api)
        .map_err(|e| e.renamed(FIELD_NAMES))?;
    let env = Envelope {
        id: ids::random("resp_"),
        created_at: crate::epoch::now_secs_unsigned(),
        model: req.model.into_owned(),
        input_tokens: grazie.prompt_tokens,
        echo: req.echo,
        names: req.names,
    };
    Ok((req.stream, Arc::new(env), grazie))
}
