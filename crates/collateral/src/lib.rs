//! Collateral for quote verification: PCCS / Intel PCS client, cache, offline bundles, freshness policy.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
