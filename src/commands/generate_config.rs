//! `generate-config`: write a config file and `.env.example`, asking on a terminal, else writing the example.
//!
//! Every answer is checked as it is given, so the file written always loads: a second token with a name or JWT
//! already entered is refused, an expired one must be confirmed, and the result goes through the real loader
//! before anything touches the disk.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use base64::Engine;
use rand::RngExt;
use secrecy::ExposeSecret;

mod ask;

use super::Context;
use crate::cli::GenerateConfigArgs;
use crate::config::discovery;
use crate::jwt::DecodedJwt;
use crate::output;

/// The example config, the same file as `config/config.example.json` in the repository.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config/config.example.json");
pub const EXAMPLE_ENV: &str = include_str!("../../config/.env.example");

/// Where the config goes unless the user names a file.
pub const DEFAULT_OUTPUT: &str = "config/config.json";

/// The shortest client key accepted when asking: a key anyone can guess protects nothing.
pub const MIN_KEY_LEN: usize = 16;

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
        ask::ask()?
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

#[cfg(test)]
mod tests {
    use super::*;

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
