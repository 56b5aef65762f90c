//! Parsers for TEE attestation evidence: SGX/TDX DCAP quotes, SEV-SNP reports, RA-TLS payloads

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
