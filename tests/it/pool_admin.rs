//! The management surface over real sockets: `/stats` fields (and never a token), `/metrics` Prometheus text,
//! admin authentication, `/health` counts, `/config` redaction, and `jbproxy stats` against a running proxy.

use crate::common;

use std::time::Duration;

use common::pool::{chat_ok, stats, token, wait_for_state};
use common::serve::{KEY, Setup, streaming};
use jbproxy::fake_upstream::{Behaviour, mint_jwt};
use serde_json::{Value, json};

const ADMIN: &str = "sk-admin-key-0123456789";

/// Every JWT (and its signature alone) the config of `s` holds, to check that none leaks.
fn secrets(s: &Setup) -> Vec<String> {
    let text = std::fs::read_to_string(common::pool::config_path(s)).expect("config");
    let config: Value = serde_json::from_str(&text).expect("json");
    let mut out = Vec::new();
    for t in config["jetbrains_tokens"].as_array().into_iter().flatten() {
        if let Some(jwt) = t["token"].as_str() {
            out.push(jwt.to_string());
            if let Some(sig) = jwt.rsplit('.').next() {
                out.push(sig.to_string());
            }
        }
    }
    out
}

fn assert_no_secret(s: &Setup, text: &str, what: &str) {
    for secret in secrets(s) {
        assert!(!text.contains(&secret), "{what} shows a token");
    }
    assert!(!text.contains(KEY), "{what} shows the client key");
}

#[tokio::test]
async fn stats_shows_every_field_and_never_a_token() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    for i in 0..3 {
        chat_ok(&s, &format!("r{i}")).await;
    }
    let stats = wait_for_state(&s, "b", "invalid", Duration::from_secs(1)).await;
    for key in [
        "strategy",
        "priority_mode",
        "uptime_secs",
        "totals",
        "tokens",
    ] {
        assert!(stats.get(key).is_some(), "no {key}: {stats:#}");
    }
    assert_eq!(stats["strategy"], "round_robin");
    assert_eq!(stats["totals"]["tokens"], 2);
    assert_eq!(stats["totals"]["usable"], 1);
    assert_eq!(stats["totals"]["requests"], 4);
    let a = token(&stats, "a");
    for key in [
        "name",
        "fingerprint",
        "state",
        "reason",
        "since",
        "until",
        "usable",
        "requests",
        "successes",
        "failures",
        "inflight",
        "avg_latency_ms",
        "last_used",
        "quota",
        "expires_at",
        "expires_in_secs",
    ] {
        assert!(a.get(key).is_some(), "token has no {key}: {a:#}");
    }
    assert_eq!(a["state"], "healthy");
    assert_eq!(a["requests"], 3);
    assert_eq!(a["successes"], 3);
    assert_eq!(a["inflight"], 0);
    assert!(
        a["fingerprint"]
            .as_str()
            .expect("fp")
            .starts_with("sha256:")
    );
    assert!(a["avg_latency_ms"].as_f64().expect("latency") >= 0.0);
    assert!(a["last_used"].is_string());
    // The fake's QuotaMetadata events are recorded on the token.
    assert_eq!(a["quota"]["maximum"], 300_000.0, "{a:#}");
    assert!(a["expires_in_secs"].as_i64().expect("exp") > 3000);
    let b = token(&stats, "b");
    assert_eq!(b["state"], "invalid");
    assert!(
        b["reason"].as_str().expect("reason").contains("401"),
        "{b:#}"
    );
    assert_eq!(b["failures"]["unauthorized"], 1);
    assert_eq!(b["usable"], false);
    assert_no_secret(&s, &stats.to_string(), "/stats");
}

#[tokio::test]
async fn stats_counts_streams_in_flight() {
    let s = Setup::start(&["a"], json!({})).await;
    s.fake.set_behaviour(
        "a",
        Behaviour::PauseBetweenEvents(Duration::from_millis(400)),
    );
    let response = s.chat(streaming("slow")).await;
    assert_eq!(response.status(), 200);
    let stats = stats(&s).await;
    assert_eq!(token(&stats, "a")["inflight"], 1, "{stats:#}");
    assert_eq!(stats["totals"]["inflight"], 1);
    let _ = response.text().await;
    let stats = common::pool::stats(&s).await;
    assert_eq!(token(&stats, "a")["inflight"], 0);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_requests_states_and_sub_ms_buckets() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    for i in 0..3 {
        chat_ok(&s, &format!("r{i}")).await;
    }
    let unknown = s
        .chat(json!({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(unknown.status(), 404);
    let response = s.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("text");
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    let value = |prefix: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert!(has("# TYPE jbproxy_requests_total counter"), "{text}");
    let ok = text
        .lines()
        .find(|l| {
            l.starts_with("jbproxy_requests_total{")
                && l.contains("status=\"200\"")
                && l.contains("model=\"gpt-4o\"")
        })
        .unwrap_or_else(|| panic!("no 200 gpt-4o request count:\n{text}"));
    assert!(ok.ends_with(" 3"), "{ok}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("jbproxy_requests_total{") && l.contains("status=\"404\"")),
        "{text}"
    );
    assert_eq!(
        value("jbproxy_token_state{token=\"a\",state=\"healthy\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("jbproxy_token_state{token=\"b\",state=\"invalid\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("jbproxy_token_state{token=\"b\",state=\"healthy\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value("jbproxy_token_usable{token=\"b\"}"),
        Some(0.0),
        "{text}"
    );
    assert!(has("jbproxy_token_inflight{token=\"a\"}"), "{text}");
    assert!(
        has("jbproxy_token_ejections_total{reason=\"invalid\"}"),
        "{text}"
    );
    assert!(
        has("jbproxy_proxy_overhead_seconds_bucket{le=\"0.0001\"}"),
        "sub-ms buckets:\n{text}"
    );
    assert!(
        has("jbproxy_proxy_overhead_seconds_bucket{le=\"0.000025\"}"),
        "{text}"
    );
    assert!(has("jbproxy_upstream_latency_seconds_bucket{"), "{text}");
    assert_no_secret(&s, &text, "/metrics");
}

async fn admin_status(s: &Setup, method: reqwest::Method, path: &str, key: Option<&str>) -> u16 {
    let mut request = s.client.request(method, s.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("request").status().as_u16()
}

#[tokio::test]
async fn admin_endpoints_take_the_admin_token_when_one_is_set() {
    let s = Setup::start(&["a"], json!({"admin_token": ADMIN})).await;
    for (method, path) in [
        (reqwest::Method::GET, "/stats"),
        (reqwest::Method::GET, "/config"),
        (reqwest::Method::GET, "/metrics"),
        (reqwest::Method::POST, "/reload"),
    ] {
        assert_eq!(
            admin_status(&s, method.clone(), path, Some(ADMIN)).await,
            200,
            "{path} with the admin token"
        );
        assert_eq!(
            admin_status(&s, method.clone(), path, Some(KEY)).await,
            401,
            "{path} with the client key"
        );
        assert_eq!(
            admin_status(&s, method.clone(), path, Some("wrong")).await,
            401,
            "{path} with a wrong key"
        );
        assert_eq!(
            admin_status(&s, method.clone(), path, None).await,
            401,
            "{path} without a key"
        );
    }
    // The client key still serves chats, and /health stays public.
    chat_ok(&s, "client").await;
    assert_eq!(
        admin_status(&s, reqwest::Method::GET, "/health", None).await,
        200
    );
}

#[tokio::test]
async fn admin_endpoints_take_the_bearer_token_without_an_admin_token() {
    let s = Setup::start(&["a"], json!({})).await;
    for path in ["/stats", "/config", "/metrics"] {
        assert_eq!(
            admin_status(&s, reqwest::Method::GET, path, Some(KEY)).await,
            200,
            "{path}"
        );
        assert_eq!(
            admin_status(&s, reqwest::Method::GET, path, Some("wrong")).await,
            401,
            "{path}"
        );
        assert_eq!(
            admin_status(&s, reqwest::Method::GET, path, None).await,
            401,
            "{path}"
        );
    }
    let x_api_key = s
        .client
        .get(s.url("/stats"))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(x_api_key.status(), 200);
}

#[tokio::test]
async fn config_is_redacted() {
    let s = Setup::start(&["a", "b"], json!({"admin_token": ADMIN})).await;
    let response = s
        .client
        .get(s.url("/config"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    assert_no_secret(&s, &text, "/config");
    assert!(!text.contains(ADMIN), "/config shows the admin token");
    assert!(
        text.contains("sha256:"),
        "tokens are shown by fingerprint: {text}"
    );
}

#[tokio::test]
async fn health_reports_usable_and_total_counts() {
    let s = Setup::start(&["a", "b", "c"], json!({})).await;
    let health: Value = s.get("/health").await.json().await.expect("json");
    assert_eq!(health["healthy_tokens"], 3);
    assert_eq!(health["total_tokens"], 3);
    assert_eq!(health["status"], "ok");
    s.fake.set_behaviour("a", Behaviour::Unauthorized);
    chat_ok(&s, "one").await;
    let response = s
        .client
        .get(s.url("/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "public");
    let health: Value = response.json().await.expect("json");
    assert_eq!(health["healthy_tokens"], 2);
    assert_eq!(health["total_tokens"], 3);
}

#[tokio::test]
async fn the_stats_command_shows_a_running_proxy_as_tables_and_json() {
    let tokens = json!([
        {"token": mint_jwt("alpha", Duration::from_secs(7200)), "name": "alpha"},
        {"token": mint_jwt("beta", Duration::from_secs(7200)), "name": "beta"},
    ]);
    let s = Setup::start(
        &[],
        json!({"jetbrains_tokens": tokens, "admin_token": ADMIN}),
    )
    .await;
    s.fake.set_behaviour("beta", Behaviour::Unauthorized);
    chat_ok(&s, "one").await;
    chat_ok(&s, "two").await;
    let dir = common::tempdir();
    let base = s.url("");
    let run =
        common::run(common::jbproxy(dir.path()).args(["stats", "--url", &base, "--token", ADMIN]));
    assert_eq!(run.code, Some(0), "{}", run.all());
    for needle in [
        "alpha",
        "beta",
        "healthy",
        "invalid",
        "round_robin",
        "1 / 2",
        "sha256:",
    ] {
        assert!(
            run.stdout.contains(needle),
            "no {needle} in:\n{}",
            run.stdout
        );
    }
    let run = common::run(
        common::jbproxy(dir.path()).args(["stats", "--url", &base, "--token", ADMIN, "--json"]),
    );
    assert_eq!(run.code, Some(0), "{}", run.all());
    let json = run.json();
    assert_eq!(json["totals"]["tokens"], 2);
    assert_eq!(token(&json, "beta")["state"], "invalid");
    assert_no_secret(&s, &run.all(), "jbproxy stats");
    // The key defaults from the config; a wrong one is refused with a hint.
    let config = common::pool::config_path(&s);
    let run = common::run(common::jbproxy(dir.path()).args([
        "--config",
        config.to_str().expect("utf-8 path"),
        "stats",
        "--url",
        &base,
        "--json",
    ]));
    assert_eq!(run.code, Some(0), "{}", run.all());
    let run = common::run(
        common::jbproxy(dir.path()).args(["stats", "--url", &base, "--token", "wrong"]),
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(run.stderr.contains("401"), "{}", run.stderr);
}

async fn metrics(s: &Setup) -> String {
    s.get("/metrics").await.text().await.expect("text")
}

#[tokio::test]
async fn metrics_forget_a_token_removed_by_a_reload() {
    let s = Setup::start(&["keep", "gone"], json!({})).await;
    assert!(metrics(&s).await.contains("token=\"gone\""));
    let text = std::fs::read_to_string(common::pool::config_path(&s)).expect("config");
    let mut config: Value = serde_json::from_str(&text).expect("json");
    if let Some(tokens) = config["jetbrains_tokens"].as_array_mut() {
        tokens.retain(|t| t["name"] != "gone");
    }
    common::pool::write_config(&s, &config);
    let reload = s
        .client
        .post(s.url("/reload"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("reload");
    assert_eq!(reload.status(), 200);
    // A removed token must not keep reporting itself healthy (and usable) forever.
    let gone = common::eventually(Duration::from_secs(4), || async {
        !metrics(&s).await.contains("token=\"gone\"")
    })
    .await;
    assert!(gone, "{}", metrics(&s).await);
    assert!(metrics(&s).await.contains("token=\"keep\""));
}
