//! Helpers for the pool tests: reading `/stats`, polling for a condition with a deadline instead of sleeping, and
//! the order in which tokens reached the fake upstream.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use jbproxy::fake_upstream::FakeUpstream;

use super::serve::{Served, Setup, user};

/// The proxy's `/stats` JSON (fetched with the client key).
pub async fn stats<P: Served>(s: &Setup<P>) -> Value {
    let response = s.get("/stats").await;
    assert_eq!(response.status(), 200, "GET /stats");
    response.json().await.expect("stats json")
}

/// One token's entry in a `/stats` answer.
pub fn token<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["tokens"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no token {name} in /stats: {stats:#}"))
}

/// The names in a `/stats` answer, in pool order.
pub fn names(stats: &Value) -> Vec<String> {
    stats["tokens"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `/stats` shows token `name` in `state`; panics with the last stats and the proxy log otherwise.
pub async fn wait_for_state<P: Served>(
    s: &Setup<P>,
    name: &str,
    state: &str,
    timeout: Duration,
) -> Value {
    let reached = super::eventually(timeout, async || {
        token(&stats(s).await, name)["state"] == state
    })
    .await;
    let last = stats(s).await;
    assert!(
        reached,
        "token {name} never became {state}; last /stats: {:#}\nlog:\n{}",
        token(&last, name),
        s.proxy.logs()
    );
    last
}

/// The token names of the chat requests the fake received, in arrival order (not `profiles/v8`, also under
/// `/llm/`).
pub fn chat_order(fake: &FakeUpstream) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.path.contains("/stream/"))
        .map(|r| r.token_name.clone().unwrap_or_default())
        .collect()
}

/// Sends a non-streaming chat and asserts it succeeded.
pub async fn chat_ok<P: Served>(s: &Setup<P>, text: &str) {
    let response = s.chat(user(text)).await;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "chat failed: {body}\nlog:\n{}", s.proxy.logs());
}

/// The config the proxy was started with (read back from its file).
pub fn running_config(s: &Setup) -> Value {
    let text = std::fs::read_to_string(config_path(s)).expect("read config");
    serde_json::from_str(&text).expect("config json")
}

/// `POST /reload` with the client key.
pub async fn post_reload(s: &Setup) -> reqwest::Response {
    s.client
        .post(s.url("/reload"))
        .bearer_auth(super::serve::KEY)
        .send()
        .await
        .expect("POST /reload")
}

/// The proxy's config file, for reload tests.
pub fn config_path(s: &Setup) -> PathBuf {
    s.proxy.dir.path().join("config.json")
}

/// Rewrites the proxy's config file in place.
pub fn write_config(s: &Setup, config: &Value) {
    let text = serde_json::to_string_pretty(config).expect("json");
    std::fs::write(config_path(s), text).expect("write config");
}
