//! `completions`: shell completion scripts generated from the same clap definition as `--help`.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let path = clap_complete::generate_to(args.shell, &mut command, "jbproxy", &dir)
                .with_context(|| {
                    format!("cannot write the completion script into {}", dir.display())
                })?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let mut buffer = Vec::new();
            clap_complete::generate(args.shell, &mut command, "jbproxy", &mut buffer);
            crate::output::print(String::from_utf8_lossy(&buffer).trim_end())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
