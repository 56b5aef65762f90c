//! Quote verification against collateral and the fail-closed initra policy

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
