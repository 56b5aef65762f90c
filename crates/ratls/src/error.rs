//! The crate's error type.

use crate::EvidenceFormat;

/// Errors creating or reading RA-TLS certificates and verifying attested peers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The attester could not produce a quote.
    #[error("quote generation: {0}")]
    Attester(#[from] initra_attest::Error),
    /// Evidence was found but no extension's key binding holds.
    #[error("no RA-TLS evidence is bound to the certificate key: {}", reasons.join("; "))]
    BindingFailed {
        /// One reason per evidence extension, e.g. `occlum (1.2.840.113741.1): report_data[0..32] 5a.. != SHA-256(SPKI) 1b..`.
        reasons: Vec<String>,
    },
    /// The certificate is not parseable X.509 (DER or PEM).
    #[error("certificate: {reason}")]
    Certificate {
        /// What is wrong.
        reason: String,
    },
    /// An evidence extension's payload could not be decoded.
    #[error("{format} evidence extension: {source}")]
    Evidence {
        /// The extension's format.
        format: EvidenceFormat,
        /// The decoder's error.
        #[source]
        source: initra_evidence::Error,
    },
    /// The certificate's notAfter is in the past.
    #[error("certificate expired: notAfter {not_after} is before now {now}")]
    Expired {
        /// notAfter (RFC 3339).
        not_after: String,
        /// The validation time (RFC 3339).
        now: String,
    },
    /// Building a certificate or key failed.
    #[error("RA-TLS certificate generation ({what}): {reason}")]
    Generate {
        /// The step.
        what: &'static str,
        /// rcgen's or rustls' message.
        reason: String,
    },
    /// The certificate carries none of the RA-TLS evidence extensions.
    #[error(
        "certificate carries no RA-TLS evidence (looked for extensions 1.2.840.113741.1, 1.2.840.113741.1337.6, \
         1.2.840.113741.1.13.1, 2.23.133.5.4.9)"
    )]
    NoEvidence,
    /// The certificate's notBefore is in the future.
    #[error("certificate not yet valid: notBefore {not_before} is after now {now}")]
    NotYetValid {
        /// notBefore (RFC 3339).
        not_before: String,
        /// The validation time (RFC 3339).
        now: String,
    },
    /// The peer presented no certificate.
    #[error("peer presented no certificate")]
    NoPeerCertificate,
    /// The evidence verified but policy rejected it.
    #[error(
        "attested peer rejected: {}{}",
        verdict.decision().reason().unwrap_or("not accepted"),
        if verdict.simulated() { " (simulated evidence)" } else { "" }
    )]
    Rejected {
        /// The verdict, with the reason (field, expected, actual) and the peer's claims.
        verdict: Box<initra_verify::EvidenceVerdict>,
    },
    /// Building a rustls config failed.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The peer's evidence or the collateral is invalid (signature, chain, expiry, untrusted root).
    #[error("attestation evidence invalid: {0}")]
    Verify(#[from] initra_verify::Error),
}
