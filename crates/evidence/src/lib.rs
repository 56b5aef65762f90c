//! Parsers for TEE attestation evidence: SGX/TDX DCAP quotes and RA-TLS payloads.
//!
//! Everything here parses untrusted bytes and does no I/O. Every read goes through
//! [`codec::Reader`], whose errors name the field being read. Formats are specified in
//! `docs/quote-formats.md` (quotes) and `docs/ratls.md` (RA-TLS payloads).

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod cbor;
pub mod codec;
mod error;
pub mod input;
pub mod quote;
pub mod ratls_ext;
pub mod types;

pub use error::Error;
pub use quote::{EnclaveReport, Header, Quote, QuoteBody, TdReport, Tee};
pub use types::{
    Attributes, ConfigId, CpuSvn, IsvExtProdId, IsvFamilyId, Measurement, Measurement48,
    ReportData, SeamAttributes, TdAttributes, TeeTcbSvn, Xfam,
};
