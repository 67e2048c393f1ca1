//! One token as the pool keeps it: its `Slot` (config and fingerprint) and the `TokenState` that survives a reload
//! (standing, counters, the JWT in use, the last quota and check); and the small types around them.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use secrecy::{ExposeSecret, SecretString};

use super::{Outcome, Standing, StateKind};
use crate::config::TokenConfig;

/// Quota as last reported by the upstream (a quota check or a stream's QuotaMetadata).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaInfo {
    pub used: f64,
    pub maximum: f64,
    /// What can still be spent; where tariff and top-up quotas are reported, their sum.
    pub left: f64,
    pub until: Option<SystemTime>,
}

impl QuotaInfo {
    /// Quota reported as an amount used of a maximum: what is left is the difference, never below zero. The one
    /// place "left" is computed; the quota endpoint's tariff and top-up amounts replace it where reported.
    pub fn spent(used: f64, maximum: f64, until: Option<SystemTime>) -> Self {
        Self {
            used,
            maximum,
            left: (maximum - used).max(0.0),
            until,
        }
    }
}

/// Counters per failure class, in the order of `FAILURE_CLASSES`.
pub const FAILURE_CLASSES: [&str; 8] = [
    "unauthorized",
    "quota_exhausted",
    "rate_limited",
    "fault",
    "request_error",
    "unreachable",
    "forbidden",
    "suspended",
];

/// What a failure class means, for `/stats` (`last_error.message`) and the status page.
pub const FAILURE_MEANINGS: [&str; FAILURE_CLASSES.len()] = [
    "the upstream answered 401: JWT not accepted",
    "the upstream answered 477: quota exhausted",
    "the upstream answered 429: rate limited",
    "upstream fault: a 5xx, a timeout or a stream cut before it started",
    "the upstream refused the request (400/404/413/422): the request's fault, not the token's",
    "the upstream could not be reached (DNS, connection, TLS)",
    "the upstream answered 403: forbidden, cooling down",
    "the upstream answered 477 naming a suspension: the licence is suspended until an operator re-enables the token",
];

/// An outcome's name, as `/stats` shows it: "ok" or its failure class.
pub fn outcome_name(outcome: &Outcome) -> &'static str {
    failure_class(outcome).map_or("ok", |i| FAILURE_CLASSES[i])
}

/// The last active check of a token, for `/stats` and `jbproxy stats`.
#[derive(Debug, Clone)]
pub struct LastCheck {
    pub at: SystemTime,
    /// "ok" or a failure class ("unreachable", "unauthorized", …).
    pub result: &'static str,
    pub error: Option<String>,
}

pub(super) fn failure_class(outcome: &Outcome) -> Option<usize> {
    match outcome {
        Outcome::Success => None,
        Outcome::Unauthorized => Some(0),
        Outcome::QuotaExhausted { .. } => Some(1),
        Outcome::RateLimited { .. } => Some(2),
        Outcome::Fault => Some(3),
        Outcome::RequestError => Some(4),
        Outcome::Unreachable => Some(5),
        Outcome::Forbidden { .. } => Some(6),
        Outcome::Suspended => Some(7),
    }
}

/// What survives a reload for a token whose JWT is unchanged.
pub struct TokenState {
    /// The JWT in use now; a refresh swaps in a new one.
    pub(super) jwt: ArcSwap<SecretString>,
    /// `exp` of the current JWT in Unix seconds, `i64::MAX` when unknown.
    pub(super) exp: AtomicI64,
    pub(super) standing: Mutex<Standing>,
    /// Mirrors `standing.kind == Healthy` so `pick` needs no lock in the common case.
    pub(super) healthy: AtomicBool,
    /// Healthy with no fault or cooldown counted: a success then changes nothing, so it skips the lock.
    pub(super) clean: AtomicBool,
    pub(super) inflight: AtomicU32,
    /// The other replicas' requests in flight on this token (their leases in Redis); 0 in memory mode.
    pub(super) remote_inflight: AtomicU32,
    pub(super) requests: AtomicU64,
    pub(super) successes: AtomicU64,
    pub(super) failures: [AtomicU64; FAILURE_CLASSES.len()],
    pub(super) latency_total_us: AtomicU64,
    pub(super) last_used_ms: AtomicU64,
    pub(super) quota: Mutex<Option<QuotaInfo>>,
    /// When `quota` was learned (here or by another replica), Unix ms; 0 while unknown. Newest wins.
    pub(super) quota_at_ms: AtomicI64,
    /// This replica learned `quota` and the others have not been told yet (`Pool::unshared_quotas`): the shared
    /// state's writer takes it on its next tick, so a stream's quota report costs a flag, not a message.
    pub(super) quota_unshared: AtomicBool,
    pub(super) last_check: Mutex<Option<LastCheck>>,
    /// When the token last failed, and the failure class (an index into `FAILURE_CLASSES`). Written on failures
    /// only, so successes never take this lock.
    pub(super) last_error: Mutex<Option<(SystemTime, usize)>>,
    /// Woken whenever `jwt` is replaced (here or by another replica's refresh), for a request that waits for
    /// the refresh another replica makes (`Slot::jwt_replaced`).
    pub(super) jwt_replaced: tokio::sync::Notify,
}

impl TokenState {
    pub(super) fn new(jwt: &SecretString) -> Self {
        let state = Self {
            jwt: ArcSwap::from_pointee(jwt.clone()),
            exp: AtomicI64::new(i64::MAX),
            standing: Mutex::new(Standing::default()),
            healthy: AtomicBool::new(true),
            clean: AtomicBool::new(true),
            inflight: AtomicU32::new(0),
            remote_inflight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: Default::default(),
            latency_total_us: AtomicU64::new(0),
            last_used_ms: AtomicU64::new(0),
            quota: Mutex::new(None),
            quota_at_ms: AtomicI64::new(0),
            quota_unshared: AtomicBool::new(false),
            last_check: Mutex::new(None),
            last_error: Mutex::new(None),
            jwt_replaced: tokio::sync::Notify::new(),
        };
        state.set_exp(jwt);
        state
    }

    pub(super) fn set_exp(&self, jwt: &SecretString) {
        // No JWT yet (an entry with refresh credentials only) counts as expired: nothing is sent until one is got.
        if jwt.expose_secret().is_empty() {
            self.exp.store(0, Ordering::Relaxed);
            return;
        }
        let exp = crate::jwt::DecodedJwt::decode(jwt.expose_secret())
            .ok()
            .and_then(|j| j.time_claim("exp"))
            .unwrap_or(i64::MAX);
        self.exp.store(exp, Ordering::Relaxed);
    }

    pub(super) fn standing(&self) -> MutexGuard<'_, Standing> {
        // A panic while holding this lock leaves a consistent Standing (every method is a few assignments).
        self.standing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Mirrors `standing` (just changed, its lock still held) into the flags `pick` reads without the lock.
    pub(super) fn mirror(&self, standing: &Standing) {
        self.healthy
            .store(standing.kind == StateKind::Healthy, Ordering::Release);
        self.clean.store(standing.is_clean(), Ordering::Release);
    }
}

/// A token as this config describes it, with its carried-over state.
pub struct Slot {
    pub config: TokenConfig,
    pub fingerprint: String,
    pub state: Arc<TokenState>,
    /// When the operator disabled this token (Unix ms), 0 while it is not. Lives in the slot, not in the carried
    /// `TokenState`, so the next reload (a new pool) brings the token back by itself.
    operator_disabled_ms: AtomicU64,
}

impl Slot {
    pub(super) fn new(config: TokenConfig, fingerprint: String, state: Arc<TokenState>) -> Self {
        Self {
            config,
            fingerprint,
            state,
            operator_disabled_ms: AtomicU64::new(0),
        }
    }

    pub fn label(&self) -> String {
        format!("{} ({})", self.config.name, self.fingerprint)
    }

    pub fn expired(&self, now_unix: i64) -> bool {
        self.state.exp.load(Ordering::Relaxed) <= now_unix
    }

    pub fn inflight(&self) -> u32 {
        self.state.inflight.load(Ordering::Relaxed)
    }

    /// In flight on this token across the replicas: this one's and the others' (as of their last lease).
    pub fn cluster_inflight(&self) -> u32 {
        self.inflight()
            .saturating_add(self.state.remote_inflight.load(Ordering::Relaxed))
    }

    pub fn current_jwt(&self) -> Arc<SecretString> {
        self.state.jwt.load_full()
    }

    /// The JWT in use once it is no longer `stale`, waiting for a replacement `limit` at most; `None` when none
    /// came in time. Waits on the slot, not on any I/O: whoever replaces the JWT wakes it.
    pub async fn jwt_replaced(&self, stale: &str, limit: Duration) -> Option<Arc<SecretString>> {
        let replaced = self.state.jwt_replaced.notified();
        tokio::pin!(replaced);
        // Registered before the look, so a replacement between the look and the wait is not missed.
        replaced.as_mut().enable();
        let current = self.current_jwt();
        if current.expose_secret() != stale {
            return Some(current);
        }
        tokio::time::timeout(limit, replaced).await.ok()?;
        Some(self.current_jwt()).filter(|jwt| jwt.expose_secret() != stale)
    }

    /// `exp` of the JWT in use, in Unix seconds.
    pub fn state_exp(&self) -> Option<i64> {
        Some(self.state.exp.load(Ordering::Relaxed)).filter(|&e| e != i64::MAX)
    }

    pub fn state_kind(&self) -> StateKind {
        self.state.standing().kind
    }

    pub fn is_healthy(&self) -> bool {
        self.state.healthy.load(Ordering::Acquire)
    }

    /// When the operator disabled this token, if they did.
    pub fn operator_disabled_at(&self) -> Option<SystemTime> {
        match self.operator_disabled_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(crate::epoch::from_millis(
                i64::try_from(ms).unwrap_or(i64::MAX),
            )),
        }
    }

    /// Whether the operator took this token out of rotation; one atomic load, for `pick`.
    pub fn operator_disabled(&self) -> bool {
        self.operator_disabled_ms.load(Ordering::Acquire) != 0
    }

    /// Takes the token out of rotation (or puts it back) on the operator's word. Returns whether anything changed;
    /// disabling twice keeps the first time.
    pub(super) fn set_operator_disabled(&self, disabled: bool) -> bool {
        let flag = &self.operator_disabled_ms;
        if disabled {
            let now = u64::try_from(crate::epoch::now_ms()).unwrap_or(0).max(1);
            flag.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        } else {
            flag.swap(0, Ordering::AcqRel) != 0
        }
    }
}

/// The set of tokens a request has already tried, so failover never repeats one.
#[derive(Debug, Default, Clone)]
pub struct Tried(Vec<u64>);

impl Tried {
    pub fn insert(&mut self, index: usize) {
        let (word, bit) = (index / 64, index % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    pub fn remove(&mut self, index: usize) {
        if let Some(w) = self.0.get_mut(index / 64) {
            *w &= !(1 << (index % 64));
        }
    }

    /// Nothing tried yet: the request's first pick.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    pub fn contains(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }
}
