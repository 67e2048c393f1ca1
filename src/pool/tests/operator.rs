//! A token the operator disabled: out of rotation, shown as such, and no reason for Retry-After.

use super::*;

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
