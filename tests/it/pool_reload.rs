//! Hot reload over real sockets: the watched config file, SIGHUP and `POST /reload` each swap in a new config; a
//! broken file keeps the old one; unchanged tokens keep their state; reloading under load fails no request.

use crate::common;

use std::time::Duration;

use common::eventually;
use common::pool::{
    chat_ok, names, post_reload, running_config, stats, token, wait_for_state, write_config,
};
use common::serve::{KEY, Setup, sse_data, streaming, token_entries};
use jbproxy::fake_upstream::{Behaviour, FakeOptions};
use serde_json::{Value, json};

/// The running config with a token `name` added.
fn with_token(config: &Value, name: &str) -> Value {
    let mut config = config.clone();
    if let Some(tokens) = config["jetbrains_tokens"].as_array_mut() {
        tokens.extend(token_entries(&[name]));
    }
    config
}

async fn wait_for_names(s: &Setup, expected: &[&str]) {
    let reached = eventually(Duration::from_secs(5), || async {
        names(&stats(s).await) == expected
    })
    .await;
    assert!(
        reached,
        "tokens are {:?}, not {expected:?}\nlog:\n{}",
        names(&stats(s).await),
        s.proxy.logs()
    );
}

#[tokio::test]
async fn a_changed_config_file_is_reloaded_by_the_watcher() {
    let s = Setup::start(&["a", "b"], json!({"watch_config": true})).await;
    assert!(
        eventually(Duration::from_secs(3), || async {
            s.proxy.logs().contains("watching ")
        })
        .await,
        "no watcher:\n{}",
        s.proxy.logs()
    );
    let config = running_config(&s);
    write_config(&s, &with_token(&config, "c"));
    wait_for_names(&s, &["a", "b", "c"]).await;
    assert!(
        s.proxy
            .logs()
            .contains("config reloaded (config file changed)")
    );
    // A broken save keeps the running config; the next good one is picked up.
    std::fs::write(common::pool::config_path(&s), "{\"jetbrains_tokens\": [").expect("write");
    assert!(
        eventually(Duration::from_secs(5), || async {
            s.proxy.logs().contains("keeping the running config")
        })
        .await,
        "{}",
        s.proxy.logs()
    );
    chat_ok(&s, "still serving").await;
    assert_eq!(names(&stats(&s).await), ["a", "b", "c"]);
    write_config(&s, &config);
    wait_for_names(&s, &["a", "b"]).await;
}

#[tokio::test]
async fn sighup_reloads_the_config() {
    let s = Setup::start(&["a"], json!({})).await;
    write_config(&s, &with_token(&running_config(&s), "b"));
    s.proxy.signal("HUP");
    wait_for_names(&s, &["a", "b"]).await;
    assert!(s.proxy.logs().contains("config reloaded (SIGHUP)"));
    chat_ok(&s, "after sighup").await;
}

#[tokio::test]
async fn post_reload_swaps_in_the_new_config_and_says_what_changed() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut config = with_token(&running_config(&s), "b");
    config["load_balance_strategy"] = json!("random");
    write_config(&s, &config);
    let response = post_reload(&s).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "reloaded");
    assert_eq!(body["summary"]["tokens"], 2);
    assert_eq!(body["summary"]["kept_state"], 1);
    assert_eq!(body["summary"]["strategy"], "random");
    let stats = stats(&s).await;
    assert_eq!(names(&stats), ["a", "b"]);
    assert_eq!(stats["strategy"], "random");
}

#[tokio::test]
async fn a_broken_file_keeps_the_old_config_and_reload_says_why() {
    let s = Setup::start(&["a"], json!({})).await;
    let path = common::pool::config_path(&s);
    std::fs::write(&path, "{\n  \"jetbrains_tokens\": [\n").expect("write");
    let response = post_reload(&s).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("running config is unchanged"), "{message}");
    assert!(message.contains("config.json"), "names the file: {message}");
    assert_eq!(body["error"]["code"], "invalid_config");
    // Valid JSON, invalid config: also refused with its reason.
    std::fs::write(
        &path,
        r#"{"jetbrains_tokens": [{"token": "x", "weight": 0}]}"#,
    )
    .expect("write");
    let response = post_reload(&s).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("weight"),
        "{body}"
    );
    assert_eq!(names(&stats(&s).await), ["a"]);
    chat_ok(&s, "old config serves").await;
    assert!(s.proxy.logs().contains("keeping the running config"));
}

#[tokio::test]
async fn unchanged_tokens_keep_their_state_and_counters_across_a_reload() {
    let s = Setup::start(&["dead", "good"], json!({})).await;
    s.fake.set_behaviour("dead", Behaviour::Unauthorized);
    for i in 0..3 {
        chat_ok(&s, &format!("r{i}")).await;
    }
    let before = wait_for_state(&s, "dead", "invalid", Duration::from_secs(1)).await;
    write_config(&s, &with_token(&running_config(&s), "new"));
    assert_eq!(post_reload(&s).await.status(), 200);
    let after = stats(&s).await;
    for name in ["dead", "good"] {
        let (b, a) = (token(&before, name), token(&after, name));
        assert_eq!(a["state"], b["state"], "{name}");
        assert_eq!(a["requests"], b["requests"], "{name}");
        assert_eq!(a["failures"], b["failures"], "{name}");
        assert_eq!(a["since"], b["since"], "{name}");
    }
    assert_eq!(token(&after, "new")["requests"], 0);
    // Still out: the dead token is not asked again after the reload.
    for i in 0..4 {
        chat_ok(&s, &format!("after {i}")).await;
    }
    assert_eq!(s.fake.chat_requests_for("dead"), 1);
}

#[tokio::test]
async fn reloading_under_load_fails_no_request() {
    let options = FakeOptions {
        content_events: 5,
        event_delay: Duration::from_millis(25),
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a", "b"], json!({}), options).await;
    let base = running_config(&s);
    let grown = with_token(&base, "c");
    let mut clients = Vec::new();
    for c in 0..16 {
        let (client, url) = (s.client.clone(), s.url("/v1/chat/completions"));
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for r in 0..4 {
                let response = client
                    .post(&url)
                    .bearer_auth(KEY)
                    .json(&streaming(&format!("client {c} request {r}")))
                    .send()
                    .await;
                match response {
                    Ok(resp) if resp.status() == 200 => {
                        let body = resp.text().await.unwrap_or_default();
                        if sse_data(&body).last().map(String::as_str) != Some("[DONE]") {
                            failures.push(format!("cut: {body}"));
                        }
                    }
                    Ok(resp) => failures.push(format!("status {}", resp.status())),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            failures
        }));
    }
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        write_config(&s, if i % 2 == 0 { &grown } else { &base });
        if i % 3 == 2 {
            s.proxy.signal("HUP");
        } else {
            assert_eq!(post_reload(&s).await.status(), 200);
        }
    }
    let mut failures = Vec::new();
    for client in clients {
        failures.extend(client.await.expect("client task"));
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    let served: usize = ["a", "b", "c"]
        .iter()
        .map(|n| s.fake.chat_requests_for(n))
        .sum();
    assert_eq!(served, 64);
}
