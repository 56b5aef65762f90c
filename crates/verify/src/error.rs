//! The crate's single error type.

use std::path::PathBuf;

/// Why a quote could not be verified (as opposed to being rejected by policy), or why a
/// configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The collateral JSON is invalid (missing field, bad hex, bad TCB info).
    #[error("collateral {origin}: {reason}")]
    Collateral {
        /// File path or other origin.
        origin: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// The evidence could not be parsed.
    #[error("evidence: {0}")]
    Evidence(#[from] initra_evidence::Error),
    /// The collateral is past an item's `nextUpdate`, older than the policy's
    /// `max_collateral_age`, or its dates are unreadable (`collateral TCB info too old: ...`).
    #[error(transparent)]
    Freshness(#[from] crate::freshness::FreshnessError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No loaded collateral matches the quote's TEE type and FMSPC.
    #[error("no collateral for {tee} quote with FMSPC {fmspc} (loaded: {loaded})")]
    NoCollateral {
        /// The quote's TEE.
        tee: String,
        /// The quote's FMSPC (hex).
        fmspc: String,
        /// What is loaded (TEE/FMSPC of each file).
        loaded: String,
    },
    /// The quote carries no PCK certificate chain (certification data type other than 5).
    #[error("quote carries no PCK certificate chain (certification data type {cert_type}; only type 5 is supported)")]
    NoPckChain {
        /// The certification data type found.
        cert_type: u16,
    },
    /// The PCK certificate chain in the quote could not be parsed.
    #[error("PCK certificate chain: {reason}")]
    PckChain {
        /// What is wrong.
        reason: String,
    },
    /// A policy / verify-config file is invalid.
    #[error("policy {origin}: {reason}")]
    Policy {
        /// File path or other origin.
        origin: String,
        /// What is wrong, naming the field (and entry index).
        reason: String,
    },
    /// An SEV-SNP report is invalid: certificate chain, validity, signature, or a disagreement
    /// between the report and its VCEK (reported TCB, chip id, product).
    #[error("SNP {check}: {reason}")]
    Snp {
        /// Which check failed (`chain`, `signature`, `reported_tcb`, `product`, ...).
        check: &'static str,
        /// What was expected and found.
        reason: String,
    },
    /// A trust root certificate could not be parsed.
    #[error("trust root: {reason}")]
    TrustRoot {
        /// What is wrong.
        reason: String,
    },
    /// The quote's PCK chain ends in a root that is not configured.
    #[error(
        "PCK chain ends in an untrusted root (issuer: {issuer}); configured roots: {configured}"
    )]
    UntrustedRoot {
        /// Issuer DN of the last certificate in the chain.
        issuer: String,
        /// The configured roots.
        configured: String,
    },
    /// Cryptographic verification failed (dcap-qvl's message: signature, chain, CRL, expiry, TCB
    /// matching), e.g. `QE Identity expired`, `TCBInfo issue date is in the future`, `CrlExpired`.
    #[error("quote verification failed: {message}")]
    Verification {
        /// dcap-qvl's error chain.
        message: String,
    },
}
