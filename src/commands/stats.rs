//! `stats`: a running server's token pool and counters, read from its `/stats` endpoint.

use std::process::ExitCode;

use super::Context;
use crate::cli::StatsArgs;

pub fn run(_ctx: &Context, _args: StatsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "`jbproxy stats` needs the server's /stats endpoint, which this build does not have yet"
    )
}
