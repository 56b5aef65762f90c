//! Evidence producers: the simulated SGX platform and (issue 6) real TEE backends.
//!
//! Every producer implements [`Attester`]: given 64 bytes of report data it returns the raw quote that
//! binds them. The simulated platform ([`sim`]) writes real-format DCAP v3 quotes under a locally
//! generated PKI that nothing trusts by default (docs/simulated-platform.md).

#![deny(unsafe_code)] // one exception: tee::ioctl (Occlum's /dev/sgx)
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod error;
pub mod identity;
pub mod measure;
pub mod sim;
pub mod tee;

use core::fmt;

pub use error::Error;
pub use identity::EnclaveIdentity;

/// A producer of attestation evidence.
///
/// Implementations must be cheap to call repeatedly: a fresh RA-TLS certificate (and so a fresh
/// quote) is made for every new key.
pub trait Attester: Send + Sync {
    /// Which backend produces the evidence.
    fn backend(&self) -> Backend;

    /// Returns a raw quote whose report data is `report_data`.
    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Error>;

    /// The evidence for `report_data` with what endorses it, when the platform hands that out
    /// with the evidence (SEV-SNP: the certificate table from configfs-tsm `auxblob`). By default
    /// the quote alone.
    fn evidence(&self, report_data: &[u8; 64]) -> Result<AttestedEvidence, Error> {
        Ok(AttestedEvidence {
            evidence: self.quote(report_data)?,
            endorsements: None,
        })
    }
}

/// Evidence and, where the platform provides them, its endorsements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestedEvidence {
    /// The quote or report.
    pub evidence: Vec<u8>,
    /// SEV-SNP: the certificate table (VCEK / VLEK, ASK, ARK; `docs/snp.md`), if any.
    pub endorsements: Option<Vec<u8>>,
}

/// Where evidence comes from. `Display` gives the lower-case name used in logs and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Gramine's `/dev/attestation` pseudo-files (SGX DCAP).
    Gramine,
    /// Occlum's `/dev/sgx` ioctls (SGX DCAP).
    Occlum,
    /// The simulated SGX platform: real-format quotes under a locally generated, untrusted-by-default PKI.
    Sim,
    /// The simulated SEV-SNP platform: real-format SNP reports under a test ARK (`sim::snp`).
    SimSnp,
    /// AMD SEV-SNP through configfs-tsm.
    Snp,
    /// Intel TDX through configfs-tsm.
    Tdx,
}

impl Backend {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gramine => "gramine",
            Self::Occlum => "occlum",
            Self::Sim => "sim",
            Self::SimSnp => "sim-snp",
            Self::Snp => "snp",
            Self::Tdx => "tdx",
        }
    }
}

impl Backend {
    /// Whether the evidence is simulated (no hardware protection).
    pub fn is_simulated(self) -> bool {
        matches!(self, Self::Sim | Self::SimSnp)
    }

    /// Whether the evidence is an SEV-SNP report (hardware or simulated).
    pub fn is_snp(self) -> bool {
        matches!(self, Self::Snp | Self::SimSnp)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_are_lower_case() {
        let all = [
            Backend::Gramine,
            Backend::Occlum,
            Backend::Sim,
            Backend::SimSnp,
            Backend::Snp,
            Backend::Tdx,
        ];
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["gramine", "occlum", "sim", "sim-snp", "snp", "tdx"]);
        let simulated: Vec<bool> = all.iter().map(|b| b.is_simulated()).collect();
        assert_eq!(simulated, [false, false, true, true, false, false]);
    }
}
