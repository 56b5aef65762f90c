//! Quote verification against collateral and the fail-closed initra policy; SEV-SNP report
//! verification against AMD's certificate chain ([`snp`]).
//!
//! [`Verifier::verify`] parses a quote, picks the trust root its PCK chain ends in, verifies it
//! cryptographically with `dcap-qvl` against collateral, then applies the [`Policy`]
//! (TCB status → debug → identity, `docs/policy.md`) and returns a [`Verdict`]. `Err` means the
//! evidence or collateral is invalid — including collateral older than the policy's
//! `max_collateral_age` ([`freshness`]); a policy rejection is `Ok(Verdict)` with
//! [`Decision::Rejected`] naming field, expected and actual value.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod claims;
mod collateral;
mod error;
pub mod freshness;
pub mod policy;
mod roots;
pub mod snp;
mod verdict;
mod verifier;
mod x509_error;

pub use claims::{Claims, SgxClaims, TdxClaims};
pub use collateral::{quote_fmspc, Collateral, CollateralSource, StaticCollateral};
pub use error::Error;
pub use freshness::{FreshnessError, FreshnessPolicy};
pub use policy::{
    parse_strict_json, AccessDenied, Identities, IdentityRule, Policy, SgxIdentity, SnpIdentity,
    TcbStatus, TdxIdentity,
};
pub use roots::{RootKind, TrustRoot, TrustRoots, INTEL_SGX_ROOT_CA_DER};
pub use snp::{
    SnpClaims, SnpCollateral, SnpCollateralSource, SnpProduct, SnpRoots, SnpVerdict, SnpVerifier,
};
pub use verdict::{Decision, EvidenceVerdict, RejectionKind, Verdict};
pub use verifier::Verifier;
pub use x509_error::describe_x509_error;

pub use initra_evidence::quote::Tee;
