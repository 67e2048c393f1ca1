//! Client and admin authentication: the key from `Authorization: Bearer` or `x-api-key`, compared in constant time
//! (`KeyDigest::matches`), as the axum extractors `ClientAuth` and `AdminAuth`. The presented key is never logged.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::ApiError;
use crate::live::{AppState, Live};
use crate::secret::KeyDigest;

/// A request that presented the client key (or came when none is configured), with the snapshot it is served from:
/// the key is checked against that same snapshot, so a reload between the check and the answer cannot mix them.
/// A refusal is an `ApiError` 401; a face that writes its own error shape takes `Result<ClientAuth, ApiError>`.
pub struct ClientAuth(pub Arc<Live>);

/// Like `ClientAuth`, for the admin endpoints: `admin_token` if set, else the client key (`Live::admin_key`).
pub struct AdminAuth(pub Arc<Live>);

impl FromRequestParts<AppState> for ClientAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let live = app.snapshot();
        check(live.client_key.as_ref(), &parts.headers)?;
        Ok(Self(live))
    }
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let live = app.snapshot();
        check(live.admin_key.as_ref(), &parts.headers)?;
        Ok(Self(live))
    }
}

/// The key a client presented, if any.
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value);
        return Some(key.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Accepts the request when no key is configured, or when the presented key matches.
fn check(expected: Option<&KeyDigest>, headers: &HeaderMap) -> Result<(), ApiError> {
    match expected {
        None => Ok(()),
        Some(digest) => match presented(headers) {
            Some(key) if digest.matches(key) => Ok(()),
            _ => Err(ApiError::unauthorized()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn accepts_bearer_and_x_api_key_and_refuses_the_rest() {
        let key = KeyDigest::new("sk-good");
        assert!(check(Some(&key), &headers(&[("authorization", "Bearer sk-good")])).is_ok());
        assert!(check(Some(&key), &headers(&[("x-api-key", "sk-good")])).is_ok());
        assert!(check(Some(&key), &headers(&[("authorization", "Bearer sk-bad")])).is_err());
        assert!(check(Some(&key), &headers(&[])).is_err());
        assert!(check(None, &headers(&[])).is_ok());
    }
}
