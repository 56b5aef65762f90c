//! Collateral for quote verification: PCCS / Intel PCS client, cache, offline bundles,
//! freshness policy (`docs/collateral.md`).
//!
//! Everything plugs into [`initra_verify::CollateralSource`]:
//! - [`CachedSource`]: in-memory + persisted cache in front of a [`PccsClient`], refreshed before
//!   the earliest `nextUpdate`, one fetch for many concurrent callers, cached copy on PCCS outage;
//! - [`BundleSource`]: offline bundles written by `initra collateral fetch`;
//! - [`SourceChain`]: sources in a configured order; [`CollateralSettings::build`] assembles one;
//! - [`FreshnessChecked`]: applies a [`FreshnessPolicy`] (max age, explicit grace) at the
//!   verification time;
//! - [`KdsSource`]: the VCEK, chain and CRL of SEV-SNP reports without a certificate table, from
//!   AMD's KDS ([`KdsClient`]) through a [`KdsCache`];
//! - [`VerifierSettings::build`]: the one verifier set-up (roots, collateral, statuses) that the
//!   server, `initra get-secret` and `initra init` share.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

/// `collateral_for` at the current time, for sources whose work is in `collateral_for_at` (the
/// verification time decides refreshes, freshness and which collateral is valid).
macro_rules! collateral_for_now {
    () => {
        fn collateral_for(
            &self,
            quote: &initra_evidence::Quote,
        ) -> Result<std::sync::Arc<initra_verify::Collateral>, initra_verify::Error> {
            self.collateral_for_at(quote, std::time::SystemTime::now())
        }
    };
}

pub mod bundle;
pub mod cache;
pub mod config;
pub mod crl;
mod entry;
mod error;
pub mod freshness;
pub mod http;
pub mod kds;
pub mod kds_cache;
pub mod kds_source;
pub mod key;
pub mod pccs;
pub mod qcnl;
mod settings;
pub mod source;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod test_support;
pub mod validity;

pub use bundle::{Bundle, BundleSummary, BUNDLE_VERSION};
pub use cache::CollateralCache;
pub use config::{CollateralSettings, SourceKind};
pub use entry::{CollateralEntry, ReadyEntry};
pub use error::Error;
pub use freshness::{FreshnessChecked, FreshnessError, FreshnessPolicy};
pub use http::{HttpLimits, TlsTrust};
pub use kds::{KdsClient, KdsConfig, VcekKey, AMD_KDS_URL};
pub use kds_cache::{CachedCrl, KdsCache};
pub use kds_source::KdsSource;
pub use key::{CollateralKey, Fmspc, PckCa};
pub use pccs::{PccsClient, PccsConfig};
pub use qcnl::{resolve_pccs, ResolvedPccs, UrlOrigin};
pub use settings::{load_policy, VerifierSettings};
pub use source::{BundleSource, CachedSource, PccsSource, SourceChain};
