//! `POST /v1/chat/completions`: the OpenAI face. Parses the request, maps the model, and hands the rest to the
//! shared relay with OpenAI's chunk and completion formats; with `native_routes.openai` on, an OpenAI model goes to
//! the native route instead (`api::native`).

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
use super::{ApiError, AppState, body, ids, native};
use crate::live::Live;
use crate::models::native::Family;
use crate::translate::grazie;
use crate::translate::openai::request::ChatRequest;
use crate::translate::openai::response::ResponseBuilder;
use crate::translate::openai::stream::ChunkTranslator;
use crate::upstream::request::GrazieRequest;

pub async fn completions(
    State(app): State<AppState>,
    auth: Result<ClientAuth, ApiError>,
    body: Body,
) -> Response {
    let drain = app.drain.clone();
    let face = Face::OpenAi {
        what: "chat completion",
    };
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
    if let Some(native) = native::route(&live, &bytes, Family::OpenAi) {
        drop(bytes);
        return native::relay(&live, native, started, drain).await;
    }
    let Prepared {
        model,
        stream,
        include_usage,
        grazie,
    } = prepare(&live, &bytes)?;
    // The body is not needed again: only the upstream body it became is kept, for the failover's attempts.
    drop(bytes);
    let id = ids::random("chatcmpl-");
    let created = crate::epoch::now_secs_unsigned();
    let prompt_tokens = grazie.prompt_tokens;
    let meta = Meta {
        model: model.clone(),
        started,
    };
    if stream {
        let format = ChunkTranslator::new(id, model, created, include_usage, prompt_tokens);
        relay::stream(&live, grazie, meta, format, drain).await
    } else {
        let json = relay::collect(&live, grazie, &meta, || {
            ResponseBuilder::new(id.clone(), model.clone(), created, prompt_tokens)
        })
        .await?;
        Ok((StatusCode::OK, axum::Json(json)).into_response())
    }
}

/// What the handler keeps of a request once it is parsed and mapped.
struct Prepared {
    model: String,
    stream: bool,
    include_usage: bool,
    grazie: GrazieRequest,
}

/// Parses the body into the typed conversation (borrowing its text), maps the model and builds the upstream body;
/// the conversation is gone when this returns.
fn prepare(live: &Live, bytes: &[u8]) -> Result<Prepared, ApiError> {
    let req = ChatRequest::parse(bytes)?;
    let profile = live
        .models
        .profile_for(&req.model)
        .ok_or_else(|| ApiError::model_not_found(&req.model))?;
    let caps = live.profiles.capabilities(profile);
    let grazie = grazie::build(&req.conversation, profile, &caps, live.config.upstream_api)?;
    Ok(Prepared {
        model: req.model.into_owned(),
        stream: req.stream,
        include_usage: req.include_usage,
        grazie,
    })
}
