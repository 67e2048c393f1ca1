//! A `Permit`: the right to use one token for one request, counted in flight until dropped, through which the
//! request reports how it went.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::{Outcome, Pool, QuotaInfo, Slot, StateKind};

/// The right to use one token for one request. Counts as in-flight until dropped.
pub struct Permit {
    pub(super) pool: Arc<Pool>,
    pub(super) index: usize,
    pub(super) jwt: Arc<SecretString>,
    pub(super) started: Instant,
    pub(super) reported: bool,
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
            let mut standing = state.standing();
            if standing.kind == StateKind::Probing {
                standing.apply(&Outcome::Fault, Instant::now());
                state.clean.store(false, Ordering::Release);
            }
        }
    }
}
