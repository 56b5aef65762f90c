//! `initra init`.

use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args)]
pub(crate) struct InitArgs {}

pub(crate) fn run(_args: InitArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
