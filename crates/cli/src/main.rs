//! The `initra` command line: parses arguments, calls one library entry point, prints, picks the exit code.
//!
//! Exit codes (all subcommands): 0 = success / accepted, 1 = evaluated and rejected by policy,
//! 2 = any error (usage, I/O, malformed evidence or configuration).

#![forbid(unsafe_code)]

mod cmd;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Attested secret provisioning for confidential computing (the Init-RA pattern).
#[derive(Parser)]
#[command(name = "initra", version, about, long_about = None,
    after_help = "Exit status: 0 success/accepted, 1 rejected by policy, 2 error.")]
struct Cli {
    /// Log filter (also RUST_LOG), e.g. `info`, `initra=debug`.
    #[arg(long, global = true, default_value = "warn", env = "INITRA_LOG")]
    log: String,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = output::LogFormat::Text)]
    log_format: output::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and verify SGX / TDX quotes and SEV-SNP reports.
    #[command(subcommand)]
    Quote(cmd::quote::QuoteCmd),
    /// Inspect RA-TLS certificates.
    #[command(subcommand)]
    Ratls(cmd::ratls::RatlsCmd),
    /// The simulated SGX platform (machines without a TEE).
    #[command(subcommand)]
    Sim(cmd::sim::SimCmd),
    /// Print the simulated enclave measurement (MRENCLAVE / MRSIGNER) of an init binary and its configuration.
    Measure(cmd::sim::MeasureArgs),
    /// Run the secret server (mutual RA-TLS gRPC, Occlum grpc_ratls compatible).
    Server(cmd::server::ServerArgs),
    /// Fetch one secret from a secret server (counterpart of Occlum's grpc_ratls client).
    GetSecret(cmd::secret::GetSecretArgs),
    /// Write a new image key in Occlum's format (16 bytes, dashed hex).
    GenImageKey(cmd::image::GenImageKeyArgs),
    /// Seal and open root filesystem images.
    #[command(subcommand)]
    Image(cmd::image::ImageCmd),
    /// Attest, fetch secrets, unlock the image, place the secrets, then exec the application.
    Init(cmd::init::InitArgs),
    /// Collateral bundles (PCCS / Intel PCS, cache, offline).
    #[command(subcommand)]
    Collateral(cmd::collateral::CollateralCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = output::init_logging(&cli.log, cli.log_format) {
        output::print_error(&err);
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Quote(c) => cmd::quote::run(c),
        Command::Ratls(c) => cmd::ratls::run(c),
        Command::Sim(c) => cmd::sim::run(c),
        Command::Measure(a) => cmd::sim::measure(a),
        Command::Server(a) => cmd::server::run(a),
        Command::GetSecret(a) => cmd::secret::run(a),
        Command::GenImageKey(a) => cmd::image::gen_key(a),
        Command::Image(c) => cmd::image::run(c),
        Command::Init(a) => cmd::init::run(a),
        Command::Collateral(c) => cmd::collateral::run(c),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(2)
        }
    }
}
