//! The command-line tree (clap derive). `completions` generates from this same definition, so help and completion
//! scripts cannot drift apart.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::config::Strategy;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a check failed (check-tokens found a bad token)
  2  usage or configuration error";

#[derive(Debug, Parser)]
#[command(
    name = "jbproxy",
    version,
    about = "An OpenAI-compatible proxy for JetBrains AI that balances requests over many JWTs",
    long_about = "jbproxy serves an OpenAI-compatible API (/v1/chat/completions, /v1/models) and the Anthropic Messages API \
(/v1/messages) in front of JetBrains AI, \
spreading requests over all your JWTs, dropping dead or exhausted ones and bringing them back. \
The other subcommands are offline tools for the same configuration.",
    after_help = EXIT_CODES,
    subcommand_required = false,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Read the configuration from FILE instead of searching for it
    #[arg(long, global = true, value_name = "FILE", display_order = 999)]
    pub config: Option<PathBuf>,

    /// Same as the `generate-config` subcommand (the original jetbrains-ai-proxy's spelling)
    #[arg(long, conflicts_with = "print_config")]
    pub generate_config: bool,

    /// Same as the `print-config` subcommand (the original jetbrains-ai-proxy's spelling)
    #[arg(long)]
    pub print_config: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy server
    #[command(disable_help_flag = true, after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Write a config file and .env.example (asks on a terminal)
    #[command(after_help = GENERATE_HELP)]
    GenerateConfig(GenerateConfigArgs),
    /// Show the effective configuration, each value's source, secrets redacted
    #[command(disable_help_flag = true, after_help = PRINT_HELP)]
    PrintConfig(PrintConfigArgs),
    /// Check every configured token: well-formed, not expired, not expiring soon, no duplicates
    #[command(after_help = CHECK_HELP)]
    CheckTokens(CheckTokensArgs),
    /// Show a JWT's header and claims (without verifying its signature)
    #[command(after_help = DECODE_HELP)]
    DecodeJwt(DecodeJwtArgs),
    /// Show a running server's token pool and counters (from its /stats endpoint)
    #[command(after_help = STATS_HELP)]
    Stats(StatsArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

/// The config values `serve` and `print-config` take from the command line (highest precedence).
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigFlags {
    /// JetBrains AI JWTs, comma-separated (replaces the file's and the environment's tokens)
    #[arg(short = 'c', long, value_name = "JWTS")]
    pub jwt_tokens: Option<String>,
    /// The key clients must send as `Authorization: Bearer <key>`
    #[arg(short = 'k', long, value_name = "KEY")]
    pub bearer_token: Option<String>,
    /// Load balance strategy
    #[arg(short = 's', long, value_name = "STRATEGY", value_parser = StrategyNames)]
    pub strategy: Option<String>,
    /// Port to listen on (0 picks a free one)
    #[arg(short = 'p', long, value_name = "PORT", value_parser = parse_port)]
    pub port: Option<u16>,
    /// Address to listen on
    #[arg(short = 'h', long, value_name = "HOST")]
    pub host: Option<String>,
    /// Base URL of the JetBrains AI API
    #[arg(long, value_name = "URL")]
    pub upstream_url: Option<String>,
    /// Print help
    #[arg(long, action = ArgAction::Help, display_order = 1000)]
    pub help: Option<bool>,
}

/// The strategy names, offered by `--help` and shell completion; the value is not checked here but by the config
/// loader, so a bad one reads the same from a flag, the environment or the file.
#[derive(Debug, Clone, Copy)]
struct StrategyNames;

impl TypedValueParser for StrategyNames {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            Strategy::ALL.iter().map(|s| PossibleValue::new(s.as_str())),
        ))
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse()
        .map_err(|_| crate::config::explain::not_a_port(&format!("\"{text}\"")))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::value::parse_duration(text)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub flags: ConfigFlags,
    /// Run against a built-in fake JetBrains AI with demo tokens: no JWT needed
    #[arg(long)]
    pub demo: bool,
    /// Log format: text for people, json for log collectors (level via RUST_LOG)
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Args)]
pub struct PrintConfigArgs {
    #[command(flatten)]
    pub flags: ConfigFlags,
    /// One JSON object: the config file's keys with their effective values, plus `sources`
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Args)]
pub struct GenerateConfigArgs {
    /// Where to write the config file [default: the global --config FILE, else config/config.json]
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Where to write the environment example
    #[arg(long, value_name = "PATH", default_value = ".env.example")]
    pub env_output: PathBuf,
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
    /// Write the example config without asking questions, even on a terminal
    #[arg(long)]
    pub non_interactive: bool,
}

#[derive(Debug, Args)]
pub struct CheckTokensArgs {
    /// JetBrains AI JWTs to check, comma-separated (as `serve -c`; replaces the file's and the environment's)
    #[arg(short = 'c', long, value_name = "JWTS")]
    pub jwt_tokens: Option<String>,
    /// Base URL of the JetBrains AI API, for --online (as `serve --upstream-url`)
    #[arg(long, value_name = "URL")]
    pub upstream_url: Option<String>,
    /// Fail a token that expires within this time (e.g. 30m, 48h, 7d)
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub warn_within: Duration,
    /// Print the results as JSON
    #[arg(long)]
    pub json: bool,
    /// Also ask JetBrains AI's quota endpoint whether each JWT is accepted and how much quota is left (costs no
    /// quota)
    #[arg(long)]
    pub online: bool,
    /// Succeed when at least N tokens are healthy, even if others fail
    #[arg(long, value_name = "N")]
    pub min_healthy: Option<usize>,
}

#[derive(Debug, Args)]
pub struct DecodeJwtArgs {
    /// The JWT, or `-` to read it from standard input
    #[arg(
        value_name = "TOKEN",
        required_unless_present = "name",
        conflicts_with = "name"
    )]
    pub token: Option<String>,
    /// Decode the configured token with this name instead
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Print header and claims as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The running server, as a URL or HOST:PORT (default: from the config's host and port)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Admin key (default: the config's admin_token, else its bearer_token)
    #[arg(short = 'k', long, value_name = "KEY", visible_alias = "bearer-token")]
    pub token: Option<String>,
    /// Print the raw /stats JSON
    #[arg(long)]
    pub json: bool,
    /// Show every replica sharing the pool's state through Redis, and the tokens merged over them
    #[arg(long)]
    pub cluster: bool,
    /// Refresh every INTERVAL (seconds, or e.g. 500ms, 5s; default 2s) until Ctrl-C
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "2s", value_parser = parse_duration)]
    pub watch: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    /// Write the script into this directory instead of standard output
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

const SERVE_HELP: &str = "\
Examples:
  jbproxy serve --demo                              try it with a built-in fake upstream
  jbproxy serve                                     use the config file found on the search path
  jbproxy serve -c \"$JWT1,$JWT2\" -k sk-mykey -p 8080
  jbproxy --config config/prod.json serve --log-format json

Exit codes:
  0  shut down cleanly after SIGTERM or Ctrl-C
  2  usage or configuration error (nothing was started)";

const GENERATE_HELP: &str = "\
Examples:
  jbproxy generate-config                           ask on a terminal, else write the example
  jbproxy generate-config --non-interactive --output my.json
  jbproxy --config deploy/prod.json generate-config write deploy/prod.json
  jbproxy generate-config --force                   overwrite existing files

Exit codes:
  0  the files were written, or you chose not to overwrite them
  2  a file exists (and no --force), cannot be written, or a usage error";

const PRINT_HELP: &str = "\
Examples:
  jbproxy print-config
  jbproxy print-config --json
  jbproxy print-config -p 9000 -s random            what serve would run with these flags

Exit codes:
  0  the config loaded (warnings do not change this)
  2  usage or configuration error";

const CHECK_HELP: &str = "\
Examples:
  jbproxy check-tokens
  jbproxy check-tokens --warn-within 48h --json
  jbproxy check-tokens -c \"$JWT1,$JWT2\"              the tokens serve -c would use
  jbproxy check-tokens --online --min-healthy 2      ask JetBrains AI; accept 2 working tokens

Exit codes:
  0  every token is usable (with --min-healthy N: at least N are)
  1  a token failed
  2  no tokens configured, or a usage or configuration error";

const DECODE_HELP: &str = "\
Examples:
  jbproxy decode-jwt eyJhbGciOi...
  echo \"$JWT\" | jbproxy decode-jwt -
  jbproxy decode-jwt --name Primary_JWT --json

Exit codes:
  0  the token decoded (an expired one too)
  2  the token is malformed or missing, or a usage or configuration error";

const STATS_HELP: &str = "\
Examples:
  jbproxy stats
  jbproxy stats --url 127.0.0.1:8080 -k sk-admin --json
  jbproxy stats --watch

Exit codes:
  0  the stats were shown (with --watch: stopped with Ctrl-C)
  2  the server cannot be reached or refused the key, or a usage or configuration error";

const COMPLETIONS_HELP: &str = "\
Examples:
  mkdir -p ~/.local/share/bash-completion/completions
  jbproxy completions bash > ~/.local/share/bash-completion/completions/jbproxy
  jbproxy completions zsh --out-dir ~/.zfunc        creates ~/.zfunc; add it to $fpath

Exit codes:
  0  the script was printed or written
  2  an unknown shell, the directory cannot be written, or a usage error";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_takes_the_seed_flags() {
        let cli = Cli::try_parse_from([
            "jbproxy", "serve", "-c", "a,b", "-k", "key", "-s", "random", "-p", "9", "-h",
            "0.0.0.0",
        ])
        .expect("parses");
        let Some(Command::Serve(args)) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.flags.jwt_tokens.as_deref(), Some("a,b"));
        assert_eq!(args.flags.host.as_deref(), Some("0.0.0.0"));
        assert_eq!(args.flags.port, Some(9));
    }
}
