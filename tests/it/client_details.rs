//! What clients and coding agents see at the edges (issues 14 and 18): the 429/503 answers and their `Retry-After`
//! when no token can serve, wrong methods and malformed requests, `HEAD /`, the model fallback for ids newer than the
//! table, and `/v1/models` in Anthropic's shape. All over real sockets against `jbproxy serve` and the fake upstream.

use std::time::Duration;

use jbproxy::fake_upstream::Behaviour;
use serde_json::{Value, json};

use crate::common;
use crate::common::serve::{KEY, Setup, user};

const NO_TOKENS: &str = "no available JWT tokens: no healthy JWT tokens available";

async fn anthropic(s: &Setup, body: &Value) -> reqwest::Response {
    s.client
        .post(s.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii"))
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 14 item 2: Retry-After capped and rounded up, 429 for rate limits, x-should-retry, a message naming causes.

#[tokio::test]
async fn a_rate_limited_pool_is_a_429_whose_retry_after_rounds_the_cool_down_up() {
    let s = Setup::start(&["a"], json!({})).await;
    s.fake.set_behaviour(
        "a",
        Behaviour::RateLimited {
            retry_after_secs: Some(2),
        },
    );
    let response = s.chat(user("hi")).await;
    assert_eq!(response.status(), 429);
    // The cool-down has a few milliseconds less than 2 s left: rounded down that was "1", and clients came back
    // before the token did.
    assert_eq!(header(&response, "retry-after"), Some("2"));
    assert_eq!(
        header(&response, "x-should-retry"),
        None,
        "retrying is right"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "no_available_tokens");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("every usable JWT token is rate limited by JetBrains AI (1 token: 1 rate limited (429) until 20"),
        "{message}"
    );
    assert!(message.ends_with("; retry after 2 s"), "{message}");

    // The Anthropic face: the same status and headers, Anthropic's error type.
    let response = anthropic(
        &s,
        &json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 429);
    assert!(
        header(&response, "retry-after").is_some_and(|v| v == "1" || v == "2"),
        "{:?}",
        response.headers()
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn an_upstream_retry_after_beyond_the_cap_is_capped_and_says_not_to_retry_and_until_when() {
    let s = Setup::start(&["a"], json!({})).await;
    s.fake.set_behaviour(
        "a",
        Behaviour::RateLimited {
            retry_after_secs: Some(3599),
        },
    );
    for _ in 0..2 {
        let response = s.chat(user("hi")).await;
        assert_eq!(response.status(), 429);
        assert_eq!(header(&response, "retry-after"), Some("60"));
        assert_eq!(header(&response, "x-should-retry"), Some("false"));
        let body: Value = response.json().await.expect("json");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("1 rate limited (429) until 20"),
            "{message}"
        );
        assert!(
            message.contains("no token is expected back within 60 s, so do not retry before 20"),
            "{message}"
        );
    }
    assert_eq!(
        s.fake.chat_requests_for("a"),
        1,
        "a cooling token is not asked"
    );
}

#[tokio::test]
async fn quota_and_rejected_tokens_are_a_503_that_names_each_cause_and_keeps_the_original_message_first()
 {
    let s = Setup::start(&["q1", "q2", "dead"], json!({})).await;
    s.fake.set_behaviour("q1", Behaviour::QuotaExhausted);
    s.fake.set_behaviour("q2", Behaviour::QuotaExhausted);
    s.fake.set_behaviour("dead", Behaviour::Unauthorized);
    for stream in [false, true] {
        let mut body = user("hi");
        body["stream"] = json!(stream);
        let response = s.chat(body).await;
        assert_eq!(response.status(), 503);
        assert_eq!(header(&response, "retry-after"), Some("60"));
        assert_eq!(header(&response, "x-should-retry"), Some("false"));
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["type"], "service_unavailable_error");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with(&format!(
                "{NO_TOKENS} (3 tokens: 2 out of quota, the first until 20"
            )),
            "{message}"
        );
        assert!(
            message.contains(", 1 rejected (401)); no token is expected back within 60 s"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn rejected_tokens_alone_say_that_only_new_jwts_help() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::Unauthorized);
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    let response = anthropic(
        &s,
        &json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "x-should-retry"), Some("false"));
    assert_eq!(header(&response, "retry-after"), Some("60"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "overloaded_error");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!(
            "{NO_TOKENS} (2 tokens: 2 rejected (401)); no token will serve again by itself"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_short_ejection_is_a_503_with_a_retry_after_and_no_advice_against_retrying() {
    let s = Setup::start(&["a"], json!({"max_attempts": 1})).await;
    s.fake.set_behaviour("a", Behaviour::ServerError);
    // Three faults eject the token for 5 s; the third request's own failure already finds nothing left.
    for _ in 0..2 {
        assert_eq!(s.chat(user("x")).await.status(), 502);
    }
    let response = s.chat(user("x")).await;
    assert_eq!(response.status(), 503);
    let retry_after: u64 = header(&response, "retry-after")
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&response, "x-should-retry"), None);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("1 failing (ejected after upstream errors) until 20"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 14 item 5: a wrong method is a 405 with a JSON error and `Allow`; axum's own refusals are JSON too.

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_a_405_with_a_json_error_and_allow() {
    let s = Setup::start(&["a"], json!({})).await;
    let response = s.get("/v1/chat/completions").await;
    assert_eq!(response.status(), 405);
    assert_eq!(header(&response, "allow"), Some("POST"));
    assert!(header(&response, "content-type").is_some_and(|v| v.starts_with("application/json")));
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(
        body,
        json!({"error": {"message": "/v1/chat/completions does not take GET requests; it takes POST",
            "type": "invalid_request_error", "code": "method_not_allowed", "param": null}})
    );

    let response = s
        .client
        .delete(s.url("/v1/models"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
    assert_eq!(header(&response, "allow"), Some("GET,HEAD"));

    // The Anthropic face answers in Anthropic's shape.
    let response = s
        .client
        .get(s.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
    assert_eq!(header(&response, "allow"), Some("POST"));
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        body["error"]["message"],
        "/v1/messages does not take GET requests; it takes POST"
    );
}

#[tokio::test]
async fn a_path_axum_cannot_decode_and_an_overlong_target_get_json_errors() {
    let s = Setup::start(&["a"], json!({})).await;
    // Not UTF-8 once percent-decoded: axum's Path extractor refuses it in plain text.
    let response = s.get("/v1/models/%FF%FE").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );

    let long = format!("/v1/models/{}", "m".repeat(9000));
    let response = s.get(&long).await;
    assert_eq!(response.status(), 414);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "uri_too_long");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 8192")),
        "{body}"
    );
    // The connection is still good for the next request.
    assert_eq!(s.get("/v1/models").await.status(), 200);
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 18 item 3 (part): `HEAD /`, which Claude Code sends at every start, answers like `/health`.

#[tokio::test]
async fn head_on_the_root_and_on_health_answer_like_get_health_without_a_body() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    for path in ["/", "/health"] {
        let response = s.client.head(s.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header(&response, "content-type").is_some_and(|v| v.starts_with("application/json"))
        );
        assert!(response.bytes().await.expect("body").is_empty(), "{path}");
    }
    let root: Value = s.get("/").await.json().await.expect("json");
    assert_eq!(root["status"], "ok");
    assert_eq!(root["healthy_tokens"], 2);

    // Nothing can serve: HEAD says so with the status, as GET /health does.
    s.fake.set_behaviour("a", Behaviour::Unauthorized);
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    assert_eq!(s.chat(user("x")).await.status(), 503);
    let response = s.client.head(s.url("/")).send().await.expect("request");
    assert_eq!(response.status(), 503);
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 18 item 1: ids newer than the table reach the newest profile of their family, logged once, visible in
// /v1/models and /stats; an id of no family is still a 404.

/// The profile the fake upstream was asked for last.
fn last_profile(s: &Setup) -> String {
    s.fake.requests().last().expect("an upstream request").body["profile"]
        .as_str()
        .expect("profile")
        .to_owned()
}

#[tokio::test]
async fn the_agents_default_models_fall_back_to_the_newest_profile_of_their_family() {
    let s = Setup::start(&["a"], json!({})).await;
    let claude = |model: &str| {
        json!({"model": model, "max_tokens": 64000,
            "messages": [{"role": "user", "content": "Say hello"}]})
    };
    for (model, profile) in [
        ("claude-opus-4-8", "anthropic-claude-4-7-opus"),
        ("claude-sonnet-5", "anthropic-claude-4-6-sonnet"),
        // In the table already: served by its own profile, not by fallback.
        ("claude-haiku-4-5-20251001", "anthropic-claude-4-5-haiku"),
    ] {
        let response = anthropic(&s, &claude(model)).await;
        assert_eq!(response.status(), 200, "{model}");
        let message: Value = response.json().await.expect("json");
        assert_eq!(message["content"][0]["text"], "Echo: Say hello");
        assert_eq!(
            message["model"], model,
            "the answer names the model asked for"
        );
        assert_eq!(last_profile(&s), profile, "{model}");
    }
    let mut codex = user("hi");
    codex["model"] = json!("gpt-6.2-sol");
    assert_eq!(s.chat(codex.clone()).await.status(), 200);
    assert_eq!(
        last_profile(&s),
        "openai-gpt-5-4",
        "the newest GPT chat profile, not a codex one"
    );
    assert_eq!(s.chat(codex).await.status(), 200);

    // Logged once per id, however often it is used. The log is written off the request path: wait for the last
    // line to be there before counting.
    assert!(
        common::eventually(Duration::from_secs(5), async || s
            .proxy
            .logs()
            .contains("model gpt-6.2-sol is not in the model table"))
        .await,
        "{}",
        s.proxy.logs()
    );
    let logs = s.proxy.logs();
    for model in ["claude-opus-4-8", "claude-sonnet-5", "gpt-6.2-sol"] {
        let line = format!("model {model} is not in the model table; serving it with");
        assert_eq!(logs.matches(&line).count(), 1, "{model}:\n{logs}");
    }
    assert!(
        !logs.contains("model claude-haiku-4-5-20251001 is not in the model table"),
        "{logs}"
    );

    // /stats counts each id; /v1/models lists it with the pattern and profile, and every pattern.
    let stats: Value = s.get("/stats").await.json().await.expect("json");
    let served = &stats["model_fallback"]["served"];
    assert_eq!(
        served,
        &json!([
            {"model": "claude-opus-4-8", "profile": "anthropic-claude-4-7-opus", "pattern": "claude-opus-*", "uses": 1},
            {"model": "claude-sonnet-5", "profile": "anthropic-claude-4-6-sonnet", "pattern": "claude-sonnet-*", "uses": 1},
            {"model": "gpt-6.2-sol", "profile": "openai-gpt-5-4", "pattern": "gpt-*", "uses": 2},
        ])
    );
    assert!(
        stats["model_fallback"]["patterns"]
            .as_array()
            .expect("patterns")
            .contains(
                &json!({"pattern": "gpt-*", "profile": "openai-gpt-5-4", "from": "built-in"})
            )
    );
    let models: Value = s.get("/v1/models").await.json().await.expect("json");
    let listed = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|m| m["id"] == "gpt-6.2-sol")
        .expect("the fallback id is listed");
    assert_eq!(
        listed["fallback"],
        json!({"pattern": "gpt-*", "profile": "openai-gpt-5-4"})
    );
    assert!(
        models["model_fallback"]
            .as_array()
            .expect("patterns")
            .contains(&json!({"pattern": "claude-opus-*", "profile": "anthropic-claude-4-7-opus"}))
    );
    // `jbproxy stats` shows them in a table of their own.
    let dir = crate::common::tempdir();
    let mut cmd = crate::common::jbproxy(dir.path());
    cmd.args(["stats", "--url", &s.url(""), "--token", KEY]);
    let run = tokio::task::spawn_blocking(move || crate::common::run(&mut cmd))
        .await
        .expect("stats ran");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("gpt-6.2-sol"))
        .unwrap_or_else(|| panic!("no fallback row:\n{}", run.stdout));
    assert!(
        row.contains("openai-gpt-5-4") && row.contains("gpt-*") && row.contains(" 2 "),
        "{row}"
    );
    assert!(run.stdout.contains("model (fallback)"), "{}", run.stdout);

    // Retrieving an id a request would serve by fallback works before any request named it.
    let one: Value = s
        .get("/v1/models/claude-opus-9")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        one["fallback"],
        json!({"pattern": "claude-opus-*", "profile": "anthropic-claude-4-7-opus"})
    );
}

#[tokio::test]
async fn ids_of_no_family_and_unserved_ids_stay_404_and_the_config_can_change_or_stop_the_fallback()
{
    let s = Setup::start(&["a"], json!({})).await;
    for model in [
        "llama-4",
        "claude-3-5-sonnet-20240620",
        "claude-3-opus-20240229",
    ] {
        let mut body = user("hi");
        body["model"] = json!(model);
        let response = s.chat(body).await;
        assert_eq!(response.status(), 404, "{model}");
        assert_eq!(s.get(&format!("/v1/models/{model}")).await.status(), 404);
    }
    assert!(s.fake.requests().is_empty());

    let custom = Setup::start(
        &["a"],
        json!({"model_fallback": {"claude-opus-*": "claude-opus-4-5", "gpt-*": null, "llama-*": "openai-gpt-4o"}}),
    )
    .await;
    let ask = |model: &str| {
        let mut body = user("hi");
        body["model"] = json!(model);
        body
    };
    assert_eq!(custom.chat(ask("claude-opus-4-8")).await.status(), 200);
    assert_eq!(
        last_profile(&custom),
        "anthropic-claude-4-5-opus",
        "the alias resolved"
    );
    assert_eq!(custom.chat(ask("llama-4")).await.status(), 200);
    assert_eq!(last_profile(&custom), "openai-gpt-4o");
    assert_eq!(
        custom.chat(ask("gpt-6.2-sol")).await.status(),
        404,
        "gpt-* is off"
    );

    let off = Setup::start(&["a"], json!({"model_fallback": false})).await;
    assert_eq!(off.chat(ask("claude-opus-4-8")).await.status(), 404);
    let models: Value = off.get("/v1/models").await.json().await.expect("json");
    assert_eq!(models["model_fallback"], json!([]));
}

#[test]
fn a_bad_model_fallback_is_refused_at_start_with_the_key_and_what_to_write() {
    let dir = crate::common::tempdir();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({"jetbrains_tokens": [{"token": "x.y.z"}], "model_fallback": {"claude-[": "x"}})
            .to_string(),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jbproxy"))
        .arg("print-config")
        .arg("--config")
        .arg(&config)
        .env("HOME", dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("model_fallback"), "{stderr}");
    assert!(stderr.contains("not a valid glob"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 14 item 4 (part): `/v1/models` in Anthropic's shape for requests carrying `anthropic-version`.

async fn anthropic_get(s: &Setup, path: &str) -> reqwest::Response {
    s.client
        .get(s.url(path))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn models_in_anthropic_shape_page_through_every_id_and_retrieve_one() {
    let s = Setup::start(&["a"], json!({})).await;
    let openai: Value = s.get("/v1/models").await.json().await.expect("json");
    let all: Vec<&str> = openai["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    assert!(all.len() > 40);

    let first: Value = anthropic_get(&s, "/v1/models")
        .await
        .json()
        .await
        .expect("json");
    assert!(first.get("object").is_none(), "not OpenAI's list: {first}");
    let data = first["data"].as_array().expect("data");
    assert_eq!(data.len(), 20, "Anthropic's default page size");
    assert_eq!(first["has_more"], true);
    assert_eq!(first["first_id"], data[0]["id"]);
    assert_eq!(first["last_id"], data[19]["id"]);
    let sonnet = json!({"type": "model", "id": "claude-sonnet-4-5", "display_name": "claude-sonnet-4-5",
        "created_at": "2025-01-01T00:00:00Z", "lifecycle": "active", "line": "sonnet"});

    // Following `last_id` as the SDKs do reaches every id once.
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(id) => format!("/v1/models?limit=7&after_id={id}"),
            None => "/v1/models?limit=7".to_string(),
        };
        let page: Value = anthropic_get(&s, &path).await.json().await.expect("json");
        for m in page["data"].as_array().expect("data") {
            assert_eq!(m["type"], "model");
            assert_eq!(m["lifecycle"], "active");
            if m["id"] == "claude-sonnet-4-5" {
                assert_eq!(m, &sonnet);
            }
            seen.push(m["id"].as_str().expect("id").to_owned());
        }
        if page["has_more"] == false {
            break;
        }
        after = page["last_id"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, all);

    // Paging backwards from the end.
    let last = all[all.len() - 1];
    let back: Value = anthropic_get(&s, &format!("/v1/models?before_id={last}&limit=3"))
        .await
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = back["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, all[all.len() - 4..all.len() - 1]);
    assert_eq!(back["has_more"], true);

    let one: Value = anthropic_get(&s, "/v1/models/claude-sonnet-4-5")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one, sonnet);
    let gpt: Value = anthropic_get(&s, "/v1/models/gpt-4o")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(gpt["line"], Value::Null, "not a Claude line");

    for (path, status, kind) in [
        ("/v1/models/claude-nope", 404, "not_found_error"),
        ("/v1/models?limit=0", 400, "invalid_request_error"),
        ("/v1/models?after_id=nope", 400, "invalid_request_error"),
    ] {
        let response = anthropic_get(&s, path).await;
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["type"], "error", "{path}");
        assert_eq!(body["error"]["type"], kind, "{path}");
    }
    let unauthenticated = s
        .client
        .get(s.url("/v1/models"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("request");
    assert_eq!(unauthenticated.status(), 401);
    let body: Value = unauthenticated.json().await.expect("json");
    assert_eq!(body["error"]["type"], "authentication_error");
}
