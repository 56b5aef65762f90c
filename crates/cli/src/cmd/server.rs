//! `initra server`.

use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args)]
pub(crate) struct ServerArgs {}

pub(crate) fn run(_args: ServerArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
