//! Evidence producers: simulated SGX platform, Occlum, Gramine and configfs-tsm backends

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
