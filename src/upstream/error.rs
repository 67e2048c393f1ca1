//! What can go wrong talking to JetBrains AI, classified by what it means for the token and for the client.

use std::time::Duration;

use crate::pool::Outcome;

/// An upstream failure. Messages never include a JWT; upstream bodies are kept short and treated as opaque text.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream rejected the JWT (401)")]
    Unauthorized,
    #[error("upstream quota exhausted (477)")]
    QuotaExhausted,
    #[error("upstream rate limited the token (429)")]
    RateLimited { retry_after: Option<Duration> },
    /// 400/404/413/422: the request itself is bad. Passed on to the client with this status.
    #[error("upstream refused the request ({status}): {body}")]
    Request { status: u16, body: String },
    /// 5xx, timeouts, broken streams: the upstream's fault, retried on another token.
    #[error("{0}")]
    Fault(String),
    /// No connection could be made (DNS, refused, unreachable network): nobody's fault but the network's, so no
    /// token pays for it.
    #[error("{0}")]
    Unreachable(String),
}

impl UpstreamError {
    /// Classifies a non-200 answer.
    pub fn from_status(status: u16, retry_after: Option<Duration>, body: &str) -> Self {
        match status {
            401 | 403 => UpstreamError::Unauthorized,
            477 => UpstreamError::QuotaExhausted,
            429 => UpstreamError::RateLimited { retry_after },
            400 | 404 | 413 | 422 => UpstreamError::Request {
                status,
                body: opaque(body),
            },
            _ => UpstreamError::Fault(format!("upstream answered {status}: {}", opaque(body))),
        }
    }

    /// What this failure does to the token's standing.
    pub fn outcome(&self) -> Outcome {
        match self {
            UpstreamError::Unauthorized => Outcome::Unauthorized,
            UpstreamError::QuotaExhausted => Outcome::QuotaExhausted { until: None },
            UpstreamError::RateLimited { retry_after } => Outcome::RateLimited {
                retry_after: *retry_after,
            },
            UpstreamError::Request { .. } => Outcome::RequestError,
            UpstreamError::Fault(_) => Outcome::Fault,
            UpstreamError::Unreachable(_) => Outcome::Unreachable,
        }
    }

    /// Whether another token could do better (everything but a bad request).
    pub fn retriable(&self) -> bool {
        !matches!(self, UpstreamError::Request { .. })
    }
}

/// An upstream body for an error message: one line, at most 300 characters, and never anything that looks like a
/// JWT (three base64url segments), since an upstream might echo the credential back.
pub fn opaque(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let cleaned: Vec<String> = one_line
        .split(' ')
        .map(|word| {
            if looks_like_jwt(word) {
                "<jwt>".to_string()
            } else {
                word.to_string()
            }
        })
        .collect();
    let text = cleaned.join(" ");
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn looks_like_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts[0].len() > 8
        && parts[1].len() > 8
        && parts
            .iter()
            .flat_map(|p| p.chars())
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '"' || c == '=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_as_the_upstream_table_says() {
        assert!(matches!(
            UpstreamError::from_status(401, None, ""),
            UpstreamError::Unauthorized
        ));
        assert!(matches!(
            UpstreamError::from_status(477, None, ""),
            UpstreamError::QuotaExhausted
        ));
        assert!(matches!(
            UpstreamError::from_status(429, None, ""),
            UpstreamError::RateLimited { .. }
        ));
        assert!(matches!(
            UpstreamError::from_status(422, None, ""),
            UpstreamError::Request { status: 422, .. }
        ));
        assert!(matches!(
            UpstreamError::from_status(503, None, ""),
            UpstreamError::Fault(_)
        ));
        assert!(!UpstreamError::from_status(400, None, "").retriable());
        assert!(UpstreamError::from_status(500, None, "").retriable());
    }

    #[test]
    fn opaque_bodies_are_short_and_never_carry_a_jwt() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln";
        let text = opaque(&format!("bad token {jwt}\nplease retry"));
        assert_eq!(text, "bad token <jwt> please retry");
        assert!(opaque(&"x".repeat(1000)).chars().count() <= 301);
    }
}
