//! `serve` as a user starts it: the demo, and the refusals that come before any socket is opened.

use crate::common;

use std::time::Duration;

use common::proxy::Proxy;
use serde_json::{Value, json};

#[tokio::test]
async fn the_demo_serves_with_a_made_up_key_and_prints_a_working_curl_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = Proxy::spawn(
        dir,
        &["serve".into(), "--demo".into(), "-p".into(), "0".into()],
        &[],
    );
    let banner = proxy.stdout_with("Stop with Ctrl-C");
    assert!(banner.contains("curl"), "{banner}");
    let key = banner
        .lines()
        .find_map(|l| l.strip_prefix("API key made up for this demo: "))
        .expect("the made-up key")
        .trim()
        .to_string();
    assert!(key.len() > 30);
    assert!(proxy.logs().contains("DEMO MODE"));

    let client = reqwest::Client::new();
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]});
    let response = client
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .expect("text")
            .contains("demo")
    );
    let wrong = client
        .post(proxy.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);
}

/// Issue 12.8: the banner went out with `println!`, which panics on a closed stdout (`serve --demo | head -3`),
/// so the demo died before serving; it now goes through the broken-pipe-safe output path.
#[tokio::test]
async fn the_demo_serves_when_nobody_reads_its_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = Proxy::spawn_stdout_closed(
        dir,
        &["serve".into(), "--demo".into(), "-p".into(), "0".into()],
    );
    let health = reqwest::get(proxy.url("/health")).await.expect("request");
    assert_eq!(health.status(), 200, "{}", proxy.logs());
}

#[test]
fn the_demo_never_prints_a_key_the_user_chose() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = Proxy::spawn(
        dir,
        &[
            "serve".into(),
            "--demo".into(),
            "-p".into(),
            "0".into(),
            "-k".into(),
            "sk-my-own-secret-key".into(),
        ],
        &[],
    );
    let stdout = proxy.stdout_with("Stop with Ctrl-C");
    assert!(stdout.contains("$YOUR_KEY"), "{stdout}");
    assert!(
        !stdout.contains("sk-my-own-secret-key") && !proxy.logs().contains("sk-my-own-secret-key")
    );
}

#[test]
fn serve_without_tokens_points_to_generate_config_and_the_demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = common::jbproxy(dir.path())
        .arg("serve")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("generate-config") && stderr.contains("--demo"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_an_open_address_without_a_bearer_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = common::jwt(json!({"exp": common::unix_in(3600)}));
    let output = common::jbproxy(dir.path())
        .args(["serve", "-c", &token, "-h", "0.0.0.0", "-p", "0"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bearer_token"), "{stderr}");
    assert!(!stderr.contains(&token));
}

#[test]
fn a_port_in_use_is_a_clear_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let token = common::jwt(json!({"exp": common::unix_in(3600)}));
    let output = common::jbproxy(dir.path())
        .args(["serve", "-c", &token, "-p", &port])
        .timeout(Duration::from_secs(10))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen on"));
}

#[test]
fn json_logs_for_operators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = Proxy::spawn(
        dir,
        &[
            "serve".into(),
            "--demo".into(),
            "-p".into(),
            "0".into(),
            "--log-format".into(),
            "json".into(),
        ],
        &[],
    );
    let logs = proxy.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("listening on"))
        .expect("listening line");
    let parsed: Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(parsed["level"], "INFO");
}
