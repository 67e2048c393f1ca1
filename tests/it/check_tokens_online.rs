//! `check-tokens --online` against the fake upstream: validity and quota per token from the quota endpoint, and
//! the exit code with and without `--min-healthy`.

use crate::common;

use std::time::Duration;

use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream, mint_expired_jwt, mint_jwt};
use serde_json::json;

async fn fake_and_config() -> (FakeUpstream, tempfile::TempDir) {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.set_behaviour("dead", Behaviour::Unauthorized);
    fake.set_behaviour("spent", Behaviour::QuotaExhausted);
    let dir = common::tempdir();
    let config = json!({
        "upstream_url": fake.url(),
        "jetbrains_tokens": [
            {"name": "good", "token": mint_jwt("good", Duration::from_secs(7 * 86_400))},
            {"name": "dead", "token": mint_jwt("dead", Duration::from_secs(7 * 86_400))},
            {"name": "spent", "token": mint_jwt("spent", Duration::from_secs(7 * 86_400))},
            {"name": "old", "token": mint_expired_jwt("old")},
        ],
    });
    common::write(dir.path(), "config.json", &config.to_string());
    (fake, dir)
}

fn check(dir: &std::path::Path, extra: &[&str]) -> common::Run {
    let mut cmd = common::jbproxy(dir);
    cmd.args(["--config", "config.json", "check-tokens", "--online"])
        .args(extra);
    common::run(&mut cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_check_shows_validity_and_quota_and_fails_on_any_bad_token() {
    let (fake, dir) = fake_and_config().await;
    let run = check(dir.path(), &["--json"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    let json = run.json();
    let row = |name: &str| {
        json["tokens"]
            .as_array()
            .and_then(|t| t.iter().find(|r| r["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {json:#}"))
    };
    assert_eq!(row("good")["status"], "ok");
    assert_eq!(row("good")["valid"], true);
    assert_eq!(row("good")["quota"]["maximum"], 300_000.0);
    assert_eq!(row("dead")["status"], "rejected");
    assert_eq!(row("dead")["valid"], false);
    assert_eq!(row("spent")["status"], "no quota");
    assert_eq!(row("spent")["quota"]["left"], 0.0);
    assert_eq!(row("old")["status"], "expired");
    assert_eq!(
        row("old")["valid"],
        json!(null),
        "an expired JWT is not sent"
    );
    assert_eq!(json["healthy"], 1);
    assert_eq!(json["failed"], 3);
    let asked: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/user/v5/quota/get")
        .filter_map(|r| r.token_name.clone())
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(!asked.contains(&"old".to_string()));
    assert!(
        fake.requests().iter().all(|r| !r.path.contains("/stream/")),
        "no chat: checks cost no quota"
    );
    // Quiet off a terminal: no progress bar in the output.
    assert!(run.stderr.trim().is_empty(), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_table_has_validity_and_quota_columns() {
    let (_fake, dir) = fake_and_config().await;
    let run = check(dir.path(), &[]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    for needle in [
        "valid",
        "quota left",
        "rejected",
        "no quota",
        "300000 / 300000",
        "3 of 4 tokens failed",
    ] {
        assert!(run.stdout.contains(needle), "no {needle}:\n{}", run.stdout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_healthy_accepts_a_partly_working_pool() {
    let (_fake, dir) = fake_and_config().await;
    let run = check(dir.path(), &["--min-healthy", "1"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout.contains("1 healthy (at least 1 required)"),
        "{}",
        run.stdout
    );
    let run = check(dir.path(), &["--min-healthy", "2"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_fails_the_check_with_the_reason() {
    let dir = common::tempdir();
    let config = json!({
        "upstream_url": "http://127.0.0.1:9",
        "jetbrains_tokens": [{"name": "good", "token": mint_jwt("good", Duration::from_secs(7 * 86_400))}],
    });
    common::write(dir.path(), "config.json", &config.to_string());
    let run = check(dir.path(), &["--json"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    let json = run.json();
    assert_eq!(json["tokens"][0]["status"], "check failed");
    assert!(
        json["tokens"][0]["detail"]
            .as_str()
            .expect("detail")
            .contains("connect"),
        "{json:#}"
    );
}
