//! The active checks of tokens: one token (refreshing its JWT first when due), a round over all of them, the pass
//! made once at start, and model discovery (each working token's `profiles/v8` listing, which costs no quota). The
//! checker runs a round every `health_check_interval`; the admin face's check actions (`POST /tokens/{token}/check`,
//! `POST /check`) run them on demand.

use std::time::Duration;

use futures_util::StreamExt;
use secrecy::ExposeSecret;

use super::Live;
use crate::config::HealthCheckMode;
use crate::pool::{Outcome, QuotaInfo};
use crate::upstream::UpstreamError;
use crate::upstream::event::UpstreamEvent;

/// How many tokens are checked at once: enough to finish a round quickly, few enough not to look like a burst.
const CONCURRENT_CHECKS: usize = 4;

/// How long the start pass waits for the shared state (the first reconcile with Redis) before it goes on alone: a
/// replica started beside others adopts their standing and JWTs instead of refreshing and checking everything again.
const JOIN_WAIT: Duration = Duration::from_secs(5);

/// A token's profile listing is asked again once it is this old: it changes when JetBrains ships or retires a
/// model, not between two checks.
pub const DISCOVERY_EVERY: Duration = Duration::from_secs(10 * 60);

impl Live {
    /// What is done once at start, before the first interval: JWTs that need it are refreshed (a restarted server's
    /// configured JWT has often expired; a refreshable one need not wait for a client's 401), and, with checks on,
    /// every enabled token's profile catalogue is asked for. In the shared mode it first waits (`JOIN_WAIT` at
    /// most) for the state the other replicas share.
    pub async fn start_pass(&self) {
        if !self.cluster.joined(JOIN_WAIT).await {
            tracing::warn!(
                "start pass: Redis did not answer within {JOIN_WAIT:?}; refreshing and checking the tokens without \
the shared state"
            );
        }
        let discovering = self.config.health_check_mode != HealthCheckMode::Off;
        let indices: Vec<usize> = (0..self.pool.len())
            .filter(|&i| self.pool.slots()[i].config.enabled)
            .collect();
        let asked = indices.len();
        futures_util::stream::iter(indices)
            .for_each_concurrent(CONCURRENT_CHECKS, |i| async move {
                if self.refresh_due(i) {
                    self.refresh_jwt(i).await;
                }
                if discovering {
                    self.discover(i).await;
                }
            })
            .await;
        if discovering {
            let catalog = self.models.catalog().load();
            let listed = self
                .pool
                .slots()
                .iter()
                .filter(|s| s.config.enabled && catalog.listing(&s.fingerprint).is_some())
                .count();
            let profiles = crate::output::count(catalog.profiles().count(), "profile");
            if listed == asked {
                tracing::info!(
                    "model discovery: {profiles} listed by every enabled token ({asked})"
                );
            } else {
                tracing::info!(
                    "model discovery: {profiles} listed by {listed} of {asked} enabled token(s); the others serve \
the built-in table"
                );
            }
        }
    }

    /// Asks `profiles/v8` for token `index` unless its listing is younger than `DISCOVERY_EVERY`, and records in the
    /// model catalogue which profiles it serves and which parameters each takes (what the profile table reads). A failed
    /// call keeps the last listing (without one, the token is taken to serve the built-in table) and counts nothing
    /// against the token: judging it is the checks' business.
    pub async fn discover(&self, index: usize) {
        let slot = &self.pool.slots()[index];
        let catalog = self.models.catalog();
        if slot.expired(crate::epoch::now_secs())
            || catalog.load().fresh(&slot.fingerprint, DISCOVERY_EVERY)
        {
            return;
        }
        let jwt = slot.current_jwt();
        match self.upstream.profiles(jwt.expose_secret()).await {
            Ok(profiles) => {
                tracing::debug!(token = %slot.label(), "profiles/v8 lists {} profiles", profiles.len());
                catalog.record(&slot.fingerprint, profiles);
            }
            Err(err) => {
                tracing::debug!(token = %slot.label(), "profiles/v8 failed, keeping what was known: {err}");
            }
        }
    }

    /// Checks every enabled token once; logs the seed's two lines, and says so when the upstream could not be
    /// reached (the tokens then keep their state: the network is not their fault). Returns the usable tokens.
    pub async fn check_round(&self) -> usize {
        tracing::info!("Performing JWT health check...");
        let indices: Vec<usize> = (0..self.pool.len())
            .filter(|&i| self.pool.slots()[i].config.enabled)
            .collect();
        let unreachable = futures_util::stream::iter(indices)
            .map(|i| self.check_token(i))
            .buffer_unordered(CONCURRENT_CHECKS)
            .filter_map(|checked| async move { checked.err() })
            .collect::<Vec<String>>()
            .await;
        let healthy = self.pool.usable_count();
        match unreachable.last() {
            None => tracing::info!(
                "Health check completed: {healthy}/{} tokens healthy",
                self.pool.len()
            ),
            Some(error) => tracing::warn!(
                "Health check completed: upstream unreachable ({error}); {} token(s) could not be checked and keep \
their state; {healthy}/{} usable",
                unreachable.len(),
                self.pool.len()
            ),
        }
        healthy
    }

    /// Checks one token (refreshing its JWT first when due) and records the result in the pool. `Err` carries the
    /// reason when the upstream could not be reached, which says nothing about the token.
    pub async fn check_token(&self, index: usize) -> Result<(), String> {
        let slot = &self.pool.slots()[index];
        if self.refresh_due(index) {
            self.refresh_jwt(index).await;
        }
        if slot.expired(crate::epoch::now_secs()) {
            return Ok(());
        }
        let jwt = slot.current_jwt();
        let result = match self.config.health_check_mode {
            HealthCheckMode::Chat => self.chat_check(jwt.expose_secret()).await,
            _ => self.upstream.quota(jwt.expose_secret()).await.map(Some),
        };
        self.reachability.observe(result.as_ref().map(|_| ()));
        match result {
            Ok(Some(quota)) if quota.left <= 0.0 => {
                let until = quota.until;
                self.pool.record_quota(index, quota);
                self.pool.report(index, &Outcome::QuotaExhausted { until });
                self.pool.record_check(index, "quota_exhausted", None);
            }
            Ok(quota) => {
                if let Some(quota) = quota {
                    self.pool.record_quota(index, quota);
                }
                self.pool.check_passed(index);
                self.pool.record_check(index, "ok", None);
                self.discover(index).await;
            }
            Err(UpstreamError::Unreachable(error)) => {
                tracing::debug!(token = %slot.label(), "health check could not reach the upstream: {error}");
                self.pool
                    .record_check(index, "unreachable", Some(error.clone()));
                return Err(error);
            }
            Err(err) => {
                tracing::debug!(token = %slot.label(), "health check failed: {err}");
                let outcome = err.outcome();
                self.pool.report(index, &outcome);
                self.pool.record_check(
                    index,
                    crate::pool::outcome_name(&outcome),
                    Some(err.to_string()),
                );
                if matches!(err, UpstreamError::Unauthorized) && slot.config.can_refresh() {
                    self.refresh_jwt(index).await;
                }
            }
        }
        Ok(())
    }

    /// The seed's check: a one-word chat. Spends quota, hence opt-in.
    async fn chat_check(&self, jwt: &str) -> Result<Option<QuotaInfo>, UpstreamError> {
        let conversation = crate::translate::conversation::Conversation::user_text("ping");
        let profile = self
            .models
            .profile_for("gpt-4o-mini")
            .unwrap_or("openai-gpt-4o-mini");
        let grazie = crate::translate::grazie::build(
            &conversation,
            profile,
            &self.profiles.capabilities(profile),
            self.config.upstream_api,
        )
        .map_err(|e| UpstreamError::Fault(e.message))?;
        let mut events = self.upstream.chat(jwt, &grazie).await?;
        while let Some(event) = events.next().await {
            if event? == UpstreamEvent::End {
                break;
            }
        }
        Ok(None)
    }
}
