//! Client configuration: where the server is, who we are, how we decide to trust the server, timing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::retry::RetryPolicy;
use crate::Error;

/// The client's TLS identity: normally an RA-TLS certificate (quote bound to the key) and its key.
pub struct ClientIdentity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// From a DER certificate and its PKCS#8 DER private key (e.g. `RaTlsIdentity::cert_der()` /
    /// `key_der()`).
    pub fn from_der(cert_der: &[u8], pkcs8_key_der: &[u8]) -> Self {
        Self {
            chain: vec![CertificateDer::from(cert_der.to_vec())],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8_key_der.to_vec())),
        }
    }

    /// From a certificate chain (leaf first) and any private key rustls accepts.
    pub fn from_chain(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self { chain, key }
    }
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ClientIdentity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// How the client decides to trust the server.
#[derive(Clone)]
#[non_exhaustive]
pub enum ServerTrust {
    /// The server presents an RA-TLS certificate; its quote is verified in full (signature chain,
    /// collateral, key binding, the `ra_config` / policy) by this verifier.
    Attested(Arc<initra_verify::Verifier>),
    /// The server presents a conventional certificate issued by one of these CA certificates (DER), valid
    /// for the host name of the server address.
    PinnedCa(Vec<CertificateDer<'static>>),
    /// A caller-supplied rustls verifier (library users with their own trust model; tests).
    Custom(Arc<dyn ServerCertVerifier>),
}

impl ServerTrust {
    /// [`ServerTrust::PinnedCa`] from a file: PEM (every `CERTIFICATE` block) or one DER certificate.
    pub fn pinned_ca_file(path: &Path) -> Result<Self, Error> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let certs = if bytes.starts_with(b"-----") || bytes.trim_ascii_start().starts_with(b"-----")
        {
            CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Config(format!("{}: PEM: {e}", path.display())))?
        } else {
            vec![CertificateDer::from(bytes)]
        };
        if certs.is_empty() {
            return Err(Error::Config(format!(
                "{}: expected a CA certificate, found none",
                path.display()
            )));
        }
        Ok(Self::PinnedCa(certs))
    }
}

impl std::fmt::Debug for ServerTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Attested(_) => f.write_str("ServerTrust::Attested"),
            Self::PinnedCa(cas) => write!(f, "ServerTrust::PinnedCa({} certificates)", cas.len()),
            Self::Custom(v) => write!(f, "ServerTrust::Custom({v:?})"),
        }
    }
}

/// Everything [`crate::SecretClient::connect`] needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `host:port` of the secret server.
    pub server: String,
    /// Our certificate and key.
    pub identity: ClientIdentity,
    /// How the server is verified.
    pub server_trust: ServerTrust,
    /// Limit for one TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Overall limit for one operation (connect, or one fetch), retries included.
    pub deadline: Duration,
    /// How connection failures are retried.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A configuration with default timing: 5 s per connection attempt, 30 s overall, default retries.
    pub fn new(
        server: impl Into<String>,
        identity: ClientIdentity,
        server_trust: ServerTrust,
    ) -> Self {
        Self {
            server: server.into(),
            identity,
            server_trust,
            connect_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}
