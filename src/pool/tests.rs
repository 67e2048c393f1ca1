//! Unit tests of the pool: shared helpers, a reload, and what the pool tells and takes from other replicas; selection,
//! recovery and operator switches by topic.

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

mod operator;
mod recovery;
mod selection;
