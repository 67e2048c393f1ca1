//! Validation errors (what is wrong and how to fix it), where the file is found, and warnings that do not stop
//! loading.

use super::*;

#[test]
fn every_validation_error_says_what_and_how() {
    let cases: [Case; 19] = [
        (
            r#"{"jetbrains_tokens":[{"token":"a","license_id":"l"}]}"#,
            &[],
            "`license_id` needs `refresh_token`",
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

#[test]
fn upstream_http_takes_auto_1_1_or_2_from_the_file_or_env_and_names_the_choices_otherwise() {
    let jwt = r#""jetbrains_tokens": [{"token": "a.b.c"}]"#;
    assert_eq!(
        load_ok(&format!("{{{jwt}}}"), Overrides::default(), &[]).upstream_http,
        UpstreamHttp::Auto
    );
    for (value, want) in [
        (r#""auto""#, UpstreamHttp::Auto),
        (r#""1.1""#, UpstreamHttp::Http1),
        (r#""2""#, UpstreamHttp::Http2),
        // A version looks like a number, so it may be written as one.
        ("1.1", UpstreamHttp::Http1),
        ("2", UpstreamHttp::Http2),
    ] {
        let text = format!(r#"{{{jwt}, "upstream_http": {value}}}"#);
        let c = load_ok(&text, Overrides::default(), &[]);
        assert_eq!(c.upstream_http, want, "{value}");
        assert!(is_file_source(&c.source_of("upstream_http")), "{value}");
    }
    let c = load_ok(
        &format!(r#"{{{jwt}, "upstream_http": "1.1"}}"#),
        Overrides::default(),
        &[("UPSTREAM_HTTP", "2")],
    );
    assert_eq!(c.upstream_http, UpstreamHttp::Http2);
    assert_eq!(c.source_of("upstream_http"), Source::Env("UPSTREAM_HTTP"));
    assert_eq!(view::redacted_json(&c)["upstream_http"], "2");

    for (text, env, want) in [
        (
            r#"{"upstream_http": "3"}"#,
            &[][..],
            "upstream_http: unknown upstream HTTP version \"3\"; valid values are: auto, 1.1, 2",
        ),
        (
            r#"{"upstream_http": 1}"#,
            &[],
            "upstream_http: unknown upstream HTTP version \"1\"; valid values are: auto, 1.1, 2",
        ),
        (
            r#"{"upstream_http": true}"#,
            &[],
            "upstream_http: true is not an HTTP version; valid values are: auto, 1.1, 2",
        ),
        (
            "{}",
            &[("UPSTREAM_HTTP", "h2")],
            "env UPSTREAM_HTTP: unknown upstream HTTP version \"h2\"; valid values are: auto, 1.1, 2",
        ),
    ] {
        let err = load_err(text, Overrides::default(), env);
        assert!(
            err.contains(want),
            "{text} {env:?}:\n  got: {err}\n want: {want}"
        );
    }
}

#[test]
fn worker_threads_is_a_count_from_0_to_256_from_the_file_or_env() {
    let jwt = r#""jetbrains_tokens": [{"token": "a.b.c"}]"#;
    assert_eq!(
        load_ok(&format!("{{{jwt}}}"), Overrides::default(), &[])
            .start_up
            .worker_threads,
        0
    );
    let c = load_ok(
        &format!(r#"{{{jwt}, "worker_threads": 3}}"#),
        Overrides::default(),
        &[],
    );
    assert_eq!(c.start_up.worker_threads, 3);
    let c = load_ok(
        &format!(r#"{{{jwt}, "worker_threads": 3}}"#),
        Overrides::default(),
        &[("WORKER_THREADS", " 1 ")],
    );
    assert_eq!(c.start_up.worker_threads, 1);
    assert_eq!(c.source_of("worker_threads"), Source::Env("WORKER_THREADS"));
    assert_eq!(view::redacted_json(&c)["worker_threads"], 1);
    for (text, env, want) in [
        (
            r#"{"worker_threads": -1}"#,
            &[][..],
            "worker_threads: -1 is not a number of threads; use a whole number from 0 (one per CPU core) to 256",
        ),
        (
            r#"{"worker_threads": 1000}"#,
            &[],
            "worker_threads: 1000 is not a number of threads",
        ),
        (
            "{}",
            &[("WORKER_THREADS", "many")],
            "env WORKER_THREADS: must be a whole number (0: one per CPU core)",
        ),
        (
            "{}",
            &[("WORKER_THREADS", "300")],
            "env WORKER_THREADS: must be at most 256 (0: one per CPU core)",
        ),
    ] {
        let err = load_err(text, Overrides::default(), env);
        assert!(
            err.contains(want),
            "{text} {env:?}:\n  got: {err}\n want: {want}"
        );
    }
}
