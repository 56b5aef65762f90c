//! SGX DCAP quote v3 and TDX quote v4 / v5 (`docs/quote-formats.md`).

mod header;
mod report;
mod signature;

use serde::{Serialize, Serializer};

pub use header::{Header, ATT_KEY_TYPE_ECDSA_P256, TEE_TYPE_SGX, TEE_TYPE_TDX};
pub use report::{EnclaveReport, TdReport};
pub use signature::{
    CertificationData, SignatureData, CERT_TYPE_PCK_CHAIN, CERT_TYPE_QE_REPORT, MAX_CERT_DATA_LEN,
};

use crate::codec::Reader;
use crate::types::ReportData;
use crate::Error;

/// Body type of a v5 quote carrying an SGX enclave report.
pub const BODY_TYPE_SGX: u16 = 1;
/// Body type of a v5 quote carrying a TD 1.0 report (584 bytes).
pub const BODY_TYPE_TD10: u16 = 2;
/// Body type of a v5 quote carrying a TD 1.5 report (648 bytes).
pub const BODY_TYPE_TD15: u16 = 3;
/// Bound on the signature data length of a quote.
pub const MAX_SIG_DATA_LEN: usize = 128 * 1024;

/// The TEE that produced a quote.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Tee {
    /// Intel SGX.
    Sgx,
    /// Intel TDX.
    Tdx,
}

impl Tee {
    /// `"sgx"` or `"tdx"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Tee::Sgx => "sgx",
            Tee::Tdx => "tdx",
        }
    }
}

impl Tee {
    /// The name in capitals with its article, for messages: `an SGX` (letter names read "an S-G-X"),
    /// `a TDX`.
    pub fn with_article(&self) -> &'static str {
        match self {
            Tee::Sgx => "an SGX",
            Tee::Tdx => "a TDX",
        }
    }
}

impl core::fmt::Display for Tee {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The report body of a quote, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum QuoteBody<'a> {
    /// SGX enclave report.
    Sgx(&'a EnclaveReport),
    /// TDX TD report.
    Tdx(&'a TdReport),
}

// A quote holds one body for its whole life; boxing the TD report would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
enum Body {
    Sgx(EnclaveReport),
    Tdx(TdReport),
}

/// A parsed quote: header, body and signature data, plus the exact quote bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    raw: Vec<u8>,
    header: Header,
    body_type: Option<u16>,
    body: Body,
    signed_len: usize,
    signature: SignatureData,
    pck_chain_pem: Option<String>,
}

impl Quote {
    /// Parses an SGX v3 or TDX v4/v5 quote from its binary form.
    ///
    /// Layout (§1): header (48) [v5: body type u16, body size u32] body, signature data length u32,
    /// signature data. Trailing zero bytes after the quote's own length are padding (§7) and are
    /// dropped; a non-zero trailing byte is an error.
    pub fn parse(bytes: &[u8]) -> Result<Quote, Error> {
        if bytes.is_empty() {
            return Err(Error::Empty);
        }
        let mut r = Reader::new(bytes);
        let header = Header::parse(&mut r)?;
        let (body_type, body) = match (header.version, header.tee_type) {
            (3, TEE_TYPE_SGX) => (None, Body::Sgx(parse_sgx_body(&mut r)?)),
            (4, TEE_TYPE_TDX) => (None, Body::Tdx(parse_td_body(&mut r, false)?)),
            (5, tee) => parse_v5_body(&mut r, tee)?,
            (3 | 4, tee) => {
                return Err(Error::Unsupported {
                    what: format!("quote version {} with tee_type {tee:#x}", header.version),
                })
            }
            (v, _) => {
                return Err(Error::Unsupported {
                    what: format!("quote version {v} (expected 3, 4 or 5)"),
                })
            }
        };
        let signed_len = r.position();
        let sig_len = usize::try_from(r.u32_le("sig_data_len")?).unwrap_or(usize::MAX);
        if sig_len > MAX_SIG_DATA_LEN {
            return Err(Error::LengthLimit {
                field: "sig_data_len",
                actual: sig_len,
                max: MAX_SIG_DATA_LEN,
            });
        }
        let mut sig = r.sub(sig_len, "sig_data")?;
        let signature = if header.version == 3 {
            SignatureData::parse_v3(&mut sig)?
        } else {
            SignatureData::parse_v4(&mut sig)?
        };
        sig.finish("sig_data")?;
        let quote_len = r.position();
        if let Some(off) = r.rest().iter().position(|b| *b != 0) {
            return Err(Error::TrailingData {
                offset: quote_len + off,
                quote_len,
            });
        }
        let pck_chain_pem = signature.pck_chain_pem()?;
        let raw = bytes.get(..quote_len).unwrap_or_default().to_vec();
        Ok(Quote {
            raw,
            header,
            body_type,
            body,
            signed_len,
            signature,
            pck_chain_pem,
        })
    }

    /// The exact quote bytes (padding removed).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The bytes covered by the attestation key's signature (header, v5 descriptor, body).
    pub fn signed_bytes(&self) -> &[u8] {
        self.raw.get(..self.signed_len).unwrap_or_default()
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Quote version (3, 4 or 5).
    pub fn version(&self) -> u16 {
        self.header.version
    }

    /// The v5 body type (1 SGX, 2 TD 1.0, 3 TD 1.5); `None` for v3 / v4.
    pub fn body_type(&self) -> Option<u16> {
        self.body_type
    }

    /// SGX or TDX.
    pub fn tee(&self) -> Tee {
        match self.body {
            Body::Sgx(_) => Tee::Sgx,
            Body::Tdx(_) => Tee::Tdx,
        }
    }

    /// The report body.
    pub fn body(&self) -> QuoteBody<'_> {
        match &self.body {
            Body::Sgx(r) => QuoteBody::Sgx(r),
            Body::Tdx(r) => QuoteBody::Tdx(r),
        }
    }

    /// The report data of the body.
    pub fn report_data(&self) -> &ReportData {
        match &self.body {
            Body::Sgx(r) => &r.report_data,
            Body::Tdx(r) => &r.report_data,
        }
    }

    /// Whether the enclave / TD is debuggable.
    pub fn is_debug(&self) -> bool {
        match &self.body {
            Body::Sgx(r) => r.is_debug(),
            Body::Tdx(r) => r.is_debug(),
        }
    }

    /// The signature data (signatures, attestation key, QE report, certification data).
    pub fn signature_data(&self) -> &SignatureData {
        &self.signature
    }

    /// The Quoting Enclave's report.
    pub fn qe_report(&self) -> &EnclaveReport {
        &self.signature.qe_report
    }

    /// The innermost certification data.
    pub fn certification_data(&self) -> &CertificationData {
        &self.signature.certification
    }

    /// The PCK certificate chain (PEM text, leaf first) when the certification data is type 5.
    pub fn pck_chain_pem(&self) -> Option<&str> {
        self.pck_chain_pem.as_deref()
    }
}

impl Serialize for Quote {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Quote", 6)?;
        s.serialize_field("tee", &self.tee())?;
        s.serialize_field("header", &self.header)?;
        s.serialize_field("body_type", &self.body_type)?;
        s.serialize_field("body", &self.body())?;
        s.serialize_field("qe_report", &self.signature.qe_report)?;
        s.serialize_field(
            "certification_data_type",
            &self.signature.certification.cert_type,
        )?;
        s.end()
    }
}

/// SGX body (§3).
fn parse_sgx_body(r: &mut Reader<'_>) -> Result<EnclaveReport, Error> {
    let mut body = r.sub(EnclaveReport::LEN, "body")?;
    EnclaveReport::parse(&mut body)
}

/// TD body, 1.0 or 1.5 (§4).
fn parse_td_body(r: &mut Reader<'_>, td15: bool) -> Result<TdReport, Error> {
    let len = if td15 {
        TdReport::LEN_15
    } else {
        TdReport::LEN_10
    };
    let mut body = r.sub(len, "body")?;
    TdReport::parse(&mut body, td15)
}

/// v5 body descriptor and body (§6).
fn parse_v5_body(r: &mut Reader<'_>, tee: u32) -> Result<(Option<u16>, Body), Error> {
    let body_type = r.u16_le("body_descriptor.type")?;
    let size = usize::try_from(r.u32_le("body_descriptor.size")?).unwrap_or(usize::MAX);
    let (expected_tee, expected_size) = match body_type {
        BODY_TYPE_SGX => (TEE_TYPE_SGX, EnclaveReport::LEN),
        BODY_TYPE_TD10 => (TEE_TYPE_TDX, TdReport::LEN_10),
        BODY_TYPE_TD15 => (TEE_TYPE_TDX, TdReport::LEN_15),
        other => {
            return Err(Error::Unsupported {
                what: format!("quote v5 body type {other} (expected 1, 2 or 3)"),
            })
        }
    };
    if tee != expected_tee {
        return Err(Error::malformed(
            "header.tee_type",
            format!("{expected_tee:#x} for body type {body_type}"),
            format!("{tee:#x}"),
        ));
    }
    if size != expected_size {
        return Err(Error::malformed(
            "body_descriptor.size",
            format!("{expected_size} for body type {body_type}"),
            size.to_string(),
        ));
    }
    let body = match body_type {
        BODY_TYPE_SGX => Body::Sgx(parse_sgx_body(r)?),
        _ => Body::Tdx(parse_td_body(r, body_type == BODY_TYPE_TD15)?),
    };
    Ok((Some(body_type), body))
}

/// Serializes bytes as lower-case hex.
pub(crate) fn ser_hex<S: Serializer, T: AsRef<[u8]>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v.as_ref()))
}
