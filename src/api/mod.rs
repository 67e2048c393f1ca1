//! The HTTP face: the OpenAI-compatible endpoints, the Anthropic Messages endpoints, `/health`, and the router that
//! ties them to shared state.
//! Handlers never parse config; they read the current `Live` snapshot.

mod actions;
mod admin;
mod auth;
pub mod body;
mod chat;
mod error;
mod messages;
mod models;
pub mod relay;
mod ui;

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;

use crate::live::Live;
use crate::reachability::{Status, down_after};
use crate::reload::Reloader;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub live: Arc<ArcSwap<Live>>,
    /// Cancelled when the shutdown grace period is over: open streams end with an error event.
    pub drain: CancellationToken,
    /// Absent in demo mode, where there is no config to reload.
    pub reloader: Option<Arc<Reloader>>,
    pub started: std::time::Instant,
}

impl AppState {
    pub fn snapshot(&self) -> Arc<Live> {
        self.live.load_full()
    }
}

pub fn router(state: AppState) -> Router {
    let body_timeout = state.live.load().config.client_body_timeout;
    Router::new()
        .route("/health", get(health))
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/messages", post(messages::create))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
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
        .layer(axum::middleware::from_fn_with_state(
            body_timeout,
            body::guard,
        ))
        .with_state(state)
}

/// Public, for load balancers: 200 while at least one token can serve and the upstream answers; 200 "degraded" while
/// the upstream cannot be reached, turning 503 once that has lasted three check intervals; 503 when no token can
/// serve.
async fn health(State(app): State<AppState>) -> impl IntoResponse {
    let live = app.snapshot();
    let healthy = live.pool.usable_count();
    let (upstream, down) = match live.reachability.status() {
        Status::Unknown => ("not contacted yet".to_string(), None),
        Status::Reachable => ("reachable".to_string(), None),
        Status::Unreachable { since, error } => (
            format!("unreachable: {error}"),
            Some(since.elapsed() >= down_after(live.config.health_check_interval)),
        ),
    };
    let (status, word) = match (healthy, down) {
        (0, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (_, Some(true)) => (StatusCode::SERVICE_UNAVAILABLE, "degraded"),
        (_, Some(false)) => (StatusCode::OK, "degraded"),
        (_, None) => (StatusCode::OK, "ok"),
    };
    let body = json!({
        "status": word,
        "healthy_tokens": healthy,
        "total_tokens": live.pool.len(),
        "strategy": live.pool.strategy().as_str(),
        "upstream": upstream,
    });
    (status, axum::Json(body))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!(
            "no endpoint at {}; this proxy serves /v1/chat/completions, /v1/messages and /v1/models",
            uri.path()
        ),
    )
    .code("not_found")
}
