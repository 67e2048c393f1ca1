//! Operator actions, each an admin endpoint (the status page only calls them): take a token out of rotation or put
//! it back, until the next reload (`POST /tokens/{token}/disable`, `/enable`), and run a health check now, of one
//! token (`POST /tokens/{token}/check`) or of all (`POST /check`). `{token}` is a fingerprint (`sha256:1a2b3c4d`)
//! or a name.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, AppState, auth};
use crate::live::Live;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens/{token}/disable", post(disable))
        .route("/tokens/{token}/enable", post(enable))
        .route("/tokens/{token}/check", post(check_one))
        .route("/check", post(check_all))
}

pub async fn disable(
    State(app): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&app, &token, &headers, true)
}

pub async fn enable(
    State(app): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&app, &token, &headers, false)
}

fn set_disabled(
    app: &AppState,
    token: &str,
    headers: &HeaderMap,
    disabled: bool,
) -> Result<Json<Value>, ApiError> {
    let live = app.snapshot();
    auth::check(live.admin_key.as_ref(), headers)?;
    let index = find(&live, token)?;
    let changed = live.pool.set_operator_disabled(index, disabled);
    Ok(Json(json!({
        "changed": changed,
        "token": token_json(&live, index),
    })))
}

pub async fn check_one(
    State(app): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let live = app.snapshot();
    auth::check(live.admin_key.as_ref(), &headers)?;
    let index = find(&live, &token)?;
    // An unreachable upstream is recorded in the token's `last_check`, which the answer carries.
    let _ = crate::health::check_token(&live, index).await;
    Ok(Json(json!({"token": token_json(&live, index)})))
}

pub async fn check_all(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let live = app.snapshot();
    auth::check(live.admin_key.as_ref(), &headers)?;
    let checked = live
        .pool
        .slots()
        .iter()
        .filter(|s| s.config.enabled)
        .count();
    let usable = crate::health::check_round(&live).await;
    Ok(Json(json!({
        "checked": checked,
        "usable": usable,
        "tokens": live.pool.token_stats(),
    })))
}

fn token_json(live: &Live, index: usize) -> Value {
    live.pool
        .token_stats()
        .into_iter()
        .nth(index)
        .map_or(Value::Null, |t| json!(t))
}

/// The slot a path names: its fingerprint, else its name (names are unique; the config loader insists).
fn find(live: &Live, token: &str) -> Result<usize, ApiError> {
    let slots = live.pool.slots();
    slots
        .iter()
        .position(|s| s.fingerprint == token)
        .or_else(|| slots.iter().position(|s| s.config.name == token))
        .ok_or_else(|| {
            let known: Vec<String> = slots.iter().map(|s| s.label()).collect();
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!(
                    "no token has the fingerprint or name {token:?}; the tokens are: {}",
                    known.join(", ")
                ),
            )
            .code("token_not_found")
        })
}
