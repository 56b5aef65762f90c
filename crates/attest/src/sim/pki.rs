//! The simulated PKI, shaped like Intel's SGX provisioning PKI (docs/simulated-platform.md, "PKI"):
//!
//! ```text
//! initra SIMULATED SGX Root CA  (self-signed; signs the root CRL)
//!  ├── initra SIMULATED SGX PCK Platform CA  (signs the PCK CRL)
//!  │    └── initra SIMULATED SGX PCK Certificate  (SGX extension 1.2.840.113741.1.13.1; signs QE reports)
//!  └── initra SIMULATED SGX TCB Signing  (signs TCB info and QE identity)
//! ```
//!
//! Key usages, basic constraints and the SGX extension follow Intel's certificates, so dcap-qvl's
//! chain building (webpki, CRLs required for every certificate) accepts them unchanged.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};
use ring::rand::SecureRandom;
use time::OffsetDateTime;

use super::der;
use super::PlatformTcb;
use crate::Error;

/// Subject common names. Every subject says SIMULATED, so no log line or certificate dump can be
/// mistaken for Intel's.
pub(crate) const ROOT_CN: &str = "initra SIMULATED SGX Root CA";
/// The PCK CA; "Platform" in its name is how verifiers classify a PCK issuer (Processor/Platform).
pub(crate) const PCK_CA_CN: &str = "initra SIMULATED SGX PCK Platform CA";
pub(crate) const TCB_SIGNING_CN: &str = "initra SIMULATED SGX TCB Signing";
pub(crate) const PCK_LEAF_CN: &str = "initra SIMULATED SGX PCK Certificate";
const ORGANIZATION: &str = "initra SIMULATED platform (not Intel; trust only for testing)";

/// Intel SGX PCK extension OIDs (Intel SGX PCK Certificate and CRL Profile, §1.5).
const SGX_EXTENSION: [u64; 7] = [1, 2, 840, 113741, 1, 13, 1];

/// Validity of the simulated certificates. Collateral (CRLs, TCB info, QE identity) has its own,
/// much shorter window and can be re-signed with the stored CA keys.
pub(crate) const CERT_LIFETIME: time::Duration = time::Duration::days(3650);

/// Which certificate of the PKI.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    Root,
    PckCa,
    TcbSigning,
    PckLeaf,
}

impl Role {
    fn common_name(self) -> &'static str {
        match self {
            Self::Root => ROOT_CN,
            Self::PckCa => PCK_CA_CN,
            Self::TcbSigning => TCB_SIGNING_CN,
            Self::PckLeaf => PCK_LEAF_CN,
        }
    }

    fn params(self, not_before: OffsetDateTime) -> CertificateParams {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, self.common_name());
        dn.push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name = dn;
        params.not_before = not_before;
        params.not_after = not_before + CERT_LIFETIME;
        params.key_identifier_method = KeyIdMethod::Sha256;
        match self {
            Self::Root | Self::PckCa => {
                let depth = if matches!(self, Self::Root) { 1 } else { 0 };
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(depth));
                params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            }
            Self::TcbSigning | Self::PckLeaf => {
                params.is_ca = IsCa::ExplicitNoCa;
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::ContentCommitment,
                ];
            }
        }
        params.use_authority_key_identifier_extension = !matches!(self, Self::Root);
        params
    }

    /// An rcgen issuer for this CA: the same subject and key usages as its certificate, so issued
    /// certificates and CRLs chain to it byte-for-byte.
    pub(crate) fn issuer(self, key: &KeyPair) -> Issuer<'_, &KeyPair> {
        Issuer::new(self.params(OffsetDateTime::UNIX_EPOCH), key)
    }
}

/// Generates a fresh P-256 key.
pub(crate) fn new_key() -> Result<KeyPair, Error> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(Error::cert("key generation"))
}

/// A random positive serial number of 16 bytes.
fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(Error::crypto("random serial number"))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Issues the certificate of `role` for `subject_key`, signed by `issuer` (self-signed for the root).
pub(crate) fn issue(
    role: Role,
    subject_key: &KeyPair,
    issuer: Option<&Issuer<'_, &KeyPair>>,
    not_before: OffsetDateTime,
    tcb: &PlatformTcb,
) -> Result<rcgen::Certificate, Error> {
    let mut params = role.params(not_before);
    params.serial_number = Some(random_serial()?);
    if matches!(role, Role::PckLeaf) {
        let mut ext = rcgen::CustomExtension::from_oid_content(&SGX_EXTENSION, sgx_extension(tcb));
        ext.set_criticality(false);
        params.custom_extensions.push(ext);
    }
    let what = role.common_name();
    match issuer {
        Some(issuer) => params.signed_by(subject_key, issuer),
        None => params.self_signed(subject_key),
    }
    .map_err(Error::cert(what))
}

/// A CRL of `issuer_role` listing no revoked certificate.
pub(crate) fn crl(
    issuer_role: Role,
    issuer_key: &KeyPair,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    number: u64,
) -> Result<Vec<u8>, Error> {
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params
        .signed_by(&issuer_role.issuer(issuer_key))
        .map_err(Error::cert("CRL"))?;
    Ok(crl.der().to_vec())
}

/// The SGX extension of a PCK certificate (Intel SGX PCK Certificate and CRL Profile, §1.5): a
/// SEQUENCE of (OID, value) pairs — PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC,
/// SGX type, and for Platform-CA certificates the platform instance id and configuration.
pub(crate) fn sgx_extension(tcb: &PlatformTcb) -> Vec<u8> {
    let arc = |tail: &[u64]| -> Vec<u8> {
        let mut arcs = SGX_EXTENSION.to_vec();
        arcs.extend_from_slice(tail);
        der::oid(&arcs)
    };
    let entry = |oid: Vec<u8>, value: Vec<u8>| der::sequence(&[oid, value]);

    let mut tcb_entries: Vec<Vec<u8>> = tcb
        .cpu_svn
        .iter()
        .zip(1u64..)
        .map(|(svn, i)| entry(arc(&[2, i]), der::unsigned(der::INTEGER, u64::from(*svn))))
        .collect();
    tcb_entries.push(entry(
        arc(&[2, 17]),
        der::unsigned(der::INTEGER, u64::from(tcb.pce_svn)),
    ));
    tcb_entries.push(entry(
        arc(&[2, 18]),
        der::tlv(der::OCTET_STRING, &tcb.cpu_svn),
    ));

    let boolean = |v: bool| der::tlv(der::BOOLEAN, &[if v { 0xff } else { 0x00 }]);
    let configuration = der::sequence(&[
        entry(arc(&[7, 1]), boolean(false)),
        entry(arc(&[7, 2]), boolean(false)),
        entry(arc(&[7, 3]), boolean(false)),
    ]);

    der::sequence(&[
        entry(arc(&[1]), der::tlv(der::OCTET_STRING, &tcb.ppid)),
        entry(arc(&[2]), der::sequence(&tcb_entries)),
        entry(arc(&[3]), der::tlv(der::OCTET_STRING, &tcb.pce_id)),
        entry(arc(&[4]), der::tlv(der::OCTET_STRING, &tcb.fmspc)),
        entry(
            arc(&[5]),
            der::unsigned(der::ENUMERATED, u64::from(tcb.sgx_type)),
        ),
        entry(
            arc(&[6]),
            der::tlv(der::OCTET_STRING, &tcb.platform_instance_id),
        ),
        entry(arc(&[7]), configuration),
    ])
}
