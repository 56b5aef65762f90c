//! `initra init`: the launcher (docs/init-config.md).

use std::path::PathBuf;
use std::process::ExitCode;

use initra_init::{launch, LaunchOptions, Placement};

/// `initra init --config init_ra_conf.json [--placement P] [-- COMMAND ARGS...]`
#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// Occlum's `init_ra_conf.json` (initra's extensions under `initra`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Where unlocked data goes: auto (private namespace on the simulated platform, real paths in a TEE),
    /// private, or host (write to the real paths: the explicit opt-in when no private namespace can be made).
    #[arg(long, value_name = "auto|private|host")]
    placement: Option<Placement>,
    /// Evidence backend (overrides `initra.attester`): auto detects Occlum, Gramine or configfs-tsm
    /// (TDX, SEV-SNP) and never a simulator; sim and sim-snp need `initra.sim_dir`.
    #[arg(long, value_parser = initra_init::config::ATTESTER_NAMES)]
    tee: Option<String>,
    /// The application and its arguments (overrides `initra.command`).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub(crate) fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let err = launch(&LaunchOptions {
        config: args.config,
        command: args.command,
        placement: args.placement,
        tee: args.tee,
    });
    // launch() returns only when nothing was launched.
    let rejected = err.is_rejection();
    crate::output::print_error(&anyhow::Error::new(err).context("init: nothing was launched"));
    Ok(ExitCode::from(if rejected { 1 } else { 2 }))
}
