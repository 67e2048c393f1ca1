//! The example files in `config/` load through the real loader (as a library and through the binary), and
//! `config/README.md` describes every key and environment variable the loader knows.
use crate::common;

use std::path::{Path, PathBuf};

use jbproxy::config::{self, Env, Overrides, Source, Strategy};
use secrecy::ExposeSecret;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The `KEY=value` pairs of `config/.env.example`, parsed by the same parser that reads `.env` at start-up.
fn env_example_pairs() -> Vec<(String, String)> {
    dotenvy::from_path_iter(repo("config/.env.example"))
        .expect("config/.env.example exists")
        .map(|item| item.expect("every line of config/.env.example parses"))
        .collect()
}

fn example_file() -> Overrides {
    Overrides {
        config_file: Some(repo("config/config.example.json")),
        ..Overrides::default()
    }
}

#[test]
fn the_example_config_loads_through_the_library() {
    let config = config::load(&example_file(), &Env::default()).expect("the example loads");
    assert_eq!(config.tokens.len(), 2);
    assert_eq!(config.tokens[0].name, "Primary_JWT");
    assert_eq!(config.tokens[1].name, "Secondary_JWT");
    assert_eq!(config.tokens[0].priority, 1);
    assert_eq!(config.tokens[1].metadata["region"], "us-west-2");
    assert_eq!(config.strategy, Strategy::RoundRobin);
    assert_eq!(
        config.health_check_interval,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        (config.server_host.as_str(), config.server_port),
        ("0.0.0.0", 8080)
    );
    assert_eq!(
        config.bearer_token.as_ref().map(|b| b.expose_secret()),
        Some("your_bearer_token_here")
    );
    // The placeholder tokens are not JWTs: warnings, not errors.
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
}

#[test]
fn the_env_example_loads_through_the_library_over_the_example_config() {
    let pairs = env_example_pairs();
    assert!(pairs.iter().any(|(k, _)| k == "JWT_TOKENS"), "{pairs:?}");
    let env = Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let config = config::load(&example_file(), &env).expect("example config + env example load");
    assert_eq!(config.tokens.len(), 3);
    assert_eq!(
        config.source_of("jetbrains_tokens"),
        Source::Env("JWT_TOKENS")
    );
    assert_eq!(
        config.source_of("bearer_token"),
        Source::Env("BEARER_TOKEN")
    );
    assert_eq!(config.source_of("server_host"), Source::Env("SERVER_HOST"));
    assert_eq!(config.server_host, "127.0.0.1");
}

#[test]
fn the_example_config_loads_through_the_binary() {
    let dir = common::tempdir();
    let example = repo("config/config.example.json");
    let run = common::run(common::jbproxy(dir.path()).args([
        "print-config",
        "--json",
        "--config",
        example.to_str().expect("utf-8 path"),
    ]));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let value = run.json();
    assert_eq!(value["jetbrains_tokens"].as_array().map(Vec::len), Some(2));
    assert!(
        run.stderr.contains("warning: token Primary_JWT"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_env_example_works_as_a_dot_env_file() {
    let dir = common::tempdir();
    std::fs::copy(repo("config/.env.example"), dir.path().join(".env")).expect("copy");
    let value = common::effective(dir.path(), &[], &[]);
    assert_eq!(value["jetbrains_tokens"].as_array().map(Vec::len), Some(3));
    assert_eq!(value["sources"]["jetbrains_tokens"], "env JWT_TOKENS");
    assert_eq!(
        value["sources"]["load_balance_strategy"],
        "env LOAD_BALANCE_STRATEGY"
    );
}

#[test]
fn generate_config_writes_the_example() {
    // The embedded copy is the checked-in file, so the docs describe what users get.
    let example: serde_json::Value =
        serde_json::from_str(jbproxy::commands::generate_config::EXAMPLE_CONFIG).expect("json");
    let on_disk: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("config/config.example.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(example, on_disk);
}

#[test]
fn the_config_readme_describes_every_key_and_variable() {
    let readme = std::fs::read_to_string(repo("config/README.md")).expect("config/README.md");
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "c.json",
        r#"{"jetbrains_tokens": [{"token": "t", "license_id": "l", "authorization": "a"}]}"#,
    );
    let value = common::effective(dir.path(), &["--config", "c.json"], &[]);
    let mut missing = Vec::new();
    for key in value
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| *k != "sources")
    {
        if !readme.contains(&format!("| `{key}` |")) {
            missing.push(key.clone());
        }
    }
    for key in value["jetbrains_tokens"][0]
        .as_object()
        .expect("entry")
        .keys()
        .filter(|k| *k != "expires_at")
    {
        if !readme.contains(&format!("| `{key}` |")) {
            missing.push(format!("jetbrains_tokens[].{key}"));
        }
    }
    for var in Env::NAMES {
        if !readme.contains(&format!("| `{var}` |")) {
            missing.push(var.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "config/README.md does not describe: {missing:?}"
    );

    let env_example = std::fs::read_to_string(repo("config/.env.example")).expect("read");
    let absent: Vec<_> = Env::NAMES
        .iter()
        .filter(|v| !env_example.contains(*v))
        .collect();
    assert!(
        absent.is_empty(),
        "config/.env.example does not mention: {absent:?}"
    );
}
