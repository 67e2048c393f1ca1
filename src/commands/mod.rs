//! One module per subcommand. Each wires core pieces together and prints; none holds logic of its own that another
//! command or the server would need.

pub mod check_tokens;
pub mod completions;
pub mod decode_jwt;
pub mod generate_config;
pub mod print_config;
pub mod serve;
pub mod stats;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigFlags, GenerateConfigArgs, PrintConfigArgs};
use crate::config::{self, Config, Env, Overrides};

/// Runs the command line. `Ok` carries the exit code for outcomes that are not errors (a failed check is 1);
/// errors become exit code 2 in `main`.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_file = cli.config.clone();
    let command = match cli.command {
        Some(command) => command,
        None if cli.generate_config => Command::GenerateConfig(GenerateConfigArgs {
            env_output: ".env.example".into(),
            ..GenerateConfigArgs::default()
        }),
        None if cli.print_config => Command::PrintConfig(PrintConfigArgs {
            flags: ConfigFlags::default(),
            json: false,
        }),
        None => anyhow::bail!("no subcommand given; see `jbproxy --help`"),
    };
    let ctx = Context { config_file };
    match command {
        Command::Serve(args) => serve::run(&ctx, args),
        Command::GenerateConfig(args) => generate_config::run(&ctx, args),
        Command::PrintConfig(args) => print_config::run(&ctx, args),
        Command::CheckTokens(args) => check_tokens::run(&ctx, args),
        Command::DecodeJwt(args) => decode_jwt::run(&ctx, args),
        Command::Stats(args) => stats::run(&ctx, args),
        Command::Completions(args) => completions::run(args),
    }
}

/// What every command may need from the global flags.
pub struct Context {
    pub config_file: Option<std::path::PathBuf>,
}

impl Context {
    /// Loads the effective config from every layer, with these command-line values on top.
    pub fn load_config(&self, flags: Option<&ConfigFlags>) -> Result<Config, config::ConfigError> {
        let overrides = self.overrides(&flags.cloned().unwrap_or_default());
        config::load(&overrides, &Env::from_process())
    }

    /// The command line's config values, for loading now and again on reload.
    pub fn overrides(&self, flags: &ConfigFlags) -> Overrides {
        let flags = flags.clone();
        Overrides {
            config_file: self.config_file.clone(),
            jwt_tokens: flags.jwt_tokens,
            bearer_token: flags.bearer_token,
            strategy: flags.strategy,
            port: flags.port,
            host: flags.host,
            upstream_url: flags.upstream_url,
        }
    }
}

/// Prints load-time warnings to stderr, where they do not mix with a command's output.
pub fn print_warnings(config: &Config) {
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
}

/// The warnings that are not about a token: for commands that report on tokens their own way (`check-tokens`'
/// table) or do not use them (`serve --demo`).
pub fn print_warnings_except_tokens(config: &Config) {
    for warning in config.warnings.iter().filter(|w| !w.starts_with("token ")) {
        eprintln!("warning: {warning}");
    }
}
