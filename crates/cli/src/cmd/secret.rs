//! `initra get-secret`: fetch one secret from a secret server (counterpart of Occlum's grpc_ratls client).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use initra_attest::sim::snp::SimSnpPlatform;
use initra_attest::sim::{SimAttester, SimPlatform};
use initra_attest::{Attester, EnclaveIdentity};
use initra_client::{ClientConfig, ClientIdentity, RetryPolicy, ServerTrust};
use initra_collateral::load_policy;
use initra_ratls::{CertOptions, RaTlsIdentity};

use super::common::VerifierArgs;

/// Arguments of `initra get-secret`.
#[derive(clap::Args)]
#[command(
    // clap's generated usage lists every argument given as if it were required (e.g. `--output`).
    override_usage = "initra get-secret [OPTIONS] --server <HOST:PORT> <--ra-config <FILE>|--policy <FILE>|--ca <FILE>> [-o <FILE>] <NAME>",
    group(clap::ArgGroup::new("server_trust").args(["ra_config", "policy", "ca"]).required(true).multiple(true)),
    after_help = "Exit status: 0 secret written, 1 rejected by policy (the server's policy refused us, or \
                        ours refused the server's attestation), 2 any other error (including evidence that \
                        cannot be verified: untrusted root, missing or too old collateral)."
)]
pub(crate) struct GetSecretArgs {
    /// The secret's name (a key of the server's secret_config.json).
    name: String,
    /// Secret server, HOST:PORT.
    #[arg(long, env = "OCCLUM_INIT_RA_KMS_SERVER")]
    server: String,
    /// Verify config for the server (Occlum `ra_config` format, or an `init_ra_conf.json` holding one).
    #[arg(long, value_name = "FILE")]
    ra_config: Option<PathBuf>,
    /// initra policy file (TCB statuses, advisories, debug) applied to the server's evidence.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Trust a server with a conventional certificate issued by this CA (PEM or DER) instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ra_config", "policy"])]
    ca: Option<PathBuf>,
    /// Write the secret to FILE (atomically, mode 0600); `-` = stdout even on a terminal.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Attest this client on the simulated platform in DIR.
    #[arg(long, value_name = "DIR")]
    sim: Option<PathBuf>,
    /// Attest this client as an SEV-SNP guest of the simulated SNP platform in DIR (test VCEK and
    /// chain, e.g. testdata/sim-snp; docs/snp.md). The server must trust DIR/ark.der
    /// (`--snp-sim-ark`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["sim", "identity"])]
    sim_snp: Option<PathBuf>,
    /// This client's enclave identity JSON (with --sim); default: measured from this executable and
    /// the --ra-config file.
    #[arg(long, value_name = "FILE", requires = "sim")]
    identity: Option<PathBuf>,
    /// How the server's evidence is verified.
    #[command(flatten)]
    verify: VerifierArgs,
    /// Overall deadline, retries included.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Limit for one connection attempt (TCP + TLS).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
    /// Testing: present a certificate whose key does not match its quote's binding.
    #[arg(long, hide = true, requires = "sim")]
    danger_unbound_key: bool,
    /// Testing: also write the client certificate (DER) used for this session to FILE.
    #[arg(long, hide = true, value_name = "FILE", requires = "export_key")]
    export_cert: Option<PathBuf>,
    /// Testing: also write the client key (PKCS#8 DER) used for this session to FILE (mode 0600).
    #[arg(long, hide = true, value_name = "FILE", requires = "export_cert")]
    export_key: Option<PathBuf>,
}

pub(crate) fn run(mut args: GetSecretArgs) -> anyhow::Result<ExitCode> {
    // Refuse before any network work: a secret on a terminal ends up in scrollback.
    let to_stdout = match args.output.as_deref() {
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "refusing to write a secret to a terminal: use -o FILE (or -o - to insist)"
                );
            }
            true
        }
        Some(p) if p == Path::new("-") => true,
        Some(p) => {
            // Refuse before any network work; unlike `init`, this command does not create directories.
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
            if let Some(dir) = parent {
                if !dir.is_dir() {
                    anyhow::bail!(
                        "--output {}: directory {} does not exist",
                        p.display(),
                        dir.display()
                    );
                }
            }
            false
        }
    };
    let identity = client_identity(&args)?;
    let verify = std::mem::take(&mut args.verify);
    let server_trust = server_trust(&args, verify)?;
    let config = ClientConfig {
        server: args.server.clone(),
        identity,
        server_trust,
        connect_timeout: args.connect_timeout,
        deadline: args.timeout,
        retry: RetryPolicy::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let name = args.name.as_str();
    let result = runtime.block_on(initra_client::fetch_secrets(config, &[name]));
    let secrets = match result {
        Ok(s) => s,
        Err(e) if e.is_rejection() => {
            tracing::warn!(target: crate::output::NOTICE_TARGET, "rejected: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let bytes = secrets
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b)
        .ok_or_else(|| anyhow::anyhow!("server reply lacks secret {name:?}"))?;
    match (&args.output, to_stdout) {
        (_, true) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .context("writing the secret to stdout")?;
        }
        (Some(path), false) => initra_init::secret_file::write_secret_file(path, &bytes)
            .with_context(|| format!("writing secret {name:?}"))?,
        (None, false) => anyhow::bail!("no output"),
    }
    tracing::info!(secret = name, bytes = bytes.len(), "secret fetched");
    Ok(ExitCode::SUCCESS)
}

fn client_identity(args: &GetSecretArgs) -> anyhow::Result<ClientIdentity> {
    if let Some(dir) = &args.sim_snp {
        let platform = SimSnpPlatform::load(dir)
            .with_context(|| format!("simulated SNP platform {}", dir.display()))?;
        tracing::info!(measurement = %platform.options().measurement, "client identity (simulated SEV-SNP)");
        return ratls_identity(args, &platform);
    }
    let Some(dir) = &args.sim else {
        anyhow::bail!(
            "no attestation backend: this client needs --sim DIR or --sim-snp DIR (hardware backends are used by `initra init`)"
        );
    };
    let platform =
        SimPlatform::load(dir).with_context(|| format!("simulated platform {}", dir.display()))?;
    let enclave = match &args.identity {
        Some(path) => EnclaveIdentity::from_json_file(path)?,
        None => {
            let exe = std::env::current_exe().context("locating this executable")?;
            let configs: Vec<&Path> = args.ra_config.iter().map(PathBuf::as_path).collect();
            platform.measure(&exe, &configs)?
        }
    };
    tracing::info!(mr_enclave = %enclave.mr_enclave, mr_signer = %enclave.mr_signer, "client identity (simulated)");
    let attester = SimAttester::new(platform, enclave)?;
    ratls_identity(args, &attester)
}

/// A fresh RA-TLS certificate from `attester` (or, for tests, a deliberately unbound one).
fn ratls_identity(args: &GetSecretArgs, attester: &dyn Attester) -> anyhow::Result<ClientIdentity> {
    if args.danger_unbound_key {
        return Ok(initra_client::danger::unbound_identity(attester)?);
    }
    let ra =
        RaTlsIdentity::generate(attester, &CertOptions::default()).context("RA-TLS certificate")?;
    if let (Some(cert), Some(key)) = (&args.export_cert, &args.export_key) {
        std::fs::write(cert, ra.cert_der().as_ref())
            .with_context(|| format!("writing {}", cert.display()))?;
        initra_init::secret_file::write_secret_file(key, ra.key_der())
            .with_context(|| format!("writing {}", key.display()))?;
    }
    Ok(ClientIdentity::from_chain(
        ra.cert_chain(),
        ra.private_key(),
    ))
}

fn server_trust(args: &GetSecretArgs, verify: VerifierArgs) -> anyhow::Result<ServerTrust> {
    if let Some(ca) = &args.ca {
        return Ok(ServerTrust::pinned_ca_file(ca)?);
    }
    let policy = load_policy(args.policy.as_deref(), args.ra_config.as_deref())?
        .context("expected --ra-config, --policy or --ca")?;
    let verifier = verify.into_settings().build(policy)?;
    Ok(ServerTrust::Attested(Arc::new(verifier)))
}
