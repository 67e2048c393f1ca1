//! The checker, the active health checks: every `health_check_interval` (with jitter) it checks each token, a few
//! at a time, so dead tokens are found before a client meets them and recovered tokens come back by themselves. It
//! also refreshes JWTs that carry refresh credentials before they expire (`Live::refresh_jwt`).

use std::sync::Arc;

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

/// Runs check rounds until shutdown. Reads the current snapshot each round, so reloads take effect (turning checks
/// on or off included).
pub async fn run(state: AppState) {
    if state.live.load().config.health_check_mode != HealthCheckMode::Off {
        tracing::info!("JWT health checker started");
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
    let grazie = crate::translate::grazie::build(
        &conversation,
        profile,
        &live.profiles.capabilities(profile),
        live.config.upstream_api,
    )
    .map_err(|e| UpstreamError::Fault(e.message))?;
    let mut events = live.upstream.chat(jwt, &grazie).await?;
    while let Some(event) = events.next().await {
        if event? == UpstreamEvent::End {
            break;
        }
    }
    Ok(None)
}
