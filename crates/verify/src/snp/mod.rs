//! AMD SEV-SNP report verification (`docs/snp.md`).
//!
//! [`SnpVerifier::verify`]: the ARK must be AMD's pinned root for the product, ARK → ASK (or ASVK)
//! → VCEK (or VLEK) signatures are RSA-PSS SHA-384, every certificate is valid at `now`, the report
//! is signed by the VCEK (ECDSA P-384 SHA-384 over bytes `0..0x2A0`), and the report's
//! `reported_tcb`, chip id and product agree with the VCEK's extensions; when the collateral carries
//! AMD's CRL, neither the ASK nor the VCEK is listed in it. Then the [`Policy`]
//! decides (debug → identity), as for SGX / TDX.
//!
//! [`Policy`]: crate::Policy

mod certs;
mod claims;
mod collateral;
mod crl;
mod product;
mod verdict;
mod verifier;

pub use certs::VcekInfo;
pub use claims::SnpClaims;
pub use collateral::{SnpCollateral, SnpCollateralSource};
pub use product::{SnpProduct, SnpRoots};
pub use verdict::SnpVerdict;
pub use verifier::SnpVerifier;

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests;
