//! The launcher's sequence (docs/init-config.md §4): everything between reading the configuration and
//! `exec`. Each step either completes or stops the launch with an error that says why; nothing is
//! launched after a failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use initra_attest::sim::snp::SimSnpPlatform;
use initra_attest::sim::{SimAttester, SimPlatform};
use initra_attest::tee::DeviceRoots;
use initra_attest::Attester;
use initra_client::{ClientConfig, ClientIdentity, SecretClient, ServerTrust};
use initra_ratls::{CertOptions, RaTlsIdentity};
use initra_verify::Policy;
use zeroize::Zeroizing;

use crate::config::{ImageKind, InitConfig, ATTESTER_NAMES, IMAGE_KEY_SECRET, KMS_SERVER_ENV};
use crate::exec::{exec, Command};
use crate::private_ns::PrivateNamespace;
use crate::secret_file::write_secret_file;
use crate::Error;

/// The tracing target of the lines every run shows whatever the log level (the `initra` binary
/// prints them as `initra: ...`, or as JSON lines under `--log-format json`).
const NOTICE: &str = "initra::notice";

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
    for warning in &config.warnings {
        tracing::warn!(target: NOTICE, "warning: {warning}");
    }
    let argv = if opts.command.is_empty() {
        config.initra.command.clone()
    } else {
        opts.command.clone()
    };
    let program = argv.first().ok_or(Error::NoCommand)?;
    // A program inside the image only exists once the image is unlocked: checked again by exec.
    let in_image = config
        .initra
        .image
        .as_ref()
        .is_some_and(|i| Path::new(program).starts_with(&i.mount));
    if !in_image {
        // Before attesting: a wrong command must not fetch and place secrets for nothing.
        resolve_program(program)?;
    }
    if let Some(tee) = &opts.tee {
        if !ATTESTER_NAMES.contains(&tee.as_str()) {
            return Err(Error::InvalidOption {
                option: "--tee",
                message: format!("expected one of {}, got {tee:?}", ATTESTER_NAMES.join(", ")),
            }
            .into());
        }
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
        Placement::Auto => attester_name == "sim" || attester_name == "sim-snp",
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

    // Before attesting: a broken ra_config / trust setting must not cost a quote.
    let server_trust = server_trust(&config)?;
    let attester = build_attester(&config, &attester_name)?;
    // Always visible (not only at --log info): which evidence this workload presents.
    tracing::info!(
        target: NOTICE,
        "tee backend={}{}",
        attester.backend(),
        match attester.backend() {
            initra_attest::Backend::SimSnp => " (SIMULATED: no hardware protection; accepted only by verifiers given the simulated ARK, --snp-sim-ark)",
            b if b.is_simulated() => " (SIMULATED: no hardware protection; accepted only by verifiers given the simulated root)",
            _ => "",
        }
    );
    let identity = RaTlsIdentity::generate(attester.as_ref(), &CertOptions::default())
        .map_err(|e| LaunchError::Attest(e.to_string()))?;
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

    // What this launch wrote to the real paths, removed again if the exec fails (host placement).
    let mut placed = Placed::default();
    let result = place_and_exec(&config, namespace.as_mut(), secrets, argv, &mut placed);
    if namespace.is_none() {
        placed.remove();
    }
    result
}

/// Files and directories a host-placement launch created.
#[derive(Default)]
struct Placed {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Placed {
    /// Best effort: nothing was launched, so nothing it was given should stay behind.
    fn remove(&self) {
        for f in &self.files {
            if let Err(e) = std::fs::remove_file(f) {
                tracing::warn!(path = %f.display(), error = %e, "cannot remove secret file");
            }
        }
        for d in &self.dirs {
            if let Err(e) = std::fs::remove_dir_all(d) {
                tracing::warn!(path = %d.display(), error = %e, "cannot remove image directory");
            }
        }
    }
}

fn place_and_exec(
    config: &InitConfig,
    mut namespace: Option<&mut PrivateNamespace>,
    secrets: initra_client::Secrets,
    argv: Vec<String>,
    placed: &mut Placed,
) -> Result<Never, LaunchError> {
    let secret = |name: &str| secrets.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    if let Some(image) = &config.initra.image {
        if let Some(ns) = namespace.as_deref_mut() {
            ns.prepare(&image.mount)?;
        }
        if !image.mount.exists() {
            placed.dirs.push(image.mount.clone());
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
        if let Some(ns) = namespace.as_deref_mut() {
            ns.prepare(&k.path)?;
        }
        let value = secret(&k.key).ok_or_else(|| {
            LaunchError::Attest(format!("the server did not deliver `{}`", k.key))
        })?;
        write_secret_file(&k.path, value)?;
        placed.files.push(k.path.clone());
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

/// The executable `program` names: a path (with `/`) or a `PATH` lookup, as exec will do.
fn resolve_program(program: &str) -> Result<PathBuf, Error> {
    let not_found = |message: String| Error::Exec {
        program: program.to_owned(),
        message,
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return check_executable(&path).map(|()| path).map_err(not_found);
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|p| check_executable(p).is_ok())
        .ok_or_else(|| not_found("not found in PATH".into()))
}

fn check_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not executable", path.display()));
    }
    Ok(())
}

/// A simulated platform directory that does not load: a configuration error naming the field.
fn bad_sim_dir(config: &InitConfig, e: initra_attest::Error) -> LaunchError {
    Error::InvalidConfig {
        path: config.source.clone(),
        field: "initra.sim_dir".into(),
        message: e.to_string(),
    }
    .into()
}

fn build_attester(config: &InitConfig, name: &str) -> Result<Box<dyn Attester>, LaunchError> {
    let sim_dir = || {
        config
            .initra
            .sim_dir
            .as_ref()
            .ok_or_else(|| Error::InvalidConfig {
                path: config.source.clone(),
                field: "initra.sim_dir".into(),
                message: format!("required when attester is {name:?}"),
            })
    };
    match name {
        "sim-snp" => {
            let platform = SimSnpPlatform::load(sim_dir()?).map_err(|e| bad_sim_dir(config, e))?;
            tracing::info!(measurement = %platform.options().measurement, simulated = true, "simulated SEV-SNP guest identity");
            Ok(Box::new(platform))
        }
        "sim" => {
            let dir = sim_dir()?;
            let platform = SimPlatform::load(dir).map_err(|e| bad_sim_dir(config, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_resolved_before_attesting() {
        assert_eq!(resolve_program("sh").unwrap().file_name().unwrap(), "sh");
        assert_eq!(
            resolve_program("/bin/sh").unwrap(),
            PathBuf::from("/bin/sh")
        );
        let err = resolve_program("/nonexistent/app").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/app"), "{err}");
        let err = resolve_program("initra-no-such-program")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("initra-no-such-program") && err.contains("PATH"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("data");
        std::fs::write(&plain, b"x").unwrap();
        let err = resolve_program(plain.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not executable"), "{err}");
        let err = resolve_program(dir.path().to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn placed_files_and_directories_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        let mount = dir.path().join("mnt");
        std::fs::write(&file, b"s").unwrap();
        std::fs::create_dir_all(mount.join("sub")).unwrap();
        let placed = Placed {
            files: vec![file.clone()],
            dirs: vec![mount.clone()],
        };
        placed.remove();
        assert!(!file.exists() && !mount.exists());
    }
}
