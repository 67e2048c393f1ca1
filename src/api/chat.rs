//! `POST /v1/chat/completions`: the OpenAI face. Parses the request, maps the model, and hands the rest to the
//! shared relay with OpenAI's chunk and completion formats.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::relay::{self, Meta};
use super::{ApiError, AppState, auth};
use crate::live::Live;
use crate::translate::openai::request::ChatRequest;
use crate::translate::openai::response::ResponseBuilder;
use crate::translate::openai::stream::ChunkTranslator;
use crate::translate::request;

pub async fn completions(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let live = app.snapshot();
    let started = Instant::now();
    let result = tokio::select! {
        result = handle(&app, &live, &headers, body, started) => result,
        // Past the shutdown grace period a request still waiting for its answer is ended too.
        _ = app.drain.cancelled() => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable_error", "the proxy is shutting down")),
    };
    match result {
        Ok(response) => response,
        Err(err) => {
            crate::metrics::request_finished(err.status.as_u16(), "");
            tracing::info!(
                status = err.status.as_u16(),
                code = err.code.unwrap_or(""),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "chat completion failed: {}",
                err.message
            );
            err.into_response()
        }
    }
}

async fn handle(
    app: &AppState,
    live: &Arc<Live>,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Result<Response, ApiError> {
    auth::check(live.client_key.as_ref(), headers)?;
    let bytes = relay::read_body(body, live.config.max_body_size).await?;
    let req: ChatRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    let profile = live
        .models
        .profile_for(&req.model)
        .ok_or_else(|| ApiError::model_not_found(&req.model))?;
    let grazie = request::build(&req, profile, live.config.upstream_api, relay::now_ms())?;
    let id = relay::random_id("chatcmpl-");
    let created = relay::now_secs();
    let prompt_tokens = grazie.prompt_tokens;
    let meta = Meta {
        model: req.model.clone(),
        started,
    };
    if req.stream {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let format =
            ChunkTranslator::new(id, req.model.clone(), created, include_usage, prompt_tokens);
        relay::stream(live, grazie, meta, format, app.drain.clone()).await
    } else {
        let model = req.model.clone();
        let json = relay::collect(live, grazie, &meta, || {
            ResponseBuilder::new(id.clone(), model.clone(), created, prompt_tokens)
        })
        .await?;
        Ok((StatusCode::OK, axum::Json(json)).into_response())
    }
}
