//! Unit tests for the config core: each precedence pair, every validation error, token warnings, and the redacted
//! view. Every test names its config file explicitly, so the working directory's files never matter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::json;

use super::*;

mod redaction;
mod validation;

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

#[test]
fn refresh_keys_are_trimmed_and_the_bearer_scheme_is_stripped_in_any_case() {
    for authorization in [
        "Bearer id-token",
        "bearer id-token",
        "BEARER id-token",
        " BeArEr   id-token ",
        "id-token",
    ] {
        let text = json!({"jetbrains_tokens": [{
            "license_id": "  lic-1 \t", "authorization": authorization
        }]})
        .to_string();
        let c = load_ok(&text, Overrides::default(), &[]);
        let t = &c.tokens[0];
        assert_eq!(
            t.authorization.as_ref().map(|a| a.expose_secret()),
            Some("id-token"),
            "{authorization}"
        );
        assert_eq!(t.license_id.as_deref(), Some("lic-1"));
    }
    // Whitespace alone is no licence: the same error as an empty one.
    let message = load_err(
        r#"{"jetbrains_tokens": [{"license_id": "   ", "refresh_token": "rt"}]}"#,
        Overrides::default(),
        &[],
    );
    assert!(message.contains("must not be empty"), "{message}");
}

/// A config file, environment variables, and a piece of the error message they must produce.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);
