//! `initra collateral`: collateral bundles.

use std::process::ExitCode;

/// `initra collateral ...`
#[derive(clap::Subcommand)]
pub(crate) enum CollateralCmd {}

pub(crate) fn run(cmd: CollateralCmd) -> anyhow::Result<ExitCode> {
    match cmd {}
}
