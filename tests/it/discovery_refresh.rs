//! Issue 13 items 5–7 over real sockets against the fake: model discovery (`profiles/v8` → `/v1/models`, ids the
//! table lacks passing through, `check-tokens --online` model counts), the `suspended` and `forbidden` states, and
//! the refresh chain that lasts (refresh token → ID token → JWT, rotation kept in the state file across a restart,
//! secrets never in a log).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use jbproxy::fake_upstream::{
    Behaviour, FakeOptions, FakeUpstream, Profiles, mint_expired_jwt, mint_jwt,
};

use crate::common::inproc::InProc;
use crate::common::pool::{chat_ok, post_reload, stats, token, wait_for_state};
use crate::common::proxy::Proxy;
use crate::common::serve::{KEY, Served, Setup, config_for, user};
use crate::common::{self, eventually};

/// The golden fixture's `profiles/v8` answer: `anthropic-claude-4-5-sonnet` and `openai-gpt-5`, with parameters.
fn fixture_profiles() -> Value {
    let text = std::fs::read_to_string(common::repo(
        "tests/fixtures/grazie/profiles/profiles_v8.json",
    ))
    .expect("fixture");
    let fixture: Value = serde_json::from_str(&text).expect("fixture json");
    fixture["response"].clone()
}

/// A `profiles/v8` answer listing these ids, as chat profiles without a chatDefinition.
fn listing(ids: &[&str]) -> Value {
    let profiles: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "provider": "X", "features": ["Chat"], "deprecated": false}))
        .collect();
    json!({ "profiles": profiles })
}

/// The ids `/v1/models` lists now.
async fn model_ids<P: Served>(s: &Setup<P>) -> Vec<String> {
    let models: Value = s.get("/v1/models").await.json().await.expect("json");
    models["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

/// A fake upstream prepared by `prepare`, then a proxy in this runtime with health checks on.
async fn in_process(
    names: &[&str],
    extra: Value,
    prepare: impl FnOnce(&FakeUpstream),
) -> Setup<InProc> {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    prepare(&fake);
    let mut extra = extra;
    if extra.get("health_check_mode").is_none() {
        extra["health_check_mode"] = json!("quota");
    }
    let proxy = InProc::start(&config_for(&fake, names, extra)).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    Setup {
        fake,
        proxy,
        client,
    }
}

fn profiles_asked(fake: &FakeUpstream, name: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path == "/user/v5/llm/profiles/v8" && r.token_name.as_deref() == Some(name))
        .count()
}

// ---------------------------------------------------------------------------------------------------------------
// Item 5: model discovery.

#[tokio::test(start_paused = true)]
async fn discovered_profiles_decide_what_v1_models_lists_and_a_new_id_passes_through() {
    let s = in_process(&["a", "b"], json!({}), |fake| {
        fake.set_profiles("a", Profiles::Answer(fixture_profiles()));
        fake.set_profiles(
            "b",
            Profiles::Answer(listing(&["openai-gpt-5", "anthropic-claude-9-opus"])),
        )
    })
    .await;
    assert!(
        eventually(Duration::from_secs(5), async || model_ids(&s)
            .await
            .contains(&"anthropic-claude-9-opus".into()))
        .await,
        "the listed id never appeared:\n{}",
        s.proxy.logs()
    );
    let ids = model_ids(&s).await;
    for id in [
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "gpt-5",
        "anthropic-claude-9-opus",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} missing from {ids:?}");
    }
    for id in ["gpt-4o", "claude-opus-4-7", "gemini-2.5-pro"] {
        assert!(
            !ids.contains(&id.to_string()),
            "{id}: no token lists its profile: {ids:?}"
        );
    }
    assert!(
        s.proxy
            .logs()
            .contains("model discovery: 3 profiles listed by every enabled token (2)")
    );

    // An id the static table lacks but the upstream lists is served as it is.
    let mut body = user("new model");
    body["model"] = json!("anthropic-claude-9-opus");
    let response = s.chat(body).await;
    assert_eq!(response.status(), 200);
    let last = s
        .fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.contains("/stream/"))
        .expect("a chat");
    assert_eq!(last.body["profile"], "anthropic-claude-9-opus");
    let one: Value = s
        .get("/v1/models/anthropic-claude-9-opus")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["id"], "anthropic-claude-9-opus");

    // Only usable tokens count: with b out, what only b listed leaves the list.
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    for i in 0..2 {
        chat_ok(&s, &format!("q{i}")).await;
    }
    wait_for_state(&s, "b", "invalid", Duration::from_secs(5)).await;
    let ids = model_ids(&s).await;
    assert!(
        !ids.contains(&"anthropic-claude-9-opus".to_string()),
        "{ids:?}"
    );
    assert!(ids.contains(&"gpt-5".to_string()) && ids.contains(&"claude-sonnet-4-5".to_string()));
}

#[tokio::test]
async fn a_reload_that_removes_the_only_token_listing_a_profile_forgets_its_parameters() {
    use jbproxy::live::Live;
    use jbproxy::profiles::Param;
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    // Only "a" describes openai-gpt-4o, as taking `length` alone; "b" lists another profile.
    fake.set_profiles(
        "a",
        Profiles::Answer(
            json!({"profiles": [{"id": "openai-gpt-4o", "features": ["Chat"],
            "chatDefinition": {"parameters": [{"fqdn": "llm.parameters.length"}]}}]}),
        ),
    );
    fake.set_profiles("b", Profiles::Answer(listing(&["openai-gpt-5"])));
    let mut config = config_for(&fake, &["a", "b"], json!({}));
    let load = |c: &Value| {
        jbproxy::config::load_text(&c.to_string(), Path::new("config.json")).expect("loads")
    };
    let first = Live::build(load(&config), None).expect("snapshot");
    let built_in = first.profiles.capabilities("openai-gpt-4o");
    assert!(built_in.takes(Param::Temperature), "{built_in:?}");
    first.discover(0).await;
    first.discover(1).await;
    assert_eq!(
        first.profiles.capabilities("openai-gpt-4o").parameters,
        [Param::Length].into_iter().collect(),
        "what the upstream said wins over the built-in family"
    );

    // The reload keeps "b" (the same entry) and removes "a": what only "a" said goes with it.
    if let Some(tokens) = config["jetbrains_tokens"].as_array_mut() {
        tokens.remove(0);
    }
    let second = Live::build(load(&config), Some(&first)).expect("reloaded");
    assert_eq!(second.profiles.capabilities("openai-gpt-4o"), built_in);
    assert!(!second.models.catalog().contains("openai-gpt-4o"));
    assert!(
        second.models.catalog().contains("openai-gpt-5"),
        "b's listing stays"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_whose_profiles_call_fails_serves_the_static_table() {
    let s = in_process(&["a", "b"], json!({}), |fake| {
        fake.set_profiles("a", Profiles::Fail(500));
        fake.set_profiles(
            "b",
            Profiles::Answer(listing(&["openai-gpt-5", "anthropic-claude-9-opus"])),
        );
    })
    .await;
    assert!(
        eventually(Duration::from_secs(5), async || model_ids(&s)
            .await
            .contains(&"anthropic-claude-9-opus".into()))
        .await
    );
    // a has no listing, so it stands for the whole built-in table; b adds the id it lists.
    let ids = model_ids(&s).await;
    for id in [
        "gpt-4o",
        "claude-opus-4-7",
        "gemini-2.5-pro",
        "gpt-5",
        "anthropic-claude-9-opus",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} missing from {ids:?}");
    }
    assert!(profiles_asked(&s.fake, "a") >= 1);
    // The failed call counted nothing against a.
    assert_eq!(token(&stats(&s).await, "a")["state"], "healthy");

    // With b out, only a counts: the static table, and the id only b listed is gone.
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    for i in 0..2 {
        chat_ok(&s, &format!("q{i}")).await;
    }
    wait_for_state(&s, "b", "invalid", Duration::from_secs(5)).await;
    let ids = model_ids(&s).await;
    assert!(ids.contains(&"gpt-4o".to_string()));
    assert!(
        !ids.contains(&"anthropic-claude-9-opus".to_string()),
        "{ids:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_checks_off_nothing_is_asked_and_the_static_table_is_listed() {
    let s = in_process(&["a"], json!({"health_check_mode": "off"}), |fake| {
        fake.set_profiles("a", Profiles::Answer(listing(&["anthropic-claude-9-opus"])));
    })
    .await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    let ids = model_ids(&s).await;
    assert!(ids.contains(&"gpt-4o".to_string()));
    assert!(!ids.contains(&"anthropic-claude-9-opus".to_string()));
    assert_eq!(profiles_asked(&s.fake, "a"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_tokens_online_shows_each_tokens_model_count() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.set_profiles("two", Profiles::Answer(fixture_profiles()));
    fake.set_profiles("broken", Profiles::Fail(503));
    fake.set_behaviour("dead", Behaviour::Unauthorized);
    let week = Duration::from_secs(7 * 86_400);
    let dir = common::tempdir();
    let config = json!({
        "upstream_url": fake.url(),
        "jetbrains_tokens": [
            {"name": "two", "token": mint_jwt("two", week)},
            {"name": "all", "token": mint_jwt("all", week)},
            {"name": "broken", "token": mint_jwt("broken", week)},
            {"name": "dead", "token": mint_jwt("dead", week)},
        ],
    });
    common::write(dir.path(), "config.json", &config.to_string());
    let mut cmd = common::jbproxy(dir.path());
    cmd.args([
        "--config",
        "config.json",
        "check-tokens",
        "--online",
        "--json",
    ]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, Some(1), "dead fails: {}", run.all());
    let json = run.json();
    let models = |name: &str| {
        json["tokens"]
            .as_array()
            .and_then(|t| t.iter().find(|r| r["name"] == name))
            .map(|r| r["models"].clone())
            .unwrap_or_else(|| panic!("no {name}: {json:#}"))
    };
    assert_eq!(models("two"), 2);
    let table: std::collections::BTreeSet<String> =
        jbproxy::models::built_in().values().cloned().collect();
    assert_eq!(
        models("all"),
        table.len(),
        "the fake's default answer: every profile of the table"
    );
    assert_eq!(models("broken"), Value::Null, "the call failed");
    assert_eq!(models("dead"), Value::Null, "a rejected JWT is not asked");

    let mut cmd = common::jbproxy(dir.path());
    cmd.args(["--config", "config.json", "check-tokens", "--online"]);
    let run = common::run(&mut cmd);
    assert!(run.stdout.contains("models"), "{}", run.stdout);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains(" two "))
        .expect("row");
    assert!(row.contains(" 2 "), "{row}");
}

// ---------------------------------------------------------------------------------------------------------------
// Item 6: suspension and 403.

#[tokio::test]
async fn a_suspended_token_stays_out_across_checks_until_a_reload() {
    let s = Setup::start(
        &["a", "b"],
        json!({"health_check_mode": "quota", "health_check_interval": "1s"}),
    )
    .await;
    s.fake.set_behaviour("a", Behaviour::Suspended);
    for i in 0..2 {
        chat_ok(&s, &format!("q{i}")).await;
    }
    let st = wait_for_state(&s, "a", "suspended", Duration::from_secs(5)).await;
    let a = token(&st, "a");
    assert!(
        a["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("suspended"),
        "{a}"
    );
    assert_eq!(a["failures"]["suspended"], 1);
    assert_eq!(
        a["failures"]["quota_exhausted"], 0,
        "not counted as exhaustion"
    );
    assert_eq!(a["until"], Value::Null, "no timer brings it back");

    // JetBrains lifts the suspension; checks pass, but only an operator brings the token back.
    s.fake.set_behaviour("a", Behaviour::Ok);
    let checked_ok = |st: &Value| token(st, "a")["last_check"]["result"] == "ok";
    assert!(
        eventually(Duration::from_secs(10), async || checked_ok(
            &stats(&s).await
        ))
        .await
    );
    let first_ok = token(&stats(&s).await, "a")["last_check"]["at"].clone();
    assert!(
        eventually(Duration::from_secs(10), async || {
            token(&stats(&s).await, "a")["last_check"]["at"] != first_ok
        })
        .await,
        "a second check"
    );
    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["state"], "suspended", "{st:#}");
    assert_eq!(token(&st, "a")["usable"], false);
    let before = s.fake.chat_requests_for("a");
    chat_ok(&s, "still out").await;
    assert_eq!(s.fake.chat_requests_for("a"), before);

    // Visible in /metrics and `jbproxy stats`.
    let metrics = s.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l == "jbproxy_token_state{token=\"a\",state=\"suspended\"} 1"),
        "{metrics}"
    );
    let dir = common::tempdir();
    let mut cmd = common::jbproxy(dir.path());
    cmd.args(["stats", "--url", &s.url(""), "--token", KEY]);
    let run = tokio::task::spawn_blocking(move || common::run(&mut cmd))
        .await
        .expect("stats ran");
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("│ a "))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(row.contains("suspended"), "{row}");

    // With every other token out too, the 503 names the suspension.
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    let response = s.chat(user("nobody")).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1 suspended by JetBrains (477"),
        "{message}"
    );
    assert!(message.contains("1 rejected (401)"), "{message}");

    // A reload is the operator's word.
    assert_eq!(post_reload(&s).await.status(), 200);
    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["state"], "healthy", "{st:#}");
    assert_eq!(
        token(&st, "b")["state"],
        "invalid",
        "a reload lifts suspensions only"
    );
    chat_ok(&s, "back").await;
}

#[tokio::test]
async fn re_enabling_a_suspended_token_brings_it_back_without_a_reload() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::Suspended);
    for i in 0..2 {
        chat_ok(&s, &format!("q{i}")).await;
    }
    wait_for_state(&s, "a", "suspended", Duration::from_secs(5)).await;
    s.fake.set_behaviour("a", Behaviour::Ok);

    let response = s
        .client
        .post(s.url("/tokens/a/enable"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("POST enable");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["changed"], true, "{body}");

    let st = stats(&s).await;
    assert_eq!(token(&st, "a")["state"], "healthy", "{st:#}");
    s.fake.set_behaviour("b", Behaviour::Unauthorized);
    let before = s.fake.chat_requests_for("a");
    chat_ok(&s, "back").await;
    assert_eq!(
        s.fake.chat_requests_for("a"),
        before + 1,
        "served by a again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_403_cools_the_token_for_five_minutes_then_it_returns() {
    let s = Setup::in_process(&["a", "b"], json!({})).await;
    s.fake.set_behaviour(
        "a",
        Behaviour::Forbidden {
            retry_after_secs: None,
        },
    );
    for i in 0..2 {
        chat_ok(&s, &format!("q{i}")).await;
    }
    let st = stats(&s).await;
    let a = token(&st, "a");
    assert_eq!(a["state"], "forbidden", "{a}");
    assert_eq!(a["failures"]["forbidden"], 1);
    assert_eq!(
        a["failures"]["unauthorized"], 0,
        "a 403 is not a 401 any more"
    );
    assert!(
        a["reason"].as_str().unwrap_or_default().contains("5m 0s"),
        "{a}"
    );
    s.fake.set_behaviour("a", Behaviour::Ok);
    tokio::time::sleep(Duration::from_secs(290)).await;
    for i in 0..3 {
        chat_ok(&s, &format!("cooling {i}")).await;
    }
    assert_eq!(s.fake.chat_requests_for("a"), 1, "out for the cool-down");
    tokio::time::sleep(Duration::from_secs(11)).await;
    for i in 0..3 {
        chat_ok(&s, &format!("back {i}")).await;
    }
    assert!(s.fake.chat_requests_for("a") >= 2, "back in rotation");
    assert_eq!(token(&stats(&s).await, "a")["state"], "healthy");
}

// ---------------------------------------------------------------------------------------------------------------
// Item 7: the refresh chain that lasts.

const FIRST_REFRESH_TOKEN: &str = "rt-configured-0123456789abcdef";

/// A config whose one token carries only an expired JWT and the refresh chain's credentials.
fn chain_config(fake: &FakeUpstream) -> Value {
    json!({
        "jetbrains_tokens": [{
            "name": "a",
            "token": mint_expired_jwt("a"),
            "license_id": "lic-a",
            "refresh_token": FIRST_REFRESH_TOKEN,
        }],
        "bearer_token": KEY,
        "upstream_url": fake.url(),
        "oauth_url": format!("{}/oauth2/token", fake.url()),
        "health_check_mode": "off",
        "watch_config": false,
        "server_host": "127.0.0.1",
    })
}

/// `jbproxy --config <config> serve -p 0`, run in a fresh directory of its own (the config's stays).
fn serve(config: &Path) -> Proxy {
    let args = [
        "--config".to_string(),
        config.display().to_string(),
        "serve".into(),
        "-p".into(),
        "0".into(),
    ];
    Proxy::spawn(common::tempdir(), &args, &[])
}

async fn chat_through(proxy: &Proxy, text: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&user(text))
        .send()
        .await
        .expect("request")
}

/// The refresh-token fingerprints the fake's OAuth endpoint was asked with, and its answers.
fn oauth_calls(fake: &FakeUpstream) -> Vec<(String, u16)> {
    fake.requests()
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .map(|r| {
            (
                r.body["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r.status,
            )
        })
        .collect()
}

fn state_tokens(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("state file");
    let state: Value = serde_json::from_str(&text).expect("state json");
    state["refresh_tokens"]
        .as_object()
        .expect("refresh_tokens")
        .values()
        .filter_map(|e| e["refresh_token"].as_str().map(str::to_owned))
        .collect()
}

fn assert_no_secret(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} holds a secret ({}):\n{text}",
            &secret[..8.min(secret.len())]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_with_only_refresh_credentials_serves_with_the_jwt_the_chain_gets() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.register_account(FIRST_REFRESH_TOKEN, "lic-a", "a");
    let home = common::tempdir();
    let mut config = chain_config(&fake);
    config["jetbrains_tokens"][0]
        .as_object_mut()
        .expect("entry")
        .remove("token");
    let config_path = common::write(
        home.path(),
        "config.json",
        &serde_json::to_string_pretty(&config).expect("json"),
    );

    let proxy = serve(&config_path);
    let response = chat_through(&proxy, "hello").await;
    assert_eq!(response.status(), 200, "{}", proxy.logs());
    assert_eq!(fake.chat_requests_for("a"), 1, "sent with the chain's JWT");
    let logs = proxy.logs();
    assert!(!logs.contains(FIRST_REFRESH_TOKEN), "{logs}");

    // Without refresh credentials the entry still needs its JWT, and the error says both ways out.
    config["jetbrains_tokens"][0]
        .as_object_mut()
        .expect("entry")
        .remove("refresh_token");
    config["jetbrains_tokens"][0]
        .as_object_mut()
        .expect("entry")
        .remove("license_id");
    let bad = common::write(
        home.path(),
        "bad.json",
        &serde_json::to_string_pretty(&config).expect("json"),
    );
    let mut cmd = common::jbproxy(home.path());
    cmd.args(["--config", &bad.display().to_string(), "print-config"]);
    let run = common::run(&mut cmd);
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains("`token` is missing or empty")
            && run.stderr.contains("`refresh_token`"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_arrive_before_the_start_up_refresh_wait_for_its_jwt() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.register_account(FIRST_REFRESH_TOKEN, "lic-a", "a");
    // A slow account service: the start-up refresh is still under way when the clients come.
    fake.set_refresh_delay(Duration::from_millis(1500));
    let home = common::tempdir();
    let mut config = chain_config(&fake);
    config["jetbrains_tokens"][0]
        .as_object_mut()
        .expect("entry")
        .remove("token");
    let config_path = common::write(
        home.path(),
        "config.json",
        &serde_json::to_string_pretty(&config).expect("json"),
    );
    let proxy = serve(&config_path);
    let answers =
        futures_util::future::join_all(["q0", "q1", "q2"].map(|text| chat_through(&proxy, text)))
            .await;
    for response in answers {
        assert_eq!(response.status(), 200, "{}", proxy.logs());
    }
    assert_eq!(fake.chat_requests_for("a"), 3);
    let refreshes = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/auth/jetbrains-jwt/provide-access/license/v2")
        .count();
    assert_eq!(
        refreshes,
        1,
        "one JWT for everyone who waited:\n{}",
        proxy.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_chain_rotates_keeps_the_new_token_and_a_restart_uses_it() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.register_account(FIRST_REFRESH_TOKEN, "lic-a", "a");
    let home = common::tempdir();
    let config_path = common::write(
        home.path(),
        "config.json",
        &serde_json::to_string_pretty(&chain_config(&fake)).expect("json"),
    );
    let config_text = std::fs::read_to_string(&config_path).expect("config");
    let state_path = home.path().join("config.state.json");

    // First run: the configured JWT has expired; the chain gives a new one at start.
    let first = serve(&config_path);
    let response = chat_through(&first, "hello").await;
    assert_eq!(response.status(), 200, "{}", first.logs());
    let rotated = fake.current_refresh_token("a").expect("an account");
    assert_ne!(rotated, FIRST_REFRESH_TOKEN);
    assert_eq!(
        state_tokens(&state_path),
        std::slice::from_ref(&rotated),
        "the rotation is kept"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state_path)
            .expect("state")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    assert_eq!(
        std::fs::read_to_string(&config_path).expect("config"),
        config_text,
        "the config is never rewritten"
    );
    // The refresh token and ID tokens are redacted from /config like every secret.
    let shown: Value = reqwest::Client::new()
        .get(first.url("/config"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    let shown_token = shown["jetbrains_tokens"][0]["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        shown_token.starts_with("<redacted sha256:"),
        "{shown_token}"
    );
    assert!(
        shown["oauth_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/oauth2/token")
    );
    let first_logs = first.logs();
    drop(first);

    // The fake took the configured token once and refuses it from now on.
    let old = reqwest::Client::new()
        .post(format!("{}/oauth2/token", fake.url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "ide"),
            ("refresh_token", FIRST_REFRESH_TOKEN),
        ])
        .send()
        .await
        .expect("oauth");
    assert_eq!(old.status(), 400);
    assert_eq!(
        old.json::<Value>().await.expect("json")["error"],
        "invalid_grant"
    );

    // Second run, same config (which still names the old token): the state file's token is used.
    let second = serve(&config_path);
    let response = chat_through(&second, "hello again").await;
    assert_eq!(response.status(), 200, "{}", second.logs());
    let calls = oauth_calls(&fake);
    let fp = |t: &str| jbproxy::secret::fingerprint(t);
    assert_eq!(
        calls,
        [
            (fp(FIRST_REFRESH_TOKEN), 200),
            (fp(FIRST_REFRESH_TOKEN), 400),
            (fp(&rotated), 200),
        ],
        "the restart asked with the rotated token, never the configured one"
    );
    let newest = fake.current_refresh_token("a").expect("an account");
    assert_eq!(state_tokens(&state_path), [newest]);
    let second_logs = second.logs();
    drop(second);

    // Neither run logged a refresh token, an ID token or a JWT, at debug level.
    assert!(
        second_logs.contains("refresh token rotated"),
        "{second_logs}"
    );
    let mut secrets = fake.issued_secrets();
    secrets.push(FIRST_REFRESH_TOKEN.to_string());
    assert!(secrets.len() >= 6, "{}", secrets.len());
    assert_no_secret("the first run's log", &first_logs, &secrets);
    assert_no_secret("the second run's log", &second_logs, &secrets);
    // print-config shows the refresh token by fingerprint only.
    let mut cmd = common::jbproxy(home.path());
    cmd.args(["--config", "config.json", "print-config", "--json"]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_no_secret("print-config", &run.all(), &secrets);
    let printed = run.json();
    assert!(
        printed["jetbrains_tokens"][0]["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .starts_with("<redacted")
    );
    assert_eq!(
        printed["state_file"], "config.state.json",
        "beside the config file (named relative to the working directory, as the config was)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_tokens_online_tests_the_chain_and_keeps_the_rotation() {
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.register_account(FIRST_REFRESH_TOKEN, "lic-a", "a");
    let home = common::tempdir();
    let mut config = chain_config(&fake);
    config["jetbrains_tokens"]
        .as_array_mut()
        .expect("tokens")
        .push(json!({"name": "gone", "token": mint_expired_jwt("gone"), "license_id": "lic-g", "refresh_token": "rt-nobody-knows"}));
    common::write(home.path(), "config.json", &config.to_string());
    let check = || {
        let mut cmd = common::jbproxy(home.path());
        cmd.args([
            "--config",
            "config.json",
            "check-tokens",
            "--online",
            "--json",
        ]);
        common::run(&mut cmd)
    };
    for round in 0..2 {
        let run = check();
        assert_eq!(run.code, Some(1), "gone fails: {}", run.all());
        let json = run.json();
        let a = &json["tokens"][0];
        assert_eq!(
            a["status"], "ok",
            "round {round}: an expired JWT is fine when the chain gives a new one: {a}"
        );
        assert_eq!(a["refresh"], "ok");
        assert_eq!(a["valid"], true);
        assert!(a["models"].as_u64().unwrap_or(0) > 10, "{a}");
        // The expiry shown is the refreshed JWT's, not the expired one in the config.
        assert!(
            a["detail"]
                .as_str()
                .unwrap_or_default()
                .starts_with("expires in"),
            "{a}"
        );
        let gone = &json["tokens"][1];
        assert_eq!(gone["status"], "refresh failed", "{gone}");
        assert!(
            gone["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("invalid_grant"),
            "{gone}"
        );
        assert_eq!(gone["models"], Value::Null);
        let mut secrets = fake.issued_secrets();
        secrets.extend([
            FIRST_REFRESH_TOKEN.to_string(),
            "rt-nobody-knows".to_string(),
        ]);
        assert_no_secret("check-tokens", &run.all(), &secrets);
    }
    // Both runs rotated, each starting from what the one before kept; no chat was sent.
    let state = home.path().join("config.state.json");
    assert_eq!(
        state_tokens(&state),
        [fake.current_refresh_token("a").expect("account")]
    );
    let ok_calls = oauth_calls(&fake)
        .iter()
        .filter(|(_, status)| *status == 200)
        .count();
    assert_eq!(ok_calls, 2);
    assert!(
        fake.requests().iter().all(|r| !r.path.contains("/stream/")),
        "the chain costs no quota"
    );
}
