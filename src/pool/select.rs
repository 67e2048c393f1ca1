//! The strategies: which of the tokens that can serve now takes the next request. No allocation, no lock for
//! healthy tokens.

use std::sync::atomic::Ordering;

use rand::RngExt;
use tokio::time::Instant;

use super::{Pool, Tried};
use crate::config::{PriorityMode, Strategy};

/// The chosen slot index, or `None` when no token can serve.
pub(super) fn choose(pool: &Pool, tried: &Tried, now: Instant, now_unix: i64) -> Option<usize> {
    let n = pool.slots.len();
    let ok = |i: usize| pool.admissible(i, now, now_unix, tried, true);
    // Slots are sorted by priority, so the first usable one names the tier that serves.
    let tier = match pool.priority_mode {
        PriorityMode::Tiers => Some(pool.slots[(0..n).find(|&i| ok(i))?].config.priority),
        PriorityMode::Order => None,
    };
    let candidate = |i: usize| tier.is_none_or(|p| pool.slots[i].config.priority == p) && ok(i);

    // The rotation counts turns over the tokens that can serve now, not over slots: counting slots handed a
    // missing token's turn to its neighbour (a, c, c, a, c, c with b out) and ignored tiers. Only a request's first
    // pick takes a turn, so failover picks do not make the next request skip one; a failover pick reuses the
    // latest turn over the untried tokens, which lands on the token after the failed one.
    let turn = || {
        if tried.is_empty() {
            pool.cursor.fetch_add(1, Ordering::Relaxed)
        } else {
            pool.cursor.load(Ordering::Relaxed).wrapping_sub(1)
        }
    };
    match pool.strategy {
        Strategy::RoundRobin => {
            let count = (0..n).filter(|&i| candidate(i)).count();
            if count == 0 {
                return None;
            }
            (0..n).filter(|&i| candidate(i)).nth(turn() % count)
        }
        Strategy::Random => {
            let count = (0..n).filter(|&i| candidate(i)).count();
            if count == 0 {
                return None;
            }
            let nth = rand::rng().random_range(0..count);
            (0..n).filter(|&i| candidate(i)).nth(nth)
        }
        Strategy::Weighted => {
            let total: u64 = (0..n)
                .filter(|&i| candidate(i))
                .map(|i| u64::from(pool.slots[i].config.weight))
                .sum();
            if total == 0 {
                return None;
            }
            let mut point = rand::rng().random_range(0..total);
            (0..n).filter(|&i| candidate(i)).find(|&i| {
                let w = u64::from(pool.slots[i].config.weight);
                if point < w {
                    true
                } else {
                    point -= w;
                    false
                }
            })
        }
        Strategy::LeastInflight => {
            // Ties rotate, so equal load still spreads over every token. Other replicas' requests count too
            // (shared mode), so N replicas balance as one.
            let start = turn();
            (0..n)
                .map(|k| (start + k) % n)
                .filter(|&i| candidate(i))
                .min_by_key(|&i| pool.slots[i].cluster_inflight())
        }
    }
}
