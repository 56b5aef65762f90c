//! The simulated quoting enclave: writes SGX DCAP quotes v3 (docs/simulated-platform.md, "Quotes";
//! layout as in docs/quote-formats.md §3).
//!
//! ```text
//! header (48)        version 3, attestation key type 2 (ECDSA P-256), TEE type 0 (SGX), QE SVN,
//!                    PCE SVN, QE vendor id (Intel's), user data (20 zero bytes)
//! report body (384)  the enclave report: CPUSVN, ATTRIBUTES, MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN,
//!                    CONFIGSVN, REPORTDATA
//! u32 signature data length, then:
//!   ECDSA signature (64, r||s) over header || report body, by the attestation key
//!   attestation public key (64, x||y)
//!   QE report (384): REPORTDATA[0..32] = SHA-256(attestation key || QE auth data), rest zero
//!   QE report signature (64, r||s) by the PCK key
//!   u16 QE auth data length (32), QE auth data
//!   u16 certification data type 5, u32 size, PEM chain (PCK leaf, PCK CA, root) NUL-terminated
//! ```

use std::sync::Arc;

use ring::digest;
use ring::signature::KeyPair as _;

use super::collateral::sign_raw;
use super::SimPlatform;
use crate::{Attester, Backend, EnclaveIdentity, Error};

/// Intel's QE vendor id; verifiers reject quotes from any other vendor.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];

/// ATTRIBUTES.FLAGS bits.
const FLAG_INIT: u8 = 0x01;
const FLAG_DEBUG: u8 = 0x02;
const FLAG_MODE64BIT: u8 = 0x04;
/// XFRM of the simulated enclaves (x87, SSE, AVX, AVX-512 state), as on a typical Xeon.
const XFRM: u8 = 0xe7;

const HEADER_LEN: usize = 48;
const REPORT_LEN: usize = 384;
/// QE authentication data: 32 bytes, as Intel's QE writes and dcap-qvl requires.
const QE_AUTH_DATA: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
const CERT_TYPE_PCK_CHAIN: u16 = 5;

/// The fields of a 384-byte SGX enclave report that the simulated platform sets.
struct Report<'a> {
    cpu_svn: &'a [u8; 16],
    misc_select: u32,
    attributes: [u8; 16],
    mr_enclave: &'a [u8; 32],
    mr_signer: &'a [u8; 32],
    isv_prod_id: u16,
    isv_svn: u16,
    config_svn: u16,
    report_data: &'a [u8; 64],
}

impl Report<'_> {
    /// Serialises at the offsets of the SGX REPORTBODY (Intel SDM vol. 3D, "REPORT").
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(REPORT_LEN);
        out.extend_from_slice(self.cpu_svn); // 0
        out.extend_from_slice(&self.misc_select.to_le_bytes()); // 16
        out.extend_from_slice(&[0u8; 12]); // 20 reserved
        out.extend_from_slice(&[0u8; 16]); // 32 isv_ext_prod_id
        out.extend_from_slice(&self.attributes); // 48
        out.extend_from_slice(self.mr_enclave); // 64
        out.extend_from_slice(&[0u8; 32]); // 96 reserved
        out.extend_from_slice(self.mr_signer); // 128
        out.extend_from_slice(&[0u8; 32]); // 160 reserved
        out.extend_from_slice(&[0u8; 64]); // 192 config_id
        out.extend_from_slice(&self.isv_prod_id.to_le_bytes()); // 256
        out.extend_from_slice(&self.isv_svn.to_le_bytes()); // 258
        out.extend_from_slice(&self.config_svn.to_le_bytes()); // 260
        out.extend_from_slice(&[0u8; 42]); // 262 reserved
        out.extend_from_slice(&[0u8; 16]); // 304 isv_family_id
        out.extend_from_slice(self.report_data); // 320
        out
    }
}

fn attributes(debug: bool) -> [u8; 16] {
    let mut attributes = [0u8; 16];
    attributes[0] = FLAG_INIT | FLAG_MODE64BIT | if debug { FLAG_DEBUG } else { 0 };
    attributes[8] = XFRM;
    attributes
}

/// Produces simulated quotes for one enclave identity.
///
/// Everything after the ISV signature (attestation key, QE report and its PCK signature, the PCK
/// chain) is the same for every quote of a platform, so it is built once here; a quote then costs
/// one ECDSA signature.
pub struct SimAttester {
    platform: Arc<SimPlatform>,
    identity: EnclaveIdentity,
    /// Signature data after the 64-byte ISV signature.
    signature_tail: Vec<u8>,
}

impl SimAttester {
    /// An attester quoting as `identity` on `platform`.
    pub fn new(
        platform: impl Into<Arc<SimPlatform>>,
        identity: EnclaveIdentity,
    ) -> Result<Self, Error> {
        let platform = platform.into();
        let signature_tail = signature_tail(&platform)?;
        Ok(Self {
            platform,
            identity,
            signature_tail,
        })
    }

    /// The identity this attester quotes as.
    pub fn identity(&self) -> &EnclaveIdentity {
        &self.identity
    }

    /// The platform.
    pub fn platform(&self) -> &SimPlatform {
        &self.platform
    }
}

impl std::fmt::Debug for SimAttester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimAttester")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Attester for SimAttester {
    fn backend(&self) -> Backend {
        Backend::Sim
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Error> {
        let p = &self.platform;
        let id = &self.identity;
        let mut quote =
            Vec::with_capacity(HEADER_LEN + REPORT_LEN + 4 + 64 + self.signature_tail.len());
        quote.extend_from_slice(&3u16.to_le_bytes()); // version
        quote.extend_from_slice(&2u16.to_le_bytes()); // attestation key type: ECDSA-256 with P-256
        quote.extend_from_slice(&0u32.to_le_bytes()); // TEE type: SGX
        quote.extend_from_slice(&p.qe.isv_svn.to_le_bytes()); // QE SVN
        quote.extend_from_slice(&p.tcb.pce_svn.to_le_bytes()); // PCE SVN
        quote.extend_from_slice(&INTEL_QE_VENDOR_ID);
        quote.extend_from_slice(&[0u8; 20]); // user data
        let report = Report {
            cpu_svn: &p.tcb.cpu_svn,
            misc_select: 0,
            attributes: attributes(id.debug),
            mr_enclave: &id.mr_enclave.0,
            mr_signer: &id.mr_signer.0,
            isv_prod_id: id.isv_prod_id,
            isv_svn: id.isv_svn,
            config_svn: id.config_svn,
            report_data,
        };
        quote.extend_from_slice(&report.encode());
        let signature = sign_raw(&p.keys.attestation, &quote)?;

        let sig_data_len =
            u32::try_from(64 + self.signature_tail.len()).map_err(|_| Error::InvalidValue {
                field: "signature data",
                reason: "longer than u32".to_owned(),
            })?;
        quote.extend_from_slice(&sig_data_len.to_le_bytes());
        quote.extend_from_slice(&signature);
        quote.extend_from_slice(&self.signature_tail);
        Ok(quote)
    }
}

/// Attestation key, QE report + PCK signature, QE auth data and the PCK chain.
fn signature_tail(p: &SimPlatform) -> Result<Vec<u8>, Error> {
    let public = p.keys.attestation.public_key().as_ref();
    // ring gives the uncompressed SEC1 point 0x04 || x || y; quotes carry x || y.
    let attestation_key = public.get(1..65).ok_or(Error::Crypto {
        operation: "attestation public key",
    })?;

    let mut hashed = attestation_key.to_vec();
    hashed.extend_from_slice(&QE_AUTH_DATA);
    let mut qe_report_data = [0u8; 64];
    qe_report_data[..32].copy_from_slice(digest::digest(&digest::SHA256, &hashed).as_ref());
    let qe_report = Report {
        cpu_svn: &p.tcb.cpu_svn,
        misc_select: p.qe.misc_select,
        attributes: p.qe.attributes,
        mr_enclave: &p.qe.mr_enclave,
        mr_signer: &p.qe.mr_signer,
        isv_prod_id: p.qe.isv_prod_id,
        isv_svn: p.qe.isv_svn,
        config_svn: 0,
        report_data: &qe_report_data,
    }
    .encode();
    let qe_report_signature = sign_raw(&p.keys.pck, &qe_report)?;

    let mut cert_data = p.pck_chain_pem.as_bytes().to_vec();
    cert_data.push(0);
    let cert_len = u32::try_from(cert_data.len()).map_err(|_| Error::InvalidValue {
        field: "PCK chain",
        reason: "longer than u32".to_owned(),
    })?;

    let mut tail = Vec::with_capacity(64 + REPORT_LEN + 64 + 2 + 32 + 6 + cert_data.len());
    tail.extend_from_slice(attestation_key);
    tail.extend_from_slice(&qe_report);
    tail.extend_from_slice(&qe_report_signature);
    tail.extend_from_slice(&(QE_AUTH_DATA.len() as u16).to_le_bytes());
    tail.extend_from_slice(&QE_AUTH_DATA);
    tail.extend_from_slice(&CERT_TYPE_PCK_CHAIN.to_le_bytes());
    tail.extend_from_slice(&cert_len.to_le_bytes());
    tail.extend_from_slice(&cert_data);
    Ok(tail)
}
