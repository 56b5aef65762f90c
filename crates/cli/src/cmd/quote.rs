//! `initra quote`: inspect and verify quotes.

use std::process::ExitCode;

/// `initra quote ...`
#[derive(clap::Subcommand)]
pub(crate) enum QuoteCmd {}

pub(crate) fn run(cmd: QuoteCmd) -> anyhow::Result<ExitCode> {
    match cmd {}
}
