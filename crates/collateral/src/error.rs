//! The crate's single error type.

use std::path::PathBuf;

use crate::freshness::FreshnessError;

/// Why collateral could not be obtained, stored or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PCCS answered 2xx but the body or a header is not what the v4 API specifies.
    #[error("PCCS {url}: bad response: {reason}")]
    BadResponse {
        /// The request URL.
        url: String,
        /// What is wrong, naming the header or field.
        reason: String,
    },
    /// A bundle file is unreadable or invalid.
    #[error("bundle {path}: {reason}")]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A cache file or directory could not be written.
    #[error("collateral cache {path}: {reason}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A configuration value (initra config, `PCCS_URL`, QCNL file) is invalid.
    #[error("{origin}: {reason}")]
    Config {
        /// Where the value came from (file path, variable name or setting).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A CRL is in none of the accepted encodings (DER, hex of DER, PEM) or does not parse.
    #[error("{item}: {reason}")]
    Crl {
        /// Which CRL (`PCK CRL`, `root CA CRL`).
        item: String,
        /// What is wrong.
        reason: String,
    },
    /// The collateral is past its validity or older than the configured maximum age
    /// ([`initra_verify::FreshnessPolicy`]).
    #[error(transparent)]
    Freshness(#[from] FreshnessError),
    /// The PCCS answered with a non-2xx status.
    #[error("PCCS {url}: HTTP {status}{hint}")]
    HttpStatus {
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// A hint for common statuses (e.g. 404: unknown FMSPC or wrong path), with a leading separator.
        hint: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// AMD's Key Distribution Service (or a mirror) failed or answered with something other than
    /// the VCEK, chain or CRL asked for (`docs/collateral.md`, "SEV-SNP: AMD KDS").
    #[error("AMD KDS {url}: {reason}")]
    Kds {
        /// The request URL.
        url: String,
        /// The HTTP status, when the KDS answered with a non-2xx one (429: rate limited).
        status: Option<u16>,
        /// What went wrong, naming the status or field.
        reason: String,
    },
    /// The quote does not say which collateral it needs (no PCK chain, no SGX extension, unknown CA).
    #[error("collateral key: {reason}")]
    Key {
        /// What is missing or wrong.
        reason: String,
    },
    /// No configured source had collateral for the key.
    #[error("no collateral for {key}: {tried}")]
    NoCollateral {
        /// The key (`tee-fmspc-ca`).
        key: String,
        /// What each source answered.
        tried: String,
    },
    /// The PCCS did not answer within the configured timeout.
    #[error("PCCS {url}: no response within {after}")]
    Timeout {
        /// The request URL.
        url: String,
        /// The timeout, human-readable (`5s`).
        after: String,
    },
    /// The PCCS could not be reached (DNS, connection refused, TLS handshake).
    #[error("PCCS {url} unreachable: {reason}")]
    Unreachable {
        /// The request URL.
        url: String,
        /// The cause (connect error, TLS error).
        reason: String,
    },
    /// The collateral was fetched but the verification crate rejected its shape.
    #[error(transparent)]
    Verify(#[from] initra_verify::Error),
}

impl Error {
    /// True for failures worth retrying (network, timeout, 5xx, 429); false for answers that
    /// will not change (404, bad body).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Unreachable { .. } => true,
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The error as the verification crate's error, for [`initra_verify::CollateralSource`].
    pub fn into_verify_error(self) -> initra_verify::Error {
        match self {
            Error::Freshness(e) => initra_verify::Error::Freshness(e),
            Error::Verify(e) => e,
            other => initra_verify::Error::Collateral {
                origin: "source".into(),
                reason: other.to_string(),
            },
        }
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
