//! The status page's server side over HTTP: the operator actions (disable/enable a token until the next reload,
//! health checks on demand), `/stats/traffic` (the last hour in 10-second samples, requests per model), and the page's
//! own headers.

use std::time::Duration;

use serde_json::{Value, json};

use jbproxy::fake_upstream::Behaviour;

use crate::common::pool::{chat_ok, stats, token};
use crate::common::serve::{KEY, Setup};

async fn post(s: &Setup, path: &str) -> (u16, Value) {
    let response = s
        .client
        .post(s.url(path))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_disabled_token_stops_serving_at_once_until_enabled_or_the_next_reload() {
    let s = Setup::start(&["alpha", "beta", "gamma"], json!({})).await;
    for i in 0..3 {
        chat_ok(&s, &format!("warm {i}")).await;
    }

    let (status, body) = post(&s, "/tokens/alpha/disable").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(body["token"]["state"], "disabled-by-operator");
    let alpha_calls = s.fake.chat_requests_for("alpha");
    for i in 0..9 {
        chat_ok(&s, &format!("while disabled {i}")).await;
    }
    assert_eq!(
        s.fake.chat_requests_for("alpha"),
        alpha_calls,
        "alpha served while disabled"
    );
    let alpha = token(&stats(&s).await, "alpha").clone();
    assert_eq!(alpha["state"], "disabled-by-operator");
    assert_eq!(alpha["usable"], false);
    assert!(
        alpha["reason"]
            .as_str()
            .is_some_and(|r| r.contains("until the next reload")),
        "{alpha}"
    );
    let metrics = s.get("/metrics").await.text().await.expect("metrics");
    let gauge = metrics
        .lines()
        .find(|l| {
            l.starts_with("jbproxy_token_state{")
                && l.contains("token=\"alpha\"")
                && l.contains("state=\"disabled-by-operator\"")
        })
        .unwrap_or_else(|| panic!("no disabled-by-operator gauge for alpha:\n{metrics}"));
    assert!(gauge.ends_with(" 1"), "{gauge}");
    let health: Value = s.get("/health").await.json().await.expect("health");
    assert_eq!(health["healthy_tokens"], 2);

    let (_, again) = post(&s, "/tokens/alpha/disable").await;
    assert_eq!(again["changed"], false, "already disabled");

    // A reload makes a new pool: alpha is back, with its counters.
    let requests = alpha["requests"].clone();
    let reload = post(&s, "/reload").await;
    assert_eq!(reload.0, 200, "{}", reload.1);
    let alpha = token(&stats(&s).await, "alpha").clone();
    assert_eq!(alpha["state"], "healthy");
    assert_eq!(alpha["requests"], requests);

    // And enable brings a disabled token back without a reload.
    post(&s, "/tokens/alpha/disable").await;
    let (status, body) = post(&s, "/tokens/alpha/enable").await;
    assert_eq!((status, &body["changed"]), (200, &json!(true)), "{body}");
    let alpha_calls = s.fake.chat_requests_for("alpha");
    for i in 0..3 {
        chat_ok(&s, &format!("enabled {i}")).await;
    }
    assert!(
        s.fake.chat_requests_for("alpha") > alpha_calls,
        "alpha does not serve again"
    );
}

/// A client that finds every token switched off by the operator hears so, and is told not to retry: nothing comes
/// back by itself.
#[tokio::test]
async fn with_every_token_disabled_a_client_is_told_why_and_not_to_retry() {
    let s = Setup::start(&["alpha", "beta"], json!({})).await;
    for name in ["alpha", "beta"] {
        let (status, body) = post(&s, &format!("/tokens/{name}/disable")).await;
        assert_eq!(status, 200, "{body}");
    }
    let answer = s
        .chat(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(answer.status(), 503);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("x-should-retry").as_deref(), Some("false"));
    assert_eq!(header("retry-after").as_deref(), Some("60"));
    let body: Value = answer.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("(2 tokens: 2 disabled by the operator until the next reload)"),
        "{message}"
    );
    assert_eq!(
        s.fake.chat_requests_for("alpha") + s.fake.chat_requests_for("beta"),
        0
    );
}

#[tokio::test]
async fn tokens_are_named_by_fingerprint_or_name_and_the_actions_need_the_admin_key() {
    let s = Setup::start(&["alpha", "beta"], json!({})).await;
    let fingerprint = token(&stats(&s).await, "beta")["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();
    let (status, body) = post(&s, &format!("/tokens/{fingerprint}/disable")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token"]["name"], "beta");

    let (status, body) = post(&s, "/tokens/nobody/enable").await;
    assert_eq!(status, 404, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"nobody\"") && message.contains(&format!("beta ({fingerprint})")),
        "the known tokens are listed: {message}"
    );

    for path in [
        "/tokens/alpha/disable",
        "/tokens/alpha/enable",
        "/tokens/alpha/check",
        "/check",
    ] {
        for key in [None, Some("sk-wrong")] {
            let mut request = s.client.post(s.url(path));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let status = request.send().await.expect("request").status();
            assert_eq!(status, 401, "{path} with key {key:?}");
        }
    }
    let anonymous = s
        .client
        .get(s.url("/stats/traffic"))
        .send()
        .await
        .expect("traffic");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        token(&stats(&s).await, "alpha")["state"],
        "healthy",
        "a refused call changed nothing"
    );
}

#[tokio::test]
async fn health_checks_run_on_demand_even_with_checks_off() {
    // config_for turns periodic checks off: only the endpoints below check anything.
    let s = Setup::start(&["alpha", "beta"], json!({})).await;
    assert!(token(&stats(&s).await, "beta")["last_check"].is_null());

    let (status, body) = post(&s, "/tokens/beta/check").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token"]["last_check"]["result"], "ok");
    assert!(
        body["token"]["quota"]["maximum"].as_f64().is_some(),
        "the check read the quota: {body}"
    );
    assert!(
        token(&stats(&s).await, "alpha")["last_check"].is_null(),
        "only beta was checked"
    );

    s.fake.set_behaviour("alpha", Behaviour::Unauthorized);
    let (status, body) = post(&s, "/check").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["checked"].clone(), body["usable"].clone()),
        (json!(2), json!(1))
    );
    let now = stats(&s).await;
    assert_eq!(token(&now, "alpha")["last_check"]["result"], "unauthorized");
    assert_eq!(token(&now, "alpha")["state"], "invalid");
    assert_eq!(token(&now, "alpha")["last_error"]["kind"], "unauthorized");
    assert_eq!(token(&now, "beta")["last_check"]["result"], "ok");
}

async fn traffic(s: &Setup) -> Value {
    let response = s.get("/stats/traffic").await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("traffic json")
}

#[tokio::test]
async fn traffic_counts_models_at_once_and_closes_a_sample_every_ten_seconds() {
    let s = Setup::start(&["alpha"], json!({})).await;
    let first = traffic(&s).await;
    assert_eq!(
        (first["interval_secs"].clone(), first["capacity"].clone()),
        (json!(10), json!(360))
    );

    for i in 0..3 {
        chat_ok(&s, &format!("counted {i}")).await;
    }
    let unknown = s
        .chat(json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(unknown.status(), 404);
    let models = traffic(&s).await["models"].clone();
    assert_eq!(
        models,
        json!([{"model": "gpt-4o", "requests": 3}]),
        "only answered requests, per model"
    );

    // The four requests land in the sample that closes next (within 10 s of the server's start).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let sample = loop {
        let samples = traffic(&s).await["samples"].clone();
        if let Some(found) = samples
            .as_array()
            .and_then(|a| a.iter().find(|x| x["requests"] != 0))
        {
            break found.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sample with the requests within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sample["requests"], 4, "{sample}");
    assert_eq!(sample["client_errors"], 1, "{sample}");
    assert_eq!(sample["errors"], 0, "{sample}");
    assert_eq!(sample["latency_count"], 3, "{sample}");
    assert!(
        sample["latency_p50_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{sample}"
    );
    let at = sample["at_ms"].as_u64().expect("at_ms");
    let later = s.get(&format!("/stats/traffic?since={at}")).await;
    let later: Value = later.json().await.expect("json");
    assert!(
        later["samples"]
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x["at_ms"].as_u64() > Some(at))),
        "since= filters: {later}"
    );
    let bad = s.get("/stats/traffic?since=yesterday").await;
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.expect("json");
    assert_eq!(bad["error"]["param"], "since");
}

#[tokio::test]
async fn the_page_is_served_compressed_with_strict_headers_and_no_data() {
    let s = Setup::start(&["alpha"], json!({})).await;
    for (path, kind, marker) in [
        ("/ui", "text/html", "<!doctype html>"),
        ("/ui/app.js", "text/javascript", "'use strict';"),
        ("/ui/app.css", "text/css", "prefers-color-scheme"),
        ("/ui/icon.svg", "image/svg+xml", "<svg"),
    ] {
        // No key: the page itself is static; its data needs the key.
        let response = s
            .client
            .get(s.url(path))
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await
            .expect("page");
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            header("content-type").starts_with(kind),
            "{path}: {}",
            header("content-type")
        );
        assert_eq!(header("content-encoding"), "gzip", "{path}");
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: CSP {csp:?} lacks {directive}"
            );
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let gzip = response.bytes().await.expect("body");
        let mut body = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut body)
            .expect("a gzip body");
        assert!(body.contains(marker), "{path}: {body:.200}");
        assert!(
            !body.contains("alpha") && !body.contains(KEY),
            "{path} carries data"
        );
    }

    // A client that takes no gzip is told how to get the page.
    let plain = s.client.get(s.url("/ui")).send().await.expect("page");
    assert_eq!(plain.status(), 406);
    let refusal: Value = plain.json().await.expect("json");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--compressed")),
        "{refusal}"
    );

    let slash = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(s.url("/ui/"))
        .send()
        .await
        .expect("ui/");
    assert_eq!(slash.status(), 308);
    assert_eq!(slash.headers()["location"], "../ui");
    let missing = s
        .client
        .get(s.url("/ui/nothing.js"))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status(), 404);
}
