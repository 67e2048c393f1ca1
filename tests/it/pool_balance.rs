//! The pool's strategies over real sockets: round-robin order, the spread of random and weighted, priority tiers,
//! and `least_inflight`, as seen by the fake upstream.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::eventually;
use common::pool::{chat_ok, chat_order, wait_for_state};
use common::serve::{KEY, Setup, streaming};
use jbproxy::fake_upstream::{Behaviour, mint_jwt};
use serde_json::json;

fn counts(order: &[String]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for name in order {
        *counts.entry(name.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn round_robin_rotates_in_config_order() {
    let s = Setup::start(
        &["a", "b", "c"],
        json!({"load_balance_strategy": "round_robin"}),
    )
    .await;
    for i in 0..9 {
        chat_ok(&s, &format!("turn {i}")).await;
    }
    assert_eq!(
        chat_order(&s.fake),
        ["a", "b", "c", "a", "b", "c", "a", "b", "c"],
        "a true rotation in config order"
    );
}

#[tokio::test]
async fn round_robin_rotates_over_the_tokens_that_can_serve_now() {
    // With the middle token out, the other two must alternate: the rotation must not hand the dead token's turn
    // to its neighbour (which would serve twice as often).
    let s = Setup::start(
        &["a", "b", "c"],
        json!({"load_balance_strategy": "round_robin"}),
    )
    .await;
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    for i in 0..3 {
        chat_ok(&s, &format!("warm {i}")).await;
    }
    wait_for_state(&s, "b", "invalid", Duration::from_secs(2)).await;
    let before = chat_order(&s.fake).len();
    for i in 0..8 {
        chat_ok(&s, &format!("turn {i}")).await;
    }
    let order = chat_order(&s.fake)[before..].to_vec();
    assert!(!order.contains(&"b".to_string()), "{order:?}");
    for pair in order.windows(2) {
        assert_ne!(pair[0], pair[1], "not alternating: {order:?}");
    }
}

#[tokio::test]
async fn random_spreads_over_every_token() {
    let s = Setup::start(&["a", "b", "c"], json!({"load_balance_strategy": "random"})).await;
    for i in 0..60 {
        chat_ok(&s, &format!("r{i}")).await;
    }
    let counts = counts(&chat_order(&s.fake));
    for name in ["a", "b", "c"] {
        let n = counts.get(name).copied().unwrap_or(0);
        // Expected 20 each; 5 is more than five standard deviations away.
        assert!(n >= 5, "{name} served {n} of 60: {counts:?}");
    }
    assert!(
        counts.values().any(|&n| n != 20) || counts.len() == 3,
        "{counts:?}"
    );
}

#[tokio::test]
async fn weighted_follows_the_weights() {
    let tokens = json!([
        {"token": mint_jwt("heavy", Duration::from_secs(3600)), "name": "heavy", "weight": 4},
        {"token": mint_jwt("light", Duration::from_secs(3600)), "name": "light", "weight": 1},
    ]);
    let s = Setup::start(
        &[],
        json!({"load_balance_strategy": "weighted", "jetbrains_tokens": tokens}),
    )
    .await;
    for i in 0..100 {
        chat_ok(&s, &format!("w{i}")).await;
    }
    let counts = counts(&chat_order(&s.fake));
    let heavy = counts.get("heavy").copied().unwrap_or(0);
    let light = counts.get("light").copied().unwrap_or(0);
    // Expected 80/20; the bounds are about four standard deviations wide.
    assert!((62..=95).contains(&heavy), "{counts:?}");
    assert!(light >= 5, "{counts:?}");
}

#[tokio::test]
async fn priority_tiers_serve_the_lowest_number_first_and_fall_through() {
    let tokens = json!([
        {"token": mint_jwt("backup", Duration::from_secs(3600)), "name": "backup", "priority": 2},
        {"token": mint_jwt("main-1", Duration::from_secs(3600)), "name": "main-1", "priority": 1},
        {"token": mint_jwt("main-2", Duration::from_secs(3600)), "name": "main-2", "priority": 1},
    ]);
    let s = Setup::start(
        &[],
        json!({"priority_mode": "tiers", "load_balance_strategy": "round_robin", "jetbrains_tokens": tokens}),
    )
    .await;
    for i in 0..6 {
        chat_ok(&s, &format!("t{i}")).await;
    }
    let first = chat_order(&s.fake);
    assert_eq!(
        first,
        ["main-1", "main-2", "main-1", "main-2", "main-1", "main-2"]
    );

    // The whole first tier goes: the next tier serves, and the client never notices.
    s.fake.set_behaviour("main-1", Behaviour::Unauthorized);
    s.fake.set_behaviour("main-2", Behaviour::QuotaExhausted);
    for i in 0..4 {
        chat_ok(&s, &format!("f{i}")).await;
    }
    assert_eq!(s.fake.chat_requests_for("backup"), 4);
    assert_eq!(s.fake.chat_requests_for("main-1"), 4, "one 401, then out");
    assert_eq!(s.fake.chat_requests_for("main-2"), 4, "one 477, then out");
}

#[tokio::test]
async fn least_inflight_sends_new_requests_to_the_idle_token() {
    let s = Setup::start(
        &["x", "y"],
        json!({"load_balance_strategy": "least_inflight"}),
    )
    .await;
    for name in ["x", "y"] {
        s.fake.set_behaviour(
            name,
            Behaviour::PauseBetweenEvents(Duration::from_millis(500)),
        );
    }
    // One long stream occupies one token; every quick request meanwhile must go to the other.
    let (client, url) = (s.client.clone(), s.url("/v1/chat/completions"));
    let long = tokio::spawn(async move {
        let r = client
            .post(url)
            .bearer_auth(KEY)
            .json(&streaming("long"))
            .send()
            .await
            .expect("send");
        r.text().await.expect("body")
    });
    assert!(
        eventually(Duration::from_secs(2), || async {
            s.fake.active_streams() == 1
        })
        .await
    );
    let busy = chat_order(&s.fake)[0].clone();
    let idle = if busy == "x" { "y" } else { "x" };
    s.fake.set_behaviour(idle, Behaviour::Ok);
    for i in 0..4 {
        chat_ok(&s, &format!("q{i}")).await;
    }
    assert_eq!(
        s.fake.chat_requests_for(&busy),
        1,
        "{:?}",
        chat_order(&s.fake)
    );
    assert_eq!(s.fake.chat_requests_for(idle), 4);
    assert!(long.await.expect("join").contains("[DONE]"));
}
