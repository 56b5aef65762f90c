//! The initra launcher

#![deny(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
