//! gRPC definitions for initra and Occlum's grpc_ratls

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
