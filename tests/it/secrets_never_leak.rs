//! Secrets never leak: the whole CLI surface (every subcommand, error paths included) and the whole server surface
//! (every endpoint, auth failures, upstream errors, 503, admin endpoints, reloads, shutdown, logs at
//! `RUST_LOG=debug`) run with recognisable JWTs and keys, and no output, log, header or body may contain any of
//! them whole, nor a JWT's payload segment.

use crate::common;

use std::time::Duration;

use common::proxy::Proxy;
use common::{jbproxy, run};
use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream, mint_expired_jwt, mint_jwt};
use serde_json::{Value, json};

const BEARER: &str = "sk-BEARER-SECRET-5f1c9e27d4";
const ADMIN: &str = "adm-ADMIN-SECRET-8b3e0a6c11";
const ID_TOKEN: &str = "idtok-ACCOUNT-SECRET-44d0c2f9";

struct Secrets {
    jwts: Vec<(String, String)>,
}

impl Secrets {
    fn new() -> Self {
        let jwts = vec![
            (
                "good".to_string(),
                mint_jwt("good", Duration::from_secs(7200)),
            ),
            (
                "flaky".to_string(),
                mint_jwt("flaky", Duration::from_secs(7200)),
            ),
            (
                "dead".to_string(),
                mint_jwt("dead", Duration::from_secs(7200)),
            ),
            (
                "refreshable".to_string(),
                mint_jwt("refreshable", Duration::from_secs(7200)),
            ),
            ("old".to_string(), mint_expired_jwt("old")),
        ];
        Secrets { jwts }
    }

    fn jwt(&self, name: &str) -> &str {
        &self.jwts.iter().find(|(n, _)| n == name).expect("jwt").1
    }

    /// Every string that must never appear: keys, JWTs, and each JWT's payload segment.
    fn needles(&self) -> Vec<String> {
        let mut all = vec![BEARER.to_string(), ADMIN.to_string(), ID_TOKEN.to_string()];
        for (_, jwt) in &self.jwts {
            all.push(jwt.clone());
            all.push(jwt.split('.').nth(1).expect("payload").to_string());
        }
        all
    }

    fn config(&self, upstream: &str) -> Value {
        let tokens: Vec<Value> = self
            .jwts
            .iter()
            .map(|(name, jwt)| {
                let mut entry = json!({"token": jwt, "name": name});
                if name == "refreshable" {
                    entry["license_id"] = json!("lic-1");
                    entry["authorization"] = json!(ID_TOKEN);
                }
                entry
            })
            .collect();
        json!({
            "jetbrains_tokens": tokens,
            "bearer_token": BEARER,
            "admin_token": ADMIN,
            "upstream_url": upstream,
            "health_check_mode": "quota",
            "health_check_interval": "1s",
            "watch_config": false,
            "server_host": "127.0.0.1",
            "shutdown_grace": "2s",
            "max_body_size": "16KiB",
            "request_timeout": "500ms",
        })
    }
}

/// Fails naming the secret and where it showed up.
fn assert_clean(what: &str, text: &str, secrets: &Secrets) {
    for needle in secrets.needles() {
        assert!(
            !text.contains(&needle),
            "{what} leaked a secret ({}…):\n{text}",
            &needle[..needle.len().min(12)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_server_output_or_log() {
    let secrets = Secrets::new();
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.json");
    let config = secrets.config(&fake.url());
    std::fs::write(&path, config.to_string()).expect("write config");
    let args: Vec<String> = vec![
        "--config".into(),
        path.display().to_string(),
        "serve".into(),
        "-p".into(),
        "0".into(),
    ];
    let mut proxy = Proxy::spawn(dir, &args, &[("RUST_LOG", "debug")]);
    let client = reqwest::Client::new();
    let mut seen = String::new();

    // Let the first health check round run (quota calls with every JWT, a refresh for the expired one).
    fake.set_behaviour("dead", Behaviour::Unauthorized);
    assert!(
        common::eventually(Duration::from_secs(10), async || proxy
            .logs()
            .contains("Health check completed"))
        .await,
        "no check round:\n{}",
        proxy.logs()
    );

    let chat = |body: Value, key: Option<&'static str>| {
        let mut request = client.post(proxy.url("/v1/chat/completions")).json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request
    };
    let user =
        |text: &str| json!({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]});
    let streaming = |text: &str| json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": text}]});

    let mut requests = vec![
        chat(user("hello"), Some(BEARER)),
        chat(streaming("hello"), Some(BEARER)),
        chat(user("hello"), None),
        chat(user("hello"), Some("sk-wrong")),
        chat(user("hello"), Some(ADMIN)),
        chat(
            json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
            Some(BEARER),
        ),
        chat(json!({"model": "gpt-4o", "messages": "x"}), Some(BEARER)),
        chat(user(&"x".repeat(40_000)), Some(BEARER)),
        client
            .post(proxy.url("/v1/chat/completions"))
            .bearer_auth(BEARER)
            .body("{not json"),
        client.get(proxy.url("/health")),
        client.get(proxy.url("/v1/models")).bearer_auth(BEARER),
        client
            .get(proxy.url("/v1/models/gpt-4o"))
            .bearer_auth(BEARER),
        client.get(proxy.url("/v1/models/nope")).bearer_auth(BEARER),
        client.get(proxy.url("/nowhere")).bearer_auth(BEARER),
    ];
    for path in ["/stats", "/config", "/metrics"] {
        requests.push(client.get(proxy.url(path)).bearer_auth(ADMIN));
        requests.push(client.get(proxy.url(path)).bearer_auth(BEARER));
        requests.push(client.get(proxy.url(path)).header("x-api-key", "nope"));
    }
    requests.push(client.post(proxy.url("/reload")).bearer_auth(ADMIN));
    requests.push(client.post(proxy.url("/reload")).bearer_auth("sk-wrong"));
    for request in requests {
        seen.push_str(&exchange(request).await);
    }

    // Upstream failures of every kind, streamed and not; then a pool with nothing usable (503).
    for behaviour in [
        Behaviour::BadRequest,
        Behaviour::CutMidStream { after_events: 2 },
        Behaviour::ServerError,
        Behaviour::RateLimited {
            retry_after_secs: Some(1),
        },
        Behaviour::QuotaExhausted,
        Behaviour::Unauthorized,
    ] {
        for name in ["good", "flaky", "refreshable"] {
            fake.set_behaviour(name, behaviour.clone());
        }
        seen.push_str(&exchange(chat(user("fail"), Some(BEARER))).await);
        seen.push_str(&exchange(chat(streaming("fail"), Some(BEARER))).await);
    }
    seen.push_str(&exchange(client.get(proxy.url("/stats")).bearer_auth(ADMIN)).await);
    seen.push_str(&exchange(client.get(proxy.url("/health"))).await);

    // A bad config on reload: the error must not quote the file (which holds the tokens).
    let broken = config.to_string().replacen("\"name\"", "\"name\" 1", 1);
    std::fs::write(path_of(&proxy), broken).expect("write");
    seen.push_str(&exchange(client.post(proxy.url("/reload")).bearer_auth(ADMIN)).await);
    let mut misplaced = config.clone();
    misplaced["jetbrains_tokens"] = json!(secrets.jwt("good"));
    std::fs::write(path_of(&proxy), misplaced.to_string()).expect("write");
    seen.push_str(&exchange(client.post(proxy.url("/reload")).bearer_auth(ADMIN)).await);
    proxy.signal("HUP");
    std::fs::write(path_of(&proxy), config.to_string()).expect("write");
    proxy.signal("HUP");
    // Two signals in a row may arrive as one; either way the last reload reads the good file.
    assert!(
        common::eventually(Duration::from_secs(10), async || proxy
            .logs()
            .contains("config reloaded (SIGHUP)"))
        .await,
        "SIGHUP did not reload:\n{}",
        proxy.logs()
    );

    // The `stats` command against the live server, right key and wrong one.
    let home = tempfile::tempdir().expect("tempdir");
    for key in [ADMIN, "sk-wrong"] {
        let out = run(jbproxy(home.path()).args([
            "stats",
            "--url",
            &proxy.url(""),
            "--token",
            key,
            "--json",
        ]));
        seen.push_str(&out.all());
        let out =
            run(jbproxy(home.path()).args(["stats", "--url", &proxy.url(""), "--token", key]));
        seen.push_str(&out.all());
    }

    proxy.signal("TERM");
    assert!(
        proxy.wait(Duration::from_secs(10)).is_some(),
        "did not exit"
    );
    // The log reader catches up with the last lines.
    common::eventually(Duration::from_secs(5), async || {
        proxy.logs().contains("server stopped")
    })
    .await;
    let logs = proxy.logs();
    assert!(logs.contains("DEBUG"), "not at debug level: {logs}");
    assert!(logs.contains("JWT token marked as unhealthy"), "{logs}");
    // The surface really was covered: auth failures, the 503, a refused reload, upstream errors.
    for expected in [
        "401 Unauthorized",
        "503 Service Unavailable",
        "422 Unprocessable Entity",
        "413 Payload Too Large",
        "upstream_rejected_request",
        "stream_interrupted",
        "jbproxy_",
    ] {
        assert!(seen.contains(expected), "never saw {expected}:\n{seen}");
    }
    assert_clean("the server log", &logs, &secrets);
    assert_clean(
        "the server's stdout",
        &proxy.stdout.lock().expect("stdout"),
        &secrets,
    );
    assert_clean("a response", &seen, &secrets);
}

fn path_of(proxy: &Proxy) -> std::path::PathBuf {
    proxy.dir.path().join("config.json")
}

/// Sends a request and returns its status, headers and body as text.
async fn exchange(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.expect("request");
    let mut text = format!("{}\n", response.status());
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            value.to_str().unwrap_or("<binary>")
        ));
    }
    text.push_str(&response.text().await.unwrap_or_default());
    text.push('\n');
    text
}

/// What a CLI run is called, its arguments and its extra environment.
type CliRun = (String, Vec<String>, Vec<(&'static str, String)>);

#[test]
fn no_secret_appears_in_any_cli_output() {
    let secrets = Secrets::new();
    let dir = common::tempdir();
    let config = secrets.config("http://127.0.0.1:9");
    let good = common::write(dir.path(), "config.json", &config.to_string());
    let good = good.display().to_string();
    let mut broken_syntax = config.to_string();
    broken_syntax.truncate(broken_syntax.len() / 2);
    let broken_syntax = common::write(dir.path(), "broken.json", &broken_syntax);
    let mut misplaced = config.clone();
    misplaced["jetbrains_tokens"] = json!(secrets.jwt("good"));
    let misplaced = common::write(dir.path(), "misplaced.json", &misplaced.to_string());
    let mut wrong_type = config.clone();
    wrong_type["server_port"] = json!(secrets.jwt("good"));
    wrong_type["jetbrains_tokens"][0]["priority"] = json!(secrets.jwt("flaky"));
    let wrong_type = common::write(dir.path(), "wrong_type.json", &wrong_type.to_string());
    let mut unknown_key = config.clone();
    unknown_key[secrets.jwt("good")] = json!(1);
    let unknown_key = common::write(dir.path(), "unknown_key.json", &unknown_key.to_string());

    let jwt_list = format!("{},{}", secrets.jwt("good"), secrets.jwt("old"));
    let bad_files = [&broken_syntax, &misplaced, &wrong_type, &unknown_key];
    let mut runs: Vec<CliRun> = vec![
        (
            "print-config".into(),
            vec!["--config".into(), good.clone(), "print-config".into()],
            vec![],
        ),
        (
            "print-config --json".into(),
            vec![
                "--config".into(),
                good.clone(),
                "print-config".into(),
                "--json".into(),
            ],
            vec![],
        ),
        (
            "print-config with flags".into(),
            vec![
                "print-config".into(),
                "-c".into(),
                jwt_list.clone(),
                "-k".into(),
                BEARER.into(),
            ],
            vec![],
        ),
        (
            "print-config from the environment".into(),
            vec!["print-config".into(), "--json".into()],
            vec![
                ("JWT_TOKENS", jwt_list.clone()),
                ("BEARER_TOKEN", BEARER.into()),
                ("ADMIN_TOKEN", ADMIN.into()),
            ],
        ),
        (
            "check-tokens".into(),
            vec!["--config".into(), good.clone(), "check-tokens".into()],
            vec![],
        ),
        (
            "check-tokens --json".into(),
            vec![
                "--config".into(),
                good.clone(),
                "check-tokens".into(),
                "--json".into(),
            ],
            vec![],
        ),
        (
            "decode-jwt".into(),
            vec!["decode-jwt".into(), secrets.jwt("good").into()],
            vec![],
        ),
        (
            "decode-jwt --json".into(),
            vec![
                "decode-jwt".into(),
                "--json".into(),
                secrets.jwt("old").into(),
            ],
            vec![],
        ),
        (
            "decode-jwt --name".into(),
            vec![
                "--config".into(),
                good.clone(),
                "decode-jwt".into(),
                "--name".into(),
                "flaky".into(),
            ],
            vec![],
        ),
        (
            "decode-jwt --name unknown".into(),
            vec![
                "--config".into(),
                good.clone(),
                "decode-jwt".into(),
                "--name".into(),
                "zzz".into(),
            ],
            vec![],
        ),
        (
            "decode-jwt of a damaged token".into(),
            vec!["decode-jwt".into(), format!("{}x!", secrets.jwt("good"))],
            vec![],
        ),
        (
            "stats with nothing listening".into(),
            vec!["--config".into(), good.clone(), "stats".into()],
            vec![],
        ),
        (
            "stats with a wrong key and nothing listening".into(),
            vec![
                "stats".into(),
                "--url".into(),
                "http://127.0.0.1:9".into(),
                "--token".into(),
                ADMIN.into(),
            ],
            vec![],
        ),
        (
            "completions".into(),
            vec!["completions".into(), "bash".into()],
            vec![],
        ),
        (
            "generate-config".into(),
            vec![
                "generate-config".into(),
                "--non-interactive".into(),
                "-o".into(),
                "gen/config.json".into(),
                "--env-output".into(),
                "gen/.env.example".into(),
            ],
            vec![],
        ),
        (
            "generate-config again".into(),
            vec![
                "--config".into(),
                good.clone(),
                "generate-config".into(),
                "--non-interactive".into(),
                "-o".into(),
                "gen/config.json".into(),
                "--env-output".into(),
                "gen/.env.example".into(),
            ],
            vec![],
        ),
        (
            "serve on a busy address".into(),
            vec![
                "--config".into(),
                good.clone(),
                "serve".into(),
                "-h".into(),
                "256.1.1.1".into(),
            ],
            vec![("RUST_LOG", "debug".into())],
        ),
        (
            "serve with an expired-only pool".into(),
            vec![
                "serve".into(),
                "-c".into(),
                secrets.jwt("old").into(),
                "-k".into(),
                BEARER.into(),
                "-p".into(),
                "1".into(),
                "-h".into(),
                "127.0.0.1".into(),
            ],
            vec![("RUST_LOG", "debug".into())],
        ),
        ("help".into(), vec!["--help".into()], vec![]),
    ];
    for file in bad_files {
        let file = file.display().to_string();
        for command in ["print-config", "check-tokens", "serve", "stats"] {
            runs.push((
                format!("{command} with {file}"),
                vec!["--config".into(), file.clone(), command.into()],
                vec![("RUST_LOG", "debug".into())],
            ));
        }
    }
    for (what, args, env) in runs {
        let mut cmd = jbproxy(dir.path());
        cmd.args(&args).timeout(Duration::from_secs(10));
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = run(&mut cmd);
        assert_clean(&what, &out.all(), &secrets);
    }
}
