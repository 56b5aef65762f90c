//! `initra sim` and `initra measure`: the simulated SGX platform.

use std::process::ExitCode;

/// `initra sim ...`
#[derive(clap::Subcommand)]
pub(crate) enum SimCmd {}

/// `initra measure ...`
#[derive(clap::Args)]
pub(crate) struct MeasureArgs {}

pub(crate) fn run(cmd: SimCmd) -> anyhow::Result<ExitCode> {
    match cmd {}
}

pub(crate) fn measure(_args: MeasureArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
