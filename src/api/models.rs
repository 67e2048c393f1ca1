//! `/v1/models`: the model ids this proxy serves (the config's aliases merged over the built-in table).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{ApiError, AppState, auth};

/// A fixed `created` stamp: the upstream publishes none, and a constant keeps the list stable across restarts.
const CREATED: u64 = 1_735_689_600;

fn owner(profile: &str) -> &str {
    profile.split('-').next().unwrap_or("jetbrains")
}

fn entry(alias: &str, profile: &str) -> Value {
    json!({"id": alias, "object": "model", "created": CREATED, "owned_by": owner(profile)})
}

pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let live = app.snapshot();
    auth::check(live.client_key.as_ref(), &headers)?;
    let data: Vec<Value> = live.models.aliases().map(|(a, p)| entry(a, p)).collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

pub async fn one(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let live = app.snapshot();
    auth::check(live.client_key.as_ref(), &headers)?;
    match live.models.aliases().find(|(alias, _)| *alias == id) {
        Some((alias, profile)) => Ok(Json(entry(alias, profile))),
        None => Err(ApiError::model_not_found(&id)),
    }
}
