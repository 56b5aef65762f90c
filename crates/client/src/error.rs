//! The client's error type. Each variant is one kind of outcome a caller acts on differently.

/// Why fetching secrets failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server could not be reached within the deadline (refused, reset, timed out).
    #[error("server {addr} unreachable after {attempts} attempt(s): {last}")]
    Unreachable {
        /// The server address.
        addr: String,
        /// Connection attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Our verifier refused the server's attestation (or certificate). Not retried.
    #[error("server attestation rejected: {reason}")]
    ServerRejected {
        /// The verdict's reason.
        reason: String,
    },
    /// Our verifier could not verify the server's evidence or certificate (signature, chain, untrusted root,
    /// missing collateral, no key binding): a failure, not a policy decision. Not retried.
    #[error("server attestation could not be verified: {reason}")]
    ServerInvalid {
        /// What is wrong with the evidence, or with our verification set-up.
        reason: String,
    },
    /// The server could not verify our evidence or certificate (UNAUTHENTICATED, or a TLS alert refusing
    /// our certificate): a failure, not a policy decision. Not retried.
    #[error("server could not verify this client's attestation: {reason}")]
    ClientInvalid {
        /// The server's reason.
        reason: String,
    },
    /// The server's policy refused our attestation or this identity's access (PERMISSION_DENIED). Not retried.
    #[error("server refused this client: {reason}")]
    ClientRejected {
        /// The server's reason.
        reason: String,
    },
    /// The server has no secret of that name.
    #[error("secret {name:?} not found on the server")]
    NotFound {
        /// The secret name.
        name: String,
    },
    /// The server answered something this client cannot use.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The client configuration is unusable (bad address, key, certificate).
    #[error("client configuration: {0}")]
    Config(String),
}

impl Error {
    /// True for outcomes decided by policy (a `Decision::Rejected` verdict by either side), as opposed to
    /// failures such as invalid evidence or a verifier without trust roots or collateral.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::ServerRejected { .. } | Self::ClientRejected { .. }
        )
    }
}
