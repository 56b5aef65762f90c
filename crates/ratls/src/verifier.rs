//! rustls verifiers for attested peers (docs/ratls.md, "Verifying peers").
//!
//! Both verifiers parse the peer's end-entity certificate with [`read_certificate`], require a
//! holding key binding and a current validity period, and check the handshake signature with the
//! certificate's key (proof that the peer holds the attested key). Certificate chains and names
//! play no part: the quote, not a CA, vouches for the key.
//!
//! - [`AttestedServerVerifier`] (used by clients) also verifies the quote with
//!   [`initra_verify::Verifier`] during the handshake and caches accepted verdicts per certificate.
//! - [`AttestedClientVerifier`] (used by servers) stops at structure, binding and signature, so the
//!   handshake stays cheap and the server can answer an unacceptable client with a gRPC
//!   PERMISSION_DENIED carrying the reason; it gets the quote with [`peer_quote`].
//!
//! Rejections are `rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(..)))`
//! whose inner error is a [`crate::Error`]; [`ratls_error`] downcasts it back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use initra_verify::{EvidenceVerdict, Verifier};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::read::{read_certificate, CertEvidence};
use crate::Error;

/// How many accepted server verdicts a client keeps.
const VERDICT_CACHE_ENTRIES: usize = 64;
/// Longest a cached server verdict is reused: within it, reconnecting skips verification; after
/// it, collateral, CRLs and a reloaded policy are applied again even to a still-valid certificate.
const VERDICT_CACHE_SECS: i64 = 3600;

/// Wraps an error of this crate as the rustls certificate error carrying it.
pub fn to_rustls(err: Error) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(err))))
}

/// The [`crate::Error`] inside a rustls error produced by these verifiers, if any (for printing the
/// verdict reason to users).
pub fn ratls_error(err: &rustls::Error) -> Option<&Error> {
    match err {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<Error>()
        }
        _ => None,
    }
}

fn system_time(now: UnixTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(now.as_secs())
}

/// The handshake-signature methods shared by both verifiers: the peer proves it holds the
/// certificate's (attested) key by signing the handshake; checked with `self.provider` (ring).
macro_rules! handshake_signatures_by_provider {
    () => {
        handshake_signatures_by_provider!(@check verify_tls12_signature);
        handshake_signatures_by_provider!(@check verify_tls13_signature);

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
    // The trait method and the rustls function that implements it share their name.
    (@check $name:ident) => {
        fn $name(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.provider.signature_verification_algorithms;
            rustls::crypto::$name(message, cert, dss, algs)
        }
    };
}

/// Parses the peer certificate and checks validity time and key binding.
fn check_peer(end_entity: &CertificateDer<'_>, now: UnixTime) -> Result<CertEvidence, Error> {
    let evidence = read_certificate(end_entity)?;
    evidence.check_validity(system_time(now))?;
    evidence.bound()?;
    Ok(evidence)
}

/// The bound evidence of a peer's certificate chain (its first certificate), for a server that
/// verifies the client's evidence after the handshake.
pub fn peer_quote(certs: &[CertificateDer<'_>]) -> Result<Vec<u8>, Error> {
    Ok(peer_evidence(certs)?.evidence)
}

/// What a peer's certificate attests with: the bound evidence and its endorsements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerEvidence {
    /// The DCAP quote or SEV-SNP report whose report data binds the certificate key.
    pub evidence: Vec<u8>,
    /// The SEV-SNP certificate table of the endorsement extension, if any.
    pub endorsements: Option<Vec<u8>>,
}

/// The bound evidence and endorsements of a peer's certificate chain (its first certificate).
pub fn peer_evidence(certs: &[CertificateDer<'_>]) -> Result<PeerEvidence, Error> {
    let first = certs.first().ok_or(Error::NoPeerCertificate)?;
    let cert = read_certificate(first)?;
    Ok(PeerEvidence {
        evidence: cert.bound_quote()?.to_vec(),
        endorsements: cert.endorsements()?.map(<[u8]>::to_vec),
    })
}

/// What a client trusts its server for.
#[derive(Clone, Debug)]
pub enum ServerTrust {
    /// An RA-TLS server: its quote must verify and be accepted by this verifier's policy.
    Attested(Arc<Verifier>),
    /// A server with a conventional certificate issued by this CA (DER); names are checked as usual.
    PinnedCa(CertificateDer<'static>),
}

/// `ServerCertVerifier` for clients: an attested server, or a conventional one under a pinned CA.
#[derive(Debug)]
pub struct AttestedServerVerifier {
    provider: Arc<CryptoProvider>,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    Attested {
        verifier: Arc<Verifier>,
        cache: Mutex<VerdictCache>,
        verifications: AtomicU64,
    },
    Pinned(Arc<WebPkiServerVerifier>),
}

impl AttestedServerVerifier {
    /// A verifier for `trust`, using the ring provider.
    pub fn new(trust: ServerTrust) -> Result<Self, Error> {
        Self::with_provider(trust, crate::crypto_provider())
    }

    /// A verifier for `trust` with an explicit provider.
    pub fn with_provider(trust: ServerTrust, provider: Arc<CryptoProvider>) -> Result<Self, Error> {
        let mode = match trust {
            ServerTrust::Attested(verifier) => Mode::Attested {
                verifier,
                cache: Mutex::new(VerdictCache::default()),
                verifications: AtomicU64::new(0),
            },
            ServerTrust::PinnedCa(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca)?;
                let inner =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| {
                            Error::Tls(rustls::Error::General(format!("pinned CA: {e}")))
                        })?;
                Mode::Pinned(inner)
            }
        };
        Ok(Self { provider, mode })
    }

    /// The accepted verdict cached for a server certificate (DER), if any.
    pub fn verdict_for(&self, cert_der: &[u8]) -> Option<Arc<EvidenceVerdict>> {
        match &self.mode {
            Mode::Attested { cache, .. } => cache.lock().ok()?.peek(&cert_key(cert_der)),
            Mode::Pinned(_) => None,
        }
    }

    /// How many quotes this verifier has verified (cache hits excluded).
    pub fn verifications(&self) -> u64 {
        match &self.mode {
            Mode::Attested { verifications, .. } => verifications.load(Ordering::Relaxed),
            Mode::Pinned(_) => 0,
        }
    }

    fn verify_attested(
        &self,
        verifier: &Verifier,
        cache: &Mutex<VerdictCache>,
        verifications: &AtomicU64,
        end_entity: &CertificateDer<'_>,
        now: UnixTime,
    ) -> Result<(), Error> {
        let key = cert_key(end_entity);
        let now_s = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(&key, now_s))
            .is_some()
        {
            return Ok(());
        }
        let evidence = check_peer(end_entity, now)?;
        let quote = evidence.bound_quote()?;
        let endorsements = evidence.endorsements()?;
        verifications.fetch_add(1, Ordering::Relaxed);
        let verdict = verifier.verify_evidence(quote, endorsements, system_time(now))?;
        if !verdict.is_accepted() {
            tracing::warn!(
                reason = verdict.decision().reason().unwrap_or(""),
                simulated = verdict.simulated(),
                "attested server rejected by policy"
            );
            return Err(Error::Rejected {
                verdict: Box::new(verdict),
            });
        }
        tracing::info!(
            simulated = verdict.simulated(),
            tcb_status = verdict.tcb_status_label(),
            peer = %verdict.summary(),
            "attested server accepted"
        );
        if let Ok(mut c) = cache.lock() {
            let until = evidence
                .not_after
                .min(now_s.saturating_add(VERDICT_CACHE_SECS));
            c.insert(key, until, Arc::new(verdict), now_s);
        }
        Ok(())
    }
}

impl ServerCertVerifier for AttestedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.mode {
            Mode::Attested {
                verifier,
                cache,
                verifications,
            } => self
                .verify_attested(verifier, cache, verifications, end_entity, now)
                .map(|()| ServerCertVerified::assertion())
                .map_err(to_rustls),
            Mode::Pinned(inner) => {
                inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
        }
    }

    handshake_signatures_by_provider!();
}

/// `ClientCertVerifier` for servers: client certificates are mandatory and must carry bound
/// evidence; the quote itself is verified by the server after the handshake ([`peer_quote`]).
#[derive(Debug)]
pub struct AttestedClientVerifier {
    provider: Arc<CryptoProvider>,
}

impl Default for AttestedClientVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl AttestedClientVerifier {
    /// With the ring provider.
    pub fn new() -> Self {
        Self::with_provider(crate::crypto_provider())
    }

    /// With an explicit provider.
    pub fn with_provider(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ClientCertVerifier for AttestedClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        check_peer(end_entity, now)
            .map(|_| ClientCertVerified::assertion())
            .map_err(to_rustls)
    }

    handshake_signatures_by_provider!();
}

fn cert_key(der: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    key.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, der).as_ref());
    key
}

/// Accepted verdicts by SHA-256 of the certificate, each valid until the certificate's notAfter.
/// Bounded: when full, expired entries go first, then the one expiring soonest.
#[derive(Debug, Default)]
struct VerdictCache {
    entries: HashMap<[u8; 32], (i64, Arc<EvidenceVerdict>)>,
}

impl VerdictCache {
    fn get(&mut self, key: &[u8; 32], now: i64) -> Option<Arc<EvidenceVerdict>> {
        match self.entries.get(key) {
            Some((not_after, verdict)) if *not_after >= now => Some(verdict.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn peek(&self, key: &[u8; 32]) -> Option<Arc<EvidenceVerdict>> {
        self.entries.get(key).map(|(_, v)| v.clone())
    }

    fn insert(&mut self, key: [u8; 32], not_after: i64, verdict: Arc<EvidenceVerdict>, now: i64) {
        if self.entries.len() >= VERDICT_CACHE_ENTRIES {
            self.entries.retain(|_, (na, _)| *na >= now);
        }
        while self.entries.len() >= VERDICT_CACHE_ENTRIES {
            let Some(soonest) = self
                .entries
                .iter()
                .min_by_key(|(_, (na, _))| *na)
                .map(|(k, _)| *k)
            else {
                break;
            };
            self.entries.remove(&soonest);
        }
        self.entries.insert(key, (not_after, verdict));
    }
}
