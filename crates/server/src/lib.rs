//! The initra secret server: mutual RA-TLS gRPC, Occlum `ratls.GrSecret` compatible (docs/protocol.md).
//!
//! ```text
//! TCP accept (connection limit) -> TLS handshake (timeout; client certificate mandatory)
//!   -> full verification of the client's quote (blocking pool, one per core) -> PeerVerdict
//!   -> tonic (connect-info carries the verdict) -> GrSecret / Secrets decide per RPC, log one line each
//! ```
//!
//! Entry points: [`ServerConfig::builder`] then [`run`].

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accept;
mod config;
mod error;
mod gate;
pub mod peer;
pub mod secrets;
mod serve;
mod service;
mod setup;
mod state;

pub use config::{Limits, ServerConfig, ServerConfigBuilder, ServerIdentity};
pub use error::Error;
pub use gate::VerifierGate;
pub use service::MAX_NAMES_PER_CALL;
pub use setup::{build_verifier, load_state, run, shutdown_signal, BoundServer};
pub use state::State;

#[cfg(test)]
mod tests;
