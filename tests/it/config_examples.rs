//! The example files in `config/` load through the real loader (as a library and through the binary), and
//! `config/README.md` describes every key and environment variable the loader knows.
use crate::common;
use common::repo;

use jbproxy::config::{self, Env, Overrides, Source, Strategy};
use secrecy::ExposeSecret;

/// The `KEY=value` pairs of `config/.env.example`, parsed by the same parser that reads `.env` at start-up.
fn env_example_pairs(text: &str) -> Vec<(String, String)> {
    dotenvy::from_read_iter(text.as_bytes())
        .map(|item| item.expect("every line of config/.env.example parses"))
        .collect()
}

fn env_example() -> String {
    std::fs::read_to_string(repo("config/.env.example")).expect("config/.env.example exists")
}

/// The example with every `# NAME=value` line uncommented: what a user gets who enables every line unedited.
fn env_example_uncommented() -> String {
    env_example_with(&Env::NAMES)
}

/// The example with the lines setting `names` uncommented, as a user who fills in just those would.
fn env_example_with(names: &[&str]) -> String {
    env_example()
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once('=')
                    .is_some_and(|(k, _)| names.contains(&k)) =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
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
    assert_eq!(config.load_balance_strategy, Strategy::RoundRobin);
    assert_eq!(
        config.health_check_interval,
        std::time::Duration::from_secs(30)
    );
    // Loopback, as README and the default say: other machines only when the operator asks (issue 11.4).
    assert_eq!(
        (
            config.start_up.server_host.as_str(),
            config.start_up.server_port
        ),
        ("127.0.0.1", 8080)
    );
    assert_eq!(
        config.bearer_token.as_ref().map(|b| b.expose_secret()),
        Some("your_bearer_token_here")
    );
    // The placeholders are named as such: warnings, not errors.
    assert_eq!(config.warnings.len(), 3, "{:?}", config.warnings);
    assert!(
        config
            .warnings
            .iter()
            .all(|w| w.contains("placeholder value from")),
        "{:?}",
        config.warnings
    );
}

#[test]
fn the_env_example_sets_nothing_until_a_line_is_uncommented() {
    // Issue 11.5: copied to .env as the docs suggest, its placeholders replaced the config file's values.
    assert_eq!(env_example_pairs(&env_example()), Vec::new());
    let pairs = env_example_pairs(&env_example_uncommented());
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    for var in Env::NAMES {
        assert!(names.contains(&var), "{var} is not in config/.env.example");
    }
}

#[test]
fn the_env_example_uncommented_loads_over_the_example_config_with_placeholder_warnings() {
    let text = env_example_uncommented();
    let pairs = env_example_pairs(&text);
    let dir = common::tempdir();
    let env_file = common::write(dir.path(), ".env", &text);
    let env = Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .with_env_file(&env_file);
    let config = config::load(&example_file(), &env).expect("example config + env example load");
    assert_eq!(config.tokens.len(), 3);
    assert_eq!(
        config.source_of("jetbrains_tokens"),
        Source::Env("JWT_TOKENS")
    );
    let line = 1 + text
        .lines()
        .position(|l| l.starts_with("JWT_TOKENS="))
        .expect("a JWT_TOKENS line");
    let want = format!("placeholder value from .env (line {line})");
    assert!(
        config.warnings.iter().filter(|w| w.contains(&want)).count() == 3,
        "{:?}",
        config.warnings
    );
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
fn the_env_example_copied_to_dot_env_changes_nothing() {
    let dir = common::tempdir();
    let example = repo("config/config.example.json");
    let example = example.to_str().expect("utf-8 path");
    let without = common::effective(dir.path(), &["--config", example], &[]);
    std::fs::copy(repo("config/.env.example"), dir.path().join(".env")).expect("copy");
    let with = common::effective(dir.path(), &["--config", example], &[]);
    assert_eq!(with, without);
    assert_eq!(
        with["sources"]["jetbrains_tokens"],
        format!("file {example}")
    );
}

#[test]
fn check_tokens_names_the_dot_env_line_of_a_placeholder() {
    let dir = common::tempdir();
    let text = env_example_with(&["JWT_TOKENS", "BEARER_TOKEN"]);
    common::write(dir.path(), ".env", &text);
    let line = 1 + text
        .lines()
        .position(|l| l.starts_with("JWT_TOKENS="))
        .expect("a JWT_TOKENS line");
    let run = common::run(common::jbproxy(dir.path()).arg("check-tokens"));
    assert_eq!(run.code, Some(1), "{}", run.all());
    let want =
        format!("placeholder value from .env (line {line}); put your JetBrains AI JWT there");
    assert_eq!(run.stdout.matches(&want).count(), 3, "{}", run.stdout);
    assert!(!run.stdout.contains("duplicate"), "{}", run.stdout);
    assert!(!run.stdout.contains("not a JWT"), "{}", run.stdout);
    // serve refuses to start on placeholders alone, and says where they are.
    let run = common::run(common::jbproxy(dir.path()).arg("serve"));
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "every configured token is a placeholder value from .env (line {line})"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn the_example_configs_placeholders_are_not_duplicates_of_each_other() {
    let dir = common::tempdir();
    let example = repo("config/config.example.json");
    let run = common::run(common::jbproxy(dir.path()).args([
        "--config",
        example.to_str().expect("utf-8 path"),
        "check-tokens",
    ]));
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert_eq!(
        run.stdout.matches("placeholder value from").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("duplicate"), "{}", run.stdout);
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
