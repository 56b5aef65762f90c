//! Parsers for TEE attestation evidence: SGX/TDX DCAP quotes, SEV-SNP reports and RA-TLS payloads.
//!
//! Everything here parses untrusted bytes and does no I/O. Every read goes through
//! [`codec::Reader`], whose errors name the field being read. Formats are specified in
//! `docs/quote-formats.md` (quotes), `docs/snp.md` (SNP reports) and `docs/ratls.md` (RA-TLS payloads).

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod any;
pub mod cbor;
pub mod codec;
mod error;
pub mod input;
pub mod quote;
pub mod ratls_ext;
pub mod snp;
pub mod types;

pub use any::Evidence;
pub use error::Error;
pub use quote::{EnclaveReport, Header, Quote, QuoteBody, TdReport, Tee};
pub use types::{
    Attributes, ChipId, ConfigId, CpuSvn, GuestId16, HostData, IsvExtProdId, IsvFamilyId,
    Measurement, Measurement48, ReportData, ReportId, SeamAttributes, TdAttributes, TeeTcbSvn,
    Xfam,
};
