//! Deliberately broken identities, for testing that servers refuse them. Nothing here is needed to fetch
//! secrets; everything here makes a client *less* acceptable.

use initra_attest::Attester;
use initra_ratls::{CertOptions, RaTlsIdentity};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::{ClientIdentity, Error};

/// Occlum's evidence OID 1.2.840.113741.1.
const OCCLUM_OID: [u64; 5] = [1, 2, 840, 113_741, 1];

/// An RA-TLS certificate whose quote is genuine but bound to a *different* key than the certificate's:
/// the quote of a fresh identity from `attester`, re-wrapped in a certificate for a second key. A correct
/// server refuses it (the key binding does not hold).
pub fn unbound_identity(attester: &dyn Attester) -> Result<ClientIdentity, Error> {
    let genuine = RaTlsIdentity::generate(attester, &CertOptions::default())
        .map_err(|e| Error::Config(format!("RA-TLS identity: {e}")))?;
    let gen_err = |e: rcgen::Error| Error::Config(format!("unbound certificate: {e}"));
    let other_key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "initra unbound test");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &OCCLUM_OID,
            genuine.quote().to_vec(),
        ));
    let cert = params.self_signed(&other_key).map_err(gen_err)?;
    Ok(ClientIdentity::from_chain(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(other_key.serialize_der())),
    ))
}
