//! RA-TLS: X.509 certificates that carry attestation evidence bound to their key, and rustls
//! verifiers that accept a TLS peer only when its evidence is bound and verifies (docs/ratls.md).
//!
//! - [`RaTlsIdentity::generate`] makes the certificate initra presents: a fresh ECDSA P-256 key, a
//!   quote whose report data is `SHA-256(SPKI DER) || 0^32`, in extension `1.2.840.113741.1`
//!   (Occlum-compatible).
//! - [`read_certificate`] finds evidence under every known OID (Occlum, Gramine legacy, Intel SGX
//!   SDK, TCG DICE) and evaluates each format's key binding.
//! - [`verifier`] holds the rustls `ServerCertVerifier` / `ClientCertVerifier`, [`tls`] the configs.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod cert;
mod error;
mod read;
pub mod tls;
pub mod verifier;

pub use cert::{CertOptions, RaTlsIdentity};
pub use error::Error;
pub use read::{
    read_certificate, read_certificate_pem_or_der, Binding, BindingRule, CertEvidence,
    EvidenceExtension, EvidenceFormat,
};

/// The provider every config and verifier of this crate uses: ring, explicitly (two providers in one
/// process make rustls' implicit choice panic).
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
