//! The config core as a user meets it through the binary: where the file is found, which layer wins, `.env`, and
//! the errors and warnings a broken config produces.
use crate::common;

use common::{SEED_EXAMPLE, effective, jbproxy, jwt, run, tempdir, unix_in, write};
use predicates::prelude::*;

/// The seed's search path in its order; the last one is under `$HOME` (the helper points HOME at `dir/home`).
const SEARCH_PATH: [&str; 5] = [
    "config.json",
    "config/config.json",
    "configs/config.json",
    ".config/jetbrains-ai-proxy.json",
    "home/.config/jetbrains-ai-proxy/config.json",
];

fn with_port(port: u16) -> String {
    SEED_EXAMPLE.replace("\"server_port\": 8080", &format!("\"server_port\": {port}"))
}

#[test]
fn the_seed_example_loads_from_every_search_path_location() {
    for (i, rel) in SEARCH_PATH.iter().enumerate() {
        let dir = tempdir();
        write(dir.path(), rel, SEED_EXAMPLE);
        let config = effective(dir.path(), &[], &[]);
        assert_eq!(config["server_host"], "0.0.0.0", "location {i}: {rel}");
        assert_eq!(config["server_port"], 8080);
        assert_eq!(config["load_balance_strategy"], "round_robin");
        assert_eq!(config["health_check_interval"], "30s");
        assert_eq!(
            config["bearer_token"]
                .as_str()
                .map(|b| b.starts_with("<redacted")),
            Some(true)
        );
        let tokens = config["jetbrains_tokens"].as_array().expect("token list");
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0]["name"], "Primary_JWT");
        assert_eq!(tokens[0]["priority"], 1);
        assert_eq!(tokens[1]["metadata"]["region"], "us-west-2");
        let source = config["sources"]["server_host"].as_str().expect("source");
        assert!(
            source.starts_with("file ") && source.ends_with(rel),
            "{rel}: {source}"
        );
    }
}

#[test]
fn the_search_path_is_tried_in_the_seeds_order() {
    for (first, winner) in SEARCH_PATH.iter().enumerate() {
        let dir = tempdir();
        for (j, rel) in SEARCH_PATH.iter().enumerate().skip(first) {
            write(dir.path(), rel, &with_port(9000 + j as u16));
        }
        let config = effective(dir.path(), &[], &[]);
        assert_eq!(
            config["server_port"],
            9000 + first as u64,
            "{winner} should win over the later locations"
        );
    }
}

#[test]
fn an_explicit_file_beats_the_search_path_and_the_flag_beats_config_file() {
    let dir = tempdir();
    write(dir.path(), "config.json", &with_port(1001));
    write(dir.path(), "elsewhere/by-env.json", &with_port(1002));
    write(dir.path(), "elsewhere/by-flag.json", &with_port(1003));

    let by_env = effective(dir.path(), &[], &[("CONFIG_FILE", "elsewhere/by-env.json")]);
    assert_eq!(by_env["server_port"], 1002);
    assert_eq!(
        by_env["sources"]["server_port"],
        "file elsewhere/by-env.json"
    );

    let by_flag = effective(
        dir.path(),
        &["--config", "elsewhere/by-flag.json"],
        &[("CONFIG_FILE", "elsewhere/by-env.json")],
    );
    assert_eq!(by_flag["server_port"], 1003);

    // --config is global: it may come before the subcommand too.
    let mut cmd = jbproxy(dir.path());
    cmd.args([
        "--config",
        "elsewhere/by-flag.json",
        "print-config",
        "--json",
    ]);
    assert_eq!(run(&mut cmd).json()["server_port"], 1003);
}

#[test]
fn a_named_file_that_does_not_exist_is_a_config_error() {
    let dir = tempdir();
    jbproxy(dir.path())
        .args(["print-config", "--config", "missing.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json does not exist"))
        .stderr(predicate::str::contains("generate-config"));
    jbproxy(dir.path())
        .arg("print-config")
        .env("CONFIG_FILE", "gone.json")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("env CONFIG_FILE"))
        .stderr(predicate::str::contains("gone.json does not exist"));
}

#[test]
fn no_file_at_all_gives_the_defaults() {
    let dir = tempdir();
    let config = effective(dir.path(), &[], &[]);
    assert_eq!(config["server_port"], 8080);
    assert_eq!(config["server_host"], "127.0.0.1");
    assert_eq!(config["upstream_url"], "https://api.jetbrains.ai");
    assert_eq!(config["max_body_size"], 32 * 1024 * 1024);
    assert_eq!(config["watch_config"], true);
    assert_eq!(config["jetbrains_tokens"], serde_json::json!([]));
    assert_eq!(config["sources"]["server_port"], "default");
}

#[test]
fn flags_beat_the_environment() {
    let dir = tempdir();
    let a = jwt(serde_json::json!({"sub": "a"}));
    let b = jwt(serde_json::json!({"sub": "b"}));
    let config = effective(
        dir.path(),
        &[
            "-p",
            "7001",
            "-h",
            "10.0.0.1",
            "-s",
            "random",
            "-k",
            "flag-key",
            "-c",
            &a,
            "--upstream-url",
            "http://flag.test",
        ],
        &[
            ("SERVER_PORT", "7002"),
            ("SERVER_HOST", "10.0.0.2"),
            ("LOAD_BALANCE_STRATEGY", "weighted"),
            ("BEARER_TOKEN", "env-key"),
            ("JWT_TOKENS", &format!("{a},{b}")),
            ("UPSTREAM_URL", "http://env.test"),
        ],
    );
    let sources = &config["sources"];
    assert_eq!(config["server_port"], 7001);
    assert_eq!(sources["server_port"], "flag --port");
    assert_eq!(config["server_host"], "10.0.0.1");
    assert_eq!(sources["server_host"], "flag --host");
    assert_eq!(config["load_balance_strategy"], "random");
    assert_eq!(sources["load_balance_strategy"], "flag --strategy");
    assert_eq!(sources["bearer_token"], "flag --bearer-token");
    assert_eq!(config["jetbrains_tokens"].as_array().map(Vec::len), Some(1));
    assert_eq!(sources["jetbrains_tokens"], "flag --jwt-tokens");
    assert_eq!(config["upstream_url"], "http://flag.test");
    assert_eq!(sources["upstream_url"], "flag --upstream-url");
}

#[test]
fn the_environment_beats_the_file() {
    let dir = tempdir();
    write(dir.path(), "config.json", SEED_EXAMPLE);
    let a = jwt(serde_json::json!({"sub": "a"}));
    let config = effective(
        dir.path(),
        &[],
        &[
            ("SERVER_PORT", "7002"),
            ("SERVER_HOST", "10.0.0.2"),
            ("LOAD_BALANCE_STRATEGY", "weighted"),
            ("BEARER_TOKEN", "env-key"),
            ("JWT_TOKENS", &a),
            ("HEALTH_CHECK_INTERVAL", "45s"),
        ],
    );
    let sources = &config["sources"];
    assert_eq!(config["server_port"], 7002);
    assert_eq!(sources["server_port"], "env SERVER_PORT");
    assert_eq!(sources["server_host"], "env SERVER_HOST");
    assert_eq!(config["load_balance_strategy"], "weighted");
    assert_eq!(
        sources["load_balance_strategy"],
        "env LOAD_BALANCE_STRATEGY"
    );
    assert_eq!(sources["bearer_token"], "env BEARER_TOKEN");
    assert_eq!(config["jetbrains_tokens"].as_array().map(Vec::len), Some(1));
    assert_eq!(sources["jetbrains_tokens"], "env JWT_TOKENS");
    assert_eq!(config["health_check_interval"], "45s");
    assert_eq!(
        sources["health_check_interval"],
        "env HEALTH_CHECK_INTERVAL"
    );
}

#[test]
fn the_file_beats_the_defaults() {
    let dir = tempdir();
    write(
        dir.path(),
        "config.json",
        r#"{"server_port": 9999, "upstream_api": "v7", "max_body_size": "1MiB", "watch_config": false}"#,
    );
    let config = effective(dir.path(), &[], &[]);
    let sources = &config["sources"];
    assert_eq!(config["server_port"], 9999);
    assert_eq!(sources["server_port"], "file config.json");
    assert_eq!(config["upstream_api"], "v7");
    assert_eq!(sources["upstream_api"], "file config.json");
    assert_eq!(config["max_body_size"], 1024 * 1024);
    assert_eq!(config["watch_config"], false);
    assert_eq!(sources["server_host"], "default");
}

#[test]
fn jwt_tokens_wins_over_the_older_jwt_token() {
    let dir = tempdir();
    let a = jwt(serde_json::json!({"sub": "a"}));
    let b = jwt(serde_json::json!({"sub": "b"}));
    let single = effective(dir.path(), &[], &[("JWT_TOKEN", &a)]);
    assert_eq!(single["sources"]["jetbrains_tokens"], "env JWT_TOKEN");
    let both = effective(
        dir.path(),
        &[],
        &[("JWT_TOKEN", &a), ("JWT_TOKENS", &format!("{a}, {b}"))],
    );
    assert_eq!(both["sources"]["jetbrains_tokens"], "env JWT_TOKENS");
    assert_eq!(both["jetbrains_tokens"].as_array().map(Vec::len), Some(2));
}

#[test]
fn dot_env_in_the_working_directory_is_read_and_the_real_environment_wins() {
    let dir = tempdir();
    write(
        dir.path(),
        ".env",
        "SERVER_PORT=7070\nSERVER_HOST=10.1.1.1\n# a comment\n",
    );
    let config = effective(dir.path(), &[], &[]);
    assert_eq!(config["server_port"], 7070);
    assert_eq!(config["sources"]["server_port"], "env SERVER_PORT");
    let config = effective(dir.path(), &[], &[("SERVER_PORT", "7171")]);
    assert_eq!(config["server_port"], 7171);
    assert_eq!(config["server_host"], "10.1.1.1");
}

#[test]
fn dot_env_in_a_parent_directory_is_not_read() {
    let dir = tempdir();
    write(dir.path(), ".env", "SERVER_PORT=7070\n");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let config = effective(&dir.path().join("sub"), &[], &[]);
    assert_eq!(config["server_port"], 8080);
}

#[test]
fn a_broken_dot_env_is_a_warning_that_does_not_quote_the_line() {
    let dir = tempdir();
    write(
        dir.path(),
        ".env",
        "SERVER_PORT=7070\nJWT_TOKENS=\"eyJunterminated\n",
    );
    jbproxy(dir.path())
        .args(["print-config", "--json"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: .env: cannot parse the line setting JWT_TOKENS",
        ))
        .stderr(predicate::str::contains("eyJunterminated").not());
}

#[test]
fn a_broken_json_file_names_file_line_and_column() {
    let dir = tempdir();
    write(
        dir.path(),
        "config/config.json",
        "{\n  \"server_port\": 8080,\n  \"server_host\" \"x\"\n}\n",
    );
    jbproxy(dir.path())
        .arg("print-config")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "config/config.json:3:17: expected `:`",
        ));
}

#[test]
fn a_wrong_type_names_the_key_and_position() {
    let dir = tempdir();
    write(
        dir.path(),
        "config.json",
        "{\n\"server_port\": \"eighty\"\n}",
    );
    jbproxy(dir.path())
        .arg("print-config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("config.json:2:"))
        .stderr(predicate::str::contains(
            "server_port: \"eighty\" is not a port number; use a whole number from 0 to 65535",
        ));
}

#[test]
fn an_unknown_strategy_lists_the_valid_ones_from_every_layer() {
    let valid = "valid values are: round_robin, random, weighted, least_inflight";
    let dir = tempdir();
    write(
        dir.path(),
        "config.json",
        r#"{"load_balance_strategy": "fastest"}"#,
    );
    jbproxy(dir.path())
        .arg("print-config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown load balance strategy \"fastest\"",
        ))
        .stderr(predicate::str::contains(valid));
    let dir = tempdir();
    jbproxy(dir.path())
        .arg("print-config")
        .env("LOAD_BALANCE_STRATEGY", "fastest")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("env LOAD_BALANCE_STRATEGY"))
        .stderr(predicate::str::contains(valid));
    jbproxy(dir.path())
        .args(["print-config", "-s", "fastest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("flag --strategy"))
        .stderr(predicate::str::contains(valid));
}

#[test]
fn an_unknown_key_is_named() {
    let dir = tempdir();
    write(dir.path(), "config.json", r#"{"server_prot": 8080}"#);
    jbproxy(dir.path())
        .arg("print-config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown key `server_prot`"));
    write(
        dir.path(),
        "config.json",
        r#"{"jetbrains_tokens": [{"token": "x", "wieght": 2}]}"#,
    );
    jbproxy(dir.path())
        .arg("print-config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown key `jetbrains_tokens[0].wieght`",
        ));
}

#[test]
fn underscore_keys_are_comments() {
    let dir = tempdir();
    let token = jwt(serde_json::json!({"exp": unix_in(86_400 * 30)}));
    write(
        dir.path(),
        "config.json",
        &format!(
            r#"{{"_comment": "hello", "_server_port": "ignored",
               "jetbrains_tokens": [{{"token": "{token}", "_note": "mine"}}]}}"#
        ),
    );
    let config = effective(dir.path(), &[], &[]);
    assert_eq!(config["server_port"], 8080);
    assert!(config.get("_comment").is_none());
}

#[test]
fn a_non_jwt_or_expired_token_is_a_warning_not_a_failure() {
    let dir = tempdir();
    let expired = jwt(serde_json::json!({"exp": unix_in(-3600)}));
    jbproxy(dir.path())
        .args(["print-config", "--json"])
        .env("JWT_TOKENS", format!("not-a-jwt,{expired}"))
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: token token-1"))
        .stderr(predicate::str::contains("not a JWT"))
        .stderr(predicate::str::contains("warning: token token-2"))
        .stderr(
            predicate::str::contains("expired 1h 0m ago")
                .or(predicate::str::contains("expired 59m")),
        )
        .stderr(predicate::str::contains("not-a-jwt").not());
}

/// A config file, environment variables, and a piece of the error message they must produce.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn config_errors_exit_with_code_2_and_say_how_to_fix_them() {
    let cases: [Case; 11] = [
        (r#"{"server_port": 70000}"#, &[], "server_port"),
        (
            r#"{"max_attempts": 0}"#,
            &[],
            "max_attempts: must be at least 1",
        ),
        (
            r#"{"upstream_url": "ftp://x"}"#,
            &[],
            "must start with https://",
        ),
        (
            r#"{"jetbrains_tokens": [{"token": "a", "weight": 0}]}"#,
            &[],
            "`weight` must be at least 1",
        ),
        (
            r#"{"jetbrains_tokens": [{"token": "a", "name": "x"}, {"token": "b", "name": "x"}]}"#,
            &[],
            "name \"x\" is already used by jetbrains_tokens[0]",
        ),
        (
            r#"{"jetbrains_tokens": [{"token": "a", "license_id": "l"}]}"#,
            &[],
            "`license_id` needs `refresh_token` (lasts",
        ),
        (
            r#"{"jetbrains_tokens": [{"token": "a", "authorization": "i"}]}"#,
            &[],
            "`license_id` and `authorization` go together",
        ),
        (
            r#"{"jetbrains_tokens": [{"token": "a", "refresh_token": "r"}]}"#,
            &[],
            "`refresh_token` needs `license_id`",
        ),
        (
            r#"{"jetbrains_tokens": [{"token": "a", "license_id": "l", "refresh_token": "r", "authorization": "i"}]}"#,
            &[],
            "give `refresh_token` or `authorization`, not both",
        ),
        (
            "{}",
            &[("SERVER_PORT", "http")],
            "env SERVER_PORT: \"http\" is not a port number",
        ),
        (
            "{}",
            &[("HEALTH_CHECK_INTERVAL", "often")],
            "env HEALTH_CHECK_INTERVAL: \"often\" is not a duration",
        ),
    ];
    for (file, env, message) in cases {
        let dir = tempdir();
        write(dir.path(), "config.json", file);
        let mut cmd = jbproxy(dir.path());
        cmd.arg("print-config");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.assert()
            .code(2)
            .stderr(predicate::str::starts_with("error: "))
            .stderr(predicate::str::contains(message));
    }
}

#[test]
fn every_config_reading_command_refuses_a_broken_config_with_code_2() {
    let dir = tempdir();
    write(dir.path(), "config.json", "{ nope");
    for args in [
        &["print-config"][..],
        &["check-tokens"],
        &["decode-jwt", "--name", "x"],
        &["serve"],
        &["--print-config"],
    ] {
        jbproxy(dir.path())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("config.json:1:3"));
    }
}
