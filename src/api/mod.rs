//! The HTTP face: the OpenAI-compatible endpoints, the Anthropic Messages endpoints, `/health`, the admin endpoints
//! and the status page, and the router that ties them to shared state.
//! Handlers never parse config; they read the current `Live` snapshot.

mod actions;
mod admin;
mod auth;
pub mod body;
mod chat;
mod error;
mod face;
mod health;
mod ids;
mod json_errors;
mod messages;
mod models;
mod native;
pub mod relay;
mod responses;
mod ui;
mod unavailable;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::config::StartUp;
use crate::live::AppState;

pub fn router(state: AppState, start_up: &StartUp) -> Router {
    let body_timeout = start_up.client_body_timeout;
    let routes = Router::new()
        .route("/health", get(health::health))
        // Claude Code sends `HEAD /` before its first request, to see that something answers.
        .route("/", get(health::health))
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/messages", post(messages::create))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/responses", post(responses::create))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*id}", get(models::one))
        .route("/stats", get(admin::stats))
        .route("/config", get(admin::config))
        .route("/reload", post(admin::reload))
        .route("/metrics", get(admin::metrics))
        .route("/stats/traffic", get(admin::traffic))
        .route("/tokens/{token}/{action}", post(actions::token_action))
        .route("/check", post(actions::check_all))
        .route("/ui", get(ui::serve))
        .route("/ui/", get(ui::serve))
        .route("/ui/{*file}", get(ui::serve))
        .fallback(not_found)
        .with_state(state);
    // The routes as one service, so the middleware sees their finished answers: a layer on the routes themselves
    // would run before the method router adds `Allow` to its 405. The error rewriting sits inside the body guard, so
    // a body left unread by an early refusal is still drained.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn(json_errors::guard))
        .layer(axum::middleware::from_fn_with_state(
            body_timeout,
            body::guard,
        ))
}

/// A request answered, with the model it asked for (empty when it failed before that was known): counted in the
/// Prometheus metrics and in the status page's traffic samples.
fn request_finished(status: u16, model: &str) {
    crate::metrics::request_finished(status, model);
    crate::traffic::record_request(status, model);
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!(
            "no endpoint at {}; this proxy serves /v1/chat/completions, /v1/responses, /v1/messages and /v1/models",
            uri.path()
        ),
    )
    .code("not_found")
}
