//! `generate-config`: write a config file and `.env.example`, asking on a terminal, else writing the example.
//!
//! Every answer is checked as it is given, so the file written always loads: a second token with a name or JWT
//! already entered is refused, an expired one must be confirmed, and the result goes through the real loader
//! before anything touches the disk.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use base64::Engine;
use rand::RngExt;
use secrecy::ExposeSecret;
use serde_json::json;

use super::Context;
use crate::cli::GenerateConfigArgs;
use crate::config::{Strategy, discovery, explain, placeholder};
use crate::jwt::{self, DecodedJwt};
use crate::output;

/// The example config, the same file as `config/config.example.json` in the repository.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config/config.example.json");
pub const EXAMPLE_ENV: &str = include_str!("../../config/.env.example");

/// Where the config goes unless the user names a file.
pub const DEFAULT_OUTPUT: &str = "config/config.json";

/// The shortest client key accepted when asking: a key anyone can guess protects nothing.
pub const MIN_KEY_LEN: usize = 16;

/// A JWT expiring sooner than this is pointed out when asking (the same margin `check-tokens` warns at).
const EXPIRES_SOON: Duration = Duration::from_secs(24 * 3600);

pub fn run(ctx: &Context, args: GenerateConfigArgs) -> anyhow::Result<ExitCode> {
    let output = output_path(args.output.as_deref(), ctx.config_file.as_deref())?;
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    for path in [&output, &args.env_output] {
        // Replacing a FIFO or a device node by a file is never what was meant.
        if let Some(kind) = crate::config::regular_file::irregular(path) {
            anyhow::bail!(
                "{} is {kind}, not a regular file; give the path of a file to write (--force only replaces files)",
                path.display()
            );
        }
        if !path.exists() || args.force {
            continue;
        }
        if !interactive {
            anyhow::bail!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            );
        }
        if !confirm_overwrite(path)? {
            // The user's choice, not a failure.
            eprintln!("nothing written; {} is unchanged", path.display());
            return Ok(ExitCode::SUCCESS);
        }
    }
    let config_text = if interactive {
        ask()?
    } else {
        example_with_fresh_bearer()?
    };
    // Loaded by the real loader before it is written, so the file always loads as it stands.
    let written = crate::config::load_text(&config_text, &output)
        .context("internal error: the generated config does not load")?;
    let has_real_tokens = written
        .tokens
        .iter()
        .any(|t| DecodedJwt::decode(t.token.expose_secret()).is_ok());
    output::write_secret_file(&output, &config_text)
        .with_context(|| format!("cannot write {}", output.display()))?;
    output::write_secret_file(&args.env_output, EXAMPLE_ENV)
        .with_context(|| format!("cannot write {}", args.env_output.display()))?;
    eprintln!(
        "wrote {} and {} (mode 0600)",
        output.display(),
        args.env_output.display()
    );
    let run_with = if on_search_path(&output) {
        "jbproxy".to_string()
    } else {
        format!("jbproxy --config {}", output.display())
    };
    if has_real_tokens {
        eprintln!("next: `{run_with} check-tokens` to check them, then `{run_with} serve`");
    } else {
        eprintln!(
            "next: put your JetBrains AI JWTs in {}, then run `{run_with} serve`",
            output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--output`, else the global `--config` (the file the other commands will read), else the default. Both given
/// and different is a contradiction the user must settle.
fn output_path(output: Option<&Path>, config: Option<&Path>) -> anyhow::Result<PathBuf> {
    match (output, config) {
        (Some(out), Some(cfg)) if out != cfg => anyhow::bail!(
            "--config {} and --output {} name different files; generate-config writes one config file, so give \
only one of them",
            cfg.display(),
            out.display()
        ),
        (Some(path), _) | (None, Some(path)) => Ok(path.to_path_buf()),
        (None, None) => Ok(PathBuf::from(DEFAULT_OUTPUT)),
    }
}

/// Whether the other commands find this file without `--config`.
fn on_search_path(path: &Path) -> bool {
    discovery::SEARCH_PATH
        .iter()
        .any(|p| Path::new(p) == path.strip_prefix("./").unwrap_or(path))
}

fn confirm_overwrite(path: &Path) -> anyhow::Result<bool> {
    Ok(dialoguer::Confirm::new()
        .with_prompt(format!("{} exists. Overwrite it?", path.display()))
        .default(false)
        .interact()?)
}

/// A bearer key strong enough to expose: 32 random bytes.
pub fn new_bearer_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "sk-jbp-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The example as it is laid out in the repository (its comments beside their keys), with a fresh bearer key in
/// place of its placeholder.
fn example_with_fresh_bearer() -> anyhow::Result<String> {
    let placeholder = "\"your_bearer_token_here\"";
    anyhow::ensure!(
        EXAMPLE_CONFIG.contains(placeholder),
        "internal error: the example config has no bearer_token placeholder"
    );
    Ok(EXAMPLE_CONFIG.replacen(placeholder, &format!("\"{}\"", new_bearer_token()), 1))
}

/// One JWT entered so far: its text and name, to refuse a second one like it.
struct Entered {
    token: String,
    name: String,
}

fn ask() -> anyhow::Result<String> {
    use dialoguer::{Input, Select};
    let mut tokens: Vec<Entered> = Vec::new();
    while let Some(token) = ask_token(&tokens)? {
        let default_name = (1..)
            .map(|i| format!("token-{i}"))
            .find(|n| tokens.iter().all(|t| &t.name != n))
            .unwrap_or_default();
        let name: String = Input::new()
            .with_prompt("  name")
            .default(default_name)
            .validate_with(|name: &String| check_name(name, &tokens))
            .interact_text()?;
        tokens.push(Entered {
            token,
            name: name.trim().to_string(),
        });
    }
    if tokens.is_empty() {
        eprintln!("no token entered; the config will have none until you add one");
    }
    let bearer: String = Input::new()
        .with_prompt("Bearer key clients will send (Enter: generate a strong random key)")
        .allow_empty(true)
        .validate_with(|key: &String| check_key(key))
        .interact_text()?;
    let bearer = match bearer.trim() {
        "" => {
            eprintln!("  generated a random key; it is the bearer_token in the config file");
            new_bearer_token()
        }
        key => key.to_string(),
    };
    let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
    let strategy = Select::new()
        .with_prompt("Load balance strategy")
        .items(&names)
        .default(0)
        .interact()?;
    let host: String = Input::new()
        .with_prompt(
            "Listen address (127.0.0.1: this machine only; 0.0.0.0: other machines too, e.g. in a container)",
        )
        .default("127.0.0.1".into())
        .validate_with(|host: &String| check_host(host))
        .interact_text()?;
    let port: String = Input::new()
        .with_prompt("Listen port")
        .default("8080".into())
        .validate_with(|port: &String| check_port(port).map(|_| ()))
        .interact_text()?;
    let interval: String = Input::new()
        .with_prompt("Health check interval")
        .default("30s".into())
        .validate_with(|v: &String| check_interval(v))
        .interact_text()?;
    let value = json!({
        "jetbrains_tokens": tokens
            .iter()
            .map(|t| json!({"token": t.token, "name": t.name}))
            .collect::<Vec<_>>(),
        "bearer_token": bearer,
        "load_balance_strategy": names[strategy],
        "health_check_interval": interval.trim(),
        "server_port": check_port(&port).map_err(anyhow::Error::msg)?,
        "server_host": host.trim(),
    });
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

/// Asks for the next JWT until one is acceptable; `None` when the user ends the list with an empty entry.
fn ask_token(earlier: &[Entered]) -> anyhow::Result<Option<String>> {
    loop {
        let token: String = dialoguer::Password::new()
            .with_prompt(format!(
                "JetBrains AI JWT #{} (input hidden; Enter on an empty entry to finish)",
                earlier.len() + 1
            ))
            .allow_empty_password(true)
            .interact()?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Ok(None);
        }
        match judge_token(&token, earlier, SystemTime::now()) {
            TokenAnswer::Refused(why) => eprintln!("  {why}; try again"),
            TokenAnswer::Fine(note) => {
                eprintln!("  ok, {note}");
                return Ok(Some(token));
            }
            TokenAnswer::Doubtful { note, keep_default } => {
                eprintln!("  {note}");
                let keep = dialoguer::Confirm::new()
                    .with_prompt("  Keep it anyway?")
                    .default(keep_default)
                    .interact()?;
                if keep {
                    return Ok(Some(token));
                }
            }
        }
    }
}

/// What to make of an entered JWT.
#[derive(Debug, PartialEq, Eq)]
enum TokenAnswer {
    /// Usable; the note says until when.
    Fine(String),
    /// Not a JWT, or one already entered: ask again.
    Refused(String),
    /// Expired or about to: the user decides.
    Doubtful { note: String, keep_default: bool },
}

fn judge_token(token: &str, earlier: &[Entered], now: SystemTime) -> TokenAnswer {
    if placeholder::is_placeholder(token) {
        return TokenAnswer::Refused("that is an example's placeholder, not a JWT".into());
    }
    let decoded = match DecodedJwt::decode(token) {
        Ok(decoded) => decoded,
        Err(err) => return TokenAnswer::Refused(err.to_string()),
    };
    if let Some((i, first)) = earlier
        .iter()
        .enumerate()
        .find(|(_, e)| crate::secret::KeyDigest::new(&e.token).matches(token))
    {
        return TokenAnswer::Refused(format!(
            "this JWT was already entered as #{} ({})",
            i + 1,
            first.name
        ));
    }
    let Some(exp) = decoded.expires_at() else {
        return TokenAnswer::Fine(
            "it has no exp claim, so jbproxy cannot tell when it expires".into(),
        );
    };
    let when = format!("{} ({})", jwt::relative(exp, now), jwt::rfc3339(exp));
    if exp <= now {
        TokenAnswer::Doubtful {
            note: format!(
                "this JWT expired {when}: jbproxy will not use it unless it can refresh it (license_id and \
authorization, added to the file by hand)"
            ),
            keep_default: false,
        }
    } else if now.checked_add(EXPIRES_SOON).is_none_or(|soon| exp <= soon) {
        TokenAnswer::Doubtful {
            note: format!("this JWT expires soon: {when}"),
            keep_default: true,
        }
    } else {
        TokenAnswer::Fine(format!("expires {when}"))
    }
}

fn check_name(name: &str, earlier: &[Entered]) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("give the token a name; it is how logs and tables refer to it".into());
    }
    match earlier.iter().position(|e| e.name == name) {
        Some(i) => Err(format!(
            "\"{name}\" is already the name of JWT #{}; every token needs its own name",
            i + 1
        )),
        None => Ok(()),
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let key = key.trim();
    if key.is_empty() {
        Ok(())
    } else if placeholder::is_placeholder(key) {
        Err(
            "that is an example's placeholder; type your own key or press Enter to generate one"
                .into(),
        )
    } else if key.chars().count() < MIN_KEY_LEN {
        Err(format!(
            "too short: anyone could guess it; use at least {MIN_KEY_LEN} characters, or press Enter to generate one"
        ))
    } else if key.chars().any(char::is_whitespace) {
        Err("a key cannot contain spaces (clients send it in an HTTP header)".into())
    } else {
        Ok(())
    }
}

fn check_host(host: &str) -> Result<(), String> {
    let host = host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) {
        Err("give an IP address such as 127.0.0.1 or 0.0.0.0, or a host name".into())
    } else {
        Ok(())
    }
}

fn check_port(port: &str) -> Result<u16, String> {
    port.trim()
        .parse()
        .map_err(|_| explain::not_a_port(&format!("\"{}\"", port.trim())))
}

fn check_interval(text: &str) -> Result<(), String> {
    match crate::config::value::parse_duration(text)? {
        d if d < Duration::from_secs(1) => {
            Err("must be at least 1s; checks more often would only load JetBrains AI".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(delta: i64, now: SystemTime) -> i64 {
        now.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64 + delta)
            .unwrap_or(0)
    }

    #[test]
    fn each_jwt_answer_is_judged_as_it_is_given() {
        let now = SystemTime::now();
        let good = crate::jwt::unsigned(&json!({ "exp": unix(7 * 86_400, now) }));
        let earlier = [Entered {
            token: good.clone(),
            name: "main".into(),
        }];
        assert!(matches!(
            judge_token(&good, &earlier, now),
            TokenAnswer::Refused(why) if why.contains("already entered as #1 (main)")
        ));
        let expired = crate::jwt::unsigned(&json!({ "exp": unix(-3600, now) }));
        assert!(matches!(
            judge_token(&expired, &[], now),
            TokenAnswer::Doubtful { note, keep_default: false } if note.contains("expired 1h 0m ago")
        ));
        let soon = crate::jwt::unsigned(&json!({ "exp": unix(3600, now) }));
        assert!(matches!(
            judge_token(&soon, &[], now),
            TokenAnswer::Doubtful {
                keep_default: true,
                ..
            }
        ));
        assert!(matches!(judge_token(&good, &[], now), TokenAnswer::Fine(_)));
        assert!(matches!(
            judge_token("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9...", &[], now),
            TokenAnswer::Refused(why) if why.contains("placeholder")
        ));
        assert!(matches!(
            judge_token(&format!("Bearer {good}"), &[], now),
            TokenAnswer::Refused(why) if why.contains("without the prefix")
        ));
    }

    #[test]
    fn answers_are_checked_in_the_users_words() {
        let earlier = [Entered {
            token: "t".into(),
            name: "main".into(),
        }];
        assert!(check_name("main", &earlier).is_err_and(|e| e.contains("already the name")));
        assert!(check_name("spare", &earlier).is_ok());
        assert!(check_key("x").is_err_and(|e| e.contains("too short")));
        assert!(check_key("your_bearer_token").is_err_and(|e| e.contains("placeholder")));
        assert!(check_key("").is_ok());
        assert!(check_key("sk-a-long-enough-key-1234").is_ok());
        assert_eq!(
            check_port("eighty"),
            Err("\"eighty\" is not a port number; use a whole number from 0 to 65535".into())
        );
        assert_eq!(check_port(" 9000 "), Ok(9000));
        assert!(check_interval("often").is_err_and(|e| e.contains("expected e.g. 30s")));
        assert!(check_interval("10ms").is_err_and(|e| e.contains("at least 1s")));
    }

    #[test]
    fn the_output_is_the_global_config_unless_named() {
        assert_eq!(
            output_path(None, None).ok(),
            Some(PathBuf::from(DEFAULT_OUTPUT))
        );
        assert_eq!(
            output_path(None, Some(Path::new("my.json"))).ok(),
            Some(PathBuf::from("my.json"))
        );
        assert!(output_path(Some(Path::new("a.json")), Some(Path::new("b.json"))).is_err());
        assert!(on_search_path(Path::new("config/config.json")));
        assert!(!on_search_path(Path::new("deploy/prod.json")));
    }
}
