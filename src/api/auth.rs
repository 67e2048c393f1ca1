//! Client and admin authentication: the keys from `Authorization: Bearer` and `x-api-key`, each compared in constant
//! time (`KeyDigest::matches`), as the axum extractors `ClientAuth` and `AdminAuth`. A presented key is never logged.

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

/// Every key a client presented: each `Authorization` value (the credentials after a `Bearer` scheme, named in
/// any case as RFC 9110 §11.1 says; a value with no scheme is taken whole) and each `x-api-key`. A client or a proxy
/// on the way may add an `Authorization` for something else, so one header alone does not decide.
fn presented(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let authorization = headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|value| {
            let value = value.trim();
            match value.split_once(' ') {
                Some((scheme, credentials)) if scheme.eq_ignore_ascii_case("bearer") => {
                    credentials.trim()
                }
                _ => value,
            }
        });
    let api_key = headers
        .get_all("x-api-key")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim);
    authorization.chain(api_key)
}

/// Accepts the request when no key is configured, or when any presented key matches. Every presented key is
/// compared (no early exit), each in constant time.
fn check(expected: Option<&KeyDigest>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(digest) = expected else {
        return Ok(());
    };
    let matched = presented(headers).fold(false, |matched, key| digest.matches(key) | matched);
    if matched {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
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

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        let key = KeyDigest::new("sk-good");
        for value in [
            "bearer sk-good",
            "BEARER sk-good",
            "BeArEr  sk-good",
            "sk-good",
        ] {
            assert!(
                check(Some(&key), &headers(&[("authorization", value)])).is_ok(),
                "{value}"
            );
        }
        assert!(check(Some(&key), &headers(&[("authorization", "Basic sk-good")])).is_err());
    }

    #[test]
    fn a_matching_key_is_accepted_beside_an_unrelated_authorization() {
        let key = KeyDigest::new("sk-good");
        let unrelated = [
            ("authorization", "Basic dXNlcjpwYXNz"),
            ("x-api-key", "sk-good"),
        ];
        assert!(check(Some(&key), &headers(&unrelated)).is_ok());
        let other_bearer = [
            ("authorization", "Bearer sk-other"),
            ("x-api-key", "sk-good"),
        ];
        assert!(check(Some(&key), &headers(&other_bearer)).is_ok());
        let both_wrong = [
            ("authorization", "Bearer sk-other"),
            ("x-api-key", "sk-bad"),
        ];
        assert!(check(Some(&key), &headers(&both_wrong)).is_err());
    }
}
