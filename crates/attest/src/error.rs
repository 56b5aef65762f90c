//! The crate's error type.

use std::path::PathBuf;

/// Errors of evidence producers and the simulated platform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `initra sim init` refuses to overwrite an existing platform.
    #[error(
        "{path}: a simulated platform already exists here (remove the directory to start over)"
    )]
    AlreadyExists {
        /// The existing manifest.
        path: PathBuf,
    },
    /// Certificate, CRL or key encoding by rcgen failed.
    #[error("simulated PKI: {what}: {source}")]
    Certificate {
        /// Which object was being made.
        what: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// A ring operation failed (key generation, key parsing, signing).
    #[error("{operation} failed")]
    Crypto {
        /// What was attempted, e.g. `signing the QE report with the PCK key`.
        operation: &'static str,
    },
    /// A file of a simulated platform (or an input file) is malformed.
    #[error("{path}: invalid {what}: {reason}")]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What the file should hold, e.g. `PKCS#8 private key`.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A value given by the caller is out of range.
    #[error("{field}: {reason}")]
    InvalidValue {
        /// The field, e.g. `report_data`.
        field: &'static str,
        /// Expected versus actual.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file every simulated platform has is missing.
    #[error("{path}: missing ({what}); is {dir} a directory made by {made_by}?")]
    MissingFile {
        /// The missing file.
        path: PathBuf,
        /// What makes such directories (`initra sim init`, testdata/sim-snp/generate.sh).
        made_by: &'static str,
        /// What it holds.
        what: &'static str,
        /// The platform directory.
        dir: PathBuf,
    },
    /// The backend is not available in this build or on this machine.
    #[error("{backend} attestation is not supported: {reason}")]
    Unsupported {
        /// The backend.
        backend: crate::Backend,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn cert(what: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| Self::Certificate { what, source }
    }

    pub(crate) fn crypto(operation: &'static str) -> impl FnOnce(ring::error::Unspecified) -> Self {
        move |_| Self::Crypto { operation }
    }
}
