//! The token pool: which JWT serves the next request, and what each outcome does to that JWT's standing.
//!
//! The pool does no I/O. `pick` is lock-free for healthy tokens (an atomic flag mirrors the health state) and
//! allocates nothing; the per-token `Mutex` is only taken for tokens that are recovering, and never across an
//! `.await`. State that must survive a config reload (health, counters, the current JWT) lives in `TokenState`,
//! shared by `Arc` between the old and the new pool for every token whose JWT did not change.

pub mod health;
mod select;
pub mod stats;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

pub use health::{Admission, Health, Outcome, StateKind, Transition};

use crate::config::{Config, PriorityMode, Strategy, TokenConfig};

/// The state `/stats` and `/metrics` show for a token the operator took out of rotation (`POST /tokens/{t}/disable`).
pub const OPERATOR_DISABLED: &str = "disabled-by-operator";

/// The seed's message for "no token can serve"; clients and scripts match on it.
pub const NO_TOKENS_MESSAGE: &str = "no available JWT tokens: no healthy JWT tokens available";

/// Quota as last reported by the upstream (a quota check or a stream's QuotaMetadata).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaInfo {
    pub used: f64,
    pub maximum: f64,
    /// What can still be spent; where tariff and top-up quotas are reported, their sum.
    pub left: f64,
    pub until: Option<SystemTime>,
}

/// Counters per failure class, in the order of `FAILURE_CLASSES`.
pub const FAILURE_CLASSES: [&str; 6] = [
    "unauthorized",
    "quota_exhausted",
    "rate_limited",
    "fault",
    "request_error",
    "unreachable",
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

/// What a failure class means, for `/stats` (`last_error.message`) and the status page.
pub const FAILURE_MEANINGS: [&str; FAILURE_CLASSES.len()] = [
    "the upstream answered 401: JWT not accepted",
    "the upstream answered 477: quota exhausted",
    "the upstream answered 429: rate limited",
    "upstream fault: a 5xx, a timeout or a stream cut before it started",
    "the upstream refused the request (400/404/413/422): the request's fault, not the token's",
    "the upstream could not be reached (DNS, connection, TLS)",
];

fn failure_class(outcome: &Outcome) -> Option<usize> {
    match outcome {
        Outcome::Success => None,
        Outcome::Unauthorized => Some(0),
        Outcome::QuotaExhausted { .. } => Some(1),
        Outcome::RateLimited { .. } => Some(2),
        Outcome::Fault => Some(3),
        Outcome::RequestError => Some(4),
        Outcome::Unreachable => Some(5),
    }
}

/// What survives a reload for a token whose JWT is unchanged.
pub struct TokenState {
    /// The JWT in use now; a refresh swaps in a new one.
    jwt: ArcSwap<SecretString>,
    /// `exp` of the current JWT in Unix seconds, `i64::MAX` when unknown.
    exp: AtomicI64,
    health: Mutex<Health>,
    /// Mirrors `health.kind == Healthy` so `pick` needs no lock in the common case.
    healthy: AtomicBool,
    /// Healthy with no fault or cooldown counted: a success then changes nothing, so it skips the lock.
    clean: AtomicBool,
    inflight: AtomicU32,
    requests: AtomicU64,
    successes: AtomicU64,
    failures: [AtomicU64; FAILURE_CLASSES.len()],
    latency_total_us: AtomicU64,
    last_used_ms: AtomicU64,
    quota: Mutex<Option<QuotaInfo>>,
    last_check: Mutex<Option<LastCheck>>,
    /// When the token last failed, and the failure class (an index into `FAILURE_CLASSES`). Written on failures
    /// only, so successes never take this lock.
    last_error: Mutex<Option<(SystemTime, usize)>>,
}

impl TokenState {
    fn new(jwt: &SecretString) -> Self {
        let state = Self {
            jwt: ArcSwap::from_pointee(jwt.clone()),
            exp: AtomicI64::new(i64::MAX),
            health: Mutex::new(Health::default()),
            healthy: AtomicBool::new(true),
            clean: AtomicBool::new(true),
            inflight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: Default::default(),
            latency_total_us: AtomicU64::new(0),
            last_used_ms: AtomicU64::new(0),
            quota: Mutex::new(None),
            last_check: Mutex::new(None),
            last_error: Mutex::new(None),
        };
        state.set_exp(jwt);
        state
    }

    fn set_exp(&self, jwt: &SecretString) {
        let exp = crate::jwt::DecodedJwt::decode(jwt.expose_secret())
            .ok()
            .and_then(|j| j.time_claim("exp"))
            .unwrap_or(i64::MAX);
        self.exp.store(exp, Ordering::Relaxed);
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        // A panic while holding this lock leaves a consistent Health (every method is a few assignments).
        self.health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
    pub fn label(&self) -> String {
        format!("{} ({})", self.config.name, self.fingerprint)
    }

    pub fn expired(&self, now_unix: i64) -> bool {
        self.state.exp.load(Ordering::Relaxed) <= now_unix
    }

    pub fn inflight(&self) -> u32 {
        self.state.inflight.load(Ordering::Relaxed)
    }

    pub fn current_jwt(&self) -> Arc<SecretString> {
        self.state.jwt.load_full()
    }

    /// `exp` of the JWT in use, in Unix seconds.
    pub fn state_exp(&self) -> Option<i64> {
        Some(self.state.exp.load(Ordering::Relaxed)).filter(|&e| e != i64::MAX)
    }

    pub fn state_kind(&self) -> StateKind {
        self.state.health().kind
    }

    pub fn is_healthy(&self) -> bool {
        self.state.healthy.load(Ordering::Acquire)
    }

    /// When the operator disabled this token, if they did.
    pub fn operator_disabled_at(&self) -> Option<SystemTime> {
        match self.operator_disabled_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
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

/// No token can serve now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// When the soonest token is expected back, if known.
    pub retry_after: Option<Duration>,
}

pub struct Pool {
    /// In rotation order: by `priority`, then config order.
    slots: Box<[Slot]>,
    strategy: Strategy,
    priority_mode: PriorityMode,
    cursor: AtomicUsize,
}

impl Pool {
    /// Builds the pool for a config. Tokens whose JWT was already in `previous` keep its state and counters.
    pub fn new(config: &Config, previous: Option<&Pool>) -> Self {
        let mut tokens: Vec<(usize, &TokenConfig)> = config.tokens.iter().enumerate().collect();
        tokens.sort_by_key(|(i, t)| (t.priority, *i));
        let slots = tokens
            .into_iter()
            .map(|(_, t)| {
                let fingerprint = t.fingerprint();
                let carried =
                    previous.and_then(|p| p.slots.iter().find(|s| s.fingerprint == fingerprint));
                let state = match carried {
                    Some(old) => Arc::clone(&old.state),
                    None => Arc::new(TokenState::new(&t.token)),
                };
                Slot {
                    config: t.clone(),
                    fingerprint,
                    state,
                    operator_disabled_ms: AtomicU64::new(0),
                }
            })
            .collect();
        Self {
            slots,
            strategy: config.strategy,
            priority_mode: config.priority_mode,
            cursor: AtomicUsize::new(0),
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Tokens that could take a request right now (ignoring concurrency limits).
    pub fn usable_count(&self) -> usize {
        let now = Instant::now();
        let now_unix = unix_now();
        (0..self.slots.len())
            .filter(|&i| self.admissible(i, now, now_unix, &Tried::default(), false))
            .count()
    }

    /// Chooses a token for a request by the configured strategy, skipping `tried` ones.
    pub fn pick(self: &Arc<Self>, tried: &Tried) -> Result<Permit, Unavailable> {
        let now = Instant::now();
        let now_unix = unix_now();
        let Some(index) = select::choose(self, tried, now, now_unix) else {
            return Err(Unavailable {
                retry_after: self.soonest_recovery(now),
            });
        };
        let slot = &self.slots[index];
        if !slot.state.healthy.load(Ordering::Acquire) {
            let mut health = slot.state.health();
            match health.admission(now) {
                Admission::Probe => health.start_probe(),
                Admission::Serve => {}
                // Lost a race with another request's probe; let the caller try again without this token.
                Admission::No => {
                    drop(health);
                    let mut tried = tried.clone();
                    tried.insert(index);
                    return self.pick(&tried);
                }
            }
        }
        slot.state.inflight.fetch_add(1, Ordering::AcqRel);
        slot.state.requests.fetch_add(1, Ordering::Relaxed);
        slot.state
            .last_used_ms
            .store(unix_ms(SystemTime::now()), Ordering::Relaxed);
        Ok(Permit {
            pool: Arc::clone(self),
            index,
            jwt: slot.current_jwt(),
            started: now,
            reported: false,
        })
    }

    /// Whether slot `i` could take a request now; `probe_ok` lets a half-open token count.
    fn admissible(
        &self,
        i: usize,
        now: Instant,
        now_unix: i64,
        tried: &Tried,
        respect_limit: bool,
    ) -> bool {
        let slot = &self.slots[i];
        if !slot.config.enabled
            || tried.contains(i)
            || slot.expired(now_unix)
            || slot.operator_disabled_ms.load(Ordering::Acquire) != 0
        {
            return false;
        }
        if respect_limit
            && slot
                .config
                .max_concurrency
                .is_some_and(|max| slot.inflight() >= max)
        {
            return false;
        }
        slot.state.healthy.load(Ordering::Acquire)
            || slot.state.health().admission(now) != Admission::No
    }

    /// When the soonest token that is out now is expected back, if known (for `Retry-After`).
    pub fn soonest_recovery(&self, now: Instant) -> Option<Duration> {
        self.slots
            .iter()
            .filter(|s| s.config.enabled && s.operator_disabled_at().is_none())
            .filter_map(|s| s.state.health().ready_at())
            .min()
            .map(|at| {
                at.saturating_duration_since(now)
                    .max(Duration::from_secs(1))
            })
    }

    /// Records an outcome for slot `index` (from a request or a health check) and logs a state change once.
    pub fn report(&self, index: usize, outcome: &Outcome) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        if let Some(class) = failure_class(outcome) {
            slot.state.failures[class].fetch_add(1, Ordering::Relaxed);
            *slot
                .state
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some((SystemTime::now(), class));
        } else {
            slot.state.successes.fetch_add(1, Ordering::Relaxed);
            // The common case on the hot path: nothing to record, so no lock.
            if slot.state.clean.load(Ordering::Acquire) {
                return;
            }
        }
        // A 477 carries no reset time, but the token's last quota report (a check or a stream's QuotaMetadata)
        // usually does; without it the token would sit out the default hour after its quota came back.
        let known_reset;
        let outcome = match outcome {
            Outcome::QuotaExhausted { until: None } => {
                known_reset = Outcome::QuotaExhausted {
                    until: slot
                        .state
                        .quota
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_ref()
                        .and_then(|q| q.until)
                        .filter(|&t| t > SystemTime::now()),
                };
                &known_reset
            }
            other => other,
        };
        let transition = {
            let mut health = slot.state.health();
            let t = health.apply(outcome, Instant::now());
            slot.state
                .healthy
                .store(health.kind == StateKind::Healthy, Ordering::Release);
            slot.state.clean.store(health.is_clean(), Ordering::Release);
            t
        };
        if let Some(t) = transition {
            log_transition(slot, &t);
        }
    }

    /// Takes slot `index` out of rotation (or puts it back) on the operator's word, until the next reload. Takes
    /// effect for the next pick; requests already running on the token finish. Returns whether anything changed.
    pub fn set_operator_disabled(&self, index: usize, disabled: bool) -> bool {
        let Some(slot) = self.slots.get(index) else {
            return false;
        };
        let flag = &slot.operator_disabled_ms;
        let changed = if disabled {
            // Disabling twice keeps the first time.
            let now = unix_ms(SystemTime::now()).max(1);
            flag.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        } else {
            flag.swap(0, Ordering::AcqRel) != 0
        };
        if changed {
            let what = if disabled {
                "disabled by the operator until the next reload"
            } else {
                "enabled by the operator"
            };
            tracing::warn!(token = %slot.label(), "JWT token {what}: {}", slot.label());
        }
        changed
    }

    /// A check or refresh proved the token works again.
    pub fn restore(&self, index: usize, reason: &str) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let transition = {
            let mut health = slot.state.health();
            let t = health.restore(reason);
            slot.state.healthy.store(true, Ordering::Release);
            slot.state.clean.store(health.is_clean(), Ordering::Release);
            t
        };
        if let Some(t) = transition {
            log_transition(slot, &t);
        }
    }

    /// An active check proved the token works: bring it back from invalid, ejected or exhausted. A cooling token
    /// keeps cooling (the quota endpoint answering says nothing about chat rate limits).
    pub fn check_passed(&self, index: usize) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let kind = slot.state.health().kind;
        if matches!(
            kind,
            StateKind::Invalid | StateKind::Ejected | StateKind::Exhausted
        ) {
            self.restore(index, "health check passed");
        }
    }

    /// Swaps in a refreshed JWT for slot `index`; requests picked from now on use it.
    pub fn replace_jwt(&self, index: usize, jwt: SecretString) {
        if let Some(slot) = self.slots.get(index) {
            slot.state.set_exp(&jwt);
            slot.state.jwt.store(Arc::new(jwt));
        }
    }

    /// Keeps the result of the token's latest active check.
    pub fn record_check(&self, index: usize, result: &'static str, error: Option<String>) {
        if let Some(slot) = self.slots.get(index) {
            *slot
                .state
                .last_check
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(LastCheck {
                at: SystemTime::now(),
                result,
                error,
            });
        }
    }

    pub fn record_quota(&self, index: usize, quota: QuotaInfo) {
        if let Some(slot) = self.slots.get(index) {
            *slot.state.quota.lock().unwrap_or_else(|p| p.into_inner()) = Some(quota);
        }
    }
}

fn log_transition(slot: &Slot, t: &Transition) {
    if t.to == StateKind::Healthy {
        tracing::info!(token = %slot.label(), reason = %t.reason, "JWT token marked as healthy: {}", slot.label());
    } else {
        crate::metrics::ejection(t.to.as_str());
        tracing::warn!(
            token = %slot.label(),
            state = t.to.as_str(),
            reason = %t.reason,
            "JWT token marked as unhealthy: {} ({}: {})",
            slot.label(),
            t.to.as_str(),
            t.reason
        );
    }
}

/// The right to use one token for one request. Counts as in-flight until dropped.
pub struct Permit {
    pool: Arc<Pool>,
    index: usize,
    jwt: Arc<SecretString>,
    started: Instant,
    reported: bool,
}

impl Permit {
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn jwt(&self) -> &str {
        self.jwt.expose_secret()
    }

    pub fn slot(&self) -> &Slot {
        &self.pool.slots[self.index]
    }

    /// Records how the request went. Latency is counted for successes.
    pub fn report(&mut self, outcome: &Outcome) {
        if outcome == &Outcome::Success {
            let micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.slot()
                .state
                .latency_total_us
                .fetch_add(micros, Ordering::Relaxed);
        }
        self.pool.report(self.index, outcome);
        self.reported = true;
    }

    pub fn record_quota(&self, quota: QuotaInfo) {
        self.pool.record_quota(self.index, quota);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let state = &self.pool.slots[self.index].state;
        state.inflight.fetch_sub(1, Ordering::AcqRel);
        // A probe whose request was abandoned (client gone) must not leave the token stuck in Probing.
        if !self.reported && !state.healthy.load(Ordering::Acquire) {
            let mut health = state.health();
            if health.kind == StateKind::Probing {
                health.apply(&Outcome::Fault, Instant::now());
                state.clean.store(false, Ordering::Release);
            }
        }
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
