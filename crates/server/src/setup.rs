//! Loading a [`ServerConfig`] into a running server: the verifier (roots, collateral, policy), the secrets,
//! the server's own TLS identity, and the listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use initra_attest::sim::{SimAttester, SimPlatform};
use initra_attest::{Attester, EnclaveIdentity};
use initra_ratls::{CertOptions, RaTlsIdentity};
use initra_verify::Verifier;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::config::{ServerConfig, ServerIdentity};
use crate::gate::VerifierGate;
use crate::secrets::SecretStore;
use crate::serve::{serve, Reloader, Serve};
use crate::state::State;
use crate::Error;

/// Lifetime of the server's RA-TLS certificate; it is re-issued (fresh key, fresh quote) at half of it.
const RATLS_CERT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Builds the verifier from the configuration's policy files and verifier settings (roots,
/// collateral sources, freshness, statuses), each parsed once. Verification with it may fetch
/// collateral from a PCCS and block: the server calls it on the blocking pool only.
pub fn build_verifier(cfg: &ServerConfig) -> Result<Verifier, Error> {
    let policy = initra_collateral::load_policy(cfg.policy.as_deref(), cfg.ra_config.as_deref())
        .map_err(verifier_err)?
        .ok_or_else(|| Error::Config("expected --ra-config or --policy, got neither".into()))?;
    // RA-TLS certificate tables never carry a CRL (docs/snp.md §9): without the operator's, a
    // revoked AMD key goes unnoticed, so say so every time the policy is (re)loaded.
    if policy.may_admit("snp") && cfg.verifier.snp_crls.is_empty() {
        tracing::warn!(
            target: "initra::notice",
            "warning: SEV-SNP clients are admitted but no AMD CRL is configured (--snp-crl): \
             a revoked ASK or VCEK will not be detected"
        );
    }
    cfg.verifier.build(policy).map_err(verifier_err)
}

fn verifier_err(e: initra_collateral::Error) -> Error {
    Error::Verifier(e.to_string())
}

/// Loads secrets and verifier: the whole reloadable state.
pub fn load_state(cfg: &ServerConfig) -> Result<State<VerifierGate>, Error> {
    let secrets = SecretStore::from_occlum_file(&cfg.secrets)?;
    let verifier = build_verifier(cfg)?;
    Ok(State {
        secrets,
        gate: VerifierGate::new(Arc::new(verifier)),
    })
}

/// The server's own certificate source.
enum OwnCert {
    /// RA-TLS from an attester (simulated or a real TEE); `label` names the identity in renewal logs.
    Ratls {
        attester: Arc<dyn Attester>,
        label: String,
    },
    Pki,
}

/// Always answers with the current certificate; an RA-TLS one is re-issued before it expires.
#[derive(Debug)]
struct Rotating {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Rotating {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ))
    }
}

/// A server bound to its address, identity made, state loaded: [`BoundServer::serve`] runs it.
pub struct BoundServer {
    listener: TcpListener,
    config: ServerConfig,
    state: State<VerifierGate>,
    resolver: Arc<Rotating>,
    own: OwnCert,
    description: String,
}

impl BoundServer {
    /// Loads everything and binds `config.addr`. Fails before binding if any file is invalid.
    pub async fn bind(config: ServerConfig) -> Result<Self, Error> {
        let state = load_state(&config)?;
        let (own, key, description) = own_identity(&config)?;
        let listener = TcpListener::bind(&config.addr)
            .await
            .map_err(|source| Error::Listen {
                addr: config.addr.clone(),
                source,
            })?;
        Ok(Self {
            listener,
            config,
            state,
            resolver: Arc::new(Rotating {
                current: RwLock::new(key),
            }),
            own,
            description,
        })
    }

    /// The bound address (the real port when `:0` was asked for).
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener.local_addr().map_err(|source| Error::Listen {
            addr: self.config.addr.clone(),
            source,
        })
    }

    /// How the server identifies itself, e.g. `RA-TLS (sim) mr_enclave=.. mr_signer=..` or `PKI certificate ..`.
    pub fn identity_description(&self) -> &str {
        &self.description
    }

    /// Serves until `shutdown` completes; SIGHUP reloads secrets, policy and verify config.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), Error> {
        let provider = initra_ratls::crypto_provider();
        let mut tls = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_client_cert_verifier(Arc::new(
                initra_ratls::verifier::AttestedClientVerifier::with_provider(Arc::clone(
                    &provider,
                )),
            ))
            .with_cert_resolver(Arc::clone(&self.resolver) as Arc<dyn ResolvesServerCert>);
        tls.alpn_protocols = vec![initra_ratls::tls::ALPN_H2.to_vec()];

        if let OwnCert::Ratls { attester, label } = self.own {
            spawn_renewal(Arc::clone(&self.resolver), attester, label);
        }
        let cfg = self.config.clone();
        let reload: Reloader<VerifierGate> = Arc::new(move || load_state(&cfg));
        let s = Serve {
            listener: self.listener,
            tls: Arc::new(tls),
            state: self.state,
            reload: Some(reload),
            limits: self.config.limits.clone(),
        };
        serve(s, shutdown).await
    }
}

/// Binds and serves: `initra server` in one call.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    BoundServer::bind(config).await?.serve(shutdown).await
}

fn own_identity(cfg: &ServerConfig) -> Result<(OwnCert, Arc<CertifiedKey>, String), Error> {
    match &cfg.identity {
        ServerIdentity::Sim { dir, identity } => {
            let aerr = |e: initra_attest::Error| Error::Attestation(e.to_string());
            let platform = SimPlatform::load(dir).map_err(aerr)?;
            let id = match identity {
                Some(path) => EnclaveIdentity::from_json_file(path).map_err(aerr)?,
                None => {
                    let exe =
                        std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
                    platform.measure(&exe, &[]).map_err(aerr)?
                }
            };
            let attester: Arc<dyn Attester> =
                Arc::new(SimAttester::new(platform, id.clone()).map_err(aerr)?);
            let key = issue(attester.as_ref())?;
            let description = format!(
                "RA-TLS (simulated SGX) mr_enclave={} mr_signer={} isv_prod_id={} isv_svn={} debug={}",
                id.mr_enclave, id.mr_signer, id.isv_prod_id, id.isv_svn, id.debug
            );
            Ok((
                OwnCert::Ratls {
                    attester,
                    label: format!("mr_enclave={}", id.mr_enclave),
                },
                key,
                description,
            ))
        }
        ServerIdentity::Tee { backend } => {
            let attester: Arc<dyn Attester> = Arc::from(
                initra_attest::tee::select(backend, &initra_attest::tee::DeviceRoots::default())
                    .map_err(|e| Error::Attestation(e.to_string()))?,
            );
            let key = issue(attester.as_ref())?;
            let label = format!("tee={}", attester.backend());
            let description = format!("RA-TLS ({} hardware evidence)", attester.backend());
            Ok((OwnCert::Ratls { attester, label }, key, description))
        }
        ServerIdentity::Pki { cert, key } => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Error::InvalidFile {
                    path: cert.clone(),
                    what: "PEM certificate chain",
                    reason: e.to_string(),
                })?;
            if chain.is_empty() {
                return Err(Error::InvalidFile {
                    path: cert.clone(),
                    what: "PEM certificate chain",
                    reason: "no CERTIFICATE block".into(),
                });
            }
            let private = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::InvalidFile {
                path: key.clone(),
                what: "PEM private key",
                reason: e.to_string(),
            })?;
            let signing = initra_ratls::crypto_provider()
                .key_provider
                .load_private_key(private)
                .map_err(|e| Error::InvalidFile {
                    path: key.clone(),
                    what: "PEM private key",
                    reason: e.to_string(),
                })?;
            let certified = CertifiedKey::new(chain, signing);
            certified
                .keys_match()
                .map_err(|e| Error::Tls(format!("--tls-cert / --tls-key: {e}")))?;
            Ok((
                OwnCert::Pki,
                Arc::new(certified),
                format!("PKI certificate {}", cert.display()),
            ))
        }
    }
}

fn issue(attester: &dyn Attester) -> Result<Arc<CertifiedKey>, Error> {
    let opts = CertOptions {
        lifetime: RATLS_CERT_LIFETIME,
        ..CertOptions::default()
    };
    RaTlsIdentity::generate(attester, &opts)
        .and_then(|id| id.certified_key(&initra_ratls::crypto_provider()))
        .map_err(|e| Error::Attestation(e.to_string()))
}

fn spawn_renewal(resolver: Arc<Rotating>, attester: Arc<dyn Attester>, label: String) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RATLS_CERT_LIFETIME / 2).await;
            let a = Arc::clone(&attester);
            match tokio::task::spawn_blocking(move || issue(a.as_ref())).await {
                Ok(Ok(key)) => {
                    *resolver
                        .current
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
                    tracing::info!(identity = %label, "renewed the server's RA-TLS certificate");
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "renewing the server's RA-TLS certificate failed")
                }
                Err(e) => tracing::error!(error = %e, "renewal task failed"),
            }
        }
    });
}

/// Completes on SIGTERM or SIGINT (Ctrl-C): the shutdown future of `initra server`.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
