//! gRPC definitions for initra and Occlum's grpc_ratls (docs/protocol.md).
//!
//! - [`ratls`]: Occlum's `ratls.GrSecret/GetSecret`, wire-compatible (same package, names, field numbers).
//! - [`initra::v1`]: initra's `initra.v1.Secrets` (several secrets per call, raw bytes, `WhoAmI`).
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors of both, for server reflection.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

/// Occlum's `ratls` package (`GrSecret` service).
pub mod ratls {
    #![allow(missing_docs, unreachable_pub, clippy::all)] // generated code
    tonic::include_proto!("ratls");
}

/// initra's own packages.
pub mod initra {
    /// `initra.v1`: the `Secrets` service.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)] // generated code
        tonic::include_proto!("initra.v1");
    }
}

/// Encoded `google.protobuf.FileDescriptorSet` of `ratls.proto` and `initra.proto` (for reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

/// Fully-qualified gRPC service names, as used by health checking and reflection.
pub mod service_names {
    /// Occlum's service.
    pub const GR_SECRET: &str = "ratls.GrSecret";
    /// initra's service.
    pub const SECRETS: &str = "initra.v1.Secrets";
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn descriptor_set_names_both_services() {
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<String> = fds
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        assert!(services.contains(&service_names::GR_SECRET.to_string()));
        assert!(services.contains(&service_names::SECRETS.to_string()));
    }

    #[test]
    fn secret_request_wire_bytes_match_occlum() {
        // field 1, wire type 2 (0x0a), length 4, "test": what Occlum's C++ client sends.
        let req = ratls::SecretRequest {
            name: "test".into(),
        };
        assert_eq!(req.encode_to_vec(), b"\x0a\x04test");
        let reply = ratls::SecretReply::decode(&b"\x0a\x0a\"dGVzdA==\""[..]).unwrap();
        assert_eq!(reply.secret, "\"dGVzdA==\"");
    }
}
