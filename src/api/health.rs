//! `/health`, the endpoint load balancers poll: whether this proxy can serve now (a token usable, the upstream
//! answering). Not to be confused with the checker (`checker.rs`), which tests tokens, or a token's standing
//! (`pool/standing.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::live::AppState;
use crate::reachability::{Status, down_after};

/// Public, for load balancers: 200 while at least one token can serve and the upstream answers; 200 "degraded" while
/// the upstream cannot be reached, turning 503 once that has lasted three check intervals; 503 when no token can
/// serve.
pub async fn health(State(app): State<AppState>) -> impl IntoResponse {
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
        // Where the pool's state lives; "redis: unreachable" while Redis is away (the replica serves on).
        "state": live.cluster.status(),
    });
    (status, axum::Json(body))
}
