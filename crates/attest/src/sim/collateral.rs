//! Signed collateral of the simulated platform in dcap-qvl's `QuoteCollateralV3` JSON layout
//! (docs/simulated-platform.md, "Collateral").
//!
//! TCB info (`"id":"SGX"`, version 3) and QE identity (`"id":"QE"`, version 2) are serialised once;
//! the TCB signing key signs those exact bytes (ECDSA P-256 / SHA-256, raw `r || s`, hex), and the
//! collateral file carries them as strings so verifiers check the very bytes that were signed.

use rcgen::KeyPair;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;
use time::OffsetDateTime;

use super::pki::{self, Role};
use super::{PlatformTcb, QeParams};
use crate::Error;

/// The dcap-qvl `QuoteCollateralV3` JSON object.
#[derive(Serialize)]
pub(crate) struct CollateralJson {
    pub(crate) pck_crl_issuer_chain: String,
    pub(crate) root_ca_crl: String,
    pub(crate) pck_crl: String,
    pub(crate) tcb_info_issuer_chain: String,
    pub(crate) tcb_info: String,
    pub(crate) tcb_info_signature: String,
    pub(crate) qe_identity_issuer_chain: String,
    pub(crate) qe_identity: String,
    pub(crate) qe_identity_signature: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TcbInfo<'a> {
    id: &'static str,
    version: u8,
    issue_date: &'a str,
    next_update: &'a str,
    fmspc: String,
    pce_id: String,
    tcb_type: u32,
    tcb_evaluation_data_number: u32,
    tcb_levels: Vec<TcbLevel<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TcbLevel<'a> {
    tcb: Tcb,
    tcb_date: &'a str,
    tcb_status: &'static str,
}

#[derive(Serialize)]
struct Tcb {
    sgxtcbcomponents: Vec<Svn>,
    pcesvn: u16,
}

#[derive(Serialize)]
struct Svn {
    svn: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QeIdentity<'a> {
    id: &'static str,
    version: u8,
    issue_date: &'a str,
    next_update: &'a str,
    tcb_evaluation_data_number: u32,
    miscselect: String,
    miscselect_mask: &'static str,
    attributes: String,
    attributes_mask: &'static str,
    mrsigner: String,
    isvprodid: u16,
    tcb_levels: Vec<QeTcbLevel<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QeTcbLevel<'a> {
    tcb: QeTcb,
    tcb_date: &'a str,
    tcb_status: &'static str,
}

#[derive(Serialize)]
struct QeTcb {
    isvsvn: u16,
}

/// Intel's published QE identity masks: every MISCSELECT bit; every attribute flag except MODE64BIT
/// (0x04, so DEBUG and the rest must match exactly); XFRM ignored.
const MISCSELECT_MASK: &str = "FFFFFFFF";
const ATTRIBUTES_MASK: &str = "FBFFFFFFFFFFFFFF0000000000000000";

/// The CA material collateral is signed with.
pub(crate) struct CollateralSigners<'a> {
    pub(crate) root_key: &'a KeyPair,
    pub(crate) pck_ca_key: &'a KeyPair,
    pub(crate) tcb_signing_key: &'a KeyPair,
    pub(crate) root_pem: &'a str,
    pub(crate) pck_ca_pem: &'a str,
    pub(crate) tcb_signing_pem: &'a str,
}

/// Builds and signs the whole collateral, valid from `issue` to `next_update`.
pub(crate) fn build(
    signers: &CollateralSigners<'_>,
    tcb: &PlatformTcb,
    qe: &QeParams,
    issue: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Result<CollateralJson, Error> {
    let issue_s = super::rfc3339(issue)?;
    let next_s = super::rfc3339(next_update)?;

    let tcb_info = TcbInfo {
        id: "SGX",
        version: 3,
        issue_date: &issue_s,
        next_update: &next_s,
        fmspc: hex::encode_upper(tcb.fmspc),
        pce_id: hex::encode_upper(tcb.pce_id),
        tcb_type: 0,
        tcb_evaluation_data_number: tcb.tcb_evaluation_data_number,
        tcb_levels: vec![TcbLevel {
            tcb: Tcb {
                sgxtcbcomponents: tcb.cpu_svn.iter().map(|svn| Svn { svn: *svn }).collect(),
                pcesvn: tcb.pce_svn,
            },
            tcb_date: &issue_s,
            tcb_status: "UpToDate",
        }],
    };
    let qe_identity = QeIdentity {
        id: "QE",
        version: 2,
        issue_date: &issue_s,
        next_update: &next_s,
        tcb_evaluation_data_number: tcb.tcb_evaluation_data_number,
        miscselect: hex::encode_upper(qe.misc_select.to_le_bytes()),
        miscselect_mask: MISCSELECT_MASK,
        attributes: hex::encode_upper(qe.attributes),
        attributes_mask: ATTRIBUTES_MASK,
        mrsigner: hex::encode_upper(qe.mr_signer),
        isvprodid: qe.isv_prod_id,
        tcb_levels: vec![QeTcbLevel {
            tcb: QeTcb { isvsvn: qe.isv_svn },
            tcb_date: &issue_s,
            tcb_status: "UpToDate",
        }],
    };
    let tcb_info = json(&tcb_info)?;
    let qe_identity = json(&qe_identity)?;

    let tcb_signer = ring_key(signers.tcb_signing_key)?;
    let tcb_info_signature = sign_hex(&tcb_signer, tcb_info.as_bytes())?;
    let qe_identity_signature = sign_hex(&tcb_signer, qe_identity.as_bytes())?;

    // CRL numbers grow with each re-signing so a newer CRL is recognisable.
    let crl_number = u64::try_from(issue.unix_timestamp()).unwrap_or(1);
    let root_ca_crl = pki::crl(Role::Root, signers.root_key, issue, next_update, crl_number)?;
    let pck_crl = pki::crl(
        Role::PckCa,
        signers.pck_ca_key,
        issue,
        next_update,
        crl_number,
    )?;

    let tcb_chain = format!("{}{}", signers.tcb_signing_pem, signers.root_pem);
    Ok(CollateralJson {
        pck_crl_issuer_chain: format!("{}{}", signers.pck_ca_pem, signers.root_pem),
        root_ca_crl: hex::encode(root_ca_crl),
        pck_crl: hex::encode(pck_crl),
        tcb_info_issuer_chain: tcb_chain.clone(),
        tcb_info,
        tcb_info_signature,
        qe_identity_issuer_chain: tcb_chain,
        qe_identity,
        qe_identity_signature,
    })
}

fn json(value: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::InvalidValue {
        field: "collateral",
        reason: format!("JSON encoding: {e}"),
    })
}

/// A ring signing key (raw `r || s` output) from an rcgen key.
pub(crate) fn ring_key(key: &KeyPair) -> Result<EcdsaKeyPair, Error> {
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        key.serialized_der(),
        &ring::rand::SystemRandom::new(),
    )
    .map_err(|_| Error::Crypto {
        operation: "loading a P-256 signing key",
    })
}

/// Signs `message`, returning the raw 64-byte `r || s`.
pub(crate) fn sign_raw(key: &EcdsaKeyPair, message: &[u8]) -> Result<[u8; 64], Error> {
    let sig = key
        .sign(&ring::rand::SystemRandom::new(), message)
        .map_err(Error::crypto("ECDSA signing"))?;
    <[u8; 64]>::try_from(sig.as_ref()).map_err(|_| Error::Crypto {
        operation: "ECDSA signing (unexpected signature length)",
    })
}

fn sign_hex(key: &EcdsaKeyPair, message: &[u8]) -> Result<String, Error> {
    Ok(hex::encode(sign_raw(key, message)?))
}
