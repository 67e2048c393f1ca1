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
    /// A 477 whose body speaks of a suspension: the licence is suspended, not out of quota. The body, scrubbed.
    #[error("JetBrains AI suspended the token's licence (477): {0}")]
    Suspended(String),
    /// 403: the upstream refuses this token for now (not a bad JWT: that is a 401).
    #[error("upstream refused the token (403 forbidden)")]
    Forbidden { retry_after: Option<Duration> },
    #[error("upstream rate limited the token (429)")]
    RateLimited { retry_after: Option<Duration> },
    /// 400/404/413/422: the request itself is bad. Passed on to the client with this status.
    #[error("upstream refused the request ({status}): {body}")]
    Request { status: u16, body: String },
    /// A 3xx. Never followed: the JWT (and on 307/308 the whole body) would go wherever the upstream points.
    #[error(
        "upstream answered {status} (a redirect{}), which jbproxy never follows so the JWT cannot leave upstream_url; \
         check upstream_url",
        .to.as_deref().map(|to| format!(" to {to}")).unwrap_or_default()
    )]
    Redirected { status: u16, to: Option<String> },
    /// 5xx, timeouts, broken streams: the upstream's fault, retried on another token.
    #[error("{0}")]
    Fault(String),
    /// No connection could be made (DNS, refused, unreachable network): nobody's fault but the network's, so no
    /// token pays for it.
    #[error("{0}")]
    Unreachable(String),
}

impl UpstreamError {
    /// Classifies a non-200 answer. `secrets` are scrubbed from the body verbatim, besides anything JWT-shaped.
    pub fn from_status(
        status: u16,
        retry_after: Option<Duration>,
        body: &str,
        secrets: &[&str],
    ) -> Self {
        match status {
            401 => UpstreamError::Unauthorized,
            403 => UpstreamError::Forbidden { retry_after },
            477 if mentions_suspension(body) => UpstreamError::Suspended(opaque(body, secrets)),
            477 => UpstreamError::QuotaExhausted,
            429 => UpstreamError::RateLimited { retry_after },
            400 | 404 | 413 | 422 => UpstreamError::Request {
                status,
                body: opaque(body, secrets),
            },
            _ => UpstreamError::Fault(format!(
                "upstream answered {status}: {}",
                opaque(body, secrets)
            )),
        }
    }

    /// What this failure does to the token's standing.
    pub fn outcome(&self) -> Outcome {
        match self {
            UpstreamError::Unauthorized => Outcome::Unauthorized,
            UpstreamError::QuotaExhausted => Outcome::QuotaExhausted { until: None },
            UpstreamError::Suspended(_) => Outcome::Suspended,
            UpstreamError::Forbidden { retry_after } => Outcome::Forbidden {
                retry_after: *retry_after,
            },
            UpstreamError::RateLimited { retry_after } => Outcome::RateLimited {
                retry_after: *retry_after,
            },
            // A redirect says nothing about the token: every token would get the same answer from that upstream.
            // Counting it as a fault would eject the whole pool and hide the cause behind a 503.
            UpstreamError::Request { .. } | UpstreamError::Redirected { .. } => {
                Outcome::RequestError
            }
            UpstreamError::Fault(_) => Outcome::Fault,
            UpstreamError::Unreachable(_) => Outcome::Unreachable,
        }
    }

    /// Whether another token could do better: not for a bad request, and not for a redirect (the upstream would
    /// redirect the next token too).
    pub fn retriable(&self) -> bool {
        !matches!(
            self,
            UpstreamError::Request { .. } | UpstreamError::Redirected { .. }
        )
    }
}

/// Whether a 477's body says the licence is suspended rather than out of quota: JBA matches
/// `/license suspension|suspended/i` (docs/UPSTREAM.md); either word is enough here.
fn mentions_suspension(body: &str) -> bool {
    let lower = body.to_lowercase();
    lower.contains("suspension") || lower.contains("suspended")
}

/// Where a redirect pointed, as scheme, host and port only: a path or query may carry anything, userinfo a password.
pub fn redirect_target(location: Option<&str>) -> Option<String> {
    let url = reqwest::Url::parse(location?).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// An upstream body for an error message. Secrets go first, while the text is whole: every `secrets` entry
/// verbatim, then every JWT-shaped run of characters wherever it stands (in quotes, brackets, after `=`), since an
/// upstream might echo the credential back. Then one line, at most 300 characters.
pub fn opaque(body: &str, secrets: &[&str]) -> String {
    let mut text = std::borrow::Cow::Borrowed(body);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret) {
            text = std::borrow::Cow::Owned(text.replace(secret, "<redacted>"));
        }
    }
    let scrubbed = scrub_jwts(&text);
    let one_line: String = scrubbed.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// Replaces every maximal run of base64url characters and dots that holds a JWT shape with `<jwt>`.
fn scrub_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_token_char) {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let len = run.find(|c| !is_token_char(c)).unwrap_or(run.len());
        let (run, after) = run.split_at(len);
        out.push_str(if looks_like_jwt(run) { "<jwt>" } else { run });
        rest = after;
    }
    out.push_str(rest);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '.')
}

/// Three dot-separated segments in a row, the first two long enough to hold a JSON header and payload
/// (`{"alg":"x"}` alone is 15 base64 characters). The signature may be empty (`alg: none`).
pub fn looks_like_jwt(run: &str) -> bool {
    let segments: Vec<&str> = run.split('.').collect();
    segments
        .windows(3)
        .any(|w| w[0].len() >= 10 && w[1].len() >= 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_as_the_upstream_table_says() {
        let classify = |status| UpstreamError::from_status(status, None, "", &[]);
        assert!(matches!(classify(401), UpstreamError::Unauthorized));
        assert!(matches!(
            classify(403),
            UpstreamError::Forbidden { retry_after: None }
        ));
        assert!(matches!(classify(477), UpstreamError::QuotaExhausted));
        assert!(matches!(classify(429), UpstreamError::RateLimited { .. }));
        assert!(matches!(
            classify(422),
            UpstreamError::Request { status: 422, .. }
        ));
        assert!(matches!(classify(503), UpstreamError::Fault(_)));
        assert!(!classify(400).retriable());
        assert!(classify(500).retriable());
    }

    #[test]
    fn a_477_that_speaks_of_suspension_is_a_suspension_not_exhaustion() {
        for body in [
            "License SUSPENDED for account",
            r#"{"error":"license suspension in effect"}"#,
        ] {
            let err = UpstreamError::from_status(477, None, body, &[]);
            assert!(matches!(err, UpstreamError::Suspended(_)), "{body}");
            assert_eq!(err.outcome(), Outcome::Suspended);
            assert!(err.retriable(), "another token may serve");
        }
        let quota = UpstreamError::from_status(477, None, "quota exhausted", &[]);
        assert_eq!(quota.outcome(), Outcome::QuotaExhausted { until: None });
        let forbidden = UpstreamError::from_status(403, Some(Duration::from_secs(7)), "no", &[]);
        assert_eq!(
            forbidden.outcome(),
            Outcome::Forbidden {
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn a_redirect_is_neither_retried_nor_held_against_the_token() {
        let err = UpstreamError::Redirected {
            status: 307,
            to: redirect_target(Some("http://user:pw@evil.test:8443/steal?jwt=x")),
        };
        assert!(!err.retriable());
        assert_eq!(err.outcome(), Outcome::RequestError);
        let text = err.to_string();
        assert!(
            text.contains("307") && text.contains("http://evil.test:8443"),
            "{text}"
        );
        assert!(!text.contains("pw") && !text.contains("steal"), "{text}");
        assert_eq!(redirect_target(Some("/relative")), None);
    }

    #[test]
    fn opaque_bodies_are_short_and_never_carry_a_jwt() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln";
        let text = opaque(&format!("bad token {jwt}\nplease retry"), &[]);
        assert_eq!(text, "bad token <jwt> please retry");
        assert!(opaque(&"x".repeat(1000), &[]).chars().count() <= 301);
    }

    #[test]
    fn jwts_are_scrubbed_wherever_they_stand() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln";
        for wrapped in [
            format!(r#"{{"token":"{jwt}"}}"#),
            format!(r#"["{jwt}"]"#),
            format!("(jwt={jwt})"),
            format!("<{jwt}>"),
            format!("'{jwt}',"),
            format!("{}.", &jwt[..jwt.rfind('.').unwrap_or(0)]),
        ] {
            let text = opaque(&wrapped, &[]);
            assert!(!text.contains("eyJzdWIiOiJ4In0"), "{wrapped} → {text}");
            assert!(text.contains("<jwt>"), "{wrapped} → {text}");
        }
        // Ordinary dotted words stay readable.
        assert_eq!(
            opaque("see api.jetbrains.ai v1.2.3", &[]),
            "see api.jetbrains.ai v1.2.3"
        );
    }

    #[test]
    fn configured_secrets_are_scrubbed_verbatim_before_truncation() {
        let secret = "e30.short-not-jwt-shaped";
        let body = format!("{}{secret} echoed", "x ".repeat(140));
        let text = opaque(&body, &[secret]);
        assert!(!text.contains("short-not-jwt"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
