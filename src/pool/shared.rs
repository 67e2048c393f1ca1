//! The pool's side of the shared state (`state.backend: redis`): what it tells the other replicas (a token's
//! standing changed, the operator took a token out, a fault counted toward an ejection or a success that ended the
//! run, the quota it learned) and how it takes what they tell it (the same, a JWT one of them refreshed, their
//! requests in flight). The pool only sends into a channel and applies records to its
//! local mirror; `crate::cluster` does the Redis I/O. Picking a token never waits for Redis.

use std::sync::atomic::Ordering;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::{Pool, QuotaInfo, StateKind};

/// A token's standing as the replicas share it, keyed by the token's fingerprint (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `StateKind::as_str`.
    pub kind: String,
    pub reason: String,
    /// When the token may serve again, in Unix milliseconds; none for healthy, invalid and suspended.
    pub until_ms: Option<i64>,
    /// When the state was set, in Unix milliseconds.
    pub at_ms: i64,
}

/// A token's last quota snapshot as the replicas share it (a health check's `quota/get`, a stream's quota report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaRecord {
    pub used: f64,
    pub maximum: f64,
    pub left: f64,
    /// When the quota resets, Unix ms.
    pub until_ms: Option<i64>,
    /// When a replica learned it, Unix ms: the newest snapshot wins.
    pub at_ms: i64,
}

/// What the pool tells the other replicas.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Standing {
        fingerprint: String,
        record: Record,
    },
    /// The operator's `POST /tokens/{t}/disable` (or enable): every replica takes the token out (until its reload).
    Operator {
        fingerprint: String,
        disabled: bool,
    },
    /// A fault counted toward the token's ejection: every replica counts it (`Standing::remote_fault`).
    Fault {
        fingerprint: String,
    },
    /// A success ended the token's run of faults: every replica's count starts again.
    FaultsCleared {
        fingerprint: String,
    },
}

/// Which of two records for one token should stand after Redis was out of reach: the later until-time when both
/// have one (a token out longer elsewhere stays out), else the newer change.
pub fn newer<'a>(local: &'a Record, remote: &'a Record) -> &'a Record {
    match (local.until_ms, remote.until_ms) {
        (Some(a), Some(b)) if a != b => {
            if a > b {
                local
            } else {
                remote
            }
        }
        _ if remote.at_ms > local.at_ms => remote,
        _ => local,
    }
}

impl Pool {
    /// From now on, every change of a token's standing and every operator action is also sent to `sink` (the
    /// cluster's writer). A reload's new pool keeps the sink (`Pool::new`).
    pub fn share(&self, sink: UnboundedSender<Change>) {
        let _ = self.sink.set(sink);
    }

    pub(super) fn publish(&self, change: Change) {
        if let Some(sink) = self.sink.get() {
            // The receiver lives as long as the server; a closed channel only means it is stopping.
            let _ = sink.send(change);
        }
    }

    /// Token `index`'s standing as a shareable record.
    pub fn record(&self, index: usize) -> Option<Record> {
        let slot = self.slots.get(index)?;
        let standing = slot.state.standing();
        let now = Instant::now();
        let now_ms = crate::epoch::now_ms();
        // Probing is this replica's business (its one trial request); the others see the ejection it came from.
        let kind = match standing.kind {
            StateKind::Probing => StateKind::Ejected,
            kind => kind,
        };
        Some(Record {
            kind: kind.as_str().to_string(),
            reason: standing.reason.clone(),
            until_ms: standing.until.map(|until| {
                let left = until.saturating_duration_since(now);
                now_ms.saturating_add(i64::try_from(left.as_millis()).unwrap_or(i64::MAX))
            }),
            at_ms: crate::epoch::millis(standing.changed),
        })
    }

    /// The slot whose token has this fingerprint.
    pub fn index_of(&self, fingerprint: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.fingerprint == fingerprint)
    }

    /// Takes another replica's record for a token this pool has; not sent back. A record older than the local
    /// state, or one whose time is already over, changes nothing. Returns whether the state changed.
    pub fn adopt(&self, fingerprint: &str, record: &Record, from: &str) -> bool {
        let Some(index) = self.index_of(fingerprint) else {
            return false;
        };
        let Some(kind) = StateKind::parse(&record.kind) else {
            return false;
        };
        let now_ms = crate::epoch::now_ms();
        if record.until_ms.is_some_and(|until| until <= now_ms) {
            return false;
        }
        let slot = &self.slots[index];
        let transition = {
            let mut standing = slot.state.standing();
            if crate::epoch::millis(standing.changed) > record.at_ms {
                return false;
            }
            let until = record.until_ms.map(|ms| {
                let wait = Duration::from_millis(u64::try_from(ms - now_ms).unwrap_or(0));
                Instant::now() + wait
            });
            let changed = crate::epoch::from_millis(record.at_ms);
            let t = standing.adopt(kind, &record.reason, until, changed);
            slot.state.mirror(&standing);
            t
        };
        if let Some(t) = &transition {
            tracing::info!(
                token = %slot.label(),
                state = t.to.as_str(),
                replica = %from,
                "JWT token {} is {} as replica {from} found: {}",
                slot.label(),
                t.to.as_str(),
                t.reason
            );
        }
        transition.is_some()
    }

    /// Counts a fault another replica met on this token; when it makes the run long enough, the token is ejected
    /// here and the ejection shared like any other (whichever replica sees the threshold first; the others take its
    /// record or reach the same state themselves).
    pub fn adopt_fault(&self, fingerprint: &str) {
        if let Some(index) = self.index_of(fingerprint) {
            self.change_standing(index, true, |standing| {
                standing.remote_fault(Instant::now())
            });
        }
    }

    /// Another replica's success ended the token's run of faults; not sent back.
    pub fn adopt_faults_cleared(&self, fingerprint: &str) {
        if let Some(index) = self.index_of(fingerprint) {
            let state = &self.slots[index].state;
            let mut standing = state.standing();
            standing.clear_faults();
            state.mirror(&standing);
        }
    }

    /// Takes the operator's word given on another replica; not sent back.
    pub fn adopt_operator(&self, fingerprint: &str, disabled: bool) {
        if let Some(index) = self.index_of(fingerprint) {
            self.set_operator(index, disabled, false);
        }
    }

    /// Puts to use a JWT another replica refreshed (`crate::cluster` read it from Redis); not sent back.
    pub fn adopt_jwt(&self, fingerprint: &str, jwt: SecretString) {
        if let Some(index) = self.index_of(fingerprint) {
            self.replace_jwt(index, jwt);
            self.change_standing(index, false, |standing| {
                standing.restore("JWT refreshed by another replica")
            });
        }
    }

    /// Token `index`'s quota snapshot as a shareable record, if one is known.
    pub fn quota_record(&self, index: usize) -> Option<QuotaRecord> {
        let state = &self.slots.get(index)?.state;
        let quota = state.quota.lock().unwrap_or_else(|p| p.into_inner());
        let q = quota.as_ref()?;
        Some(QuotaRecord {
            used: q.used,
            maximum: q.maximum,
            left: q.left,
            until_ms: q.until.map(crate::epoch::millis),
            at_ms: state.quota_at_ms.load(Ordering::Acquire),
        })
    }

    /// The quota snapshots this replica learned since the last call, by fingerprint; taking them marks them told.
    pub fn unshared_quotas(&self) -> Vec<(String, QuotaRecord)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state.quota_unshared.swap(false, Ordering::AcqRel))
            .filter_map(|(i, s)| Some((s.fingerprint.clone(), self.quota_record(i)?)))
            .collect()
    }

    /// Token `index`'s snapshot is to be told again (it is newer than what Redis holds after an outage).
    pub fn reshare_quota(&self, index: usize) {
        if let Some(slot) = self.slots.get(index) {
            slot.state.quota_unshared.store(true, Ordering::Release);
        }
    }

    /// Takes another replica's quota snapshot for a token this pool has, unless the local one is as new; not sent
    /// back. Returns whether it was taken.
    pub fn adopt_quota(&self, fingerprint: &str, record: &QuotaRecord) -> bool {
        let Some(index) = self.index_of(fingerprint) else {
            return false;
        };
        let state = &self.slots[index].state;
        let mut quota = state.quota.lock().unwrap_or_else(|p| p.into_inner());
        if quota.is_some() && state.quota_at_ms.load(Ordering::Acquire) >= record.at_ms {
            return false;
        }
        *quota = Some(QuotaInfo {
            used: record.used,
            maximum: record.maximum,
            left: record.left,
            until: record.until_ms.map(crate::epoch::from_millis),
        });
        state.quota_at_ms.store(record.at_ms, Ordering::Release);
        true
    }

    /// The other replicas' requests in flight on each token, by fingerprint (their leases); `least_inflight` adds
    /// them to this replica's own. A token no replica names has none.
    pub fn set_remote_inflight(&self, counts: &std::collections::HashMap<String, u32>) {
        for slot in self.slots.iter() {
            let n = counts.get(&slot.fingerprint).copied().unwrap_or(0);
            slot.state.remote_inflight.store(n, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(until_ms: Option<i64>, at_ms: i64) -> Record {
        Record {
            kind: "cooling".into(),
            reason: String::new(),
            until_ms,
            at_ms,
        }
    }

    #[test]
    fn the_later_until_wins_then_the_newer_change() {
        let (early, late) = (record(Some(1_000), 50), record(Some(2_000), 10));
        assert_eq!(newer(&early, &late), &late);
        assert_eq!(newer(&late, &early), &late);
        let (old, new) = (record(None, 10), record(None, 20));
        assert_eq!(newer(&old, &new), &new);
        assert_eq!(newer(&new, &old), &new);
        assert_eq!(newer(&record(Some(5), 10), &record(None, 20)).at_ms, 20);
    }
}
