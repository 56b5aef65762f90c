//! `initra server`: the secret server (mutual RA-TLS gRPC, Occlum grpc_ratls compatible).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use initra_server::{BoundServer, Limits, ServerConfig, ServerIdentity};

use super::common::VerifierArgs;
use crate::output::notice;

/// Arguments of `initra server`.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("client_policy").args(["ra_config", "policy"]).required(true).multiple(true)),
    after_help = "One of --ra-config / --policy is required (both may be given).\n\
                  Signals: SIGHUP reloads secrets, policy and verify config (a failed reload keeps the \
                        old ones); SIGTERM / SIGINT stop accepting, finish in-flight calls and exit 0."
)]
pub(crate) struct ServerArgs {
    /// Listen address, HOST:PORT (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "0.0.0.0:50051")]
    addr: String,
    /// Occlum verify config (`dynamic_config.json`): which client enclaves are accepted. One of
    /// --ra-config / --policy is required.
    #[arg(long, value_name = "FILE")]
    ra_config: Option<PathBuf>,
    /// Occlum secrets file (`secret_config.json`): name -> base64.
    #[arg(long, value_name = "FILE")]
    secrets: PathBuf,
    /// initra policy file (docs/policy.md): TCB statuses, advisories, debug, per-secret rules.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Attest the server on the simulated platform in DIR (`initra sim init`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["tls_cert", "tls_key"])]
    sim: Option<PathBuf>,
    /// The server's enclave identity JSON (with --sim); default: measured from this executable
    /// (`initra measure --exe $(which initra) --sim DIR` prints it).
    #[arg(long, value_name = "FILE", requires = "sim")]
    identity: Option<PathBuf>,
    /// Attest the server with a real TEE backend: auto (detect), occlum, gramine, tdx, snp.
    #[arg(long, value_name = "BACKEND", conflicts_with_all = ["sim", "tls_cert", "tls_key"])]
    tee: Option<String>,
    /// Conventional certificate chain (PEM) instead of RA-TLS, for a server outside a TEE.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// How client evidence is verified.
    #[command(flatten)]
    verify: VerifierArgs,
    /// Largest request message in bytes.
    #[arg(long, default_value_t = Limits::default().max_message_bytes)]
    max_message_bytes: usize,
    /// HTTP/2 streams per connection.
    #[arg(long, default_value_t = Limits::default().max_concurrent_streams)]
    max_concurrent_streams: u32,
    /// Drop a client that has not finished the TLS handshake after this long (e.g. `10s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    handshake_timeout: Duration,
    /// Most open connections; further clients wait in the accept queue.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    max_connections: usize,
}

pub(crate) fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let identity = match (args.sim, args.tee, args.tls_cert, args.tls_key) {
        (Some(dir), None, None, None) => ServerIdentity::Sim { dir, identity: args.identity },
        (None, Some(backend), None, None) => ServerIdentity::Tee { backend },
        (None, None, Some(cert), Some(key)) => ServerIdentity::Pki { cert, key },
        _ => anyhow::bail!(
            "server identity: expected one of --sim DIR (RA-TLS on the simulated platform), --tee BACKEND (RA-TLS in a real TEE) or --tls-cert FILE --tls-key FILE"
        ),
    };
    let limits = Limits {
        max_message_bytes: args.max_message_bytes,
        max_concurrent_streams: args.max_concurrent_streams,
        handshake_timeout: args.handshake_timeout,
        max_connections: args.max_connections,
        ..Limits::default()
    };
    let settings = args.verify.into_settings();
    // Always visible (not only at --log info): which clients could present simulated evidence.
    let simulated: Vec<String> = settings
        .simulated_roots
        .iter()
        .map(|p| format!("SGX root {}", p.display()))
        .chain(
            settings
                .snp_simulated_arks
                .iter()
                .map(|p| format!("SEV-SNP ARK {}", p.display())),
        )
        .collect();
    let mut builder = ServerConfig::builder(args.addr, args.secrets)
        .identity(identity)
        .verifier(settings)
        .limits(limits);
    if let Some(p) = args.ra_config {
        builder = builder.ra_config(p);
    }
    if let Some(p) = args.policy {
        builder = builder.policy(p);
    }
    let config = builder.build()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async move {
        let server = BoundServer::bind(config).await?;
        // After binding: the roots have been loaded and checked, so the banner names real ones.
        if !simulated.is_empty() {
            tracing::warn!(
                target: crate::output::NOTICE_TARGET,
                "trusting SIMULATED evidence under {} (TEST ONLY: no hardware protection; every decision is labelled simulated)",
                simulated.join(", ")
            );
        }
        let addr = server.local_addr()?;
        notice(&format!(
            "server identity: {}",
            server.identity_description()
        ));
        notice(&format!("listening on {addr}"));
        server.serve(initra_server::shutdown_signal()).await?;
        notice("server stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
