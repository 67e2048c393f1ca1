//! JetBrains' account service: a refresh token for an ID token (`POST <oauth_url>`, form
//! `grant_type=refresh_token&client_id=ide&refresh_token=…`; JBA `refreshIdToken`, docs/UPSTREAM.md). The answer
//! may carry a new refresh token that replaces the old one (rotation); keeping it is the caller's business.
//!
//! Both tokens are secrets: neither is ever put in an error message (the account service's error body is scrubbed
//! of the refresh token sent, and of anything JWT-shaped, before it is shown).

use secrecy::SecretString;
use serde_json::Value;

use super::{UpstreamClient, UpstreamError, error, error_body, redirect_of};

/// What the account service gave for a refresh token.
pub struct IdGrant {
    pub id_token: SecretString,
    /// A rotated refresh token, when the answer carried one different from the one sent.
    pub rotated: Option<SecretString>,
    /// The ID token's `exp` (Unix seconds), from its claims or else `expires_in`.
    pub expires_at: Option<i64>,
}

/// Why no ID token came back.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The account service refused the refresh token (`invalid_grant`: expired, revoked, or already rotated away):
    /// only signing in again helps.
    #[error(
        "the account service refused the refresh token ({error}{}); sign in to JetBrains again and put the new \
         refresh_token in the config (then reload)",
        .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Refused {
        error: String,
        description: Option<String>,
    },
    /// Anything else: the network, a 5xx, an answer that is not what was expected. Worth trying again later.
    #[error("the account service could not be asked: {0}")]
    Failed(UpstreamError),
}

impl UpstreamClient {
    /// Exchanges an OAuth refresh token for an ID token at `oauth_url`.
    pub async fn id_token(&self, refresh_token: &str) -> Result<IdGrant, OAuthError> {
        let send = self
            .oauth
            .post(&self.oauth_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "ide"),
                ("refresh_token", refresh_token),
            ])
            .send();
        let response = self.headers_of(send).await.map_err(OAuthError::Failed)?;
        if let Some((status, to)) = redirect_of(&response) {
            return Err(OAuthError::Failed(UpstreamError::Fault(format!(
                "the account service answered {status} (a redirect{}), which jbproxy never follows; check oauth_url",
                to.map(|to| format!(" to {to}")).unwrap_or_default()
            ))));
        }
        let status = response.status().as_u16();
        if status != 200 {
            let body = error_body(response).await;
            return Err(refusal(status, &body, refresh_token));
        }
        let body: Value = self.json_body(response).await.map_err(OAuthError::Failed)?;
        grant(&body, refresh_token).map_err(|why| {
            OAuthError::Failed(UpstreamError::Fault(format!(
                "the account service's answer {why}"
            )))
        })
    }
}

/// Reads a 200 answer: `id_token` is required; `refresh_token` and `expires_in` are optional.
fn grant(body: &Value, sent: &str) -> Result<IdGrant, &'static str> {
    let id_token = body
        .get("id_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("carries no id_token")?;
    let rotated = body
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && *t != sent)
        .map(|t| SecretString::from(t.to_owned()));
    let expires_at = crate::jwt::DecodedJwt::decode(id_token)
        .ok()
        .and_then(|jwt| jwt.time_claim("exp"))
        .or_else(|| {
            let secs = body.get("expires_in").and_then(Value::as_i64)?;
            Some(crate::epoch::now_secs().saturating_add(secs))
        });
    Ok(IdGrant {
        id_token: SecretString::from(id_token.to_owned()),
        rotated,
        expires_at,
    })
}

/// A non-200 answer: an OAuth error object (`{"error": "invalid_grant", "error_description": …}`) on 400/401 is
/// a refusal of the refresh token; anything else a failure to ask.
fn refusal(status: u16, body: &str, sent: &str) -> OAuthError {
    let secrets = [sent];
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |key: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(|text| error::opaque(text, &secrets))
    };
    match (status, field("error")) {
        (400 | 401, Some(code)) if code != "invalid_client" && code != "unsupported_grant_type" => {
            OAuthError::Refused {
                error: code,
                description: field("error_description"),
            }
        }
        _ => OAuthError::Failed(UpstreamError::Fault(format!(
            "the account service answered {status}: {}",
            error::opaque(body, &secrets)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn a_grant_reads_the_id_token_its_expiry_and_a_rotation() {
        let id = crate::jwt::unsigned(&json!({"sub": "x", "exp": 4_000_000_000_i64}));
        let g = grant(
            &json!({"id_token": id, "refresh_token": "new", "expires_in": 60}),
            "old",
        )
        .expect("reads");
        assert_eq!(g.expires_at, Some(4_000_000_000));
        assert_eq!(g.rotated.as_ref().map(|r| r.expose_secret()), Some("new"));
        let same = grant(
            &json!({"id_token": "opaque", "refresh_token": "old"}),
            "old",
        )
        .expect("reads");
        assert!(same.rotated.is_none(), "the same token back is no rotation");
        assert!(same.expires_at.is_none());
        assert!(grant(&json!({"access_token": "a"}), "old").is_err());
    }

    #[test]
    fn invalid_grant_is_a_refusal_and_never_shows_the_refresh_token() {
        let err = refusal(
            400,
            r#"{"error":"invalid_grant","error_description":"token rt-secret-123 was revoked"}"#,
            "rt-secret-123",
        );
        let text = err.to_string();
        assert!(matches!(err, OAuthError::Refused { .. }), "{text}");
        assert!(
            text.contains("invalid_grant") && text.contains("sign in"),
            "{text}"
        );
        assert!(!text.contains("rt-secret-123"), "{text}");
        for (status, body) in [
            (503, "down for maintenance rt-secret-123"),
            (400, r#"{"error":"invalid_client"}"#),
            (400, "not json"),
        ] {
            let err = refusal(status, body, "rt-secret-123");
            assert!(matches!(err, OAuthError::Failed(_)), "{status} {body}");
            assert!(!err.to_string().contains("rt-secret-123"));
        }
    }

    #[tokio::test]
    async fn a_redirect_is_never_followed_and_names_only_its_host() {
        use axum::http::{StatusCode, header};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().route(
            "/oauth2/token",
            axum::routing::post(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "https://elsewhere.example:8443/steal?x=y")],
                )
            }),
        );
        let text = json!({
            "jetbrains_tokens": [{"name": "a", "token": crate::fake_upstream::mint_expired_jwt("a")}],
            "upstream_url": format!("http://{addr}"),
            "oauth_url": format!("http://{addr}/oauth2/token"),
        })
        .to_string();
        let config =
            crate::config::load_text(&text, std::path::Path::new("config.json")).expect("loads");
        let client = UpstreamClient::new(&config).expect("client");
        // The server runs beside the call, and stops with the test.
        let err = tokio::select! {
            answer = client.id_token("rt-secret") => answer.err().expect("refused"),
            served = async { axum::serve(listener, app).await } => panic!("server stopped: {served:?}"),
        };
        let message = err.to_string();
        assert!(matches!(err, OAuthError::Failed(_)), "{message}");
        assert!(
            message.contains("307 (a redirect to https://elsewhere.example:8443)"),
            "{message}"
        );
        assert!(
            !message.contains("steal") && !message.contains("rt-secret"),
            "{message}"
        );
    }
}
