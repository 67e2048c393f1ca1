//! JetBrains' account service as the fake plays it: `POST /oauth2/token`, form
//! `grant_type=refresh_token&client_id=ide&refresh_token=…` (docs/UPSTREAM.md, "Authentication"). A registered
//! refresh token gets an ID token (a JWT valid for an hour, which the refresh endpoint accepts for the account's
//! licence) and a **new** refresh token; the old one is refused from then on with OAuth's `invalid_grant`, so a
//! client that fails to keep the rotated token finds out.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Shared, lock};

/// An ID token lasts this long, as JetBrains' do (about an hour).
const ID_TOKEN_SECS: i64 = 3600;

/// What the handler answers, and the form as it may be recorded (the refresh token by fingerprint only).
pub(super) struct Answer {
    pub token_name: Option<String>,
    pub response: Response,
    pub recorded: Value,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

pub(super) fn token(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Answer {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let recorded = json!({
        "grant_type": form.get("grant_type"),
        "client_id": form.get("client_id"),
        "refresh_token": form.get("refresh_token").map(|t| crate::secret::fingerprint(t)),
    });
    let answer = |token_name: Option<String>, response| Answer {
        token_name,
        response,
        recorded: recorded.clone(),
    };
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        let reply = oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
        return answer(None, reply);
    }
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        let reply = oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=refresh_token is served here",
        );
        return answer(None, reply);
    }
    if form.get("client_id").map(String::as_str) != Some("ide") {
        let reply = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id",
        );
        return answer(None, reply);
    }
    let Some(refresh_token) = form.get("refresh_token").filter(|t| !t.is_empty()) else {
        let reply = oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is missing",
        );
        return answer(None, reply);
    };
    let mut accounts = lock(&shared.accounts);
    let Some(account) = accounts.remove(refresh_token) else {
        let reply = oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token is invalid, expired, or was already used",
        );
        return answer(None, reply);
    };
    let serial = shared.serial.fetch_add(1, Ordering::Relaxed);
    let rotated = format!("fake-refresh-{}-{serial}", account.token_name);
    let now = crate::epoch::now_secs();
    let id_token = crate::jwt::unsigned(&json!({
        "sub": format!("account-{}", account.token_name),
        "iat": now,
        "exp": now + ID_TOKEN_SECS,
        "jti": serial,
    }));
    accounts.insert(rotated.clone(), account.clone());
    drop(accounts);
    if let Some(license) = lock(&shared.licenses).get_mut(&account.license_id) {
        license.id_tokens.push(id_token.clone());
    }
    let access_token = format!("fake-access-{serial}");
    lock(&shared.issued).extend([rotated.clone(), id_token.clone(), access_token.clone()]);
    let reply = (
        StatusCode::OK,
        axum::Json(json!({
            "access_token": access_token,
            "id_token": id_token,
            "refresh_token": rotated,
            "token_type": "bearer",
            "expires_in": ID_TOKEN_SECS,
            "scope": "openid offline_access",
        })),
    )
        .into_response();
    answer(Some(account.token_name), reply)
}
