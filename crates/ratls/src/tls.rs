//! rustls configurations for mutual RA-TLS: explicit ring provider, TLS 1.3 and 1.2, ALPN `h2`.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Error, RaTlsIdentity};

/// ALPN protocol of gRPC.
pub const ALPN_H2: &[u8] = b"h2";

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A server config presenting `identity` and verifying clients with `client_verifier`
/// (normally [`crate::verifier::AttestedClientVerifier`]).
pub fn server_config(
    identity: &RaTlsIdentity,
    client_verifier: Arc<dyn ClientCertVerifier>,
) -> Result<ServerConfig, Error> {
    server_config_with_cert(
        identity.cert_chain(),
        identity.private_key(),
        client_verifier,
    )
}

/// A server config presenting a given chain and key (e.g. a conventional PKI certificate).
pub fn server_config_with_cert(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_verifier: Arc<dyn ClientCertVerifier>,
) -> Result<ServerConfig, Error> {
    let mut config = ServerConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(VERSIONS)?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// A client config presenting `identity` and verifying the server with `server_verifier`
/// (normally [`crate::verifier::AttestedServerVerifier`]).
pub fn client_config(
    identity: &RaTlsIdentity,
    server_verifier: Arc<dyn ServerCertVerifier>,
) -> Result<ClientConfig, Error> {
    let mut config = ClientConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(server_verifier)
        .with_client_auth_cert(identity.cert_chain(), identity.private_key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}
