//! The command-line tree (clap derive). `completions` generates from this same definition, so help and completion
//! scripts cannot drift apart.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

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
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Same as the `generate-config` subcommand (the seed's spelling)
    #[arg(long, conflicts_with = "print_config")]
    pub generate_config: bool,

    /// Same as the `print-config` subcommand (the seed's spelling)
    #[arg(long)]
    pub print_config: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy server
    #[command(disable_help_flag = true, after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Write an example config file and .env.example (interactive on a terminal)
    #[command(after_help = GENERATE_EXAMPLES)]
    GenerateConfig(GenerateConfigArgs),
    /// Show the effective configuration, each value's source, secrets redacted
    #[command(disable_help_flag = true, after_help = PRINT_EXAMPLES)]
    PrintConfig(PrintConfigArgs),
    /// Check every configured token: well-formed, not expired, not expiring soon, no duplicates
    #[command(after_help = CHECK_EXAMPLES)]
    CheckTokens(CheckTokensArgs),
    /// Show a JWT's header and claims (without verifying its signature)
    #[command(after_help = DECODE_EXAMPLES)]
    DecodeJwt(DecodeJwtArgs),
    /// Show a running server's token pool and counters (from its /stats endpoint)
    #[command(after_help = STATS_EXAMPLES)]
    Stats(StatsArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_EXAMPLES)]
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
    /// Load balance strategy: round_robin, random, weighted, least_inflight
    #[arg(short = 's', long, value_name = "STRATEGY")]
    pub strategy: Option<String>,
    /// Port to listen on (0 picks a free one)
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address to listen on
    #[arg(short = 'h', long, value_name = "HOST")]
    pub host: Option<String>,
    /// Base URL of the JetBrains AI API
    #[arg(long, value_name = "URL")]
    pub upstream_url: Option<String>,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
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
    /// Where to write the config file
    #[arg(
        long,
        short = 'o',
        value_name = "PATH",
        default_value = "config/config.json"
    )]
    pub output: PathBuf,
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
    /// Fail a token that expires within this time
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
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
    /// Base URL of the running server (default: from the config's host and port)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Admin key (default: the config's admin_token, else its bearer_token)
    #[arg(long, value_name = "KEY")]
    pub token: Option<String>,
    /// Print the raw /stats JSON
    #[arg(long)]
    pub json: bool,
    /// Refresh every N seconds until interrupted
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2")]
    pub watch: Option<u64>,
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

const SERVE_EXAMPLES: &str = "\
Examples:
  jbproxy serve --demo                              try it with a built-in fake upstream
  jbproxy serve                                     use the config file found on the search path
  jbproxy serve -c \"$JWT1,$JWT2\" -k sk-mykey -p 8080
  jbproxy --config config/prod.json serve --log-format json";

const GENERATE_EXAMPLES: &str = "\
Examples:
  jbproxy generate-config                           ask on a terminal, else write the example
  jbproxy generate-config --non-interactive --output my.json
  jbproxy generate-config --force                   overwrite existing files";

const PRINT_EXAMPLES: &str = "\
Examples:
  jbproxy print-config
  jbproxy print-config --json
  jbproxy print-config -p 9000 -s random            what serve would run with these flags";

const CHECK_EXAMPLES: &str = "\
Examples:
  jbproxy check-tokens
  jbproxy check-tokens --warn-within 48h --json
  jbproxy check-tokens --online --min-healthy 2      ask JetBrains AI; accept 2 working tokens
Exit codes: 0 all tokens usable, 1 a token failed, 2 configuration error";

const DECODE_EXAMPLES: &str = "\
Examples:
  jbproxy decode-jwt eyJhbGciOi...
  echo \"$JWT\" | jbproxy decode-jwt -
  jbproxy decode-jwt --name Primary_JWT --json";

const STATS_EXAMPLES: &str = "\
Examples:
  jbproxy stats
  jbproxy stats --url http://127.0.0.1:8080 --token sk-admin --json
  jbproxy stats --watch";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  jbproxy completions bash > ~/.local/share/bash-completion/completions/jbproxy
  jbproxy completions zsh --out-dir ~/.zfunc";

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
