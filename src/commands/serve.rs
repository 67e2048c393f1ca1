//! `serve`: load and validate the config, then run the proxy.

use std::process::ExitCode;

use super::{Context, print_warnings};
use crate::cli::ServeArgs;

pub fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = ctx.load_config(Some(&args.flags))?;
    print_warnings(&config);
    if config.tokens.is_empty() && !args.demo {
        anyhow::bail!(
            "no JetBrains AI JWTs configured; create a config with `jbproxy generate-config`, pass them with -c/JWT_TOKENS, \
or try `jbproxy serve --demo`"
        );
    }
    anyhow::bail!("the proxy server is not built yet; the config is valid")
}
