//! The refresh chain: how a token's refresh credentials become a new JWT.
//!
//! - `license_id` + `refresh_token` (the chain that lasts): refresh token → ID token at JetBrains' account service
//!   (`oauth_url`), ID token → JWT at `provide-access/license/v2`. The ID token is kept until 5 minutes before its
//!   `exp` (about an hour); a refresh token the account service rotates replaces the old one at once, in memory and
//!   in the state file, so a restart starts from it.
//! - `license_id` + `authorization` (a fixed ID token, for short runs): ID token → JWT; it stops working when the
//!   ID token expires, about an hour after it was issued.
//!
//! One chain per configured refresh token, shared by every `Live` of a running server (it survives reloads) and
//! locked while it renews, so two refreshes never spend the same refresh token twice. `check-tokens --online` uses
//! the same chain and state file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::state_file::{self, StateFile};
use crate::config::TokenConfig;
use crate::upstream::oauth::OAuthError;
use crate::upstream::{UpstreamClient, UpstreamError};

/// An ID token is renewed when it has less than this left (JBA's margin; docs/UPSTREAM.md).
pub const ID_TOKEN_AHEAD: Duration = Duration::from_secs(5 * 60);

/// Why a token's JWT could not be renewed. No message holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(
        "the token has no refresh credentials (license_id with refresh_token or authorization)"
    )]
    NotRefreshable,
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// `provide-access/license/v2` refused or failed.
    #[error("the licence endpoint gave no JWT: {0}")]
    License(UpstreamError),
}

/// The ID token in hand, and until when it is good.
struct IdToken {
    token: SecretString,
    exp: Option<i64>,
}

impl IdToken {
    fn usable(&self) -> bool {
        let ahead = ID_TOKEN_AHEAD.as_secs() as i64;
        self.exp
            .is_some_and(|exp| exp.saturating_sub(crate::epoch::now_secs()) > ahead)
    }
}

/// One configured refresh token's chain.
struct Chain {
    /// The refresh token to use next: the configured one, or the one that replaced it.
    refresh_token: SecretString,
    id_token: Option<IdToken>,
}

/// Every chain of a running server (or of one `check-tokens` run), and the state file they keep.
pub struct Credentials {
    state: StateFile,
    chains: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Chain>>>>,
    /// In the shared mode, where rotated refresh tokens also go, so that the replica refreshing next starts from
    /// the newest one (`Cluster::refresh_token`).
    cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
}

impl Credentials {
    /// Opens the state file (see `StateFile::open`); `None` keeps rotations in memory only.
    pub fn open(state_file: Option<std::path::PathBuf>) -> anyhow::Result<Self> {
        Ok(Self {
            state: StateFile::open(state_file)?,
            chains: Mutex::default(),
            cluster: std::sync::OnceLock::new(),
        })
    }

    /// Shares rotated refresh tokens through `cluster` from now on.
    pub fn share(&self, cluster: Arc<crate::cluster::Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The newest refresh token another process rotated: another replica's (Redis), else the state file's.
    async fn newer(&self, key: &str) -> Option<SecretString> {
        if let Some(cluster) = self.cluster.get()
            && let Some(token) = cluster.refresh_token(key).await
        {
            return Some(token);
        }
        self.state.reread(key).await
    }

    pub fn state_file(&self) -> Option<&std::path::Path> {
        self.state.path()
    }

    /// A new JWT for `token`, by whichever refresh credentials it has.
    pub async fn jwt(
        &self,
        upstream: &UpstreamClient,
        token: &TokenConfig,
    ) -> Result<SecretString, RefreshError> {
        let license = token
            .license_id
            .as_deref()
            .ok_or(RefreshError::NotRefreshable)?;
        if let Some(id_token) = &token.authorization {
            return provide(upstream, license, id_token).await;
        }
        let configured = token
            .refresh_token
            .as_ref()
            .ok_or(RefreshError::NotRefreshable)?;
        let key = state_file::key(configured.expose_secret());
        let chain = self.chain(&key, configured);
        let mut chain = chain.lock().await;
        if let Some(id) = chain.id_token.as_ref().filter(|id| id.usable()) {
            match provide(upstream, license, &id.token.clone()).await {
                // The ID token in hand was refused before its time (revoked): one more try with a new one.
                Err(RefreshError::License(UpstreamError::Unauthorized)) => chain.id_token = None,
                done => return done,
            }
        }
        let id_token = self.new_id_token(upstream, &key, token, &mut chain).await?;
        provide(upstream, license, &id_token).await
    }

    fn chain(&self, key: &str, configured: &SecretString) -> Arc<tokio::sync::Mutex<Chain>> {
        let mut chains = self
            .chains
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(chains.entry(key.to_owned()).or_insert_with(|| {
            let refresh_token = self
                .state
                .current(key)
                .unwrap_or_else(|| configured.clone());
            Arc::new(tokio::sync::Mutex::new(Chain {
                refresh_token,
                id_token: None,
            }))
        }))
    }

    /// Asks the account service for an ID token and keeps what it answers: the ID token in the chain, a rotated
    /// refresh token in the chain and the state file. A refused refresh token is retried once with the state
    /// file's, if another process rotated it meanwhile.
    async fn new_id_token(
        &self,
        upstream: &UpstreamClient,
        key: &str,
        token: &TokenConfig,
        chain: &mut Chain,
    ) -> Result<SecretString, RefreshError> {
        let grant = match upstream.id_token(chain.refresh_token.expose_secret()).await {
            Err(refused @ OAuthError::Refused { .. }) => match self.newer(key).await {
                Some(newer) if newer.expose_secret() != chain.refresh_token.expose_secret() => {
                    chain.refresh_token = newer;
                    upstream
                        .id_token(chain.refresh_token.expose_secret())
                        .await?
                }
                _ => return Err(refused.into()),
            },
            other => other?,
        };
        if let Some(rotated) = grant.rotated {
            let old = crate::secret::fingerprint(chain.refresh_token.expose_secret());
            let new = crate::secret::fingerprint(rotated.expose_secret());
            chain.refresh_token = rotated;
            if let Some(cluster) = self.cluster.get() {
                cluster.rotated(key, &chain.refresh_token).await;
            }
            match self
                .state
                .save(key, &token.name, &chain.refresh_token)
                .await
            {
                Ok(()) => tracing::info!(
                    token = %token.label(),
                    "refresh token rotated ({old} → {new}){}",
                    self.state
                        .path()
                        .map(|p| format!("; kept in {}", p.display()))
                        .unwrap_or_else(|| "; no config file, so kept in memory only".into())
                ),
                Err(err) => tracing::error!(
                    token = %token.label(),
                    "refresh token rotated ({old} → {new}) but the state file could not be written ({err}); \
                     the new one lasts only until jbproxy stops"
                ),
            }
        }
        chain.id_token = Some(IdToken {
            token: grant.id_token.clone(),
            exp: grant.expires_at,
        });
        Ok(grant.id_token)
    }
}

/// `provide-access/license/v2`: the JWT for a licence, given an ID token.
async fn provide(
    upstream: &UpstreamClient,
    license: &str,
    id_token: &SecretString,
) -> Result<SecretString, RefreshError> {
    upstream
        .refresh(license, id_token.expose_secret())
        .await
        .map(SecretString::from)
        .map_err(RefreshError::License)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_upstream::{FakeOptions, FakeUpstream};

    fn config(fake: &FakeUpstream, refresh_token: &str) -> crate::config::Config {
        let text = serde_json::json!({
            "jetbrains_tokens": [{"name": "a", "token": crate::fake_upstream::mint_expired_jwt("a"),
                "license_id": "lic-a", "refresh_token": refresh_token}],
            "upstream_url": fake.url(),
            "oauth_url": format!("{}/oauth2/token", fake.url()),
        })
        .to_string();
        crate::config::load_text(&text, std::path::Path::new("config.json")).expect("loads")
    }

    fn oauth_calls(fake: &FakeUpstream) -> usize {
        fake.requests()
            .iter()
            .filter(|r| r.path == "/oauth2/token")
            .count()
    }

    #[tokio::test]
    async fn the_id_token_is_reused_until_near_its_expiry_and_a_refused_grant_says_so() {
        let fake = FakeUpstream::start(FakeOptions::default())
            .await
            .expect("fake");
        fake.register_account("rt-0", "lic-a", "a");
        let config = config(&fake, "rt-0");
        let upstream = UpstreamClient::new(&config).expect("client");
        let credentials = Credentials::open(None).expect("in memory");
        let token = &config.tokens[0];
        let first = credentials.jwt(&upstream, token).await.expect("a JWT");
        let second = credentials.jwt(&upstream, token).await.expect("a JWT");
        assert_eq!(oauth_calls(&fake), 1, "the ID token (an hour) serves both");
        for jwt in [first, second] {
            let claims = crate::jwt::DecodedJwt::decode(jwt.expose_secret()).expect("jwt");
            assert_eq!(claims.claims["sub"], "a");
        }

        // A second process without the state file starts from the configured token, which was rotated away.
        let stale = Credentials::open(None).expect("in memory");
        let err = stale.jwt(&upstream, token).await.expect_err("refused");
        assert!(
            matches!(err, RefreshError::OAuth(OAuthError::Refused { .. })),
            "{err}"
        );
        assert!(!err.to_string().contains("rt-0"), "{err}");
    }
}
