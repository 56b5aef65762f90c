//! `initra ratls`: inspect RA-TLS certificates.

use std::process::ExitCode;

/// `initra ratls ...`
#[derive(clap::Subcommand)]
pub(crate) enum RatlsCmd {}

pub(crate) fn run(cmd: RatlsCmd) -> anyhow::Result<ExitCode> {
    match cmd {}
}
