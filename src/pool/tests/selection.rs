//! Which token the next request gets, by strategy, priority, weight, load and what was already tried.

use super::*;

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
