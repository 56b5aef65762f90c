//! The 48-byte quote header (`docs/quote-formats.md` §2).

use serde::Serialize;

use crate::codec::Reader;
use crate::Error;

/// `tee_type` of an SGX quote.
pub const TEE_TYPE_SGX: u32 = 0x0000_0000;
/// `tee_type` of a TDX quote.
pub const TEE_TYPE_TDX: u32 = 0x0000_0081;
/// `att_key_type` 2: ECDSA-256 with P-256, the only key type DCAP quotes use in practice.
pub const ATT_KEY_TYPE_ECDSA_P256: u16 = 2;

/// The quote header.
///
/// ```text
/// version u16, att_key_type u16, tee_type u32 (v3: reserved, 0), qe_svn u16, pce_svn u16,
/// qe_vendor_id [16], user_data [20]; all integers little-endian (§2).
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Quote version: 3 (SGX), 4 or 5 (TDX).
    pub version: u16,
    /// Attestation key type (2 = ECDSA P-256).
    pub att_key_type: u16,
    /// TEE type: 0 = SGX, 0x81 = TDX.
    pub tee_type: u32,
    /// Security version of the Quoting Enclave (v3: `reserved`/`qe_svn`).
    pub qe_svn: u16,
    /// Security version of the Provisioning Certification Enclave.
    pub pce_svn: u16,
    /// The QE vendor (Intel: 939a7233f79c4ca9940a0db3957f0607).
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub qe_vendor_id: [u8; 16],
    /// Custom QE data (the first 16 bytes are the QE id for Intel's QE).
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub user_data: [u8; 20],
}

impl Header {
    /// Size in bytes.
    pub const LEN: usize = 48;

    /// Parses the header (§2).
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Self {
            version: r.u16_le("header.version")?,
            att_key_type: r.u16_le("header.att_key_type")?,
            tee_type: r.u32_le("header.tee_type")?,
            qe_svn: r.u16_le("header.qe_svn")?,
            pce_svn: r.u16_le("header.pce_svn")?,
            qe_vendor_id: r.take_array("header.qe_vendor_id")?,
            user_data: r.take_array("header.user_data")?,
        })
    }
}
