//! Issue 11, "the operator's first hour": README's "use it for real" path walked end to end in a fresh home and
//! working directory, and each trap found on the way, driven as a user drives it: a pseudo-terminal for
//! `generate-config`'s questions, the binary as a process, the server over a socket.
use crate::common;
use crate::common::proxy::Proxy;
use common::repo;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jbproxy::fake_upstream::{FakeOptions, FakeUpstream, mint_expired_jwt, mint_jwt};
use serde_json::Value;

/// A port nothing listens on right now, for a config that must name one.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A fresh working directory with an empty home inside it, as a new operator has.
fn fresh() -> tempfile::TempDir {
    let dir = common::tempdir();
    std::fs::create_dir_all(dir.path().join("home")).expect("create home");
    dir
}

#[cfg(unix)]
mod pty {
    //! `jbproxy` in a pseudo-terminal, answering its questions as a person types.
    use super::*;

    pub type Session = rexpect::session::PtySession;

    pub fn spawn(dir: &Path, args: &[&str]) -> Session {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jbproxy"));
        for name in common::SCRUBBED {
            cmd.env_remove(name);
        }
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if text.starts_with("JWT_") || text.starts_with("JBPROXY_") {
                cmd.env_remove(&name);
            }
        }
        cmd.current_dir(dir)
            .env("HOME", dir.join("home"))
            .env("TERM", "xterm")
            .env("RUST_BACKTRACE", "0")
            .args(args);
        let options = rexpect::session::Options::new()
            .timeout_ms(Some(30_000))
            .strip_ansi_escape_codes(true);
        rexpect::spawn_with_options(cmd, options).expect("spawn jbproxy in a pty")
    }

    /// Waits for `text`, failing with what was seen instead.
    pub fn expect(session: &mut Session, text: &str) -> String {
        session
            .exp_string(text)
            .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"))
    }

    pub fn answer(session: &mut Session, prompt: &str, line: &str) {
        expect(session, prompt);
        session.send_line(line).expect("type an answer");
    }

    /// One key, no Enter (a yes/no question).
    pub fn key(session: &mut Session, prompt: &str, key: &str) {
        expect(session, prompt);
        session.send(key).expect("press a key");
        session.flush().expect("flush");
    }

    /// The exit code once the program has ended.
    pub fn exit_code(session: &mut Session) -> String {
        let rest = session.exp_eof().unwrap_or_default();
        let status = session.process_mut().wait().expect("wait for jbproxy");
        // nix's WaitStatus, e.g. `Exited(Pid(42), 0)`; rexpect does not re-export the type.
        let status = format!("{status:?}");
        assert!(
            status.starts_with("Exited("),
            "{status}; last output: {rest}"
        );
        status
            .trim_end_matches(')')
            .rsplit(", ")
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// `generate-config` on a terminal, answered for two working tokens and the defaults, listening on `port`.
#[cfg(unix)]
fn generate_interactively(dir: &Path, tokens: &[(&str, &str)], port: u16) {
    let mut s = pty::spawn(dir, &["generate-config"]);
    for (i, (jwt, name)) in tokens.iter().enumerate() {
        pty::answer(&mut s, &format!("JWT #{}", i + 1), jwt);
        pty::expect(&mut s, "ok, expires");
        pty::answer(&mut s, "name", name);
    }
    pty::answer(&mut s, &format!("JWT #{}", tokens.len() + 1), "");
    pty::answer(&mut s, "Enter: generate a strong random key", "");
    pty::answer(&mut s, "Load balance strategy", "");
    pty::answer(&mut s, "Listen address", "");
    pty::answer(&mut s, "Listen port", &port.to_string());
    pty::answer(&mut s, "Health check interval", "");
    pty::expect(
        &mut s,
        "wrote config/config.json and .env.example (mode 0600)",
    );
    pty::expect(&mut s, "next: `jbproxy check-tokens`");
    assert_eq!(pty::exit_code(&mut s), "0");
}

/// README's "use it for real", in order: generate-config → check-tokens → print-config → serve → stats → SIGTERM,
/// in a fresh home and working directory. Nothing on the way may warn or fail; the only change from a real run is
/// `UPSTREAM_URL`, pointing `serve` at the in-repo fake instead of JetBrains AI.
#[cfg(unix)]
#[test]
fn the_readme_path_runs_end_to_end_without_a_warning() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fake = runtime
        .block_on(FakeUpstream::start(FakeOptions::default()))
        .expect("fake upstream");
    let dir = fresh();
    let port = free_port();
    let week = Duration::from_secs(7 * 86_400);
    let (primary, spare) = (mint_jwt("primary", week), mint_jwt("spare", week));
    generate_interactively(
        dir.path(),
        &[(&primary, "primary"), (&spare, "spare")],
        port,
    );

    let check = common::run(common::jbproxy(dir.path()).arg("check-tokens"));
    assert_eq!(check.code, Some(0), "{}", check.all());
    assert_eq!(check.stderr, "", "check-tokens warned");
    assert!(
        check.stdout.contains("0 of 2 tokens failed"),
        "{}",
        check.stdout
    );

    let print = common::run(common::jbproxy(dir.path()).arg("print-config"));
    assert_eq!(print.code, Some(0), "{}", print.all());
    assert_eq!(print.stderr, "", "print-config warned");
    assert!(
        print.stdout.starts_with("config file: config/config.json"),
        "{}",
        print.stdout
    );

    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("config/config.json")).expect("read config"),
    )
    .expect("config is JSON");
    assert_eq!(config["server_host"], "127.0.0.1");
    let key = config["bearer_token"]
        .as_str()
        .expect("a bearer key")
        .to_string();

    let mut server = Proxy::spawn(
        dir,
        &["serve".to_string()],
        &[("UPSTREAM_URL", fake.url().as_str())],
    );
    assert_eq!(server.addr.to_string(), format!("127.0.0.1:{port}"));
    let answer = runtime.block_on(async {
        reqwest::Client::new()
            .post(server.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}))
            .send()
            .await
            .expect("chat")
    });
    assert_eq!(answer.status(), 200);

    let stats = common::run(common::jbproxy(server.dir.path()).arg("stats"));
    assert_eq!(stats.code, Some(0), "{}", stats.all());
    assert_eq!(stats.stderr, "", "stats warned");
    for name in ["primary", "spare", "healthy"] {
        assert!(stats.stdout.contains(name), "{}", stats.stdout);
    }

    server.signal("TERM");
    let status = server
        .wait(Duration::from_secs(15))
        .expect("serve stops on SIGTERM");
    assert_eq!(status.code(), Some(0));
    let logs = server.logs();
    for surprise in ["WARN", "ERROR", "warning:", "error:"] {
        assert!(
            !logs.contains(surprise),
            "{surprise} in serve's log:\n{logs}"
        );
    }
}

/// Issue 11.3: two tokens named alike, an expired JWT called "ok", a one-letter key and numbers refused in Rust's
/// words. Each answer is now checked as it is given, and the file written loads.
#[cfg(unix)]
#[test]
fn interactive_generate_config_checks_every_answer_as_it_is_given() {
    let dir = fresh();
    let week = Duration::from_secs(7 * 86_400);
    let (first, second) = (mint_jwt("first", week), mint_jwt("second", week));
    let mut s = pty::spawn(dir.path(), &["generate-config"]);

    pty::answer(&mut s, "JWT #1", &mint_expired_jwt("old"));
    pty::expect(&mut s, "this JWT expired 1h 0m ago");
    pty::key(&mut s, "Keep it anyway?", "n");
    pty::answer(&mut s, "JWT #1", "not-a-jwt");
    pty::expect(&mut s, "not a JWT: expected three dot-separated parts");
    pty::answer(&mut s, "JWT #1", &format!("Bearer {first}"));
    pty::expect(&mut s, "without the prefix; try again");
    pty::answer(&mut s, "JWT #1", &first);
    pty::expect(&mut s, "ok, expires in 6d");
    pty::answer(&mut s, "name", "main");

    pty::answer(&mut s, "JWT #2", &first);
    pty::expect(
        &mut s,
        "this JWT was already entered as #1 (main); try again",
    );
    pty::answer(&mut s, "JWT #2", &second);
    pty::answer(&mut s, "name", "main");
    pty::expect(
        &mut s,
        "\"main\" is already the name of JWT #1; every token needs its own name",
    );
    pty::answer(&mut s, "name", "spare");
    pty::answer(&mut s, "JWT #3", "");

    pty::answer(
        &mut s,
        "Bearer key clients will send (Enter: generate a strong random key)",
        "x",
    );
    pty::expect(
        &mut s,
        "too short: anyone could guess it; use at least 16 characters",
    );
    pty::answer(&mut s, "Bearer key", "");
    pty::expect(&mut s, "generated a random key");
    pty::answer(&mut s, "Load balance strategy", "");
    // The prompt says when 0.0.0.0 is needed; Enter keeps loopback.
    pty::answer(
        &mut s,
        "Listen address (127.0.0.1: this machine only; 0.0.0.0: other machines too, e.g. in a container)",
        "",
    );
    pty::answer(&mut s, "Listen port", "eighty");
    pty::expect(
        &mut s,
        "\"eighty\" is not a port number; use a whole number from 0 to 65535",
    );
    pty::answer(&mut s, "Listen port", "9123");
    pty::answer(&mut s, "Health check interval", "often");
    pty::expect(
        &mut s,
        "\"often\" is not a duration; expected e.g. 30s, 5m or 1h 30m",
    );
    pty::answer(&mut s, "Health check interval", "45s");
    pty::expect(&mut s, "wrote config/config.json");
    assert_eq!(pty::exit_code(&mut s), "0");

    let effective = common::effective(dir.path(), &[], &[]);
    let names: Vec<&str> = effective["jetbrains_tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["main", "spare"]);
    assert_eq!(effective["server_host"], "127.0.0.1");
    assert_eq!(effective["server_port"], 9123);
    assert_eq!(effective["health_check_interval"], "45s");
    let written = std::fs::read_to_string(dir.path().join("config/config.json")).expect("read");
    let written: Value = serde_json::from_str(&written).expect("json");
    let key = written["bearer_token"].as_str().unwrap_or_default();
    assert!(key.starts_with("sk-jbp-") && key.len() > 40, "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("config/config.json"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// Issue 11.3: "no" to "overwrite?" was an error (exit 2). It is the user's choice: exit 0, nothing written.
#[cfg(unix)]
#[test]
fn answering_no_to_overwrite_exits_0_and_writes_nothing() {
    let dir = fresh();
    let before = "{\"jetbrains_tokens\": []}\n";
    common::write(dir.path(), "config/config.json", before);
    let mut s = pty::spawn(dir.path(), &["generate-config"]);
    pty::key(&mut s, "config/config.json exists. Overwrite it?", "n");
    pty::expect(&mut s, "nothing written; config/config.json is unchanged");
    assert_eq!(pty::exit_code(&mut s), "0");
    let after = std::fs::read_to_string(dir.path().join("config/config.json")).expect("read");
    assert_eq!(after, before);
    assert!(!dir.path().join(".env.example").exists());
}

/// Issue 11.4: the generated config listened on 0.0.0.0 while README says 127.0.0.1.
#[test]
fn the_generated_config_listens_on_loopback() {
    let dir = fresh();
    let run = common::run(common::jbproxy(dir.path()).arg("generate-config"));
    assert_eq!(run.code, Some(0), "{}", run.all());
    let effective = common::effective(dir.path(), &[], &[]);
    assert_eq!(effective["server_host"], "127.0.0.1");
    assert_eq!(
        effective["sources"]["server_host"],
        "file config/config.json"
    );
}

/// Issue 11.6: `config/config.json` and `.env` written inside the repository were not ignored by git.
#[test]
fn gitignore_keeps_the_files_with_secrets_out_of_git() {
    let dir = common::tempdir();
    std::fs::copy(repo(".gitignore"), dir.path().join(".gitignore")).expect("copy .gitignore");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run git")
    };
    assert!(git(&["init", "-q"]).status.success());
    let ignored = [
        "config/config.json",
        ".env",
        "config.json",
        "configs/config.json",
        ".config/jetbrains-ai-proxy.json",
        "config/.config.json.tmp-4242",
    ];
    for path in ignored {
        let out = git(&["check-ignore", "--no-index", "-q", path]);
        assert!(out.status.success(), "{path} is not ignored by .gitignore");
    }
    for kept in [
        "config/config.example.json",
        "config/.env.example",
        ".env.example",
        "src/main.rs",
    ] {
        let out = git(&["check-ignore", "--no-index", "-q", kept]);
        assert_eq!(out.status.code(), Some(1), "{kept} should not be ignored");
    }
}

/// Issue 11.8: `generate-config` ignored the global `--config` (and wrote config/config.json instead).
#[test]
fn generate_config_writes_the_file_named_by_the_global_config() {
    let dir = fresh();
    let run =
        common::run(common::jbproxy(dir.path()).args(["--config", "prod.json", "generate-config"]));
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(dir.path().join("prod.json").is_file());
    assert!(!dir.path().join("config/config.json").exists());
    assert!(
        run.stderr.contains("`jbproxy --config prod.json serve`"),
        "{}",
        run.stderr
    );
    let run = common::run(common::jbproxy(dir.path()).args([
        "--config",
        "prod.json",
        "generate-config",
        "--output",
        "other.json",
    ]));
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("name different files"),
        "{}",
        run.stderr
    );
}

/// Issue 11.8: `check-tokens` had no `-c`, so what `serve -c` would use could not be checked.
#[test]
fn check_tokens_checks_the_tokens_given_with_c() {
    let dir = fresh();
    let good = mint_jwt("a", Duration::from_secs(7 * 86_400));
    let run = common::run(common::jbproxy(dir.path()).args([
        "check-tokens",
        "-c",
        &format!("{good},{}", mint_expired_jwt("b")),
    ]));
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.stdout.contains("token-1") && run.stdout.contains("expired"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 of 2 tokens failed"),
        "{}",
        run.stdout
    );
    let run =
        common::run(common::jbproxy(dir.path()).args(["check-tokens", "--jwt-tokens", &good]));
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(run.stdout.contains("0 of 1 token failed"), "{}", run.stdout);
}

/// Issue 11.8: `stats -k` (as `serve -k`) and `--url HOST:PORT` without a scheme; `--watch` into a pipe wrote
/// screen-clearing codes, and Ctrl-C ended it with an error status.
#[cfg(unix)]
#[test]
fn stats_takes_k_and_host_port_and_watches_into_a_pipe_until_ctrl_c() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fake = runtime
        .block_on(FakeUpstream::start(FakeOptions::default()))
        .expect("fake upstream");
    let config = common::serve::config_for(&fake, &["one", "two"], serde_json::json!({}));
    let server = Proxy::start(&config, &[]);
    let dir = fresh();
    let url = server.addr.to_string();

    let run = common::run(common::jbproxy(dir.path()).args([
        "stats",
        "--url",
        &url,
        "-k",
        common::serve::KEY,
        "--json",
    ]));
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert_eq!(run.json()["tokens"].as_array().map(Vec::len), Some(2));

    let mut watch = Command::new(env!("CARGO_BIN_EXE_jbproxy"))
        .args([
            "stats",
            "--url",
            &url,
            "--token",
            common::serve::KEY,
            "--watch",
            "200ms",
        ])
        .current_dir(dir.path())
        .env("HOME", dir.path().join("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stats --watch");
    let printed = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (printed, mut pipe) = (Arc::clone(&printed), watch.stdout.take().expect("stdout"));
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..n]).into_owned();
                printed.lock().expect("stdout").push_str(&text);
            }
        })
    };
    // Two refreshes at least, then Ctrl-C.
    let refreshed = common::eventually_blocking(Duration::from_secs(10), || {
        printed
            .lock()
            .expect("stdout")
            .matches("usable / tokens")
            .count()
            >= 2
    });
    let status = Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let stopped = common::eventually_blocking(Duration::from_secs(10), || {
        !matches!(watch.try_wait(), Ok(None))
    });
    assert!(stopped, "stats --watch did not stop on SIGINT");
    let out = watch.wait_with_output().expect("output");
    reader.join().expect("stdout reader");
    let stdout = printed.lock().expect("stdout").clone();
    assert!(refreshed, "{stdout}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.matches("usable / tokens").count() >= 2, "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "control codes in a pipe: {stdout:?}"
    );
}

/// Issue 11.8: `serve -s <TAB>` completed nothing. Runs the checked-in bash completion as bash would.
#[test]
fn serve_s_completes_the_strategy_names() {
    let script = repo("completions/jbproxy.bash");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(jbproxy serve -s ''); COMP_CWORD=3; _jbproxy jbproxy '' -s; \
             echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .expect("run bash");
    let words = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        words.trim(),
        "round_robin random weighted least_inflight",
        "{out:?}"
    );
}

/// Issue 11.8: the install lines in commands/completions.md wrote into directories a fresh home does not have.
/// Runs the page's `sh` block as it stands, with jbproxy on PATH and an empty HOME.
#[test]
fn the_completion_install_lines_work_in_a_fresh_home() {
    let page = std::fs::read_to_string(repo("commands/completions.md")).expect("read the page");
    let section = &page[page.find("## Installing").expect("an Installing section")..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an sh block");
    let dir = fresh();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_jbproxy"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-e", "-c", block])
        .env("HOME", dir.path().join("home"))
        .env("PATH", path)
        .current_dir(dir.path())
        .output()
        .expect("run sh");
    assert!(out.status.success(), "{out:?}");
    let home = dir.path().join("home");
    for script in [
        ".local/share/bash-completion/completions/jbproxy",
        ".zfunc/_jbproxy",
        ".config/fish/completions/jbproxy.fish",
    ] {
        let text = std::fs::read_to_string(home.join(script)).unwrap_or_default();
        assert!(text.contains("jbproxy"), "{script} was not written");
    }
}

/// Issue 11.8: `--help` of every subcommand gives its exit codes, and `serve --help` lists `--demo` and
/// `--log-format` before `--help`.
#[test]
fn every_help_gives_the_exit_codes() {
    let dir = fresh();
    for sub in [
        "serve",
        "generate-config",
        "print-config",
        "check-tokens",
        "decode-jwt",
        "stats",
        "completions",
    ] {
        let run = common::run(common::jbproxy(dir.path()).args([sub, "--help"]));
        assert_eq!(run.code, Some(0), "{sub}: {}", run.all());
        assert!(
            run.stdout.contains("Exit codes:\n  0  "),
            "{sub}:\n{}",
            run.stdout
        );
    }
    let help = common::run(common::jbproxy(dir.path()).args(["serve", "--help"])).stdout;
    let at = |flag: &str| {
        help.find(flag)
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"))
    };
    assert!(at("--demo") < at("      --help"), "{help}");
    assert!(at("--log-format") < at("      --help"), "{help}");
}

/// Issue 11.9: a value set in the file and the same value set in the environment are explained in the same words.
#[test]
fn file_and_environment_mistakes_read_alike() {
    let dir = fresh();
    for (key, var, value, words) in [
        (
            "server_port",
            "SERVER_PORT",
            "eighty",
            "\"eighty\" is not a port number; use a whole number from 0 to 65535",
        ),
        (
            "health_check_interval",
            "HEALTH_CHECK_INTERVAL",
            "soon",
            "\"soon\" is not a duration; expected e.g. 30s, 5m or 1h 30m",
        ),
        (
            "load_balance_strategy",
            "LOAD_BALANCE_STRATEGY",
            "fastest",
            "unknown load balance strategy \"fastest\"; valid values are",
        ),
    ] {
        common::write(dir.path(), "c.json", &format!("{{\"{key}\": \"{value}\"}}"));
        let file =
            common::run(common::jbproxy(dir.path()).args(["--config", "c.json", "print-config"]));
        let env = common::run(
            common::jbproxy(dir.path())
                .arg("print-config")
                .env(var, value),
        );
        for (run, origin) in [(&file, key.to_string()), (&env, format!("env {var}"))] {
            assert_eq!(run.code, Some(2), "{}", run.all());
            assert!(
                run.stderr.contains(&format!("{origin}: {words}")),
                "{origin}: {}",
                run.stderr
            );
        }
    }
}

/// Issue 11.9: a variable that looks like a misspelt jbproxy one was silently ignored.
#[test]
fn a_misspelt_variable_is_pointed_out() {
    let dir = fresh();
    common::write(
        dir.path(),
        ".env",
        "# mine\nBEARER_TOKNE=sk-something-long-enough\n",
    );
    let run = common::run(
        common::jbproxy(dir.path())
            .arg("print-config")
            .env("JWT_TOKES", "x"),
    );
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stderr.contains(
            "warning: the environment variable JWT_TOKES is set, which jbproxy does not read; did you mean JWT_TOKENS?"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("warning: .env (line 2) sets BEARER_TOKNE, which jbproxy does not read; did you mean BEARER_TOKEN?"),
        "{}",
        run.stderr
    );
    // Unrelated variables are not suspects.
    let run = common::run(
        common::jbproxy(dir.path())
            .arg("print-config")
            .env("SERVER_NAME", "x")
            .env("EDITOR", "vi"),
    );
    assert!(
        !run.stderr.contains("SERVER_NAME") && !run.stderr.contains("EDITOR"),
        "{}",
        run.stderr
    );
}

/// Issue 11.10: "the seed" is this project's jargon; users read the original project's name.
#[test]
fn no_user_facing_text_says_the_seed() {
    let mut pages = vec![
        repo("README.md"),
        repo("config/README.md"),
        repo("config/config.example.json"),
        repo("config/.env.example"),
        repo("RELIABILITY.md"),
        repo("BENCHMARKS.md"),
    ];
    for entry in std::fs::read_dir(repo("commands")).expect("commands/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let dir = fresh();
    let mut texts: Vec<(String, String)> = pages
        .iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(p).expect("read"),
            )
        })
        .collect();
    for sub in [
        "",
        "serve",
        "generate-config",
        "print-config",
        "check-tokens",
        "decode-jwt",
        "stats",
        "completions",
    ] {
        let mut cmd = common::jbproxy(dir.path());
        if !sub.is_empty() {
            cmd.arg(sub);
        }
        texts.push((
            format!("jbproxy {sub} --help"),
            common::run(cmd.arg("--help")).stdout,
        ));
    }
    for (name, text) in texts {
        let lower = text.to_lowercase();
        assert!(
            !lower.contains("the seed") && !lower.contains("seed's"),
            "{name} says \"the seed\""
        );
    }
}

/// Issue 11.10: config/README.md is the one per-key reference; README and the command pages link to it instead of
/// repeating its tables (which had drifted), and it states what `request_timeout` really bounds.
#[test]
fn config_readme_is_the_one_key_reference() {
    let keys = jbproxy::config::settings::TOP_LEVEL_KEYS;
    let reference = std::fs::read_to_string(repo("config/README.md")).expect("read");
    let mut pages = vec![repo("README.md")];
    for entry in std::fs::read_dir(repo("commands")).expect("commands/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    for page in pages {
        let text = std::fs::read_to_string(&page).expect("read");
        let must_link = page.ends_with("README.md") && !page.ends_with("commands/README.md")
            || page.ends_with("serve.md");
        if must_link {
            assert!(
                text.contains("config/README.md)"),
                "{} does not link to config/README.md",
                page.display()
            );
        }
        for line in text.lines().filter(|l| l.starts_with("| `")) {
            let first_cell = line.split('|').nth(1).unwrap_or_default();
            let named: Vec<&str> = keys
                .iter()
                .filter(|k| first_cell.contains(&format!("`{k}`")))
                .copied()
                .collect();
            assert!(
                named.is_empty(),
                "{} repeats the key table: {line}",
                page.display()
            );
        }
        for row in ["| `round_robin`", "| `quota` (default)"] {
            assert!(
                !text.lines().any(|l| l.starts_with(row)),
                "{} repeats a table of config/README.md",
                page.display()
            );
        }
    }
    // The test that proves it: pool_failover::fails_over_past_slow_headers (a chat past request_timeout fails over).
    let row = reference
        .lines()
        .find(|l| l.starts_with("| `request_timeout`"))
        .expect("a request_timeout row");
    assert!(
        row.contains("chat requests") && !row.contains("not applied to chat"),
        "{row}"
    );
}

/// Issue 11.11: only the first lines of the demo's log said "demo"; every line now does.
#[test]
fn every_line_of_the_demos_log_is_labelled() {
    let dir = common::tempdir();
    let mut demo = Proxy::spawn(
        dir,
        &["serve".into(), "--demo".into(), "-p".into(), "0".into()],
        &[],
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let key = demo
        .stdout_with("API key made up for this demo: ")
        .lines()
        .find_map(|l| l.strip_prefix("API key made up for this demo: "))
        .map(str::to_string)
        .expect("the made-up key");
    let answer = runtime.block_on(async {
        reqwest::Client::new()
            .post(demo.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}))
            .send()
            .await
            .expect("chat")
    });
    assert_eq!(answer.status(), 200);
    demo.signal("TERM");
    assert!(demo.wait(Duration::from_secs(15)).is_some());
    let logs = demo.logs();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 8, "{logs}");
    for line in &lines {
        assert!(
            line.starts_with("[demo] "),
            "unlabelled demo log line: {line}"
        );
    }
    assert!(logs.contains("listening on"), "{logs}");
}
