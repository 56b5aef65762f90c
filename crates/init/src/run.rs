//! The launcher's sequence (docs/init-config.md §4): everything between reading the configuration and
//! `exec`. Each step either completes or stops the launch with an error that says why; nothing is
//! launched after a failure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use initra_attest::sim::{SimAttester, SimPlatform};
use initra_attest::tee::DeviceRoots;
use initra_attest::Attester;
use initra_client::{ClientConfig, ClientIdentity, SecretClient, ServerTrust};
use initra_ratls::{CertOptions, RaTlsIdentity};
use initra_verify::Policy;
use zeroize::Zeroizing;

use crate::config::{ImageKind, InitConfig, IMAGE_KEY_SECRET, KMS_SERVER_ENV};
use crate::exec::{exec, Command};
use crate::private_ns::PrivateNamespace;
use crate::secret_file::write_secret_file;
use crate::Error;

/// Where unlocked data is written (docs/init-config.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Decide from the attester: private on the simulated platform, direct inside a TEE.
    Auto,
    /// A private in-memory mount namespace.
    Private,
    /// The real paths (inside a TEE, or when explicitly asked for).
    Host,
}

impl std::str::FromStr for Placement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "private" => Ok(Self::Private),
            "host" => Ok(Self::Host),
            other => Err(format!("expected auto, private or host, got {other:?}")),
        }
    }
}

/// What the command line adds to the configuration file.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// `init_ra_conf.json`.
    pub config: PathBuf,
    /// `-- COMMAND ARGS...` (empty: use `initra.command`).
    pub command: Vec<String>,
    /// Overrides `initra.placement`.
    pub placement: Option<Placement>,
    /// Overrides `initra.attester` (`--tee`): `auto`, `sim`, `occlum`, `gramine`, `tdx`, `snp`.
    pub tee: Option<String>,
}

/// Why a launch stopped: a refusal (either side rejected the other's attestation) or another error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// The configuration, namespace, files or exec failed.
    #[error(transparent)]
    Init(#[from] Error),
    /// Talking to the secret server failed (see [`initra_client::Error::is_rejection`]).
    #[error("secret server {server}: {source}")]
    Client {
        /// The server address.
        server: String,
        /// Why.
        #[source]
        source: initra_client::Error,
    },
    /// Producing this workload's evidence failed.
    #[error("attestation: {0}")]
    Attest(String),
    /// Setting up verification of the server failed.
    #[error("verifying the server: {0}")]
    Verify(#[from] initra_verify::Error),
    /// The collateral sources or roots for verifying the server could not be set up.
    #[error("verifying the server: {0}")]
    Collateral(#[from] initra_collateral::Error),
    /// The image could not be verified or unlocked.
    #[error("image {path}: {source}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// Why.
        #[source]
        source: initra_image::Error,
    },
}

impl LaunchError {
    /// True when the server refused this workload or this workload refused the server.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Client { source, .. } if source.is_rejection())
    }
}

/// Runs the launch sequence and execs the application; returns only on failure.
pub fn launch(opts: &LaunchOptions) -> LaunchError {
    match prepare_and_exec(opts) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

enum Never {}

fn prepare_and_exec(opts: &LaunchOptions) -> Result<Never, LaunchError> {
    let config = InitConfig::from_file(&opts.config, std::env::var(KMS_SERVER_ENV).ok())?;
    let argv = if opts.command.is_empty() {
        config.initra.command.clone()
    } else {
        opts.command.clone()
    };
    if argv.is_empty() {
        return Err(Error::NoCommand.into());
    }
    let attester_name = opts
        .tee
        .clone()
        .or_else(|| config.initra.attester.clone())
        .unwrap_or_else(|| "auto".into());
    let placement = match opts.placement {
        Some(p) => p,
        None => config
            .initra
            .placement
            .as_deref()
            .unwrap_or("auto")
            .parse()
            .map_err(|m| Error::InvalidConfig {
                path: config.source.clone(),
                field: "initra.placement".into(),
                message: m,
            })?,
    };
    let private = match placement {
        Placement::Private => true,
        Placement::Host => false,
        // Only the simulated platform runs outside a TEE, where the host's disk is not private.
        Placement::Auto => attester_name == "sim",
    };

    // Namespaces are per process and unshare(CLONE_NEWNS) refuses threaded callers: enter it first.
    let mut namespace = if private {
        Some(PrivateNamespace::enter().map_err(|e| {
            Error::Placement {
                path: config.source.clone(),
                message: format!(
                    "{e}. A private in-memory namespace needs root or unprivileged user namespaces; \
                     pass --placement host (or set \"placement\": \"host\") to write to the real paths instead"
                ),
            }
        })?)
    } else {
        None
    };
    tracing::info!(
        placement = if private { "private" } else { "host" },
        "placement decided"
    );

    let attester = build_attester(&config, &attester_name)?;
    // Always visible (not only at --log info): which evidence this workload presents.
    eprintln!(
        "initra: tee backend={}{}",
        attester.backend(),
        if attester.backend() == initra_attest::Backend::Sim {
            " (SIMULATED: no hardware protection; accepted only by verifiers given the simulated root)"
        } else {
            ""
        }
    );
    let identity = RaTlsIdentity::generate(attester.as_ref(), &CertOptions::default())
        .map_err(|e| LaunchError::Attest(e.to_string()))?;
    let server_trust = server_trust(&config)?;
    let mut client_config = ClientConfig::new(
        config.kms_server.clone(),
        ClientIdentity::from_der(identity.cert_der(), identity.key_der()),
        server_trust,
    );
    client_config.deadline = Duration::from_secs(config.initra.connect_deadline_secs.unwrap_or(30));
    drop(identity);

    let names = config.secret_names();
    let client_err = |source| LaunchError::Client {
        server: config.kms_server.clone(),
        source,
    };
    // One thread only: the namespace is already entered, and exec follows.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LaunchError::Attest(format!("cannot start the I/O runtime: {e}")))?;
    let secrets = runtime.block_on(async {
        let mut client = SecretClient::connect(client_config)
            .await
            .map_err(client_err)?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        client.get_secrets(&refs).await.map_err(client_err)
    })?;
    drop(runtime);
    tracing::info!(server = %config.kms_server, secrets = ?names, "secrets received");
    let secret = |name: &str| secrets.iter().find(|(n, _)| n == name).map(|(_, v)| v);

    if let Some(image) = &config.initra.image {
        if let Some(ns) = namespace.as_mut() {
            ns.prepare(&image.mount)?;
        }
        // The tree is extracted into this (empty) directory; inside the namespace it lives in memory.
        std::fs::create_dir_all(&image.mount).map_err(|source| Error::Placement {
            path: image.mount.clone(),
            message: format!("cannot create the image mount point: {source}"),
        })?;
        let image_err = |source| LaunchError::Image {
            path: image.path.clone(),
            source,
        };
        let key_holder;
        let key = match image.kind {
            ImageKind::Encrypted => {
                let raw = secret(IMAGE_KEY_SECRET).ok_or_else(|| {
                    LaunchError::Attest(format!("the server did not deliver `{IMAGE_KEY_SECRET}`"))
                })?;
                // Occlum's client trims the trailing newline of the key file before parsing.
                key_holder = initra_image::ImageKey::parse_bytes(raw).map_err(image_err)?;
                initra_image::OpenKey::Key(&key_holder)
            }
            ImageKind::IntegrityOnly => {
                let hash = image.root_hash.as_deref().unwrap_or_default();
                initra_image::OpenKey::RootHash(hash.parse().map_err(image_err)?)
            }
        };
        let report = initra_image::open(
            &image.path,
            &image.mount,
            key,
            &initra_image::OpenOptions::default(),
        )
        .map_err(image_err)?;
        tracing::info!(image = %image.path.display(), mount = %image.mount.display(), report = ?report, "image unlocked");
    }

    for k in &config.kms_keys {
        if let Some(ns) = namespace.as_mut() {
            ns.prepare(&k.path)?;
        }
        let value = secret(&k.key).ok_or_else(|| {
            LaunchError::Attest(format!("the server did not deliver `{}`", k.key))
        })?;
        write_secret_file(&k.path, value)?;
        tracing::info!(secret = %k.key, path = %k.path.display(), "secret placed");
    }

    let mut env = Vec::new();
    for (var, name) in &config.initra.env {
        let value = secret(name)
            .ok_or_else(|| LaunchError::Attest(format!("the server did not deliver `{name}`")))?;
        env.push((var.clone(), Zeroizing::new(value.to_vec())));
    }
    // Every secret copy held here is a Zeroizing buffer: dropping them wipes the memory before exec.
    drop(secrets);
    let cmd = Command { argv, env };
    tracing::info!(command = ?cmd.argv, "exec");
    Err(exec(&cmd).into())
}

fn build_attester(config: &InitConfig, name: &str) -> Result<Box<dyn Attester>, LaunchError> {
    match name {
        "sim" => {
            let dir = config
                .initra
                .sim_dir
                .as_ref()
                .ok_or_else(|| Error::InvalidConfig {
                    path: config.source.clone(),
                    field: "initra.sim_dir".into(),
                    message: "required when attester is \"sim\"".into(),
                })?;
            let platform =
                SimPlatform::load(dir).map_err(|e| LaunchError::Attest(e.to_string()))?;
            let exe = std::env::current_exe().map_err(|e| {
                LaunchError::Attest(format!("cannot find the init executable: {e}"))
            })?;
            // The simulated MRENCLAVE measures what runs: this executable and this configuration.
            let identity = platform
                .measure(&exe, &[config.source.as_path()])
                .map_err(|e| LaunchError::Attest(e.to_string()))?;
            tracing::info!(mr_enclave = %identity.mr_enclave, simulated = true, "simulated enclave identity");
            let attester = SimAttester::new(platform, identity)
                .map_err(|e| LaunchError::Attest(e.to_string()))?;
            Ok(Box::new(attester))
        }
        // Real TEEs: Occlum's /dev/sgx, Gramine's /dev/attestation, configfs-tsm (docs/tee-backends.md).
        // `auto` never picks the simulated platform.
        other => {
            let attester = initra_attest::tee::select(other, &DeviceRoots::default())
                .map_err(|e| LaunchError::Attest(e.to_string()))?;
            Ok(attester)
        }
    }
}

fn server_trust(config: &InitConfig) -> Result<ServerTrust, LaunchError> {
    let s = &config.initra;
    if let Some(ca) = &s.server_ca {
        return ServerTrust::pinned_ca_file(ca).map_err(|source| LaunchError::Client {
            server: config.kms_server.clone(),
            source,
        });
    }
    let origin = format!("{}: ra_config", config.source.display());
    let ra_config = serde_json::to_vec(&config.ra_config).map_err(|e| Error::ParseConfig {
        path: config.source.clone(),
        message: e.to_string(),
    })?;
    let policy = Policy::from_bytes(&ra_config, &origin)?;
    let verifier = s.verifier_settings().build(policy)?;
    Ok(ServerTrust::Attested(Arc::new(verifier)))
}
