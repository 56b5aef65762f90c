//! Reading RA-TLS certificates: every evidence extension and its key binding (docs/ratls.md).

use core::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use initra_evidence::ratls_ext::{self, EvidenceOid, HashAlg, TaggedEvidence};
use initra_evidence::Evidence;
use ring::digest;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::Error;

/// Who wrote an evidence extension, known by its OID (docs/ratls.md, "Formats").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceFormat {
    /// Gramine legacy, OID 1.2.840.113741.1337.6: raw quote, SPKI binding.
    GramineLegacy,
    /// Gramine legacy with its malformed OID (contents decode as 0.6.9.42.840.113741.1337.6).
    GramineLegacyMalformedOid,
    /// Intel SGX SDK attested TLS, OID 1.2.840.113741.1.13.1: raw quote, DICE claims binding.
    IntelSgxSdk,
    /// Occlum grpc-ratls (and initra), OID 1.2.840.113741.1: raw quote, SPKI binding.
    Occlum,
    /// TCG DICE tagged evidence, OID 2.23.133.5.4.9: CBOR tag 60000 [quote, claims], claims binding.
    TcgDice,
}

impl EvidenceFormat {
    /// The lower-case name used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GramineLegacy => "gramine-legacy",
            Self::GramineLegacyMalformedOid => "gramine-legacy-malformed-oid",
            Self::IntelSgxSdk => "intel-sgx-sdk",
            Self::Occlum => "occlum",
            Self::TcgDice => "tcg-dice",
        }
    }

    /// The extension OID.
    pub fn oid(self) -> EvidenceOid {
        match self {
            Self::GramineLegacy => ratls_ext::OID_GRAMINE_LEGACY,
            Self::GramineLegacyMalformedOid => ratls_ext::OID_GRAMINE_LEGACY_MALFORMED,
            Self::IntelSgxSdk => ratls_ext::OID_INTEL_SGX_SDK,
            Self::Occlum => ratls_ext::OID_SGX_QUOTE,
            Self::TcgDice => ratls_ext::OID_TCG_DICE_TAGGED_EVIDENCE,
        }
    }

    /// How this format binds the quote to the certificate key.
    pub fn rule(self) -> BindingRule {
        match self {
            Self::GramineLegacy | Self::GramineLegacyMalformedOid | Self::Occlum => {
                BindingRule::SpkiSha256
            }
            Self::IntelSgxSdk | Self::TcgDice => BindingRule::DiceClaims,
        }
    }

    /// Matched against the raw DER contents of each extension's OID, so the malformed Gramine OID is
    /// recognised exactly as it is written.
    const ALL: [EvidenceFormat; 5] = [
        Self::Occlum,
        Self::GramineLegacy,
        Self::GramineLegacyMalformedOid,
        Self::IntelSgxSdk,
        Self::TcgDice,
    ];

    fn from_oid_der(der: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.oid().der == der)
    }
}

impl fmt::Display for EvidenceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key-binding rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindingRule {
    /// `report_data[0..32] = SHA-256(SPKI DER)`.
    SpkiSha256,
    /// `report_data[0..32] = SHA-256(claims bstr)` and the claims' `pubkey-hash` = H(SPKI DER).
    DiceClaims,
}

impl BindingRule {
    /// The rule as a formula.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SpkiSha256 => "report_data[0..32] = SHA-256(SPKI DER)",
            Self::DiceClaims => {
                "report_data[0..32] = SHA-256(DICE claims) and claims pubkey-hash = H(SPKI DER)"
            }
        }
    }
}

impl fmt::Display for BindingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Whether an extension's quote is bound to the certificate key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// The rule applied.
    pub rule: BindingRule,
    /// Whether it holds.
    pub holds: bool,
    /// What `report_data[0..32]` must be (hex): SHA-256 of the SPKI or of the claims.
    pub expected: String,
    /// What it is (hex).
    pub actual: String,
    /// Why it does not hold (`None` when it holds).
    pub reason: Option<String>,
}

/// One evidence extension found in a certificate.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceExtension {
    /// The format, from the OID.
    pub format: EvidenceFormat,
    /// The OID, dotted (the malformed Gramine OID as it decodes).
    pub oid: &'static str,
    /// Whether the extension is marked critical.
    pub critical: bool,
    /// The evidence: a DCAP quote or an SEV-SNP report (exact bytes, padding removed).
    /// Serialised as its length only.
    #[serde(serialize_with = "ser_len", rename = "quote_len")]
    pub quote: Vec<u8>,
    /// The key binding.
    pub binding: Binding,
}

fn ser_len<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.len() as u64)
}

/// Everything RA-TLS-relevant in one certificate.
#[derive(Clone, Debug, Serialize)]
pub struct CertEvidence {
    /// Subject DN.
    pub subject: String,
    /// notBefore (Unix seconds).
    pub not_before: i64,
    /// notAfter (Unix seconds).
    pub not_after: i64,
    /// Public key algorithm OID (dotted), e.g. 1.2.840.10045.2.1 (EC) or 1.2.840.113549.1.1.1 (RSA).
    pub key_algorithm: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo (hex).
    pub spki_sha256: String,
    /// The DER SubjectPublicKeyInfo.
    #[serde(skip)]
    pub spki_der: Vec<u8>,
    /// Evidence extensions that decoded, in certificate order.
    pub extensions: Vec<EvidenceExtension>,
    /// Evidence extensions that did not decode: (format, error).
    pub undecodable: Vec<(EvidenceFormat, String)>,
    /// The endorsement extension (2.23.133.5.4.2), if present: the SEV-SNP certificate table,
    /// or why it does not decode. Serialised as its length or error.
    #[serde(serialize_with = "ser_endorsements")]
    pub endorsements: Option<Result<Vec<u8>, String>>,
}

fn ser_endorsements<S: serde::Serializer>(
    v: &Option<Result<Vec<u8>, String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match v {
        None => s.serialize_none(),
        Some(r) => {
            let mut m = s.serialize_map(Some(2))?;
            m.serialize_entry("oid", ratls_ext::OID_TCG_DICE_ENDORSEMENT_MANIFEST.dotted)?;
            match r {
                Ok(table) => m.serialize_entry("cert_table_len", &table.len())?,
                Err(e) => m.serialize_entry("error", e)?,
            }
            m.end()
        }
    }
}

impl CertEvidence {
    /// The first extension whose binding holds.
    pub fn bound(&self) -> Result<&EvidenceExtension, Error> {
        if self.extensions.is_empty() && self.undecodable.is_empty() {
            return Err(Error::NoEvidence);
        }
        if let Some(ext) = self.extensions.iter().find(|e| e.binding.holds) {
            return Ok(ext);
        }
        let mut reasons: Vec<String> = self
            .extensions
            .iter()
            .map(|e| {
                let why = e
                    .binding
                    .reason
                    .as_deref()
                    .unwrap_or("binding does not hold");
                format!("{} ({}): {why}", e.format, e.oid)
            })
            .collect();
        reasons.extend(
            self.undecodable
                .iter()
                .map(|(f, why)| format!("{f} ({}): {why}", f.oid().dotted)),
        );
        Err(Error::BindingFailed { reasons })
    }

    /// The evidence (DCAP quote or SEV-SNP report) of an extension whose binding holds; fails
    /// naming why none does.
    pub fn bound_quote(&self) -> Result<&[u8], Error> {
        self.bound().map(|e| e.quote.as_slice())
    }

    /// The SEV-SNP certificate table carried in the endorsement extension, if any; an
    /// undecodable one is an error naming why.
    pub fn endorsements(&self) -> Result<Option<&[u8]>, Error> {
        match &self.endorsements {
            None => Ok(None),
            Some(Ok(table)) => Ok(Some(table)),
            Some(Err(reason)) => Err(Error::Certificate {
                reason: format!(
                    "endorsement extension {}: {reason}",
                    ratls_ext::OID_TCG_DICE_ENDORSEMENT_MANIFEST.dotted
                ),
            }),
        }
    }

    /// Checks notBefore <= `now` <= notAfter.
    pub fn check_validity(&self, now: SystemTime) -> Result<(), Error> {
        let now_s = unix(now);
        if now_s < self.not_before {
            return Err(Error::NotYetValid {
                not_before: rfc3339(self.not_before),
                now: rfc3339(now_s),
            });
        }
        if now_s > self.not_after {
            return Err(Error::Expired {
                not_after: rfc3339(self.not_after),
                now: rfc3339(now_s),
            });
        }
        Ok(())
    }

    /// notAfter as a `SystemTime`.
    pub fn not_after_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.not_after).unwrap_or(0))
    }
}

pub(crate) fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{secs}"))
}

/// Reads a certificate given as DER or PEM (the first `CERTIFICATE` block; text before it is ignored).
pub fn read_certificate_pem_or_der(bytes: &[u8]) -> Result<CertEvidence, Error> {
    use rustls_pki_types::pem::PemObject;
    // A DER certificate starts with a SEQUENCE tag (0x30); anything else is taken as PEM text.
    if bytes.first() != Some(&0x30) {
        if core::str::from_utf8(bytes).is_err() {
            return Err(Error::Certificate {
                reason: "neither DER (a SEQUENCE) nor PEM text".to_owned(),
            });
        }
        let der = rustls_pki_types::CertificateDer::from_pem_slice(bytes).map_err(|e| {
            Error::Certificate {
                reason: format!("PEM: {e}"),
            }
        })?;
        return read_certificate(&der);
    }
    read_certificate(bytes)
}

/// Parses a DER certificate and evaluates every RA-TLS evidence extension in it.
///
/// Fails only when the certificate itself is not X.509; a certificate without evidence or with an
/// unbound quote reads fine and [`CertEvidence::bound_quote`] says why it cannot be used.
pub fn read_certificate(der: &[u8]) -> Result<CertEvidence, Error> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| Error::Certificate {
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(Error::Certificate {
            reason: format!("{} bytes after the certificate", rest.len()),
        });
    }
    let spki_der = cert.public_key().raw.to_vec();
    let spki_sha256 = sha(HashAlg::Sha256, &spki_der);

    // The DICE claims the Intel SGX SDK extension binds to live in the DICE extension.
    let dice: Option<Result<TaggedEvidence, initra_evidence::Error>> = cert
        .extensions()
        .iter()
        .find(|e| e.oid.as_bytes() == ratls_ext::OID_TCG_DICE_TAGGED_EVIDENCE.der)
        .map(|e| ratls_ext::decode_tagged_evidence(e.value));

    let mut extensions = Vec::new();
    let mut undecodable = Vec::new();
    for ext in cert.extensions() {
        let Some(format) = EvidenceFormat::from_oid_der(ext.oid.as_bytes()) else {
            continue;
        };
        match evaluate(format, ext.value, &spki_der, &spki_sha256, dice.as_ref()) {
            Ok((quote, binding)) => extensions.push(EvidenceExtension {
                format,
                oid: format.oid().dotted,
                critical: ext.critical,
                quote,
                binding,
            }),
            Err(e) => undecodable.push((format, e.to_string())),
        }
    }
    let endorsements = cert
        .extensions()
        .iter()
        .find(|e| e.oid.as_bytes() == ratls_ext::OID_TCG_DICE_ENDORSEMENT_MANIFEST.der)
        .map(|e| ratls_ext::decode_snp_endorsement(e.value).map_err(|e| e.to_string()));
    Ok(CertEvidence {
        subject: cert.subject().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key_algorithm: cert.public_key().algorithm.algorithm.to_id_string(),
        spki_sha256: hex::encode(&spki_sha256),
        spki_der,
        extensions,
        undecodable,
        endorsements,
    })
}

/// Decodes one extension and evaluates its binding.
fn evaluate(
    format: EvidenceFormat,
    value: &[u8],
    spki_der: &[u8],
    spki_sha256: &[u8],
    dice: Option<&Result<TaggedEvidence, initra_evidence::Error>>,
) -> Result<(Vec<u8>, Binding), Error> {
    let evidence_err = |source| Error::Evidence { format, source };
    match format.rule() {
        BindingRule::SpkiSha256 => {
            let quote = Evidence::parse(value).map_err(evidence_err)?;
            let actual = report_data_head(&quote);
            let holds = actual == spki_sha256;
            let reason = (!holds).then(|| {
                format!(
                    "report_data[0..32] {} != SHA-256(SPKI) {}",
                    hex::encode(&actual),
                    hex::encode(spki_sha256)
                )
            });
            let binding = Binding {
                rule: BindingRule::SpkiSha256,
                holds,
                expected: hex::encode(spki_sha256),
                actual: hex::encode(&actual),
                reason,
            };
            Ok((quote.raw().to_vec(), binding))
        }
        BindingRule::DiceClaims => {
            let own;
            let (quote_bytes, claims) = match format {
                EvidenceFormat::TcgDice => {
                    own = ratls_ext::decode_tagged_evidence(value).map_err(evidence_err)?;
                    (own.evidence.as_slice(), Some(&own))
                }
                _ => (value, dice.and_then(|d| d.as_ref().ok())),
            };
            let quote = Evidence::parse(quote_bytes).map_err(evidence_err)?;
            let actual = report_data_head(&quote);
            let binding = match claims {
                None => Binding {
                    rule: BindingRule::DiceClaims,
                    holds: false,
                    expected: String::new(),
                    actual: hex::encode(&actual),
                    reason: Some(format!(
                        "no decodable {} claims extension to bind to",
                        ratls_ext::OID_TCG_DICE_TAGGED_EVIDENCE.dotted
                    )),
                },
                Some(claims) => dice_binding(claims, &actual, spki_der),
            };
            Ok((quote.raw().to_vec(), binding))
        }
    }
}

fn dice_binding(claims: &TaggedEvidence, actual: &[u8], spki_der: &[u8]) -> Binding {
    let claims_hash = sha(HashAlg::Sha256, &claims.claims_bytes);
    let mut reason = None;
    if actual != claims_hash.as_slice() {
        reason = Some(format!(
            "report_data[0..32] {} != SHA-256(claims) {}",
            hex::encode(actual),
            hex::encode(&claims_hash)
        ));
    } else {
        match &claims.pubkey_hash {
            None => reason = Some("claims carry no pubkey-hash".to_owned()),
            Some((alg, hash)) => {
                let spki_hash = sha(*alg, spki_der);
                if *hash != spki_hash {
                    reason = Some(format!(
                        "claims pubkey-hash {} != {alg:?}(SPKI) {}",
                        hex::encode(hash),
                        hex::encode(&spki_hash)
                    ));
                }
            }
        }
    }
    Binding {
        rule: BindingRule::DiceClaims,
        holds: reason.is_none(),
        expected: hex::encode(&claims_hash),
        actual: hex::encode(actual),
        reason,
    }
}

fn report_data_head(quote: &Evidence) -> Vec<u8> {
    quote
        .report_data()
        .as_bytes()
        .get(..32)
        .unwrap_or_default()
        .to_vec()
}

fn sha(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    let algorithm = match alg {
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    };
    digest::digest(algorithm, data).as_ref().to_vec()
}
