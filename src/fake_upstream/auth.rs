//! Token identity for the fake: minting JWTs it accepts and reading the token name (`sub`) back from a request.
//!
//! The fake decodes without verifying, as jbproxy does: the signature only has to exist, so tests may craft tokens
//! by other means. The name is what behaviours, counters and quotas are keyed by.

use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::json;

use crate::jwt::DecodedJwt;

/// The header that carries the raw JWT on chat and quota calls.
pub(super) const JWT_HEADER: &str = "grazie-authenticate-jwt";

/// Mints a JWT the fake accepts: claims `{sub: token_name, exp, iat}`, unsigned (the fake, like jbproxy, never
/// verifies a signature).
pub fn mint_jwt(token_name: &str, expires_in: Duration) -> String {
    let now = crate::epoch::now_secs();
    let exp = now.saturating_add(i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2));
    mint(token_name, now, exp)
}

/// A fake token that expired an hour ago (and was issued a day before that).
pub fn mint_expired_jwt(token_name: &str) -> String {
    let now = crate::epoch::now_secs();
    mint(token_name, now - 90_000, now - 3_600)
}

fn mint(token_name: &str, iat: i64, exp: i64) -> String {
    crate::jwt::unsigned(&json!({"sub": token_name, "exp": exp, "iat": iat}))
}

/// Why a request's JWT was refused. The name is kept when it could be read, so the refusal is still attributed to
/// the token in `requests()` and `chat_requests_for`. Messages never quote the token.
pub(super) struct AuthFailure {
    pub name: Option<String>,
    pub message: &'static str,
}

/// Reads the token name from `grazie-authenticate-jwt`, refusing what the real service would answer with 401.
pub(super) fn identify(headers: &HeaderMap) -> Result<String, AuthFailure> {
    let fail = |name: Option<String>, message| Err(AuthFailure { name, message });
    let Some(value) = headers.get(JWT_HEADER) else {
        return fail(None, "missing grazie-authenticate-jwt header");
    };
    let Ok(raw) = value.to_str() else {
        return fail(None, "grazie-authenticate-jwt is not ASCII");
    };
    if raw.starts_with("Bearer ") || raw.starts_with("bearer ") {
        return fail(
            None,
            "grazie-authenticate-jwt must hold the raw JWT, without a Bearer prefix",
        );
    }
    if raw.trim() != raw || raw.is_empty() {
        return fail(
            None,
            "grazie-authenticate-jwt has surrounding whitespace or is empty",
        );
    }
    let Ok(jwt) = DecodedJwt::decode(raw) else {
        return fail(None, "grazie-authenticate-jwt is not a well-formed JWT");
    };
    let name = match jwt.claims.get("sub").and_then(|s| s.as_str()) {
        Some(sub) if !sub.is_empty() => sub.to_owned(),
        _ => return fail(None, "JWT has no sub claim"),
    };
    match jwt.time_claim("exp") {
        None => fail(Some(name), "JWT has no exp claim"),
        Some(exp) if exp <= crate::epoch::now_secs() => fail(Some(name), "JWT expired"),
        Some(_) => Ok(name),
    }
}
