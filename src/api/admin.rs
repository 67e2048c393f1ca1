//! Management endpoints: `/stats`, `/stats/traffic`, `/config`, `/reload`, `/metrics`. Authenticated with
//! `admin_token` if set, else the client bearer token. Nothing here ever shows a token, only names and fingerprints.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::AdminAuth;
use super::{ApiError, AppState};
use crate::config::view;

pub async fn stats(
    State(app): State<AppState>,
    AdminAuth(live): AdminAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    match query.as_deref().unwrap_or_default() {
        "" | "scope=replica" => {}
        "scope=cluster" => return cluster_stats(&live).await,
        _ => {
            return Err(ApiError::bad_request(
                "the one parameter is `scope`: ?scope=cluster for every replica sharing the state, \
                 ?scope=replica (the default) for this one",
            )
            .param("scope"));
        }
    }
    let tokens = live.pool.token_stats();
    let total = |f: fn(&crate::pool::stats::TokenStats) -> u64| tokens.iter().map(f).sum::<u64>();
    let totals = json!({
        "tokens": tokens.len(),
        "usable": tokens.iter().filter(|t| t.usable).count(),
        "requests": total(|t| t.requests),
        "successes": total(|t| t.successes),
        "inflight": total(|t| u64::from(t.inflight)),
    });
    let reloads = app.reloader.as_ref().map(|r| {
        let (succeeded, failed) = r.counts();
        json!({"succeeded": succeeded, "failed": failed})
    });
    let fallback = live.models.fallback();
    let model_fallback = json!({
        "patterns": fallback.rules().iter().map(|r| json!({
            "pattern": r.pattern,
            "profile": r.profile,
            "from": r.family.map_or("config", |_| "built-in"),
        })).collect::<Vec<_>>(),
        "served": fallback.served().iter().map(|s| json!({
            "model": s.model,
            "profile": s.profile,
            "pattern": s.pattern,
            "uses": s.uses,
        })).collect::<Vec<_>>(),
    });
    Ok(Json(json!({
        "strategy": live.pool.strategy().as_str(),
        "reloads": reloads,
        "priority_mode": live.config.priority_mode.as_str(),
        "uptime_secs": app.started.elapsed().as_secs(),
        // Where the pool's state lives (`memory`, `redis`, `redis: unreachable`); the status page offers the
        // cluster view when it is shared.
        "state": live.cluster.status(),
        "totals": totals,
        "tokens": tokens,
        "model_fallback": model_fallback,
    })))
}

/// Every replica sharing the pool's state and the merged per-token view (`cluster::Cluster::view`); a 503 while
/// Redis does not answer.
async fn cluster_stats(live: &crate::live::Live) -> Result<Json<Value>, ApiError> {
    match live.cluster.view(&live.pool).await {
        Ok(view) => Ok(Json(view)),
        Err(message) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )),
    }
}

/// The last hour in 10-second samples and the requests per model (see `crate::traffic`). `?since=<unix ms>` keeps
/// only the samples that ended later, for a poller that has the rest.
pub async fn traffic(
    RawQuery(query): RawQuery,
    AdminAuth(_): AdminAuth,
) -> Result<Json<Value>, ApiError> {
    let mut since = 0;
    for pair in query.as_deref().unwrap_or_default().split('&') {
        if let Some(value) = pair.strip_prefix("since=") {
            since = value.parse().map_err(|_| {
                ApiError::bad_request(
                    "`since` must be a time in Unix milliseconds, e.g. ?since=1767225600000",
                )
                .param("since")
            })?;
        }
    }
    // Unsorted: the page sorts them.
    let models: Vec<Value> = crate::traffic::model_counts()
        .into_iter()
        .map(|(model, requests)| json!({"model": model, "requests": requests}))
        .collect();
    Ok(Json(json!({
        "interval_secs": crate::traffic::INTERVAL.as_secs(),
        "capacity": crate::traffic::CAPACITY,
        "now_ms": crate::traffic::now_ms(),
        "samples": crate::traffic::samples_since(since),
        "models": models,
    })))
}

pub async fn config(AdminAuth(live): AdminAuth) -> Result<Json<Value>, ApiError> {
    Ok(Json(view::redacted_json(&live.config)))
}

pub async fn reload(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
) -> Result<Json<Value>, ApiError> {
    let Some(reloader) = &app.reloader else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "reload is not available in demo mode",
        ));
    };
    match reloader.reload("POST /reload").await {
        Ok(summary) => Ok(Json(json!({"status": "reloaded", "summary": summary}))),
        Err(message) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            format!("config not reloaded, the running config is unchanged: {message}"),
        )
        .code("invalid_config")),
    }
}

pub async fn metrics(AdminAuth(live): AdminAuth) -> Result<Response, ApiError> {
    // Gauges are set just before rendering, so they show the pool as it is now.
    crate::metrics::log_lines_dropped(crate::logging::dropped_lines());
    for stats in live.pool.token_stats() {
        crate::metrics::token(&stats.name, stats.usable, stats.inflight, stats.state);
    }
    let text = crate::metrics::render();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
