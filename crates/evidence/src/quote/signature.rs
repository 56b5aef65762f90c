//! The quote signature data and its certification data (`docs/quote-formats.md` §5).

use serde::Serialize;

use super::report::EnclaveReport;
use crate::codec::Reader;
use crate::Error;

/// Certification data type 5: PCK certificate chain (PEM, leaf first, NUL-terminated).
pub const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data type 6: QE report certification data (v4/v5), wrapping the QE report and type 5.
pub const CERT_TYPE_QE_REPORT: u16 = 6;
/// Bound on a certification data length; real PCK chains are ~4 KiB.
pub const MAX_CERT_DATA_LEN: usize = 64 * 1024;

/// Certification data: a type and its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificationData {
    /// Certification data type (5 = PCK chain PEM).
    pub cert_type: u16,
    /// The data.
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub data: Vec<u8>,
}

impl CertificationData {
    /// Parses `type u16, size u32, data[size]` (§5.2).
    pub fn parse(r: &mut Reader<'_>, field: &'static str) -> Result<Self, Error> {
        let cert_type = r.u16_le(field)?;
        let len = usize::try_from(r.u32_le(field)?).unwrap_or(usize::MAX);
        if len > MAX_CERT_DATA_LEN {
            return Err(Error::LengthLimit {
                field,
                actual: len,
                max: MAX_CERT_DATA_LEN,
            });
        }
        let data = r.take(len, field)?.to_vec();
        Ok(Self { cert_type, data })
    }
}

/// The ECDSA signature data of a quote, flattened over v3 and v4/v5 layouts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureData {
    /// ECDSA P-256 signature (r || s) over header and body by the attestation key.
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub isv_signature: [u8; 64],
    /// The attestation public key (x || y).
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub attestation_key: [u8; 64],
    /// The QE report (its report_data binds the attestation key and the auth data).
    pub qe_report: EnclaveReport,
    /// ECDSA signature over the QE report by the PCK key.
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub qe_report_signature: [u8; 64],
    /// QE authentication data.
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub qe_auth_data: Vec<u8>,
    /// The innermost certification data (type 5 = PCK chain in every sample).
    pub certification: CertificationData,
}

impl SignatureData {
    /// Parses v3 signature data (§5.1): signature, key, QE report, QE signature, auth data,
    /// certification data.
    pub fn parse_v3(r: &mut Reader<'_>) -> Result<Self, Error> {
        let isv_signature = r.take_array("sig_data.isv_signature")?;
        let attestation_key = r.take_array("sig_data.attestation_key")?;
        let (qe_report, qe_report_signature, qe_auth_data, certification) = Self::parse_qe_part(r)?;
        Ok(Self {
            isv_signature,
            attestation_key,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            certification,
        })
    }

    /// Parses v4/v5 signature data (§5.3): signature, key, certification data type 6 whose
    /// contents are the v3 QE part.
    pub fn parse_v4(r: &mut Reader<'_>) -> Result<Self, Error> {
        let isv_signature = r.take_array("sig_data.isv_signature")?;
        let attestation_key = r.take_array("sig_data.attestation_key")?;
        let outer = CertificationData::parse(r, "sig_data.certification_data")?;
        if outer.cert_type != CERT_TYPE_QE_REPORT {
            return Err(Error::malformed(
                "sig_data.certification_data.type",
                format!("{CERT_TYPE_QE_REPORT} (QE report certification data)"),
                outer.cert_type.to_string(),
            ));
        }
        let mut inner = Reader::new(&outer.data);
        let (qe_report, qe_report_signature, qe_auth_data, certification) =
            Self::parse_qe_part(&mut inner)?;
        inner.finish("sig_data.qe_report_certification_data")?;
        Ok(Self {
            isv_signature,
            attestation_key,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            certification,
        })
    }

    #[allow(clippy::type_complexity)] // a private tuple of the four parts shared by both layouts
    fn parse_qe_part(
        r: &mut Reader<'_>,
    ) -> Result<(EnclaveReport, [u8; 64], Vec<u8>, CertificationData), Error> {
        let mut qe = r.sub(EnclaveReport::LEN, "sig_data.qe_report")?;
        let qe_report = EnclaveReport::parse(&mut qe)?;
        let qe_report_signature = r.take_array("sig_data.qe_report_signature")?;
        let auth_len = usize::from(r.u16_le("sig_data.qe_auth_data.size")?);
        let qe_auth_data = r.take(auth_len, "sig_data.qe_auth_data")?.to_vec();
        let certification = CertificationData::parse(r, "sig_data.qe_certification_data")?;
        Ok((qe_report, qe_report_signature, qe_auth_data, certification))
    }

    /// The PCK certificate chain (PEM) when the certification data is type 5.
    pub(crate) fn pck_chain_pem(&self) -> Result<Option<String>, Error> {
        if self.certification.cert_type != CERT_TYPE_PCK_CHAIN {
            return Ok(None);
        }
        let data = &self.certification.data;
        let end = data.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
        let text = data.get(..end).unwrap_or_default();
        let pem = core::str::from_utf8(text).map_err(|e| {
            Error::malformed(
                "sig_data.pck_chain",
                "PEM text",
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )
        })?;
        Ok(Some(pem.to_owned()))
    }
}
