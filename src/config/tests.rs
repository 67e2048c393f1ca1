//! Unit tests for the config core: each precedence pair, every validation error, token warnings, and the redacted
//! view. Every test names its config file explicitly, so the working directory's files never matter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::json;

use super::*;

/// A config file in a fresh temp dir; the dir lives as long as the returned guard.
struct File {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn file(text: &str) -> File {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.json");
    std::fs::write(&path, text).expect("write");
    File { _dir: dir, path }
}

fn with_file(path: &Path) -> Overrides {
    Overrides {
        config_file: Some(path.to_path_buf()),
        ..Overrides::default()
    }
}

fn load_ok(text: &str, overrides: Overrides, env: &[(&str, &str)]) -> Config {
    let f = file(text);
    let overrides = Overrides {
        config_file: Some(f.path.clone()),
        ..overrides
    };
    load(&overrides, &Env::from_pairs(env.iter().copied())).expect("config loads")
}

fn load_err(text: &str, overrides: Overrides, env: &[(&str, &str)]) -> String {
    let f = file(text);
    let overrides = Overrides {
        config_file: Some(f.path.clone()),
        ..overrides
    };
    match load(&overrides, &Env::from_pairs(env.iter().copied())) {
        Ok(_) => panic!("expected an error for {text} with {env:?}"),
        Err(err) => err.to_string(),
    }
}

fn is_file_source(source: &Source) -> bool {
    matches!(source, Source::File(_))
}

const FILE_LAYER: &str = r#"{
    "jetbrains_tokens": [{"token": "file-token", "name": "from-file"}],
    "bearer_token": "file-bearer",
    "load_balance_strategy": "random",
    "server_port": 1111,
    "server_host": "file.host",
    "upstream_url": "http://file.test",
    "health_check_interval": "11s",
    "admin_token": "file-admin",
    "health_check_mode": "chat"
}"#;

const ENV_LAYER: [(&str, &str); 9] = [
    ("JWT_TOKENS", "env-a,env-b"),
    ("BEARER_TOKEN", "env-bearer"),
    ("LOAD_BALANCE_STRATEGY", "weighted"),
    ("SERVER_PORT", "2222"),
    ("SERVER_HOST", "env.host"),
    ("UPSTREAM_URL", "http://env.test/"),
    ("HEALTH_CHECK_INTERVAL", "22s"),
    ("ADMIN_TOKEN", "env-admin"),
    ("HEALTH_CHECK_MODE", "off"),
];

fn flag_layer() -> Overrides {
    Overrides {
        jwt_tokens: Some("flag-token".into()),
        bearer_token: Some("flag-bearer".into()),
        strategy: Some("least-inflight".into()),
        port: Some(3333),
        host: Some("flag.host".into()),
        upstream_url: Some("http://flag.test".into()),
        ..Overrides::default()
    }
}

#[test]
fn the_file_beats_the_defaults() {
    let c = load_ok(FILE_LAYER, Overrides::default(), &[]);
    assert_eq!(c.start_up.server_port, 1111);
    assert_eq!(c.start_up.server_host, "file.host");
    assert_eq!(c.load_balance_strategy, Strategy::Random);
    assert_eq!(c.upstream_url, "http://file.test");
    assert_eq!(c.health_check_interval, Duration::from_secs(11));
    assert_eq!(c.health_check_mode, HealthCheckMode::Chat);
    assert_eq!(c.tokens[0].name, "from-file");
    assert_eq!(
        c.bearer_token.as_ref().map(|s| s.expose_secret()),
        Some("file-bearer")
    );
    for key in [
        "server_port",
        "server_host",
        "load_balance_strategy",
        "jetbrains_tokens",
        "bearer_token",
        "admin_token",
        "upstream_url",
        "health_check_interval",
        "health_check_mode",
    ] {
        assert!(
            is_file_source(&c.source_of(key)),
            "{key}: {}",
            c.source_of(key)
        );
    }
    // What the file does not set stays at the default, and says so.
    assert_eq!(c.source_of("max_body_size"), Source::Default);
    assert_eq!(c.max_body_size, 32 * 1024 * 1024);
    assert_eq!(c.upstream_api, UpstreamApi::V8);
    assert_eq!(c.priority_mode, PriorityMode::Order);
    assert!(c.start_up.watch_config);
}

#[test]
fn the_defaults_with_an_empty_file() {
    let c = load_ok("{}", Overrides::default(), &[]);
    assert!(c.tokens.is_empty());
    assert!(c.bearer_token.is_none());
    assert_eq!(c.start_up.server_port, 8080);
    assert_eq!(c.start_up.server_host, "127.0.0.1");
    assert_eq!(c.load_balance_strategy, Strategy::RoundRobin);
    assert_eq!(c.upstream_url, DEFAULT_UPSTREAM_URL);
    assert_eq!(c.health_check_interval, Duration::from_secs(30));
    assert_eq!(c.max_attempts, None);
    assert_eq!(c.source_of("server_port"), Source::Default);
}

#[test]
fn the_environment_beats_the_file() {
    let c = load_ok(FILE_LAYER, Overrides::default(), &ENV_LAYER);
    assert_eq!(c.start_up.server_port, 2222);
    assert_eq!(c.source_of("server_port"), Source::Env("SERVER_PORT"));
    assert_eq!(c.start_up.server_host, "env.host");
    assert_eq!(c.load_balance_strategy, Strategy::Weighted);
    assert_eq!(
        c.source_of("load_balance_strategy"),
        Source::Env("LOAD_BALANCE_STRATEGY")
    );
    assert_eq!(c.upstream_url, "http://env.test");
    assert_eq!(c.health_check_interval, Duration::from_secs(22));
    assert_eq!(c.health_check_mode, HealthCheckMode::Off);
    let names: Vec<&str> = c.tokens.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["token-1", "token-2"]);
    assert_eq!(c.source_of("jetbrains_tokens"), Source::Env("JWT_TOKENS"));
    assert_eq!(
        c.bearer_token.as_ref().map(|s| s.expose_secret()),
        Some("env-bearer")
    );
    assert_eq!(
        c.admin_token.as_ref().map(|s| s.expose_secret()),
        Some("env-admin")
    );
    assert_eq!(c.source_of("admin_token"), Source::Env("ADMIN_TOKEN"));
}

#[test]
fn flags_beat_the_environment() {
    let c = load_ok(FILE_LAYER, flag_layer(), &ENV_LAYER);
    assert_eq!(c.start_up.server_port, 3333);
    assert_eq!(c.source_of("server_port"), Source::Flag("--port"));
    assert_eq!(c.start_up.server_host, "flag.host");
    assert_eq!(c.source_of("server_host"), Source::Flag("--host"));
    assert_eq!(c.load_balance_strategy, Strategy::LeastInflight);
    assert_eq!(
        c.source_of("load_balance_strategy"),
        Source::Flag("--strategy")
    );
    assert_eq!(c.upstream_url, "http://flag.test");
    assert_eq!(c.source_of("upstream_url"), Source::Flag("--upstream-url"));
    assert_eq!(c.tokens.len(), 1);
    assert_eq!(c.tokens[0].token.expose_secret(), "flag-token");
    assert_eq!(
        c.source_of("jetbrains_tokens"),
        Source::Flag("--jwt-tokens")
    );
    assert_eq!(
        c.bearer_token.as_ref().map(|s| s.expose_secret()),
        Some("flag-bearer")
    );
    assert_eq!(c.source_of("bearer_token"), Source::Flag("--bearer-token"));
}

#[test]
fn blank_values_do_not_hide_a_lower_layer() {
    let c = load_ok(
        FILE_LAYER,
        Overrides {
            bearer_token: Some("  ".into()),
            ..Overrides::default()
        },
        &[("JWT_TOKENS", ""), ("SERVER_PORT", "  ")],
    );
    assert_eq!(c.tokens[0].name, "from-file");
    assert_eq!(c.start_up.server_port, 1111);
    assert_eq!(
        c.bearer_token.as_ref().map(|s| s.expose_secret()),
        Some("file-bearer")
    );
}

#[test]
fn the_older_jwt_token_is_used_only_without_jwt_tokens() {
    let c = load_ok("{}", Overrides::default(), &[("JWT_TOKEN", "single")]);
    assert_eq!(c.tokens.len(), 1);
    assert_eq!(c.source_of("jetbrains_tokens"), Source::Env("JWT_TOKEN"));
    let c = load_ok(
        "{}",
        Overrides::default(),
        &[("JWT_TOKEN", "single"), ("JWT_TOKENS", "a, b ,,c")],
    );
    assert_eq!(c.tokens.len(), 3);
}

#[test]
fn token_entries_keep_every_key() {
    let c = load_ok(
        r#"{"jetbrains_tokens": [{
            "token": " tok ", "name": "n", "description": "d", "priority": -2, "weight": 5,
            "max_concurrency": 3, "metadata": {"region": "eu"}, "enabled": false,
            "license_id": "lic", "authorization": "Bearer  secret-auth "
        }]}"#,
        Overrides::default(),
        &[],
    );
    let t = &c.tokens[0];
    assert_eq!(t.token.expose_secret(), "tok");
    assert_eq!(
        (t.name.as_str(), t.description.as_deref()),
        ("n", Some("d"))
    );
    assert_eq!((t.priority, t.weight, t.max_concurrency), (-2, 5, Some(3)));
    assert_eq!(t.metadata["region"], "eu");
    assert!(!t.enabled);
    assert!(t.can_refresh());
    assert_eq!(
        t.authorization.as_ref().map(|a| a.expose_secret()),
        Some("secret-auth")
    );
}

/// A config file, environment variables, and a piece of the error message they must produce.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn every_validation_error_says_what_and_how() {
    let cases: [Case; 19] = [
        (
            r#"{"jetbrains_tokens":[{"token":"a","license_id":"l"}]}"#,
            &[],
            "`license_id` and `authorization` go together",
        ),
        (
            r#"{"jetbrains_tokens":[{"token":"a","authorization":"x"}]}"#,
            &[],
            "set both or neither",
        ),
        (
            r#"{"jetbrains_tokens":[{"token":"a","weight":0}]}"#,
            &[],
            "jetbrains_tokens[0]: `weight` must be at least 1 (use `enabled: false`",
        ),
        (
            r#"{"jetbrains_tokens":[{"token":"a","max_concurrency":0}]}"#,
            &[],
            "`max_concurrency` must be at least 1 (leave it out for no limit)",
        ),
        (
            r#"{"jetbrains_tokens":[{"token":"a","name":"x"},{"token":"b","name":"x"}]}"#,
            &[],
            "jetbrains_tokens[1]: name \"x\" is already used by jetbrains_tokens[0]",
        ),
        (
            r#"{"jetbrains_tokens":[{"name":"x"}]}"#,
            &[],
            "`token` is missing or empty; put the JetBrains AI JWT there",
        ),
        (
            "{}",
            &[("SERVER_PORT", "80a")],
            "env SERVER_PORT: \"80a\" is not a port number; use a whole number from 0 to 65535",
        ),
        (
            "{}",
            &[("SERVER_PORT", "65536")],
            "env SERVER_PORT: \"65536\" is not a port number",
        ),
        (
            "{}",
            &[("HEALTH_CHECK_INTERVAL", "fast")],
            "env HEALTH_CHECK_INTERVAL: \"fast\" is not a duration",
        ),
        (
            r#"{"upstream_url":"not a url"}"#,
            &[],
            "upstream_url: \"not a url\" is not a URL",
        ),
        (
            "{}",
            &[("UPSTREAM_URL", "file:///etc")],
            "env UPSTREAM_URL: \"file:///etc\" must start with https://",
        ),
        (
            r#"{"max_attempts":0}"#,
            &[],
            "max_attempts: must be at least 1",
        ),
        (
            r#"{"max_body_size":"10"}"#,
            &[],
            "max_body_size: must be at least 1KiB",
        ),
        (
            r#"{"health_check_interval":"500ms"}"#,
            &[],
            "health_check_interval: must be at least 1s; set health_check_mode to \"off\"",
        ),
        (
            r#"{"request_timeout":"0s"}"#,
            &[],
            "request_timeout: must be longer than 0s",
        ),
        (
            r#"{"priority_mode":"strict"}"#,
            &[],
            "unknown priority mode \"strict\"; valid values are: order, tiers",
        ),
        (
            r#"{"upstream_api":"v9"}"#,
            &[],
            "unknown upstream api \"v9\"; valid values are: v8, v7",
        ),
        (
            "{}",
            &[("HEALTH_CHECK_MODE", "ping")],
            "env HEALTH_CHECK_MODE: unknown health check mode \"ping\"; valid values are: quota, chat, off",
        ),
        (
            r#"{"grazie_agent": 5}"#,
            &[],
            "grazie_agent: must be a JSON object",
        ),
    ];
    for (text, env, expected) in cases {
        let err = load_err(text, Overrides::default(), env);
        assert!(
            err.contains(expected),
            "{text} {env:?}:\n  got: {err}\n want: {expected}"
        );
    }
}

#[test]
fn more_validation_errors() {
    let err = load_err(r#"{"models": {"gpt-x": ""}}"#, Overrides::default(), &[]);
    assert!(
        err.contains("models: entry \"gpt-x\" needs a non-empty alias and profile id"),
        "{err}"
    );
    let err = load_err(r#"{"server_host": " "}"#, Overrides::default(), &[]);
    assert!(
        err.contains("server_host: is empty; give a host name or IP address"),
        "{err}"
    );
    let err = load_err(
        "{}",
        Overrides {
            strategy: Some("fast".into()),
            ..Overrides::default()
        },
        &[],
    );
    assert!(
        err.starts_with("flag --strategy: unknown load balance strategy \"fast\""),
        "{err}"
    );
    let err = load_err(
        "{}",
        Overrides {
            upstream_url: Some("::".into()),
            ..Overrides::default()
        },
        &[],
    );
    assert!(err.starts_with("flag --upstream-url:"), "{err}");
    // A bad value in a lower layer is still an error even when a higher layer overrides it: the file is wrong.
    let err = load_err(r#"{"load_balance_strategy":"x"}"#, flag_layer(), &[]);
    assert!(err.contains("load_balance_strategy"), "{err}");
}

#[test]
fn a_tiny_interval_is_fine_when_checks_are_off() {
    let c = load_ok(
        r#"{"health_check_interval":"0s","health_check_mode":"off"}"#,
        Overrides::default(),
        &[],
    );
    assert_eq!(c.health_check_mode, HealthCheckMode::Off);
}

#[test]
fn the_config_file_must_exist_when_named() {
    let err = load(
        &with_file(Path::new("/nonexistent/x.json")),
        &Env::default(),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.starts_with("flag --config: config file /nonexistent/x.json does not exist"),
        "{err}"
    );
    let env = Env::from_pairs([("CONFIG_FILE", "/nonexistent/y.json")]);
    let err = load(&Overrides::default(), &env)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("env CONFIG_FILE: config file /nonexistent/y.json"),
        "{err}"
    );
}

#[test]
fn the_user_config_under_home_is_the_last_resort() {
    let home = Path::new("/home/someone");
    let path = discovery::user_config(home);
    assert_eq!(
        path,
        PathBuf::from("/home/someone/.config/jetbrains-ai-proxy/config.json")
    );
    let candidates = discovery::candidates(Some(home));
    assert_eq!(candidates.last(), Some(&path));
    assert_eq!(candidates.len(), 5);
    assert_eq!(candidates[0], PathBuf::from("config.json"));
}

#[test]
fn bad_or_expired_tokens_are_warnings_not_errors() {
    let expired = crate::jwt::unsigned(&json!({"exp": 1_000_000_000}));
    let fresh = crate::jwt::unsigned(&json!({"exp": 4_000_000_000_i64}));
    let text = json!({"jetbrains_tokens": [
        {"token": "plain-text", "name": "plain"},
        {"token": expired, "name": "old"},
        {"token": expired, "name": "refreshable", "license_id": "l", "authorization": "a"},
        {"token": fresh, "name": "fresh"},
    ]})
    .to_string();
    let c = load_ok(&text, Overrides::default(), &[]);
    assert_eq!(c.tokens.len(), 4);
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(
        c.warnings[0].starts_with("token plain (sha256:") && c.warnings[0].contains("not a JWT")
    );
    assert!(c.warnings[1].starts_with("token old (sha256:") && c.warnings[1].contains("expired"));
    assert!(c.warnings[1].contains("2001-09-09T01:46:40Z"));
    for w in &c.warnings {
        assert!(!w.contains("plain-text") && !w.contains(&expired), "{w}");
    }
}

#[test]
fn the_seed_example_loads_as_written() {
    let seed = r#"{
"jetbrains_tokens": [
{"token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9...", "name": "Primary_JWT",
 "description": "Primary JWT token for JetBrains AI", "priority": 1,
 "metadata": {"environment": "production", "region": "us-east-1"}},
{"token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9...", "name": "Secondary_JWT",
 "description": "Secondary JWT token for load balancing", "priority": 2,
 "metadata": {"environment": "production", "region": "us-west-2"}}
],
"bearer_token": "your_bearer_token_here",
"load_balance_strategy": "round_robin",
"health_check_interval": "30s",
"server_port": 8080,
"server_host": "0.0.0.0"
}"#;
    let c = load_ok(seed, Overrides::default(), &[]);
    assert_eq!(c.tokens.len(), 2);
    assert_eq!(c.tokens[1].priority, 2);
    assert_eq!(c.listen_address(), "0.0.0.0:8080");
}

#[test]
fn ipv6_hosts_are_bracketed_in_the_listen_address() {
    let c = load_ok(
        r#"{"server_host": "::1", "server_port": 9}"#,
        Overrides::default(),
        &[],
    );
    assert_eq!(c.listen_address(), "[::1]:9");
}

// --------------------------------------------------------------------------------------------------- view

fn secret_config() -> (Config, Vec<String>) {
    let jwt = crate::jwt::unsigned(&json!({"sub": "x", "exp": 4_000_000_000_i64}));
    let text = json!({
        "jetbrains_tokens": [{"token": jwt, "name": "a", "license_id": "lic", "authorization": "auth-secret"}],
        "bearer_token": "bearer-secret",
        "admin_token": "admin-secret",
    })
    .to_string();
    let payload = jwt.split('.').nth(1).unwrap_or_default().to_string();
    let c = load_ok(&text, Overrides::default(), &[]);
    (
        c,
        vec![
            jwt,
            payload,
            "bearer-secret".into(),
            "admin-secret".into(),
            "auth-secret".into(),
        ],
    )
}

#[test]
fn the_json_view_redacts_every_secret_and_names_every_source() {
    let (c, secrets) = secret_config();
    let value = view::redacted_json(&c);
    let text = value.to_string();
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "{s} shown in {text}");
    }
    let token = &value["jetbrains_tokens"][0];
    assert_eq!(
        token["token"],
        crate::secret::redacted(c.tokens[0].token.expose_secret())
    );
    assert_eq!(token["license_id"], "lic");
    assert!(
        token["authorization"]
            .as_str()
            .is_some_and(|a| a.starts_with("<redacted sha256:"))
    );
    assert_eq!(token["expires_at"], "2096-10-02T07:06:40Z");
    assert!(
        value["bearer_token"]
            .as_str()
            .is_some_and(|a| a.starts_with("<redacted sha256:"))
    );
    assert!(
        value["admin_token"]
            .as_str()
            .is_some_and(|a| a.starts_with("<redacted sha256:"))
    );
    let sources = value["sources"].as_object().expect("sources");
    let keys: Vec<&String> = value
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| *k != "sources")
        .collect();
    assert_eq!(sources.len(), keys.len());
    assert!(
        sources["bearer_token"]
            .as_str()
            .is_some_and(|s| s.starts_with("file "))
    );
    assert_eq!(sources["server_port"], "default");
}

#[test]
fn the_table_rows_redact_every_secret() {
    let (c, secrets) = secret_config();
    let rows = view::rows(&c);
    let text = format!("{rows:?}");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "{s} shown in {text}");
    }
    let token_row = rows
        .iter()
        .find(|r| r.0 == "jetbrains_tokens")
        .expect("token row");
    assert!(token_row.1.starts_with("a (sha256:"), "{}", token_row.1);
    assert!(token_row.1.contains("expires 2096-10-02T07:06:40Z"));
    let unset = load_ok("{}", Overrides::default(), &[]);
    let rows = view::rows(&unset);
    assert!(
        rows.iter()
            .any(|r| r.0 == "jetbrains_tokens" && r.1 == "(none)")
    );
    assert!(
        rows.iter()
            .any(|r| r.0 == "bearer_token" && r.1 == "(not set)")
    );
}

#[test]
fn debug_output_never_shows_a_secret() {
    let (c, secrets) = secret_config();
    let text = format!("{c:?}");
    for s in &secrets[..1] {
        assert!(!text.contains(s.as_str()), "{s} shown in Debug");
    }
    assert!(!text.contains("bearer-secret") && !text.contains("auth-secret"));
}
