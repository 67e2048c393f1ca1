//! What every chat face (chat completions, messages, count_tokens, responses) does around its own work: the client
//! key, the race against the shutdown drain, and for a failure the metrics, the log line and the error in the face's
//! shape. A face's handler is then parse → relay → write.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::auth::ClientAuth;
use crate::live::{AppState, Live};

/// How a face writes its errors and names its failures in the log.
#[derive(Clone, Copy)]
pub enum Face {
    /// OpenAI error objects; `what` names the request in the log line ("chat completion failed: …").
    OpenAi { what: &'static str },
    /// Anthropic error objects; logged as "anthropic {what} failed: …".
    Anthropic { what: &'static str },
}

/// Runs `handle` with the authenticated snapshot and the time the request came, racing the shutdown drain: past the
/// grace period a request still waiting for its answer is ended with a 503. A failure is counted, logged (a 401
/// only as a count: anyone can send those) and answered in the face's shape.
pub async fn serve<Fut>(
    app: &AppState,
    auth: Result<ClientAuth, ApiError>,
    face: Face,
    handle: impl FnOnce(Arc<Live>, Instant) -> Fut,
) -> Response
where
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let started = Instant::now();
    let result = match auth {
        Err(err) => Err(err),
        Ok(ClientAuth(live)) => tokio::select! {
            result = handle(live, started) => result,
            _ = app.drain.cancelled() => Err(shutting_down()),
        },
    };
    match result {
        Ok(response) => response,
        Err(err) => fail(err, face, started),
    }
}

fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable_error",
        "the proxy is shutting down",
    )
}

fn fail(err: ApiError, face: Face, started: Instant) -> Response {
    super::request_finished(err.status.as_u16(), "");
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let status = err.status.as_u16();
    if err.status == StatusCode::UNAUTHORIZED {
        // Anyone can send these; a line each would let them fill the log.
        crate::logging::refused_unauthenticated();
    } else {
        match face {
            Face::OpenAi { what } => tracing::info!(
                status,
                code = err.code.unwrap_or(""),
                elapsed_ms,
                "{what} failed: {}",
                err.message
            ),
            Face::Anthropic { what } => tracing::info!(
                status,
                kind = err.anthropic_kind(),
                elapsed_ms,
                "anthropic {what} failed: {}",
                err.message
            ),
        }
    }
    match face {
        Face::OpenAi { .. } => err.into_response(),
        Face::Anthropic { .. } => err.into_anthropic_response(),
    }
}
