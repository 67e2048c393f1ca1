//! Failover and passive health over real sockets: a failing token is passed over with the client seeing only
//! success, a dead or exhausted token is not tried again on every request, 429s cool and come back, expired JWTs
//! are never sent, and 401s are healed by a JWT refresh.
//!
//! Scenarios that wait on the server's own timers (a cooldown, a first-byte or request timeout, a check interval)
//! run in-process with a paused clock.

use crate::common;

use std::time::Duration;

use common::eventually;
use common::pool::{chat_ok, chat_order, stats, token, wait_for_state};
use common::serve::{Served, Setup, sse_data, streaming, user};
use jbproxy::fake_upstream::{Behaviour, mint_expired_jwt, mint_jwt};
use serde_json::json;

/// Every request succeeds although `bad` behaves as `behaviour`; streaming and not.
async fn fails_over(behaviour: Behaviour, extra: serde_json::Value) -> Setup {
    fails_over_on(Setup::start(&["bad", "good"], extra).await, behaviour).await
}

/// `fails_over` on a setup of the caller's choosing (tokens `bad` and `good`).
async fn fails_over_on<P: Served>(s: Setup<P>, behaviour: Behaviour) -> Setup<P> {
    s.fake.set_behaviour("bad", behaviour.clone());
    for i in 0..3 {
        chat_ok(&s, &format!("plain {i}")).await;
        let response = s.chat(streaming(&format!("stream {i}"))).await;
        assert_eq!(response.status(), 200, "{behaviour:?}");
        let data = sse_data(&response.text().await.expect("body"));
        assert_eq!(
            data.last().map(String::as_str),
            Some("[DONE]"),
            "{behaviour:?}: {data:?}"
        );
    }
    assert!(
        s.fake.chat_requests_for("bad") >= 1,
        "{behaviour:?}: bad was never tried"
    );
    assert_eq!(s.fake.chat_requests_for("good"), 6, "{behaviour:?}");
    s
}

#[tokio::test]
async fn fails_over_past_401() {
    let s = fails_over(Behaviour::Unauthorized, json!({})).await;
    wait_for_state(&s, "bad", "invalid", Duration::from_secs(1)).await;
}

#[tokio::test]
async fn fails_over_past_477() {
    let s = fails_over(Behaviour::QuotaExhausted, json!({})).await;
    wait_for_state(&s, "bad", "exhausted", Duration::from_secs(1)).await;
}

#[tokio::test]
async fn fails_over_past_429() {
    let s = fails_over(
        Behaviour::RateLimited {
            retry_after_secs: Some(60),
        },
        json!({}),
    )
    .await;
    wait_for_state(&s, "bad", "cooling", Duration::from_secs(1)).await;
}

#[tokio::test]
async fn fails_over_past_500() {
    let s = fails_over(Behaviour::ServerError, json!({})).await;
    let stats = stats(&s).await;
    assert!(
        token(&stats, "bad")["failures"]["fault"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{stats:#}"
    );
}

#[tokio::test(start_paused = true)]
async fn fails_over_past_a_slow_first_byte() {
    let s = Setup::in_process(&["bad", "good"], json!({"first_byte_timeout": "300ms"})).await;
    let s = fails_over_on(s, Behaviour::SlowFirstByte(Duration::from_secs(3))).await;
    let stats = stats(&s).await;
    assert!(
        token(&stats, "bad")["failures"]["fault"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{stats:#}"
    );
}

#[tokio::test(start_paused = true)]
async fn fails_over_past_slow_headers() {
    let s = Setup::in_process(&["bad", "good"], json!({"request_timeout": "300ms"})).await;
    fails_over_on(s, Behaviour::SlowHeaders(Duration::from_secs(3))).await;
}

/// `bad` behaves as `behaviour` for 12 requests; returns how many of them reached it.
async fn tries_on_bad(behaviour: Behaviour) -> usize {
    let s = Setup::start(&["bad", "good"], json!({})).await;
    s.fake.set_behaviour("bad", behaviour);
    for i in 0..12 {
        chat_ok(&s, &format!("r{i}")).await;
    }
    s.fake.chat_requests_for("bad")
}

#[tokio::test]
async fn a_dead_token_is_not_retried_on_every_request() {
    assert_eq!(tries_on_bad(Behaviour::Unauthorized).await, 1);
}

#[tokio::test]
async fn an_exhausted_token_is_not_retried_on_every_request() {
    assert_eq!(tries_on_bad(Behaviour::QuotaExhausted).await, 1);
}

#[tokio::test]
async fn a_rate_limited_token_is_not_retried_while_it_cools() {
    assert_eq!(
        tries_on_bad(Behaviour::RateLimited {
            retry_after_secs: Some(60)
        })
        .await,
        1
    );
}

#[tokio::test]
async fn a_failing_token_is_ejected_after_consecutive_faults() {
    let n = tries_on_bad(Behaviour::ServerError).await;
    assert!(
        (1..=3).contains(&n),
        "{n} of 12 requests reached the failing token"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_cools_for_retry_after_then_the_token_serves_again() {
    let s = Setup::in_process(&["rl", "good"], json!({})).await;
    s.fake.set_behaviour(
        "rl",
        Behaviour::RateLimited {
            retry_after_secs: Some(1),
        },
    );
    chat_ok(&s, "first").await;
    let stats = wait_for_state(&s, "rl", "cooling", Duration::from_secs(1)).await;
    assert!(token(&stats, "rl")["until"].is_string(), "{stats:#}");
    assert_eq!(token(&stats, "rl")["failures"]["rate_limited"], 1);
    s.fake.set_behaviour("rl", Behaviour::Ok);
    // Within the second the token must not be asked again; after it, it takes its turns again.
    chat_ok(&s, "second").await;
    chat_ok(&s, "third").await;
    assert_eq!(s.fake.chat_requests_for("rl"), 1);
    let back = eventually(Duration::from_secs(4), || async {
        chat_ok(&s, "again").await;
        s.fake.chat_requests_for("rl") >= 2
    })
    .await;
    assert!(back, "rl never served again: {:?}", chat_order(&s.fake));
    wait_for_state(&s, "rl", "healthy", Duration::from_secs(1)).await;
}

#[tokio::test]
async fn when_every_token_cools_the_answer_is_429_with_retry_after() {
    let s = Setup::start(&["only"], json!({})).await;
    s.fake.set_behaviour(
        "only",
        Behaviour::RateLimited {
            retry_after_secs: Some(30),
        },
    );
    let first = s.chat(user("one")).await;
    assert_eq!(first.status(), 429);
    let response = s.chat(user("two")).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(
        (25..=30).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "no_available_tokens");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(
        s.fake.chat_requests_for("only"),
        1,
        "a cooling token is not asked"
    );
    let health = s.get("/health").await;
    assert_eq!(health.status(), 503);
}

#[tokio::test]
async fn an_expired_jwt_is_never_sent() {
    let tokens = json!([
        {"token": mint_expired_jwt("old"), "name": "old"},
        {"token": mint_jwt("new", Duration::from_secs(3600)), "name": "new"},
    ]);
    let s = Setup::start(&[], json!({"jetbrains_tokens": tokens})).await;
    for i in 0..4 {
        chat_ok(&s, &format!("e{i}")).await;
    }
    assert_eq!(s.fake.chat_requests_for("old"), 0);
    assert_eq!(s.fake.chat_requests_for("new"), 4);
    let stats = stats(&s).await;
    assert_eq!(token(&stats, "old")["state"], "expired", "{stats:#}");
    assert_eq!(token(&stats, "old")["usable"], false);
    assert!(
        token(&stats, "old")["expires_in_secs"]
            .as_i64()
            .expect("exp")
            < 0
    );
}

async fn refresh_heals_a_401(authorization: &str) {
    let tokens = json!([{
        "token": mint_jwt("r", Duration::from_secs(3600)),
        "name": "r",
        "license_id": "lic-r",
        "authorization": authorization,
    }]);
    let s = Setup::start(&[], json!({"jetbrains_tokens": tokens})).await;
    s.fake.register_license("lic-r", "id-token-r", "r");
    s.fake.set_behaviour("r", Behaviour::Unauthorized);
    let fingerprint_before = token(&stats(&s).await, "r")["fingerprint"].clone();
    // The only token answers 401; the proxy refreshes its JWT and retries once on it.
    chat_ok(&s, "after refresh").await;
    let refreshes = s
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("provide-access"))
        .count();
    assert_eq!(refreshes, 1);
    assert_eq!(s.fake.chat_requests_for("r"), 2, "the 401, then the retry");
    let stats = stats(&s).await;
    assert_eq!(token(&stats, "r")["state"], "healthy", "{stats:#}");
    assert_eq!(
        token(&stats, "r")["fingerprint"],
        fingerprint_before,
        "config identity kept"
    );
    chat_ok(&s, "still fine").await;
    assert_eq!(s.fake.chat_requests_for("r"), 3);
}

#[tokio::test]
async fn a_401_is_healed_by_refreshing_the_jwt() {
    refresh_heals_a_401("id-token-r").await;
}

#[tokio::test]
async fn refresh_accepts_the_authorization_with_its_bearer_prefix() {
    refresh_heals_a_401("Bearer id-token-r").await;
}

#[tokio::test(start_paused = true)]
async fn an_expired_refreshable_jwt_is_refreshed_by_the_checker() {
    let tokens = json!([{
        "token": mint_expired_jwt("r"),
        "name": "r",
        "license_id": "lic-r",
        "authorization": "id-token-r",
    }]);
    let s = Setup::in_process(
        &[],
        json!({"jetbrains_tokens": tokens, "health_check_mode": "quota", "health_check_interval": "1s"}),
    )
    .await;
    s.fake.register_license("lic-r", "id-token-r", "r");
    let refreshed = eventually(Duration::from_secs(4), || async {
        token(&stats(&s).await, "r")["expires_in_secs"]
            .as_i64()
            .unwrap_or(-1)
            > 3600
    })
    .await;
    assert!(refreshed, "not refreshed:\n{}", s.proxy.logs());
    chat_ok(&s, "works").await;
    assert_eq!(s.fake.chat_requests_for("r"), 1);
}
