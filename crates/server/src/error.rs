//! The server's error type.

use std::path::PathBuf;

/// Everything that can stop the server from starting, reloading or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing or contradicts another one.
    #[error("server configuration: {0}")]
    Config(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is invalid.
    #[error("{path}: {what}: {reason}")]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// Binding or accepting on the listen address failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration could not be built (bad key, bad certificate).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The server's own attestation (RA-TLS identity) could not be produced.
    #[error("server attestation: {0}")]
    Attestation(String),
    /// The verifier (trust roots, collateral, policy) could not be built.
    #[error("verifier: {0}")]
    Verifier(String),
    /// The gRPC transport failed.
    #[error("gRPC transport: {0}")]
    Transport(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
