//! The checker, the active health checks: every `health_check_interval` (with jitter) it checks each token, a few
//! at a time, so dead tokens are found before a client meets them and recovered tokens come back by themselves. It
//! also refreshes JWTs that carry refresh credentials before they expire (`Live::refresh_jwt`), and keeps the
//! profile catalogue (`profiles/v8`, which costs no quota) of every working token, asked at start and again with
//! the checks once a token's listing is `DISCOVERY_EVERY` old.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rand::RngExt;
use secrecy::ExposeSecret;

use crate::config::HealthCheckMode;
use crate::live::{AppState, Live};
use crate::pool::{Outcome, QuotaInfo};
use crate::upstream::UpstreamError;
use crate::upstream::event::UpstreamEvent;

/// How many tokens are checked at once: enough to finish a round quickly, few enough not to look like a burst.
const CONCURRENT_CHECKS: usize = 4;

/// A token's profile listing is asked again once it is this old: it changes when JetBrains ships or retires a
/// model, not between two checks.
pub const DISCOVERY_EVERY: Duration = Duration::from_secs(10 * 60);

/// Runs check rounds until shutdown. Reads the current snapshot each round, so reloads take effect (turning checks
/// on or off included).
pub async fn run(state: AppState) {
    if state.live.load().config.health_check_mode != HealthCheckMode::Off {
        tracing::info!("JWT health checker started");
    }
    let live = state.live.load_full();
    tokio::select! {
        _ = state.shutdown.cancelled() => return,
        _ = start_pass(&live) => {}
    }
    loop {
        let live = state.live.load_full();
        let interval = live.config.health_check_interval;
        // Up to 10% jitter so several replicas do not check in lockstep.
        let jitter = interval.mul_f64(rand::rng().random_range(0.0..0.1));
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval + jitter) => {}
        }
        let live = state.live.load_full();
        if live.config.health_check_mode == HealthCheckMode::Off {
            continue;
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = check_round(&live) => {}
        }
    }
}

/// Checks every enabled token once; logs the seed's two lines, and says so when the upstream could not be reached
/// (the tokens then keep their state: the network is not their fault).
pub async fn check_round(live: &Arc<Live>) -> usize {
    tracing::info!("Performing JWT health check...");
    let indices: Vec<usize> = (0..live.pool.len())
        .filter(|&i| live.pool.slots()[i].config.enabled)
        .collect();
    let unreachable = futures_util::stream::iter(indices)
        .map(|i| check_token(live, i))
        .buffer_unordered(CONCURRENT_CHECKS)
        .filter_map(|checked| async move { checked.err() })
        .collect::<Vec<String>>()
        .await;
    let healthy = live.pool.usable_count();
    match unreachable.last() {
        None => tracing::info!(
            "Health check completed: {healthy}/{} tokens healthy",
            live.pool.len()
        ),
        Some(error) => tracing::warn!(
            "Health check completed: upstream unreachable ({error}); {} token(s) could not be checked and keep \
their state; {healthy}/{} usable",
            unreachable.len(),
            live.pool.len()
        ),
    }
    healthy
}

/// What is done once at start, before the first interval: JWTs that need it are refreshed (a restarted server's
/// configured JWT has often expired; a refreshable one need not wait for a client's 401), and, with checks on,
/// every enabled token's profile catalogue is asked for.
pub async fn start_pass(live: &Arc<Live>) {
    let discovering = live.config.health_check_mode != HealthCheckMode::Off;
    let indices: Vec<usize> = (0..live.pool.len())
        .filter(|&i| live.pool.slots()[i].config.enabled)
        .collect();
    let asked = indices.len();
    futures_util::stream::iter(indices)
        .for_each_concurrent(CONCURRENT_CHECKS, |i| async move {
            if live.refresh_due(i) {
                live.refresh_jwt(i).await;
            }
            if discovering {
                discover(live, i).await;
            }
        })
        .await;
    if discovering {
        let catalog = live.models.catalog().load();
        let listed = live
            .pool
            .slots()
            .iter()
            .filter(|s| catalog.listing(&s.fingerprint).is_some())
            .count();
        tracing::info!(
            "model discovery: {} listed by {listed} of {asked} enabled token(s); the others serve the built-in table",
            crate::output::count(catalog.profiles().count(), "profile")
        );
    }
}

/// Asks `profiles/v8` for token `index` unless its listing is younger than `DISCOVERY_EVERY`. A failed call keeps
/// the last listing (without one, the token is taken to serve the built-in table) and counts nothing against the
/// token: judging it is the checks' business.
pub async fn discover(live: &Live, index: usize) {
    let slot = &live.pool.slots()[index];
    let catalog = live.models.catalog();
    if slot.expired(crate::epoch::now_secs())
        || catalog.load().fresh(&slot.fingerprint, DISCOVERY_EVERY)
    {
        return;
    }
    let jwt = slot.current_jwt();
    match live.upstream.profiles(jwt.expose_secret()).await {
        Ok(profiles) => {
            tracing::debug!(token = %slot.label(), "profiles/v8 lists {} profiles", profiles.len());
            catalog.record(&slot.fingerprint, profiles);
        }
        Err(err) => {
            tracing::debug!(token = %slot.label(), "profiles/v8 failed, keeping what was known: {err}");
        }
    }
}

/// Checks one token (refreshing its JWT first when due) and records the result in the pool. `Err` carries the
/// reason when the upstream could not be reached, which says nothing about the token.
pub async fn check_token(live: &Live, index: usize) -> Result<(), String> {
    let slot = &live.pool.slots()[index];
    if live.refresh_due(index) {
        live.refresh_jwt(index).await;
    }
    if slot.expired(crate::epoch::now_secs()) {
        return Ok(());
    }
    let jwt = slot.current_jwt();
    let result = match live.config.health_check_mode {
        HealthCheckMode::Chat => chat_check(live, jwt.expose_secret()).await,
        _ => live.upstream.quota(jwt.expose_secret()).await.map(Some),
    };
    live.reachability.observe(result.as_ref().map(|_| ()));
    match result {
        Ok(Some(quota)) if quota.left <= 0.0 => {
            let until = quota.until;
            live.pool.record_quota(index, quota);
            live.pool.report(index, &Outcome::QuotaExhausted { until });
            live.pool.record_check(index, "quota_exhausted", None);
        }
        Ok(quota) => {
            if let Some(quota) = quota {
                live.pool.record_quota(index, quota);
            }
            live.pool.check_passed(index);
            live.pool.record_check(index, "ok", None);
            discover(live, index).await;
        }
        Err(UpstreamError::Unreachable(error)) => {
            tracing::debug!(token = %slot.label(), "health check could not reach the upstream: {error}");
            live.pool
                .record_check(index, "unreachable", Some(error.clone()));
            return Err(error);
        }
        Err(err) => {
            tracing::debug!(token = %slot.label(), "health check failed: {err}");
            let outcome = err.outcome();
            live.pool.report(index, &outcome);
            live.pool.record_check(
                index,
                crate::pool::outcome_name(&outcome),
                Some(err.to_string()),
            );
            if matches!(err, UpstreamError::Unauthorized) && slot.config.can_refresh() {
                live.refresh_jwt(index).await;
            }
        }
    }
    Ok(())
}

/// The seed's check: a one-word chat. Spends quota, hence opt-in.
async fn chat_check(live: &Live, jwt: &str) -> Result<Option<QuotaInfo>, UpstreamError> {
    let conversation = crate::translate::conversation::Conversation::user_text("ping");
    let profile = live
        .models
        .profile_for("gpt-4o-mini")
        .unwrap_or("openai-gpt-4o-mini");
    let grazie =
        crate::translate::grazie::build(&conversation, profile, live.config.upstream_api, 0)
            .map_err(|e| UpstreamError::Fault(e.message))?;
    let mut events = live.upstream.chat(jwt, &grazie).await?;
    while let Some(event) = events.next().await {
        if event? == UpstreamEvent::End {
            break;
        }
    }
    Ok(None)
}
