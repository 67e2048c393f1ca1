//! Token identity for the fake: minting JWTs it accepts and reading the token name (`sub`) back from a request.
//!
//! The fake decodes without verifying, as jbproxy does: the signature only has to exist, so tests may craft tokens
//! by other means. The name is what behaviours, counters and quotas are keyed by.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use crate::jwt::DecodedJwt;

/// The fixed HS256 key of fake tokens. Not a secret: nothing real is ever signed with it.
const FAKE_KEY: &[u8] = b"jbproxy-fake-upstream-key";

/// The header that carries the raw JWT on chat and quota calls.
pub(super) const JWT_HEADER: &str = "grazie-authenticate-jwt";

/// Mints a JWT the fake accepts: HS256 with a fixed fake key, claims `{sub: token_name, exp, iat}`.
pub fn mint_jwt(token_name: &str, expires_in: Duration) -> String {
    let now = unix_now_secs();
    let exp = now.saturating_add(i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2));
    sign(token_name, now, exp)
}

/// A fake token that expired an hour ago (and was issued a day before that).
pub fn mint_expired_jwt(token_name: &str) -> String {
    let now = unix_now_secs();
    sign(token_name, now - 90_000, now - 3_600)
}

fn sign(token_name: &str, iat: i64, exp: i64) -> String {
    let claims = json!({"sub": token_name, "exp": exp, "iat": iat});
    let key = EncodingKey::from_secret(FAKE_KEY).expect("the fake key is a non-empty HMAC secret");
    encode(&Header::default(), &claims, &key).expect("HS256 signing of a JSON object cannot fail")
}

pub(super) fn unix_now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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
        Some(exp) if exp <= unix_now_secs() => fail(Some(name), "JWT expired"),
        Some(_) => Ok(name),
    }
}
