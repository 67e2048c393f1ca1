//! JWT inspection without verification: header and claims, expiry and the time left.
//!
//! jbproxy holds no signing key, so a JWT's claims are only ever trusted for scheduling (when to stop using or
//! refresh a token), never for authorisation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// What is wrong with a string that should be a JWT. The messages never quote the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is empty; a JetBrains AI JWT is a long text starting with eyJ")]
    Empty,
    #[error(
        "not a JWT: it starts with \"Bearer \", which belongs in an HTTP header; give the JWT alone, without the prefix"
    )]
    BearerPrefix,
    #[error("not a JWT: expected three dot-separated parts (header.payload.signature), found {0}")]
    PartCount(usize),
    #[error("not a JWT: the {0} is not valid base64url")]
    Base64(&'static str),
    #[error("not a JWT: the {0} is not a JSON object")]
    Json(&'static str),
}

/// A decoded (unverified) JWT.
#[derive(Debug, Clone)]
pub struct DecodedJwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

impl DecodedJwt {
    /// Decodes header and claims. The signature is not checked; only its presence as a third part is.
    pub fn decode(token: &str) -> Result<Self, JwtError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(JwtError::Empty);
        }
        if token
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
        {
            return Err(JwtError::BearerPrefix);
        }
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err(JwtError::PartCount(parts.len()));
        }
        Ok(Self {
            header: decode_part(parts[0], "header")?,
            claims: decode_part(parts[1], "payload")?,
        })
    }

    /// A numeric date claim (`exp`, `iat`, `nbf`) in Unix seconds.
    pub fn time_claim(&self, name: &str) -> Option<i64> {
        match self.claims.get(name)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            _ => None,
        }
    }

    pub fn expires_at(&self) -> Option<SystemTime> {
        self.time_claim("exp").map(unix_to_system_time)
    }
}

fn decode_part(part: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    // Some issuers pad with '='; URL_SAFE_NO_PAD refuses padding, so drop it first.
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| JwtError::Base64(what))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Json(what)),
    }
}

/// The latest moment an RFC 3339 timestamp can show: 9999-12-31T23:59:59Z.
const MAX_RFC3339_SECS: u64 = 253_402_300_799;

/// A claim's Unix seconds as a `SystemTime`. Claims come from untrusted tokens, so absurd values (a year beyond
/// 9999, or before 1970 by more than that) are clamped instead of overflowing.
pub fn unix_to_system_time(secs: i64) -> SystemTime {
    let limit = MAX_RFC3339_SECS + 1;
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs().min(limit))
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs().min(limit))
    }
}

/// When a token stops working, as far as its `exp` claim says. `None` when it is not a JWT or has no `exp`.
pub fn expiry_of(token: &str) -> Option<SystemTime> {
    DecodedJwt::decode(token).ok()?.expires_at()
}

/// How a moment relates to now, for people: "in 3h 12m" or "4m ago".
pub fn relative(at: SystemTime, now: SystemTime) -> String {
    match at.duration_since(now) {
        Ok(left) => format!("in {}", short_duration(left)),
        Err(past) => format!("{} ago", short_duration(past.duration())),
    }
}

/// A duration rounded to its two largest units: "2d 3h", "5m 10s", "42s".
pub fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, hours, mins, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{mins}m {s}s"),
        (0, _, _) => format!("{hours}h {mins}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// An RFC 3339 UTC timestamp, seconds precision. Moments RFC 3339 cannot show (before 1970 or after 9999) are
/// said in words, since they can only come from a token with a nonsensical date claim.
pub fn rfc3339(at: SystemTime) -> String {
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) if since.as_secs() <= MAX_RFC3339_SECS => {
            humantime::format_rfc3339_seconds(at).to_string()
        }
        Ok(_) => "after 9999-12-31T23:59:59Z".to_string(),
        Err(_) => "before 1970-01-01T00:00:00Z".to_string(),
    }
}

/// A well-formed JWT with these claims and a placeholder signature, for tests, the benchmark and the fake upstream.
/// Nothing in jbproxy verifies a signature (it holds no key), so nothing is signed: see docs/ARCHITECTURE.md on
/// why the `jsonwebtoken` crate is not used.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_header_and_claims() {
        let token = unsigned(&serde_json::json!({"exp": 2_000_000_000, "sub": "user"}));
        let jwt = DecodedJwt::decode(&token).expect("valid jwt");
        assert_eq!(jwt.header["alg"], "HS256");
        assert_eq!(jwt.time_claim("exp"), Some(2_000_000_000));
        assert_eq!(
            jwt.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
        );
    }

    #[test]
    fn says_what_is_wrong_with_a_malformed_token() {
        assert_eq!(
            DecodedJwt::decode("abc").unwrap_err(),
            JwtError::PartCount(1)
        );
        assert_eq!(
            DecodedJwt::decode("a.b").unwrap_err(),
            JwtError::PartCount(2)
        );
        assert_eq!(DecodedJwt::decode("  ").unwrap_err(), JwtError::Empty);
        let header = unsigned(&serde_json::json!({}));
        assert_eq!(
            DecodedJwt::decode(&format!("Bearer {header}")).unwrap_err(),
            JwtError::BearerPrefix
        );
        assert_eq!(
            DecodedJwt::decode("!!!.e30.x").unwrap_err(),
            JwtError::Base64("header")
        );
        let not_json = URL_SAFE_NO_PAD.encode("not json");
        assert_eq!(
            DecodedJwt::decode(&format!("e30.{not_json}.x")).unwrap_err(),
            JwtError::Json("payload")
        );
    }

    #[test]
    fn error_messages_never_quote_the_token() {
        let err = DecodedJwt::decode("secret-value-here")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret-value-here"));
    }

    #[test]
    fn out_of_range_date_claims_do_not_panic() {
        // Regression: `exp: -5` or `exp: 1e15` used to panic inside humantime, taking down print-config,
        // check-tokens and decode-jwt.
        for exp in [
            serde_json::json!(-5),
            serde_json::json!(1e15),
            serde_json::json!(1e300),
            serde_json::json!(i64::MAX),
            serde_json::json!(i64::MIN),
        ] {
            let token = unsigned(&serde_json::json!({ "exp": exp }));
            let at = expiry_of(&token).expect("has exp");
            let shown = rfc3339(at);
            assert!(
                shown.starts_with("after 9999") || shown.starts_with("before 1970"),
                "{exp}: {shown}"
            );
            let _ = relative(at, SystemTime::now());
        }
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(MAX_RFC3339_SECS)),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn formats_durations_for_people() {
        assert_eq!(short_duration(Duration::from_secs(42)), "42s");
        assert_eq!(short_duration(Duration::from_secs(310)), "5m 10s");
        assert_eq!(short_duration(Duration::from_secs(3 * 3600 + 120)), "3h 2m");
        assert_eq!(
            short_duration(Duration::from_secs(2 * 86_400 + 3 * 3600)),
            "2d 3h"
        );
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(relative(now + Duration::from_secs(60), now), "in 1m 0s");
        assert_eq!(relative(now - Duration::from_secs(5), now), "5s ago");
    }
}
