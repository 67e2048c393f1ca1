//! Failures and recovery, with paused time: retry-after, probes, quota resets, the last failure, the outlook.

use super::*;

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
