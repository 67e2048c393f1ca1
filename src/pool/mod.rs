//! The token pool: which JWT serves the next request, and what each outcome does to that JWT's standing.
//!
//! The pool does no I/O. `pick` is lock-free for healthy tokens (an atomic flag mirrors the standing) and
//! allocates nothing; the per-token `Mutex` is only taken for tokens that are recovering, and never across an
//! `.await`. State that must survive a config reload (standing, counters, the current JWT) lives in `TokenState`,
//! shared by `Arc` between the old and the new pool for every token whose JWT did not change.

pub mod outlook;
mod permit;
mod select;
pub mod shared;
mod slot;
pub mod standing;
pub mod stats;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use tokio::time::Instant;

pub use permit::Permit;
pub use slot::{
    FAILURE_CLASSES, FAILURE_MEANINGS, LastCheck, QuotaInfo, Slot, TokenState, Tried, outcome_name,
};
pub use standing::{Admission, Outcome, Standing, StateKind, Transition};

use slot::failure_class;

use crate::config::{Config, PriorityMode, Strategy, TokenConfig};

/// The state `/stats` and `/metrics` show for a token the operator took out of rotation (`POST /tokens/{t}/disable`).
pub const OPERATOR_DISABLED: &str = "disabled-by-operator";

/// The seed's message for "no token can serve"; clients and scripts match on it.
pub const NO_TOKENS_MESSAGE: &str = "no available JWT tokens: no healthy JWT tokens available";

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
    /// Where changes go to be shared with the other replicas (`shared`); unset in memory mode.
    sink: OnceLock<tokio::sync::mpsc::UnboundedSender<shared::Change>>,
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
                Slot::new(t.clone(), fingerprint, state)
            })
            .collect();
        let pool = Self {
            slots,
            strategy: config.load_balance_strategy,
            priority_mode: config.priority_mode,
            cursor: AtomicUsize::new(0),
            sink: OnceLock::new(),
        };
        if let Some(sink) = previous.and_then(|p| p.sink.get()) {
            pool.share(sink.clone());
        }
        // A reload is the operator's word that a suspended token may serve again (it is out until one).
        for (i, slot) in pool.slots.iter().enumerate() {
            if slot.state_kind() == StateKind::Suspended {
                pool.lift(i, "config reloaded");
            }
        }
        pool
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
        let now_unix = crate::epoch::now_secs();
        (0..self.slots.len())
            .filter(|&i| self.admissible(i, now, now_unix, &Tried::default(), false))
            .count()
    }

    /// Chooses a token for a request by the configured strategy, skipping `tried` ones.
    pub fn pick(self: &Arc<Self>, tried: &Tried) -> Result<Permit, Unavailable> {
        let now = Instant::now();
        let now_unix = crate::epoch::now_secs();
        let Some(index) = select::choose(self, tried, now, now_unix) else {
            return Err(Unavailable {
                retry_after: self.soonest_recovery(now),
            });
        };
        let slot = &self.slots[index];
        if !slot.state.healthy.load(Ordering::Acquire) {
            let mut standing = slot.state.standing();
            match standing.admission(now) {
                Admission::Probe => standing.start_probe(),
                Admission::Serve => {}
                // Lost a race with another request's probe; let the caller try again without this token.
                Admission::No => {
                    drop(standing);
                    let mut tried = tried.clone();
                    tried.insert(index);
                    return self.pick(&tried);
                }
            }
        }
        slot.state.inflight.fetch_add(1, Ordering::AcqRel);
        slot.state.requests.fetch_add(1, Ordering::Relaxed);
        slot.state.last_used_ms.store(
            u64::try_from(crate::epoch::now_ms()).unwrap_or(0),
            Ordering::Relaxed,
        );
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
            || slot.operator_disabled()
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
            || slot.state.standing().admission(now) != Admission::No
    }

    /// When the soonest token that is out now is expected back, if known (for `Retry-After`).
    pub fn soonest_recovery(&self, now: Instant) -> Option<Duration> {
        self.slots
            .iter()
            .filter(|s| s.config.enabled && !s.operator_disabled())
            .filter_map(|s| s.state.standing().ready_at())
            .min()
            .map(|at| {
                at.saturating_duration_since(now)
                    .max(Duration::from_secs(1))
            })
    }

    /// Records an outcome for slot `index` (from a request or an active check) and logs a state change once.
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
        let (transition, faults_before, faults) = {
            let mut standing = slot.state.standing();
            let before = standing.consecutive_faults();
            let t = standing.apply(outcome, Instant::now());
            slot.state.mirror(&standing);
            (t, before, standing.consecutive_faults())
        };
        if let Some(t) = transition {
            log_transition(slot, &t);
            self.publish_standing(index);
        }
        // The other replicas count this replica's faults too (`shared`); only the start and end of a run of faults
        // is sent, so a token that keeps succeeding sends nothing.
        if self.sink.get().is_some() && faults != faults_before {
            let fingerprint = slot.fingerprint.clone();
            self.publish(if faults > faults_before {
                shared::Change::Fault { fingerprint }
            } else {
                shared::Change::FaultsCleared { fingerprint }
            });
        }
    }

    fn publish_standing(&self, index: usize) {
        if self.sink.get().is_some()
            && let Some(record) = self.record(index)
        {
            self.publish(shared::Change::Standing {
                fingerprint: self.slots[index].fingerprint.clone(),
                record,
            });
        }
    }

    /// Takes slot `index` out of rotation (or puts it back) on the operator's word, until the next reload. Takes
    /// effect for the next pick; requests already running on the token finish. Enabling also lifts a suspension,
    /// which only an operator can do. Returns whether anything changed.
    pub fn set_operator_disabled(&self, index: usize, disabled: bool) -> bool {
        self.set_operator(index, disabled, true)
    }

    fn set_operator(&self, index: usize, disabled: bool, publish: bool) -> bool {
        let Some(slot) = self.slots.get(index) else {
            return false;
        };
        let mut changed = slot.set_operator_disabled(disabled);
        if !disabled && slot.state.standing().kind == StateKind::Suspended {
            self.change_standing(index, publish, |standing| {
                standing.lift("re-enabled by the operator")
            });
            changed = true;
        }
        if changed && publish {
            self.publish(shared::Change::Operator {
                fingerprint: slot.fingerprint.clone(),
                disabled,
            });
        }
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

    /// A check or refresh proved the token works again (a suspended token stays out: see `lift`).
    pub fn restore(&self, index: usize, reason: &str) {
        self.change_standing(index, true, |standing| standing.restore(reason));
    }

    /// An operator's action (a reload, re-enabling the token) brings the token back whatever its state, a
    /// suspension included.
    pub fn lift(&self, index: usize, reason: &str) {
        self.change_standing(index, true, |standing| standing.lift(reason));
    }

    /// Changes token `index`'s standing by `how`, mirrors it, logs the transition if there was one, and tells the
    /// other replicas when `publish`.
    pub(super) fn change_standing(
        &self,
        index: usize,
        publish: bool,
        how: impl FnOnce(&mut Standing) -> Option<Transition>,
    ) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let transition = {
            let mut standing = slot.state.standing();
            let t = how(&mut standing);
            slot.state.mirror(&standing);
            t
        };
        if let Some(t) = transition {
            log_transition(slot, &t);
            if publish {
                self.publish_standing(index);
            }
        }
    }

    /// Whether token `index` could take a request now (ignoring its concurrency limit).
    pub fn is_usable(&self, index: usize) -> bool {
        index < self.slots.len()
            && self.admissible(
                index,
                Instant::now(),
                crate::epoch::now_secs(),
                &Tried::default(),
                false,
            )
    }

    /// An active check proved the token works: bring it back from invalid, ejected or exhausted. A cooling token
    /// keeps cooling (the quota endpoint answering says nothing about chat rate limits).
    pub fn check_passed(&self, index: usize) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let kind = slot.state.standing().kind;
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
            slot.state.jwt_replaced.notify_waiters();
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
            let mut known = slot.state.quota.lock().unwrap_or_else(|p| p.into_inner());
            *known = Some(quota);
            // Under the lock, so `adopt_quota` compares against the snapshot this time belongs to.
            slot.state
                .quota_at_ms
                .store(crate::epoch::now_ms(), Ordering::Release);
            slot.state.quota_unshared.store(true, Ordering::Release);
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

#[cfg(test)]
mod tests;
