//! Operator actions, each an admin endpoint (the status page only calls them): take a token out of rotation or put
//! it back, until the next reload (`POST /tokens/{token}/disable`, `/enable`), and run a health check now, of one
//! token (`POST /tokens/{token}/check`) or of all (`POST /check`). `{token}` is a fingerprint (`sha256:1a2b3c4d`)
//! or a name.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::AdminAuth;
use crate::live::Live;

/// One handler for the three token actions: each axum handler is a sizeable monomorphization, and the status page
/// must stay small in the binary.
pub async fn token_action(
    Path((token, action)): Path<(String, String)>,
    AdminAuth(live): AdminAuth,
) -> Result<Json<Value>, ApiError> {
    let index = find(&live, &token)?;
    let changed = match action.as_str() {
        "disable" => Some(live.pool.set_operator_disabled(index, true)),
        "enable" => Some(live.pool.set_operator_disabled(index, false)),
        "check" => {
            // An unreachable upstream is recorded in the token's `last_check`, which the answer carries.
            let _ = live.check_token(index).await;
            None
        }
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("no token action {other:?}; the actions are disable, enable and check"),
            )
            .code("not_found"));
        }
    };
    let token = live
        .pool
        .token_stats()
        .into_iter()
        .nth(index)
        .map_or(Value::Null, |t| json!(t));
    Ok(Json(json!({"changed": changed, "token": token})))
}

pub async fn check_all(AdminAuth(live): AdminAuth) -> Result<Json<Value>, ApiError> {
    let checked = live
        .pool
        .slots()
        .iter()
        .filter(|s| s.config.enabled)
        .count();
    let usable = live.check_round().await;
    Ok(Json(json!({
        "checked": checked,
        "usable": usable,
        "tokens": live.pool.token_stats(),
    })))
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
