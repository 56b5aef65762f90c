//! Server configuration: what to listen on, which files to load, how the server proves itself, limits.

use std::path::PathBuf;
use std::time::Duration;

use initra_collateral::{CollateralSettings, VerifierSettings};

use crate::Error;

/// Resource limits that keep one slow or hostile client from exhausting the server (docs/protocol.md, "Limits").
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request message, in bytes (`--max-message-bytes`); larger ones get RESOURCE_EXHAUSTED.
    pub max_message_bytes: usize,
    /// HTTP/2 streams per connection (`--max-concurrent-streams`).
    pub max_concurrent_streams: u32,
    /// A TLS handshake not finished within this is dropped (`--handshake-timeout`).
    pub handshake_timeout: Duration,
    /// Open connections, including those still in the handshake (`--max-connections`); further
    /// connections wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Quote verifications running at once (CPU-bound; defaults to the number of cores).
    pub verify_workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_concurrent_streams: 32,
            handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            verify_workers: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2),
        }
    }
}

/// How the server authenticates itself to clients.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ServerIdentity {
    /// An RA-TLS certificate with a quote from the simulated platform in `dir` (`--sim DIR`).
    Sim {
        /// The simulated platform directory (`initra sim init`).
        dir: PathBuf,
        /// The enclave identity JSON (`--identity FILE`); `None` measures the running executable, like
        /// `initra measure --exe`. Configuration files are not measured: the verify config names the
        /// clients, whose own measurement covers a configuration naming this server, so measuring it here
        /// would make the two identities depend on each other (and every client roll-out would change the
        /// server's identity).
        identity: Option<PathBuf>,
    },
    /// An RA-TLS certificate with evidence from a real TEE (`--tee auto|occlum|gramine|tdx|snp`,
    /// docs/tee-backends.md).
    Tee {
        /// The backend name given to `initra_attest::tee::select`.
        backend: String,
    },
    /// A conventional certificate chain and key, PEM (`--tls-cert`, `--tls-key`): for a server outside a TEE.
    Pki {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// PKCS#8, SEC1 or RSA private key.
        key: PathBuf,
    },
}

/// Everything `initra server` needs. Build with [`ServerConfig::builder`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) addr: String,
    pub(crate) ra_config: Option<PathBuf>,
    pub(crate) policy: Option<PathBuf>,
    pub(crate) secrets: PathBuf,
    pub(crate) identity: ServerIdentity,
    pub(crate) verifier: VerifierSettings,
    pub(crate) limits: Limits,
}

impl ServerConfig {
    /// Starts a configuration listening on `addr` (`HOST:PORT`), serving the secrets file `secrets`.
    pub fn builder(addr: impl Into<String>, secrets: impl Into<PathBuf>) -> ServerConfigBuilder {
        ServerConfigBuilder {
            addr: addr.into(),
            secrets: secrets.into(),
            ra_config: None,
            policy: None,
            identity: None,
            verifier: VerifierSettings::default(),
            limits: Limits::default(),
        }
    }

    /// The listen address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// How client evidence is verified: roots, collateral sources, freshness, extra TCB statuses.
    pub fn verifier_settings(&self) -> &VerifierSettings {
        &self.verifier
    }
}

/// Builder of [`ServerConfig`].
#[derive(Debug)]
pub struct ServerConfigBuilder {
    addr: String,
    secrets: PathBuf,
    ra_config: Option<PathBuf>,
    policy: Option<PathBuf>,
    identity: Option<ServerIdentity>,
    verifier: VerifierSettings,
    limits: Limits,
}

impl ServerConfigBuilder {
    /// Occlum's `dynamic_config.json`: which client enclaves are accepted.
    pub fn ra_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.ra_config = Some(path.into());
        self
    }

    /// initra's policy file (docs/policy.md): TCB statuses, advisories, debug, per-secret rules.
    pub fn policy(mut self, path: impl Into<PathBuf>) -> Self {
        self.policy = Some(path.into());
        self
    }

    /// How the server authenticates itself.
    pub fn identity(mut self, identity: ServerIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Adds a collateral file (dcap-qvl JSON layout), asked before the other collateral sources.
    pub fn collateral(mut self, path: impl Into<PathBuf>) -> Self {
        self.verifier.collateral_files.push(path.into());
        self
    }

    /// Adds a trust root; `simulated` for the simulated platform's root (`--sim-root`).
    pub fn root(mut self, path: impl Into<PathBuf>, simulated: bool) -> Self {
        if simulated {
            self.verifier.simulated_roots.push(path.into());
        } else {
            self.verifier.trust_roots.push(path.into());
        }
        self
    }

    /// Adds a TCB status the policy accepts besides `UpToDate` (e.g. `SWHardeningNeeded`).
    pub fn accept_status(mut self, status: impl Into<String>) -> Self {
        self.verifier.accept_tcb_status.push(status.into());
        self
    }

    /// Sets the collateral sources (PCCS, cache, bundles) and the freshness policy.
    pub fn collateral_settings(mut self, settings: CollateralSettings) -> Self {
        self.verifier.collateral = settings;
        self
    }

    /// Replaces the whole verifier set-up (roots, collateral files and sources, statuses).
    pub fn verifier(mut self, settings: VerifierSettings) -> Self {
        self.verifier = settings;
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks the combination and returns the configuration.
    pub fn build(self) -> Result<ServerConfig, Error> {
        if self.ra_config.is_none() && self.policy.is_none() {
            return Err(Error::Config(
                "expected --ra-config (Occlum dynamic_config.json) or --policy, got neither".into(),
            ));
        }
        let identity = self.identity.ok_or_else(|| {
            Error::Config(
                "server identity: expected --sim DIR or --tls-cert/--tls-key, got neither".into(),
            )
        })?;
        if self.limits.max_message_bytes == 0 || self.limits.max_concurrent_streams == 0 {
            return Err(Error::Config(
                "limits: message size and concurrent streams must be > 0".into(),
            ));
        }
        Ok(ServerConfig {
            addr: self.addr,
            ra_config: self.ra_config,
            policy: self.policy,
            secrets: self.secrets,
            identity,
            verifier: self.verifier,
            limits: self.limits,
        })
    }
}
