//! Unit tests for selection and standing bookkeeping, with paused time where recovery is involved.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::*;
use crate::config::{Config, Env, Overrides, PriorityMode, Strategy};

fn jwt(name: &str, exp: i64) -> String {
    crate::jwt::unsigned(&serde_json::json!({"sub": name, "exp": exp}))
}

fn config(names: &[&str], strategy: Strategy) -> Config {
    let tokens: Vec<String> = names
        .iter()
        .map(|n| jwt(n, crate::epoch::now_secs() + 3600))
        .collect();
    let mut config = crate::config::load(
        &Overrides {
            jwt_tokens: Some(tokens.join(",")),
            ..Overrides::default()
        },
        &Env::default(),
    )
    .expect("config loads");
    config.load_balance_strategy = strategy;
    for (t, n) in config.tokens.iter_mut().zip(names) {
        t.name = n.to_string();
    }
    config
}

fn pool(config: &Config) -> Arc<Pool> {
    Arc::new(Pool::new(config, None))
}

fn pick_name(pool: &Arc<Pool>) -> String {
    pool.pick(&Tried::default())
        .expect("a token")
        .slot()
        .config
        .name
        .clone()
}

#[test]
fn round_robin_rotates_in_config_order() {
    let pool = pool(&config(&["a", "b", "c"], Strategy::RoundRobin));
    let order: Vec<String> = (0..6).map(|_| pick_name(&pool)).collect();
    assert_eq!(order, ["a", "b", "c", "a", "b", "c"]);
}

#[test]
fn round_robin_skips_tokens_that_cannot_serve() {
    let pool = pool(&config(&["a", "b", "c"], Strategy::RoundRobin));
    pool.report(1, &Outcome::Unauthorized);
    let names: Vec<String> = (0..4).map(|_| pick_name(&pool)).collect();
    assert!(!names.contains(&"b".to_string()), "{names:?}");
    assert_eq!(pool.usable_count(), 2);
    // Regression: b's turn went to c, so c served twice as often as a.
    assert_eq!(names, ["a", "c", "a", "c"]);
}

#[test]
fn failover_picks_do_not_take_the_next_requests_turn() {
    let pool = pool(&config(&["a", "b", "c"], Strategy::RoundRobin));
    let first = pool.pick(&Tried::default()).expect("a token");
    let mut tried = Tried::default();
    tried.insert(first.index());
    let retry = pool.pick(&tried).expect("another token");
    assert_eq!(retry.slot().config.name, "b");
    drop((first, retry));
    assert_eq!(pick_name(&pool), "b", "the next request's turn is b's");
}

#[test]
fn priority_orders_the_rotation_and_tiers_mode_keeps_lower_tiers_waiting() {
    let mut cfg = config(&["low", "high"], Strategy::RoundRobin);
    cfg.tokens[0].priority = 2;
    cfg.tokens[1].priority = 1;
    let ordered = pool(&cfg);
    assert_eq!(pick_name(&ordered), "high");
    assert_eq!(pick_name(&ordered), "low");

    cfg.priority_mode = PriorityMode::Tiers;
    let tiered = pool(&cfg);
    assert!((0..5).all(|_| pick_name(&tiered) == "high"));
    tiered.report(0, &Outcome::Unauthorized);
    assert_eq!(
        pick_name(&tiered),
        "low",
        "the next tier serves when the first has no usable token"
    );
}

#[test]
fn weighted_and_random_spread_by_weight() {
    let mut cfg = config(&["heavy", "light"], Strategy::Weighted);
    cfg.tokens[0].weight = 3;
    let weighted = pool(&cfg);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..4000 {
        *counts.entry(pick_name(&weighted)).or_default() += 1;
    }
    let ratio = f64::from(counts["heavy"]) / f64::from(counts["light"]);
    assert!((2.5..3.5).contains(&ratio), "{counts:?}");

    let random = pool(&config(&["a", "b", "c", "d"], Strategy::Random));
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..4000 {
        *counts.entry(pick_name(&random)).or_default() += 1;
    }
    assert_eq!(counts.len(), 4);
    assert!(
        counts.values().all(|&n| (800..1200).contains(&n)),
        "{counts:?}"
    );
}

#[test]
fn least_inflight_prefers_the_idle_token() {
    let pool = pool(&config(&["a", "b"], Strategy::LeastInflight));
    let held = pool.pick(&Tried::default()).expect("token");
    let held_name = held.slot().config.name.clone();
    for _ in 0..3 {
        assert_ne!(pick_name(&pool), held_name);
    }
}

#[test]
fn tried_tokens_are_never_picked_again_and_exhaustion_is_reported() {
    let pool = pool(&config(&["a", "b"], Strategy::RoundRobin));
    let mut tried = Tried::default();
    tried.insert(0);
    tried.insert(1);
    assert_eq!(
        pool.pick(&tried).err(),
        Some(Unavailable { retry_after: None })
    );
}

#[test]
fn max_concurrency_caps_a_token_and_permits_release_on_drop() {
    let mut cfg = config(&["a"], Strategy::RoundRobin);
    cfg.tokens[0].max_concurrency = Some(1);
    let pool = pool(&cfg);
    let first = pool.pick(&Tried::default()).expect("first");
    assert!(pool.pick(&Tried::default()).is_err());
    assert_eq!(pool.slots()[0].inflight(), 1);
    drop(first);
    assert_eq!(pool.slots()[0].inflight(), 0);
    assert!(pool.pick(&Tried::default()).is_ok());
}

#[test]
fn expired_and_disabled_tokens_are_skipped_without_sending_anything() {
    let mut cfg = config(&["old", "off", "ok"], Strategy::RoundRobin);
    cfg.tokens[0].token = SecretString::from(jwt("old", crate::epoch::now_secs() - 10));
    cfg.tokens[1].enabled = false;
    let pool = pool(&cfg);
    assert!((0..4).all(|_| pick_name(&pool) == "ok"));
    let stats = pool.token_stats();
    assert_eq!(stats[0].state, "expired");
    assert_eq!(stats[1].state, "disabled");
}

#[test]
fn a_reload_keeps_state_and_counters_of_unchanged_tokens() {
    let cfg = config(&["a", "b"], Strategy::RoundRobin);
    let old = pool(&cfg);
    old.report(0, &Outcome::Unauthorized);
    drop(old.pick(&Tried::default()));
    let mut next_cfg = cfg.clone();
    next_cfg.tokens[1].token = SecretString::from(jwt("b2", crate::epoch::now_secs() + 3600));
    let new = Pool::new(&next_cfg, Some(&old));
    let stats = new.token_stats();
    assert_eq!(stats[0].state, "invalid", "unchanged token keeps its state");
    assert_eq!(stats[1].requests, 0, "a new JWT starts fresh");
    assert_eq!(stats[0].failures["unauthorized"], 1);
}

#[tokio::test(start_paused = true)]
async fn the_soonest_recovery_becomes_retry_after() {
    let pool = pool(&config(&["a", "b"], Strategy::RoundRobin));
    pool.report(
        0,
        &Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        },
    );
    pool.report(
        1,
        &Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(10)),
        },
    );
    let err = pool.pick(&Tried::default()).err().expect("none usable");
    assert_eq!(err.retry_after, Some(Duration::from_secs(10)));
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(pick_name(&pool), "b");
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_probe_does_not_leave_the_token_stuck() {
    let pool = pool(&config(&["a"], Strategy::RoundRobin));
    for _ in 0..standing::EJECT_AFTER_FAULTS {
        pool.report(0, &Outcome::Fault);
    }
    tokio::time::advance(standing::BASE_EJECTION).await;
    let probe = pool.pick(&Tried::default()).expect("the probe");
    assert!(pool.pick(&Tried::default()).is_err(), "one probe at a time");
    drop(probe);
    assert_eq!(pool.token_stats()[0].state, "ejected");
}

#[tokio::test(start_paused = true)]
async fn a_477_without_a_reset_time_uses_the_last_known_quota_reset() {
    let pool = pool(&config(&["a"], Strategy::RoundRobin));
    pool.record_quota(
        0,
        QuotaInfo {
            used: 10.0,
            maximum: 10.0,
            left: 0.0,
            until: Some(SystemTime::now() + Duration::from_secs(600)),
        },
    );
    pool.report(0, &Outcome::QuotaExhausted { until: None });
    let until = pool.slots()[0].state.standing().until.expect("until");
    let wait = until - Instant::now();
    assert!(wait <= Duration::from_secs(600), "{wait:?}");
    assert!(wait >= Duration::from_secs(590), "{wait:?}");
}

#[test]
fn an_operator_disabled_token_serves_no_more_until_enabled_or_a_reload() {
    let config = config(&["a", "b", "c"], Strategy::LeastInflight);
    let pool = pool(&config);
    let running = pool.pick(&Tried::default()).expect("a token");
    let index = running.index();
    assert!(pool.set_operator_disabled(index, true));
    assert!(!pool.set_operator_disabled(index, true), "already disabled");
    for _ in 0..12 {
        assert_ne!(
            pool.pick(&Tried::default()).expect("a token").index(),
            index
        );
    }
    assert_eq!(pool.usable_count(), 2);
    let stats = &pool.token_stats()[index];
    assert_eq!((stats.state, stats.usable), (OPERATOR_DISABLED, false));
    assert!(
        stats.reason.contains("until the next reload"),
        "{}",
        stats.reason
    );
    // A request already running when the token was disabled finishes and counts; the token stays out.
    let mut running = running;
    running.report(&Outcome::Success);
    drop(running);
    assert_eq!(pool.token_stats()[index].state, OPERATOR_DISABLED);

    let reloaded = Arc::new(Pool::new(&config, Some(&pool)));
    assert_eq!(reloaded.usable_count(), 3, "a reload brings it back");
    assert_eq!(
        reloaded.token_stats()[index].successes,
        1,
        "with its counters"
    );

    assert!(pool.set_operator_disabled(index, false));
    assert_eq!(pool.usable_count(), 3);
    assert_eq!(pool.token_stats()[index].state, "healthy");
}

#[test]
fn the_metrics_have_a_state_gauge_for_operator_disabled() {
    assert!(crate::metrics::TOKEN_STATES.contains(&OPERATOR_DISABLED));
}

#[test]
fn operator_disabled_tokens_do_not_set_retry_after() {
    let pool = pool(&config(&["a"], Strategy::RoundRobin));
    pool.report(
        0,
        &Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        },
    );
    assert!(pool.soonest_recovery(Instant::now()).is_some());
    pool.set_operator_disabled(0, true);
    assert_eq!(pool.soonest_recovery(Instant::now()), None);
    let outlook = pool.outlook(Instant::now());
    assert_eq!(
        outlook.groups,
        [outlook::Group {
            cause: outlook::Cause::OperatorDisabled,
            count: 1,
            soonest: None,
        }]
    );
    assert_eq!(outlook.soonest(), None, "it does not come back by itself");
}

#[test]
fn the_last_failure_is_kept_with_its_meaning_and_a_success_does_not_clear_it() {
    let pool = pool(&config(&["a"], Strategy::RoundRobin));
    assert!(pool.token_stats()[0].last_error.is_none());
    pool.report(0, &Outcome::Fault);
    pool.report(0, &Outcome::Success);
    let stats = pool.token_stats();
    let last = stats[0].last_error.as_ref().expect("a last error");
    assert_eq!(last.kind, "fault");
    assert!(last.message.contains("5xx"), "{}", last.message);
}

#[tokio::test(start_paused = true)]
async fn the_outlook_groups_each_token_by_why_it_cannot_serve() {
    use outlook::{Cause, Group};
    let mut cfg = config(
        &["rl1", "rl2", "quota", "dead", "busy", "off"],
        Strategy::RoundRobin,
    );
    cfg.tokens[4].max_concurrency = Some(1);
    cfg.tokens[5].enabled = false;
    let pool = pool(&cfg);
    let limited = |secs| Outcome::RateLimited {
        retry_after: Some(Duration::from_secs(secs)),
    };
    pool.report(0, &limited(30));
    pool.report(1, &limited(10));
    pool.report(2, &Outcome::QuotaExhausted { until: None });
    pool.report(3, &Outcome::Unauthorized);
    let busy = pool
        .pick(&Tried::default())
        .expect("busy takes one request");
    let seen = pool.outlook(Instant::now());
    assert_eq!((seen.tokens, seen.disabled, seen.available), (5, 1, 0));
    let group = |cause, count, soonest: Option<u64>| Group {
        cause,
        count,
        soonest: soonest.map(Duration::from_secs),
    };
    assert_eq!(
        seen.groups,
        [
            group(Cause::RateLimited, 2, Some(10)),
            group(
                Cause::OutOfQuota,
                1,
                Some(standing::DEFAULT_EXHAUSTION.as_secs())
            ),
            group(Cause::Rejected, 1, None),
            group(Cause::Busy, 1, None),
        ]
    );
    assert_eq!(
        seen.soonest(),
        Some(Duration::ZERO),
        "busy passes any moment"
    );
    drop(busy);
    tokio::time::advance(Duration::from_secs(10)).await;
    let later = pool.outlook(Instant::now());
    assert_eq!(later.available, 2, "rl2's cool-down is over, busy is free");
    assert_eq!(
        later.group(Cause::RateLimited),
        Some(&group(Cause::RateLimited, 1, Some(20)))
    );
}

#[tokio::test]
async fn changes_go_to_the_sink_and_adopted_records_come_back_silently() {
    let pool = pool(&config(&["a", "b"], Strategy::RoundRobin));
    let (sink, mut changes) = tokio::sync::mpsc::unbounded_channel();
    pool.share(sink);
    pool.report(
        0,
        &Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        },
    );
    let Some(shared::Change::Standing {
        fingerprint,
        record,
    }) = changes.try_recv().ok()
    else {
        panic!("the cooldown was not sent");
    };
    assert_eq!(fingerprint, pool.slots()[0].fingerprint);
    assert_eq!(record.kind, "cooling");
    let left = record.until_ms.expect("until") - crate::epoch::now_ms();
    assert!((29_000..=30_000).contains(&left), "{left}");
    // A success on a clean token changes nothing, so nothing is sent.
    pool.report(1, &Outcome::Success);
    assert!(changes.try_recv().is_err());

    // Another replica's record for `b`: taken, and not sent back.
    let fp_b = pool.slots()[1].fingerprint.clone();
    let exhausted = shared::Record {
        kind: "exhausted".into(),
        reason: "quota exhausted".into(),
        until_ms: Some(crate::epoch::now_ms() + 60_000),
        at_ms: crate::epoch::now_ms(),
    };
    assert!(pool.adopt(&fp_b, &exhausted, "replica-2"));
    assert_eq!(pool.slots()[1].state_kind(), StateKind::Exhausted);
    assert!(!pool.is_usable(1));
    assert!(
        changes.try_recv().is_err(),
        "adopted records are not echoed"
    );
    // Older than what the pool knows now, or already over: ignored.
    let stale = shared::Record {
        kind: "healthy".into(),
        at_ms: exhausted.at_ms - 1,
        until_ms: None,
        reason: String::new(),
    };
    assert!(!pool.adopt(&fp_b, &stale, "replica-3"));
    let over = shared::Record {
        until_ms: Some(crate::epoch::now_ms() - 1),
        at_ms: crate::epoch::now_ms() + 1,
        ..exhausted.clone()
    };
    assert!(!pool.adopt(&pool.slots()[0].fingerprint, &over, "replica-3"));
    assert_eq!(pool.slots()[1].state_kind(), StateKind::Exhausted);
}

#[test]
fn least_inflight_counts_the_other_replicas_leases() {
    let pool = pool(&config(&["a", "b"], Strategy::LeastInflight));
    let fp_a = pool.slots()[0].fingerprint.clone();
    pool.set_remote_inflight(&HashMap::from([(fp_a, 5)]));
    let names: Vec<String> = (0..3).map(|_| pick_name(&pool)).collect();
    assert_eq!(names, ["b", "b", "b"], "a is busy on another replica");
    pool.set_remote_inflight(&HashMap::new());
    let permit = pool.pick(&Tried::default()).expect("a token");
    drop(permit);
}

#[test]
fn a_learned_quota_is_told_once_and_only_a_newer_remote_snapshot_replaces_it() {
    let pool = pool(&config(&["a", "b"], Strategy::RoundRobin));
    let fp = pool.slots()[0].fingerprint.clone();
    assert!(pool.unshared_quotas().is_empty(), "nothing learned yet");
    pool.record_quota(0, QuotaInfo::spent(25.0, 100.0, None));
    let told = pool.unshared_quotas();
    assert_eq!(told.len(), 1);
    assert_eq!((told[0].0.as_str(), told[0].1.left), (fp.as_str(), 75.0));
    assert!(pool.unshared_quotas().is_empty(), "told once");

    let mut remote = told[0].1.clone();
    remote.left = 1.0;
    remote.at_ms -= 1;
    assert!(!pool.adopt_quota(&fp, &remote), "older than the local one");
    remote.at_ms += 2;
    assert!(pool.adopt_quota(&fp, &remote));
    assert_eq!(
        pool.token_stats()[0].quota.as_ref().map(|q| q.left),
        Some(1.0)
    );
    assert!(
        pool.unshared_quotas().is_empty(),
        "an adopted snapshot is not sent back"
    );
    assert!(
        pool.adopt_quota(&pool.slots()[1].fingerprint.clone(), &remote),
        "b knew none"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_of_faults_is_told_at_each_fault_and_at_its_end_and_the_others_faults_eject_here() {
    let pool = pool(&config(&["a"], Strategy::RoundRobin));
    let (sink, mut told) = tokio::sync::mpsc::unbounded_channel();
    pool.share(sink);
    let fp = pool.slots()[0].fingerprint.clone();
    let fault = shared::Change::Fault {
        fingerprint: fp.clone(),
    };
    pool.report(0, &Outcome::Success);
    assert!(told.try_recv().is_err(), "a clean success tells nothing");
    pool.report(0, &Outcome::Fault);
    assert_eq!(told.try_recv().ok(), Some(fault.clone()));
    pool.report(0, &Outcome::Success);
    assert_eq!(
        told.try_recv().ok(),
        Some(shared::Change::FaultsCleared {
            fingerprint: fp.clone()
        })
    );
    pool.report(0, &Outcome::Success);
    assert!(told.try_recv().is_err(), "nothing more to clear");

    // One fault here, two from other replicas: the third ejects here, and the ejection is told.
    pool.report(0, &Outcome::Fault);
    assert_eq!(told.try_recv().ok(), Some(fault));
    pool.adopt_fault(&fp);
    assert_eq!(pool.token_stats()[0].consecutive_faults, 2);
    assert!(
        told.try_recv().is_err(),
        "another replica's fault is not sent back"
    );
    pool.adopt_fault(&fp);
    assert_eq!(pool.token_stats()[0].state, "ejected");
    assert!(matches!(
        told.try_recv(),
        Ok(shared::Change::Standing { record, .. }) if record.kind == "ejected"
    ));
    pool.adopt_faults_cleared(&fp);
    assert_eq!(pool.token_stats()[0].consecutive_faults, 0);
}
