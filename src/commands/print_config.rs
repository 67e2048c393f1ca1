//! `print-config`: the effective configuration with each value's source, secrets redacted.

use std::process::ExitCode;

use super::{Context, print_warnings};
use crate::cli::PrintConfigArgs;
use crate::config::view;
use crate::output;

pub fn run(ctx: &Context, args: PrintConfigArgs) -> anyhow::Result<ExitCode> {
    let config = ctx.load_config(Some(&args.flags))?;
    print_warnings(&config);
    if args.json {
        output::print_json(&view::redacted_json(&config))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = output::table(&["key", "value", "source"]);
    for (key, value, source) in view::rows(&config) {
        table.add_row([key, value, source]);
    }
    let file = match &config.file {
        Some(path) => format!("config file: {}", path.display()),
        None => "config file: none found (defaults, environment and flags only)".to_string(),
    };
    output::print(format!("{file}\n{table}"))?;
    Ok(ExitCode::SUCCESS)
}
