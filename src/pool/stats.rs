//! A point-in-time view of the pool for `/stats`, `/health` and the `stats` command.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;
use tokio::time::Instant;

use super::{FAILURE_CLASSES, FAILURE_MEANINGS, Pool, StateKind};
use crate::jwt::rfc3339;

#[derive(Debug, Serialize)]
pub struct TokenStats {
    pub name: String,
    pub fingerprint: String,
    pub enabled: bool,
    pub priority: i64,
    pub weight: u32,
    /// healthy, cooling, ejected, probing, exhausted, invalid, forbidden, suspended, expired, disabled (by the
    /// config) or disabled-by-operator (until the next reload).
    pub state: &'static str,
    pub reason: String,
    pub since: String,
    pub until: Option<String>,
    pub usable: bool,
    pub requests: u64,
    pub successes: u64,
    pub failures: serde_json::Map<String, serde_json::Value>,
    pub inflight: u32,
    /// Faults in a row counted toward an ejection (`EJECT_AFTER_FAULTS`); in the shared mode, the other replicas'
    /// too, as of their last message.
    pub consecutive_faults: u32,
    pub avg_latency_ms: Option<f64>,
    pub last_used: Option<String>,
    pub quota: Option<QuotaStats>,
    pub expires_at: Option<String>,
    pub expires_in_secs: Option<i64>,
    pub refreshable: bool,
    /// The latest active check, if one ran: when, "ok" or what failed, and the error.
    pub last_check: Option<LastCheckStats>,
    /// The latest failure of a request or check on this token: when, its class (a key of `failures`), and what
    /// that class means.
    pub last_error: Option<LastErrorStats>,
}

#[derive(Debug, Serialize)]
pub struct LastErrorStats {
    pub at: String,
    pub kind: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LastCheckStats {
    pub at: String,
    pub result: &'static str,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct QuotaStats {
    pub used: f64,
    pub maximum: f64,
    pub left: f64,
    pub resets_at: Option<String>,
}

impl Pool {
    pub fn token_stats(&self) -> Vec<TokenStats> {
        let now = Instant::now();
        let now_unix = crate::epoch::now_secs();
        let wall = SystemTime::now();
        self.slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let state = &slot.state;
                let mut standing = state.standing().clone();
                let exp = state.exp.load(Ordering::Relaxed);
                let operator_disabled = slot.operator_disabled_at();
                if let Some(at) = operator_disabled {
                    standing.reason = "disabled by the operator until the next reload".to_string();
                    standing.since = at;
                    standing.until = None;
                }
                let kind = if !slot.config.enabled {
                    "disabled"
                } else if operator_disabled.is_some() {
                    super::OPERATOR_DISABLED
                } else if slot.expired(now_unix) && standing.kind == StateKind::Healthy {
                    "expired"
                } else {
                    standing.kind.as_str()
                };
                let successes = state.successes.load(Ordering::Relaxed);
                let latency = state.latency_total_us.load(Ordering::Relaxed);
                let last_used = state.last_used_ms.load(Ordering::Relaxed);
                let failures = FAILURE_CLASSES
                    .iter()
                    .zip(&state.failures)
                    .map(|(name, n)| (name.to_string(), n.load(Ordering::Relaxed).into()))
                    .collect();
                let quota = state
                    .quota
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                TokenStats {
                    name: slot.config.name.clone(),
                    fingerprint: slot.fingerprint.clone(),
                    enabled: slot.config.enabled,
                    priority: slot.config.priority,
                    weight: slot.config.weight,
                    state: kind,
                    reason: standing.reason.clone(),
                    since: rfc3339(standing.since),
                    until: standing
                        .until
                        .map(|u| rfc3339(wall + u.saturating_duration_since(now))),
                    usable: self.admissible(i, now, now_unix, &super::Tried::default(), false),
                    requests: state.requests.load(Ordering::Relaxed),
                    successes,
                    failures,
                    inflight: state.inflight.load(Ordering::Relaxed),
                    consecutive_faults: standing.consecutive_faults(),
                    avg_latency_ms: (successes > 0)
                        .then(|| latency as f64 / successes as f64 / 1000.0),
                    last_used: (last_used > 0).then(|| {
                        rfc3339(crate::epoch::from_millis(
                            i64::try_from(last_used).unwrap_or(i64::MAX),
                        ))
                    }),
                    quota: quota.map(|q| QuotaStats {
                        used: q.used,
                        maximum: q.maximum,
                        left: q.left,
                        resets_at: q.until.map(rfc3339),
                    }),
                    expires_at: (exp != i64::MAX)
                        .then(|| rfc3339(crate::jwt::unix_to_system_time(exp))),
                    // Saturating: `exp` is whatever the JWT claims, `-1e300` included.
                    expires_in_secs: (exp != i64::MAX).then(|| exp.saturating_sub(now_unix)),
                    refreshable: slot.config.can_refresh(),
                    last_check: state
                        .last_check
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_ref()
                        .map(|c| LastCheckStats {
                            at: rfc3339(c.at),
                            result: c.result,
                            error: c.error.clone(),
                        }),
                    last_error: state
                        .last_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .map(|(at, class)| LastErrorStats {
                            at: rfc3339(at),
                            kind: FAILURE_CLASSES[class],
                            message: FAILURE_MEANINGS[class],
                        }),
                }
            })
            .collect()
    }
}
