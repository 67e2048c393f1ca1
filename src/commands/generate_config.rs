//! `generate-config`: write a config file and `.env.example`, asking on a terminal, else writing the example.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use base64::Engine;
use rand::RngExt;
use serde_json::{Value, json};

use crate::cli::GenerateConfigArgs;
use crate::config::Strategy;
use crate::jwt::{self, DecodedJwt};
use crate::output;

/// The example config, the same file as `config/config.example.json` in the repository.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config/config.example.json");
pub const EXAMPLE_ENV: &str = include_str!("../../config/.env.example");

pub fn run(args: GenerateConfigArgs) -> anyhow::Result<ExitCode> {
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    for path in [&args.output, &args.env_output] {
        // Replacing a FIFO or a device node by a file is never what was meant.
        if let Some(kind) = crate::config::regular_file::irregular(path) {
            anyhow::bail!(
                "{} is {kind}, not a regular file; give the path of a file to write (--force only replaces files)",
                path.display()
            );
        }
        if path.exists() && !args.force && !confirm_overwrite(path, interactive)? {
            anyhow::bail!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            );
        }
    }
    let config_text = if interactive {
        ask()?
    } else {
        example_with_fresh_bearer()?
    };
    // Validate what we are about to write with the real loader's parser, so the file always loads.
    let written = crate::config::file::parse(&config_text, &args.output)
        .context("internal error: the generated config does not parse")?;
    let has_real_tokens = written
        .jetbrains_tokens
        .iter()
        .flatten()
        .filter_map(|t| t.token.as_deref())
        .any(|t| DecodedJwt::decode(t).is_ok());
    output::write_secret_file(&args.output, &config_text)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    output::write_secret_file(&args.env_output, EXAMPLE_ENV)
        .with_context(|| format!("cannot write {}", args.env_output.display()))?;
    eprintln!(
        "wrote {} and {} (mode 0600)",
        args.output.display(),
        args.env_output.display()
    );
    if has_real_tokens {
        eprintln!("next: `jbproxy check-tokens` to check them, then `jbproxy serve`");
    } else {
        eprintln!(
            "next: put your JetBrains AI JWTs in {}, then run `jbproxy serve`",
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn confirm_overwrite(path: &Path, interactive: bool) -> anyhow::Result<bool> {
    if !interactive {
        return Ok(false);
    }
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

fn example_with_fresh_bearer() -> anyhow::Result<String> {
    let mut value: Value =
        serde_json::from_str(EXAMPLE_CONFIG).context("internal error: bad example config")?;
    value["bearer_token"] = json!(new_bearer_token());
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

fn ask() -> anyhow::Result<String> {
    use dialoguer::{Input, Password, Select};
    let mut tokens = Vec::new();
    loop {
        let prompt = format!(
            "JetBrains AI JWT #{} (input hidden; empty to finish)",
            tokens.len() + 1
        );
        let token: String = Password::new()
            .with_prompt(prompt)
            .allow_empty_password(true)
            .interact()?;
        let token = token.trim().to_string();
        if token.is_empty() {
            if tokens.is_empty() {
                eprintln!("no token entered; the config will have none until you add one");
            }
            break;
        }
        match DecodedJwt::decode(&token) {
            Err(err) => {
                eprintln!("  {err}; try again");
                continue;
            }
            Ok(decoded) => match decoded.expires_at() {
                Some(exp) => eprintln!(
                    "  ok, expires {} ({})",
                    jwt::rfc3339(exp),
                    jwt::relative(exp, SystemTime::now())
                ),
                None => eprintln!("  ok (no exp claim)"),
            },
        }
        let name: String = Input::new()
            .with_prompt("  name")
            .default(format!("token-{}", tokens.len() + 1))
            .interact_text()?;
        tokens.push(json!({"token": token, "name": name, "priority": 1}));
    }
    let bearer: String = Input::new()
        .with_prompt("Bearer key clients will send")
        .default(new_bearer_token())
        .show_default(false)
        .interact_text()?;
    let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
    let strategy = Select::new()
        .with_prompt("Load balance strategy")
        .items(&names)
        .default(0)
        .interact()?;
    let host: String = Input::new()
        .with_prompt("Listen host")
        .default("127.0.0.1".into())
        .interact_text()?;
    let port: u16 = Input::new()
        .with_prompt("Listen port")
        .default(8080)
        .interact_text()?;
    let interval: String = Input::new()
        .with_prompt("Health check interval")
        .default("30s".into())
        .validate_with(|v: &String| crate::config::file::parse_duration(v).map(|_| ()))
        .interact_text()?;
    let value = json!({
        "jetbrains_tokens": tokens,
        "bearer_token": bearer,
        "load_balance_strategy": names[strategy],
        "health_check_interval": interval,
        "server_port": port,
        "server_host": host,
    });
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}
