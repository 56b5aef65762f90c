//! `initra gen-image-key` and `initra image`.

use std::process::ExitCode;

/// `initra image ...`
#[derive(clap::Subcommand)]
pub(crate) enum ImageCmd {}

/// `initra gen-image-key FILE`
#[derive(clap::Args)]
pub(crate) struct GenImageKeyArgs {}

pub(crate) fn run(cmd: ImageCmd) -> anyhow::Result<ExitCode> {
    match cmd {}
}

pub(crate) fn gen_key(_args: GenImageKeyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
