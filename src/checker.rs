//! The checker, the active health checks' schedule: every `health_check_interval` (with jitter) it runs a check
//! round (`Live::check_round`: each token, a few at a time), so dead tokens are found before a client meets them
//! and recovered tokens come back by themselves. A round also refreshes JWTs that carry refresh credentials before
//! they expire and renews the profile catalogue (`profiles/v8`, which costs no quota) of every working token. The
//! checks themselves live in `live` (`live/check.rs`), where the admin face's check actions reach them too.

use rand::RngExt;

use crate::config::HealthCheckMode;
use crate::live::AppState;

/// Runs check rounds until shutdown. Reads the current snapshot each round, so reloads take effect (turning checks
/// on or off included).
pub async fn run(state: AppState) {
    if state.live.load().config.health_check_mode != HealthCheckMode::Off {
        tracing::info!("JWT health checker started");
    }
    let live = state.live.load_full();
    tokio::select! {
        _ = state.shutdown.cancelled() => return,
        _ = live.start_pass() => {}
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
            _ = live.check_round() => {}
        }
    }
}
