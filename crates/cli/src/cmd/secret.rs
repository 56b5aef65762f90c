//! `initra secret`.

use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args)]
pub(crate) struct GetSecretArgs {}

pub(crate) fn run(_args: GetSecretArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
