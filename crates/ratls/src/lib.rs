//! RA-TLS certificates and rustls verifiers for attested peers

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
