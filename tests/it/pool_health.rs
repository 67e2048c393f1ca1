//! Active health checks over real sockets: a token put out by a 401 or by faults comes back once a quota check
//! passes, a quota check showing nothing left marks it exhausted, and a check round logs the seed's lines.
//!
//! The scenarios that wait only on the server's own timers (check intervals, backoffs) run in-process with a paused
//! clock; those that wait for a quota reset keep real time, since the reset is a wall-clock moment.

use crate::common;

use std::time::Duration;

use common::pool::{chat_ok, stats, token, wait_for_state};
use common::serve::Setup;
use jbproxy::fake_upstream::Behaviour;
use serde_json::json;

fn checked() -> serde_json::Value {
    json!({"health_check_mode": "quota", "health_check_interval": "1s"})
}

#[tokio::test(start_paused = true)]
async fn an_invalid_token_comes_back_when_a_check_passes() {
    let s = Setup::in_process(&["flaky", "good"], checked()).await;
    s.fake.set_behaviour("flaky", Behaviour::Unauthorized);
    chat_ok(&s, "one").await;
    wait_for_state(&s, "flaky", "invalid", Duration::from_secs(1)).await;
    let health: serde_json::Value = s.get("/health").await.json().await.expect("json");
    assert_eq!(health["healthy_tokens"], 1);
    assert_eq!(health["total_tokens"], 2);
    s.fake.set_behaviour("flaky", Behaviour::Ok);
    let stats = wait_for_state(&s, "flaky", "healthy", Duration::from_secs(5)).await;
    assert_eq!(token(&stats, "flaky")["reason"], "health check passed");
    assert!(
        token(&stats, "flaky")["quota"]["maximum"]
            .as_f64()
            .is_some(),
        "{stats:#}"
    );
    let health: serde_json::Value = s.get("/health").await.json().await.expect("json");
    assert_eq!(health["healthy_tokens"], 2);
    let before = s.fake.chat_requests_for("flaky");
    for i in 0..4 {
        chat_ok(&s, &format!("back {i}")).await;
    }
    assert_eq!(
        s.fake.chat_requests_for("flaky"),
        before + 2,
        "back in the rotation"
    );
    let logs = s.proxy.logs();
    assert!(logs.contains("Performing JWT health check..."), "{logs}");
    assert!(logs.contains("Health check completed: "), "{logs}");
    assert!(
        logs.contains("JWT token marked as healthy: flaky"),
        "{logs}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_ejected_token_comes_back_when_a_check_passes() {
    let s = Setup::in_process(&["flaky", "good"], checked()).await;
    s.fake.set_behaviour("flaky", Behaviour::ServerError);
    for i in 0..8 {
        chat_ok(&s, &format!("r{i}")).await;
        if token(&stats(&s).await, "flaky")["state"] == "ejected" {
            break;
        }
    }
    wait_for_state(&s, "flaky", "ejected", Duration::from_secs(3)).await;
    s.fake.set_behaviour("flaky", Behaviour::Ok);
    wait_for_state(&s, "flaky", "healthy", Duration::from_secs(5)).await;
}

#[tokio::test(start_paused = true)]
async fn a_quota_check_showing_nothing_left_marks_the_token_exhausted() {
    let s = Setup::in_process(&["spent", "good"], checked()).await;
    s.fake.set_behaviour("spent", Behaviour::QuotaExhausted);
    let stats = wait_for_state(&s, "spent", "exhausted", Duration::from_secs(5)).await;
    let spent = token(&stats, "spent");
    assert_eq!(spent["quota"]["left"], 0.0, "{spent:#}");
    assert!(spent["quota"]["resets_at"].is_string(), "{spent:#}");
    assert!(
        spent["until"].is_string(),
        "exhausted until the reset: {spent:#}"
    );
    for i in 0..4 {
        chat_ok(&s, &format!("r{i}")).await;
    }
    assert_eq!(
        s.fake.chat_requests_for("spent"),
        0,
        "found out without spending a request"
    );
    assert!(
        s.fake
            .requests()
            .iter()
            .any(|r| r.path == "/user/v5/quota/get"),
        "checks use the quota endpoint"
    );
}

#[tokio::test]
async fn an_exhausted_token_is_back_after_its_quota_resets() {
    let s = Setup::start(&["spent", "good"], checked()).await;
    let reset_ms = jbproxy::epoch::now_ms() + 2_000;
    s.fake.set_quota("spent", 300_000.0, 300_000.0, reset_ms);
    chat_ok(&s, "477 on spent").await;
    wait_for_state(&s, "spent", "exhausted", Duration::from_secs(1)).await;
    wait_for_state(&s, "spent", "healthy", Duration::from_secs(6)).await;
}

#[tokio::test(start_paused = true)]
async fn chat_mode_checks_with_a_real_request() {
    let s = Setup::in_process(
        &["a"],
        json!({"health_check_mode": "chat", "health_check_interval": "1s"}),
    )
    .await;
    let seen = common::eventually(Duration::from_secs(4), || async {
        s.fake.chat_requests_for("a") >= 1
    })
    .await;
    assert!(seen, "no chat check:\n{}", s.proxy.logs());
    assert!(
        !s.fake
            .requests()
            .iter()
            .any(|r| r.path == "/user/v5/quota/get"),
        "chat mode does not use the quota endpoint"
    );
}

#[tokio::test]
async fn a_477_keeps_the_token_out_only_until_its_known_quota_reset() {
    // No checks: the reset time can only come from the QuotaMetadata of the token's last answer.
    let s = Setup::start(&["spent", "good"], json!({})).await;
    let reset_ms = jbproxy::epoch::now_ms() + 2_000;
    s.fake.set_quota("spent", 299_999.0, 300_000.0, reset_ms);
    chat_ok(&s, "spends the last unit").await;
    chat_ok(&s, "good's turn").await;
    chat_ok(&s, "477 on spent").await;
    let stats = wait_for_state(&s, "spent", "exhausted", Duration::from_secs(1)).await;
    assert_eq!(token(&stats, "spent")["failures"]["quota_exhausted"], 1);
    let back = common::eventually(Duration::from_secs(6), || async {
        chat_ok(&s, "again").await;
        s.fake.chat_requests_for("spent") >= 3
    })
    .await;
    assert!(
        back,
        "spent stayed out past its reset:\n{:#}",
        token(&common::pool::stats(&s).await, "spent")
    );
}
