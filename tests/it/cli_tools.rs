//! The offline tools driven as a process: print-config, decode-jwt, check-tokens, generate-config, the seed's
//! top-level aliases, help and version.
use crate::common;

use std::path::Path;

use common::{SEED_EXAMPLE, effective, jbproxy, jwt, run, tempdir, unix_in, write};
use predicates::prelude::*;
use serde_json::json;

/// Asserts that no part of `secret` that could identify it appears in `text`: not the whole secret and, for a JWT,
/// not its payload segment.
fn assert_hidden(text: &str, secret: &str) {
    assert!(!text.contains(secret), "secret shown whole:\n{text}");
    if let Some(payload) = secret.split('.').nth(1) {
        assert!(
            !text.contains(payload),
            "JWT payload segment shown:\n{text}"
        );
    }
}

fn config_with_tokens(dir: &Path, tokens: &[(&str, &str)]) {
    let entries: Vec<_> = tokens
        .iter()
        .map(|(name, token)| json!({"token": token, "name": name, "priority": 1}))
        .collect();
    write(
        dir,
        "config.json",
        &json!({"jetbrains_tokens": entries, "bearer_token": "sk-very-secret-bearer"}).to_string(),
    );
}

// ---------------------------------------------------------------------------------------------- print-config

#[test]
fn print_config_json_uses_the_files_own_keys_and_redacts_every_token() {
    let dir = tempdir();
    let t1 = jwt(json!({"sub": "one", "exp": unix_in(86_400)}));
    let t2 = jwt(json!({"sub": "two", "exp": unix_in(86_400)}));
    config_with_tokens(dir.path(), &[("first", &t1), ("second", &t2)]);
    let mut cmd = jbproxy(dir.path());
    cmd.args(["print-config", "--json"]);
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let value = out.json();
    let map = value.as_object().expect("an object");

    for key in [
        "jetbrains_tokens",
        "bearer_token",
        "load_balance_strategy",
        "health_check_interval",
        "server_port",
        "server_host",
        "upstream_url",
        "upstream_api",
        "models",
        "first_byte_timeout",
        "request_timeout",
        "max_attempts",
        "watch_config",
        "admin_token",
        "max_body_size",
        "shutdown_grace",
        "sources",
    ] {
        assert!(map.contains_key(key), "missing key {key}");
    }
    let tokens = value["jetbrains_tokens"].as_array().expect("list");
    assert_eq!(tokens.len(), 2);
    for entry in tokens {
        let shown = entry["token"].as_str().expect("string");
        assert!(shown.starts_with("<redacted sha256:"), "{shown}");
    }
    assert_eq!(value["sources"]["jetbrains_tokens"], "file config.json");
    // Every top-level key except `sources` has a source.
    for key in map.keys().filter(|k| *k != "sources") {
        assert!(value["sources"].get(key).is_some(), "no source for {key}");
    }
    for secret in [&t1, &t2, "sk-very-secret-bearer"] {
        assert_hidden(&out.all(), secret);
    }
}

#[test]
fn print_config_json_loads_back_as_a_config_file() {
    // The keys are the file's own: the output, minus `sources` and the informative `expires_at`, is a valid config.
    let dir = tempdir();
    write(dir.path(), "config.json", SEED_EXAMPLE);
    let mut value = effective(dir.path(), &[], &[]);
    let map = value.as_object_mut().expect("object");
    map.remove("sources");
    for entry in map["jetbrains_tokens"].as_array_mut().expect("list") {
        entry.as_object_mut().expect("entry").remove("expires_at");
    }
    write(dir.path(), "again.json", &value.to_string());
    let again = effective(dir.path(), &["--config", "again.json"], &[]);
    assert_eq!(again["server_host"], "0.0.0.0");
    assert_eq!(again["jetbrains_tokens"].as_array().map(Vec::len), Some(2));
}

#[test]
fn print_config_table_shows_values_and_sources_but_no_secret() {
    let dir = tempdir();
    let token = jwt(json!({"sub": "table", "exp": unix_in(86_400)}));
    config_with_tokens(dir.path(), &[("only", &token)]);
    let mut cmd = jbproxy(dir.path());
    cmd.args(["print-config", "-p", "9001"])
        .env("SERVER_HOST", "10.9.9.9");
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("config file: config.json"),
        "{}",
        out.stdout
    );
    for expected in [
        "server_port",
        "9001",
        "flag --port",
        "10.9.9.9",
        "env SERVER_HOST",
        "only (sha256:",
        "file config.json",
        "<redacted sha256:",
    ] {
        assert!(
            out.stdout.contains(expected),
            "missing {expected}:\n{}",
            out.stdout
        );
    }
    assert_hidden(&out.all(), &token);
    assert_hidden(&out.all(), "sk-very-secret-bearer");
}

#[test]
fn print_config_shows_a_trimmed_license_id_and_one_authorization_whatever_its_scheme_case() {
    let dir = tempdir();
    let entries: Vec<_> = ["Bearer id-token-x", "BEARER id-token-x", "id-token-x"]
        .iter()
        .enumerate()
        .map(|(i, authorization)| {
            json!({"name": format!("t{i}"), "license_id": " lic-1 ", "authorization": authorization})
        })
        .collect();
    write(
        dir.path(),
        "config.json",
        &json!({"jetbrains_tokens": entries}).to_string(),
    );
    let out = run(jbproxy(dir.path()).args(["print-config", "--json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let value = out.json();
    let tokens = value["jetbrains_tokens"].as_array().expect("list");
    assert_eq!(tokens.len(), 3);
    for entry in tokens {
        assert_eq!(entry["license_id"], "lic-1", "{entry}");
        // The same ID token once the scheme is gone, in whatever case it was written.
        assert_eq!(
            entry["authorization"], tokens[2]["authorization"],
            "{entry}"
        );
    }
    assert_hidden(&out.all(), "id-token-x");
}

#[test]
fn secrets_from_flags_and_env_are_never_shown_either() {
    let dir = tempdir();
    let flag_token = jwt(json!({"sub": "flag"}));
    let env_token = jwt(json!({"sub": "env"}));
    for json_flag in [true, false] {
        let mut cmd = jbproxy(dir.path());
        cmd.args(["print-config", "-c", &flag_token, "-k", "sk-flag-bearer"])
            .env("JWT_TOKENS", &env_token)
            .env("ADMIN_TOKEN", "sk-admin-secret");
        if json_flag {
            cmd.arg("--json");
        }
        let out = run(&mut cmd);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        for secret in [&flag_token, &env_token, "sk-flag-bearer", "sk-admin-secret"] {
            assert_hidden(&out.all(), secret);
        }
    }
}

#[test]
fn print_config_alias_is_the_seeds_spelling() {
    let dir = tempdir();
    write(dir.path(), "config.json", SEED_EXAMPLE);
    jbproxy(dir.path())
        .arg("--print-config")
        .assert()
        .success()
        .stdout(predicate::str::contains("config file: config.json"))
        .stdout(predicate::str::contains("Primary_JWT"))
        .stdout(predicate::str::contains("your_bearer_token_here").not());
}

// ------------------------------------------------------------------------------------------------ decode-jwt

#[test]
fn decode_jwt_shows_header_claims_and_dates() {
    let dir = tempdir();
    let token = jwt(json!({"sub": "alice", "exp": unix_in(2 * 86_400), "iat": unix_in(-60)}));
    jbproxy(dir.path())
        .args(["decode-jwt", &token])
        .assert()
        .success()
        .stdout(predicate::str::contains("signature not verified"))
        .stdout(predicate::str::contains("alg: HS256"))
        .stdout(predicate::str::contains("sub: alice"))
        .stdout(predicate::str::contains("exp: "))
        .stdout(
            predicate::str::is_match(
                r"exp: \d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, in (1d 23h|2d 0h)\)",
            )
            .expect("regex"),
        )
        .stdout(predicate::str::is_match(r"1m [01]s ago").expect("regex"))
        .stdout(predicate::str::contains("status: valid, expires in"));
}

#[test]
fn decode_jwt_reads_standard_input_with_a_dash() {
    let dir = tempdir();
    let token = jwt(json!({"sub": "piped"}));
    jbproxy(dir.path())
        .args(["decode-jwt", "-"])
        .write_stdin(format!("{token}\n"))
        .assert()
        .success()
        .stdout(predicate::str::contains("sub: piped"))
        .stdout(predicate::str::contains("no exp claim"));
    jbproxy(dir.path())
        .args(["decode-jwt", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("standard input was empty"));
}

#[test]
fn decode_jwt_finds_a_configured_token_by_name() {
    let dir = tempdir();
    let token = jwt(json!({"sub": "named"}));
    config_with_tokens(dir.path(), &[("mine", &token)]);
    jbproxy(dir.path())
        .args(["decode-jwt", "--name", "mine"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sub: named"));
    jbproxy(dir.path())
        .args(["decode-jwt", "--name", "other"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no configured token is named \"other\"; configured names: mine",
        ));
}

#[test]
fn decode_jwt_json_has_times_and_the_expired_flag() {
    let dir = tempdir();
    let exp = unix_in(-7200);
    let token = jwt(json!({"sub": "old", "exp": exp}));
    let mut cmd = jbproxy(dir.path());
    cmd.args(["decode-jwt", "--json", &token]);
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let value = out.json();
    assert_eq!(value["header"]["typ"], "JWT");
    assert_eq!(value["claims"]["sub"], "old");
    assert_eq!(value["times"]["exp"]["unix"], exp);
    assert_eq!(value["times"]["exp"]["relative"], "2h 0m ago");
    assert_eq!(value["expired"], true);
    assert_eq!(value["signature_verified"], false);
    assert!(
        value["fingerprint"]
            .as_str()
            .is_some_and(|f| f.starts_with("sha256:"))
    );
}

#[test]
fn decode_jwt_shows_an_expired_token_as_expired() {
    let dir = tempdir();
    let token = jwt(json!({"exp": unix_in(-600)}));
    jbproxy(dir.path())
        .args(["decode-jwt", &token])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"status: EXPIRED 10m [01]s ago").expect("regex"));
}

#[test]
fn decode_jwt_refuses_a_malformed_token_with_code_2_and_says_why() {
    let dir = tempdir();
    for (token, why) in [
        ("just-some-text", "expected three dot-separated parts"),
        ("a.b", "found 2"),
        ("!!!.e30.sig", "the header is not valid base64url"),
        ("e30.bm90IGpzb24.sig", "the payload is not a JSON object"),
    ] {
        jbproxy(dir.path())
            .args(["decode-jwt", token])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("error: cannot decode sha256:"))
            .stderr(predicate::str::contains(why));
    }
}

#[test]
fn decode_jwt_survives_absurd_date_claims() {
    let dir = tempdir();
    for exp in [json!(-5), json!(1e15), json!(i64::MAX)] {
        let token = jwt(json!({ "exp": exp }));
        jbproxy(dir.path())
            .args(["decode-jwt", &token])
            .assert()
            .success();
        jbproxy(dir.path())
            .args(["check-tokens", "--json"])
            .env("JWT_TOKENS", &token)
            .assert()
            .code(predicate::in_iter([0, 1]));
    }
}

// ---------------------------------------------------------------------------------------------- check-tokens

#[test]
fn check_tokens_passes_when_every_token_is_good() {
    let dir = tempdir();
    let a = jwt(json!({"sub": "a", "exp": unix_in(30 * 86_400)}));
    let b = jwt(json!({"sub": "b", "exp": unix_in(30 * 86_400)}));
    config_with_tokens(dir.path(), &[("alpha", &a), ("beta", &b)]);
    let mut cmd = jbproxy(dir.path());
    cmd.arg("check-tokens");
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("alpha") && out.stdout.contains("beta"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("0 of 2 tokens failed"),
        "{}",
        out.stdout
    );
    assert_hidden(&out.all(), &a);
    assert_hidden(&out.all(), &b);
}

#[test]
fn check_tokens_fails_on_each_kind_of_bad_token() {
    let good = jwt(json!({"sub": "good", "exp": unix_in(30 * 86_400)}));
    let cases = [
        ("expired", jwt(json!({"exp": unix_in(-60)}))),
        ("malformed", "definitely-not-a-jwt".to_string()),
        ("expires soon", jwt(json!({"exp": unix_in(3600)}))),
        ("duplicate", good.clone()),
    ];
    for (status, bad) in cases {
        let dir = tempdir();
        config_with_tokens(dir.path(), &[("good", &good), ("bad", &bad)]);
        let mut cmd = jbproxy(dir.path());
        cmd.args(["check-tokens", "--json"]);
        let out = run(&mut cmd);
        assert_eq!(out.code, Some(1), "{status}: {}{}", out.stdout, out.stderr);
        let value = out.json();
        assert_eq!(value["total"], 2);
        assert_eq!(value["failed"], 1);
        assert_eq!(value["tokens"][0]["status"], "ok");
        assert_eq!(value["tokens"][0]["ok"], true);
        assert_eq!(value["tokens"][1]["status"], status);
        assert_eq!(value["tokens"][1]["ok"], false);
        assert_hidden(&out.all(), &bad);
    }
}

#[test]
fn check_tokens_passes_an_expired_jwt_that_serve_would_refresh() {
    let dir = tempdir();
    let good = jwt(json!({"sub": "good", "exp": unix_in(30 * 86_400)}));
    let entries = json!([
        {"name": "good", "token": good},
        {"name": "chain", "token": jwt(json!({"sub": "c", "exp": unix_in(-3600)})),
         "license_id": "lic-1", "refresh_token": "rt-0123456789"},
        {"name": "fixed", "token": jwt(json!({"sub": "f", "exp": unix_in(-60)})),
         "license_id": "lic-1", "authorization": "Bearer id-token"},
        {"name": "fresh", "license_id": "lic-1", "refresh_token": "rt-9876543210"},
    ]);
    write(
        dir.path(),
        "config.json",
        &json!({"jetbrains_tokens": entries}).to_string(),
    );
    let out = run(jbproxy(dir.path()).args(["check-tokens", "--json"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let value = out.json();
    assert_eq!(value["failed"], 0);
    let statuses: Vec<_> = value["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| (t["status"].as_str().unwrap_or("?"), t["ok"] == true))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ok", true),
            ("refreshable", true),
            ("refreshable", true),
            ("no JWT yet", true)
        ]
    );
    let detail = value["tokens"][1]["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("expired 1h 0m ago: serve gets a new JWT"),
        "{detail}"
    );

    // The table says so too, and passes; an expired JWT without refresh credentials still fails.
    let table = run(jbproxy(dir.path()).arg("check-tokens"));
    assert_eq!(table.code, Some(0), "{}{}", table.stdout, table.stderr);
    assert!(table.stdout.contains("refreshable"), "{}", table.stdout);
    assert!(
        table.stdout.contains("0 of 4 tokens failed"),
        "{}",
        table.stdout
    );
    let expired = jwt(json!({"exp": unix_in(-3600)}));
    jbproxy(dir.path())
        .arg("check-tokens")
        .env("JWT_TOKENS", &expired)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("expired"));
}

#[test]
fn check_tokens_warn_within_moves_the_line() {
    let dir = tempdir();
    let token = jwt(json!({"exp": unix_in(3 * 86_400)}));
    jbproxy(dir.path())
        .arg("check-tokens")
        .env("JWT_TOKENS", &token)
        .assert()
        .success();
    jbproxy(dir.path())
        .args(["check-tokens", "--warn-within", "4d"])
        .env("JWT_TOKENS", &token)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("expires soon"));
    jbproxy(dir.path())
        .args(["check-tokens", "--warn-within", "soon"])
        .env("JWT_TOKENS", &token)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--warn-within"));
}

#[test]
fn check_tokens_table_reports_failures() {
    let dir = tempdir();
    let expired = jwt(json!({"exp": unix_in(-3600)}));
    jbproxy(dir.path())
        .arg("check-tokens")
        .env("JWT_TOKENS", format!("{expired},garbage"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("expired"))
        .stdout(predicate::str::contains("malformed"))
        .stdout(predicate::str::contains("2 of 2 tokens failed"));
}

#[test]
fn check_tokens_without_tokens_is_a_config_error() {
    let dir = tempdir();
    jbproxy(dir.path())
        .arg("check-tokens")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no tokens configured"));
}

// ------------------------------------------------------------------------------------------- generate-config

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn generate_config_writes_both_files_private_and_loadable() {
    let dir = tempdir();
    jbproxy(dir.path())
        .arg("generate-config")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "wrote config/config.json and .env.example",
        ));
    let config = dir.path().join("config/config.json");
    let env = dir.path().join(".env.example");
    assert!(config.is_file() && env.is_file());
    #[cfg(unix)]
    {
        assert_eq!(mode(&config), 0o600);
        assert_eq!(mode(&env), 0o600);
    }
    let text = std::fs::read_to_string(&config).expect("read");
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let bearer = value["bearer_token"].as_str().expect("a bearer token");
    assert!(
        bearer.starts_with("sk-jbp-") && bearer.len() > 40,
        "{bearer}"
    );
    // The real loader accepts it, whether found by --config or on the search path.
    let mut cmd = jbproxy(dir.path());
    cmd.args(["print-config", "--json", "--config", "config/config.json"]);
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_hidden(&out.all(), bearer);
    assert_eq!(
        effective(dir.path(), &[], &[])["sources"]["bearer_token"],
        "file config/config.json"
    );
}

#[test]
fn generate_config_gives_a_fresh_bearer_each_time() {
    let a = tempdir();
    let b = tempdir();
    for dir in [&a, &b] {
        jbproxy(dir.path())
            .arg("generate-config")
            .assert()
            .success();
    }
    let read = |d: &tempfile::TempDir| {
        std::fs::read_to_string(d.path().join("config/config.json")).expect("read")
    };
    assert_ne!(read(&a), read(&b));
}

#[test]
fn generate_config_refuses_to_overwrite_without_force() {
    let dir = tempdir();
    let path = write(dir.path(), "config/config.json", "{\"server_port\": 1}\n");
    jbproxy(dir.path())
        .arg("generate-config")
        .assert()
        .failure()
        .code(2)
        .stderr(predicate::str::contains(
            "config/config.json already exists",
        ))
        .stderr(predicate::str::contains("--force"));
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "{\"server_port\": 1}\n"
    );
    assert!(
        !dir.path().join(".env.example").exists(),
        "nothing is written when refusing"
    );

    // The same for an existing .env.example.
    let dir = tempdir();
    let env = write(dir.path(), ".env.example", "KEEP=1\n");
    jbproxy(dir.path())
        .arg("generate-config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".env.example already exists"));
    assert_eq!(std::fs::read_to_string(&env).expect("read"), "KEEP=1\n");
    assert!(!dir.path().join("config/config.json").exists());
}

#[test]
fn generate_config_force_overwrites() {
    let dir = tempdir();
    let path = write(dir.path(), "config/config.json", "old");
    jbproxy(dir.path())
        .args(["generate-config", "--force"])
        .assert()
        .success();
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("jetbrains_tokens"), "{text}");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn generate_config_output_chooses_the_path() {
    let dir = tempdir();
    jbproxy(dir.path())
        .args([
            "generate-config",
            "--output",
            "deploy/prod.json",
            "--env-output",
            "deploy/.env.example",
        ])
        .assert()
        .success();
    assert!(dir.path().join("deploy/prod.json").is_file());
    assert!(dir.path().join("deploy/.env.example").is_file());
    assert!(!dir.path().join("config/config.json").exists());
    let config = effective(dir.path(), &["--config", "deploy/prod.json"], &[]);
    assert_eq!(config["jetbrains_tokens"].as_array().map(Vec::len), Some(2));
}

#[test]
fn generate_config_alias_is_the_seeds_spelling() {
    let dir = tempdir();
    jbproxy(dir.path())
        .arg("--generate-config")
        .assert()
        .success();
    assert!(dir.path().join("config/config.json").is_file());
    assert!(dir.path().join(".env.example").is_file());
    jbproxy(dir.path())
        .arg("--generate-config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
}

// ---------------------------------------------------------------------------------------- help and version

#[test]
fn version_is_the_crates() {
    let dir = tempdir();
    jbproxy(dir.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("jbproxy {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_subcommand_help_shows_examples() {
    let dir = tempdir();
    for sub in [
        "serve",
        "generate-config",
        "print-config",
        "check-tokens",
        "decode-jwt",
        "stats",
        "completions",
    ] {
        jbproxy(dir.path())
            .args([sub, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"))
            .stdout(predicate::str::contains(format!("jbproxy {sub}")));
    }
    jbproxy(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"));
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let dir = tempdir();
    jbproxy(dir.path())
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unrecognized subcommand 'frobnicate'",
        ));
    jbproxy(dir.path())
        .arg("print-config")
        .arg("--bogus")
        .assert()
        .code(2);
}

#[test]
fn no_arguments_shows_help_and_exits_2() {
    let dir = tempdir();
    jbproxy(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage: jbproxy"));
}
