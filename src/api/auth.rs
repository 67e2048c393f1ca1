//! Client and admin authentication: the key from `Authorization: Bearer` or `x-api-key`, compared in constant time.
//! The presented key is never logged.

use axum::http::HeaderMap;

use super::ApiError;
use crate::secret::KeyDigest;

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
pub fn check(expected: Option<&KeyDigest>, headers: &HeaderMap) -> Result<(), ApiError> {
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
