//! The AMD certificates of an SNP chain: signature checks (RSA-PSS SHA-384 for ARK / ASK / VCEK
//! issuance) and the VCEK's TCB extensions (`docs/snp.md` §6).

use std::time::SystemTime;

use initra_evidence::snp::{TcbLayout, TcbParts, TcbVersion};
use ring::signature::{UnparsedPublicKey, RSA_PSS_2048_8192_SHA384};
use x509_parser::prelude::{AlgorithmIdentifier, FromDer, X509Certificate};

use crate::Error;

/// RSASSA-PSS, the signature algorithm of every AMD SEV certificate.
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
/// VCEK extension: product name (IA5String, `Milan-B0`).
pub(crate) const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
/// VCEK extension: hardware id (raw bytes = the report's chip_id; 8 bytes on Turin).
pub(crate) const OID_HWID: &str = "1.3.6.1.4.1.3704.1.4";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";

fn snp_err(check: &'static str, reason: impl Into<String>) -> Error {
    Error::Snp {
        check,
        reason: reason.into(),
    }
}

/// One parsed certificate of the chain; `role` (`ARK`, `ASK`, `VCEK`) names it in errors.
pub(crate) struct AmdCert<'a> {
    pub(crate) role: &'static str,
    pub(crate) cert: X509Certificate<'a>,
}

impl<'a> AmdCert<'a> {
    pub(crate) fn parse(role: &'static str, der: &'a [u8]) -> Result<Self, Error> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| {
            snp_err(
                "certificate",
                format!(
                    "{role}: not a DER X.509 certificate: {}",
                    crate::describe_x509_error(&e)
                ),
            )
        })?;
        if !rest.is_empty() {
            return Err(snp_err(
                "certificate",
                format!(
                    "{role}: {} trailing bytes after the certificate",
                    rest.len()
                ),
            ));
        }
        Ok(Self { role, cert })
    }

    /// The subject's common name (`ARK-Milan`, `SEV-Milan`, `SEV-VCEK`).
    pub(crate) fn common_name(&self) -> String {
        self.cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// The SubjectPublicKeyInfo DER.
    pub(crate) fn spki(&self) -> &[u8] {
        self.cert.public_key().raw
    }

    /// The public key bits (RSA: PKCS#1 RSAPublicKey; EC: the uncompressed point).
    pub(crate) fn key_bits(&self) -> &[u8] {
        &self.cert.public_key().subject_public_key.data
    }

    /// Checks that `issuer` issued this certificate: names chain and the RSA-PSS SHA-384 signature
    /// verifies with the issuer's key.
    pub(crate) fn verify_issued_by(&self, issuer: &AmdCert<'_>) -> Result<(), Error> {
        if self.cert.issuer().as_raw() != issuer.cert.subject().as_raw() {
            return Err(snp_err(
                "chain",
                format!(
                    "{} issuer {:?} is not the {} subject {:?}",
                    self.role,
                    self.cert.issuer().to_string(),
                    issuer.role,
                    issuer.cert.subject().to_string()
                ),
            ));
        }
        issuer.verify_pss(
            "chain",
            self.role,
            &self.cert.signature_algorithm,
            self.cert.tbs_certificate.as_ref(),
            &self.cert.signature_value.data,
        )
    }

    /// Checks an RSASSA-PSS SHA-384 signature made with this certificate's key over `signed`
    /// (a certificate's or CRL's TBS bytes); errors are `SNP {check}` and name `what` was signed.
    pub(crate) fn verify_pss(
        &self,
        check: &'static str,
        what: &str,
        algorithm: &AlgorithmIdentifier<'_>,
        signed: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let alg = algorithm.algorithm.to_id_string();
        if alg != OID_RSASSA_PSS {
            return Err(snp_err(
                check,
                format!(
                    "{what} signature algorithm: expected RSASSA-PSS ({OID_RSASSA_PSS}), got {alg}"
                ),
            ));
        }
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, self.key_bits())
            .verify(signed, signature)
            .map_err(|_| {
                snp_err(
                    check,
                    format!(
                        "{what} signature does not verify with the {} key (RSA-PSS SHA-384)",
                        self.role
                    ),
                )
            })
    }

    /// Fails unless `now` is within the certificate's validity.
    pub(crate) fn check_validity(&self, now: SystemTime) -> Result<(), Error> {
        let secs = crate::freshness::unix(now);
        let v = self.cert.validity();
        let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
        if secs < nb || secs > na {
            return Err(snp_err(
                "validity",
                format!(
                    "{} valid notBefore {} .. notAfter {}, verification time {} is outside{}",
                    self.role,
                    crate::freshness::fmt_unix(nb),
                    crate::freshness::fmt_unix(na),
                    crate::freshness::fmt_unix(secs),
                    if secs > na {
                        " (expired)"
                    } else {
                        " (not yet valid)"
                    }
                ),
            ));
        }
        Ok(())
    }

    /// The productName extension (`Milan-B0`), if present.
    pub(crate) fn product_name(&self) -> Result<Option<String>, Error> {
        match self.extension(OID_PRODUCT_NAME) {
            None => Ok(None),
            Some(v) => der_ia5(v).map(Some).ok_or_else(|| {
                snp_err(
                    "vcek",
                    format!("{} productName extension: expected an IA5String", self.role),
                )
            }),
        }
    }

    fn extension(&self, oid: &str) -> Option<&[u8]> {
        self.cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == oid)
            .map(|e| e.value)
    }
}

/// What a VCEK (or VLEK) certifies about the chip: product, TCB and hardware id.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VcekInfo {
    /// The productName extension, e.g. `Milan-B0` (absent on some VLEKs).
    pub product_name: Option<String>,
    /// The TCB the key was derived for.
    pub tcb: TcbParts,
    /// The hwID extension (64 bytes; 8 on Turin); absent on VLEKs.
    #[serde(serialize_with = "ser_opt_hex")]
    pub hwid: Option<Vec<u8>>,
}

fn ser_opt_hex<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_str(&hex::encode(b)),
        None => s.serialize_none(),
    }
}

impl VcekInfo {
    /// Reads the AMD extensions of a VCEK / VLEK under the product's TCB layout.
    pub(crate) fn from_cert(cert: &AmdCert<'_>, layout: TcbLayout) -> Result<Self, Error> {
        let spl = |oid: &'static str, name: &'static str| -> Result<u8, Error> {
            let v = cert.extension(oid).ok_or_else(|| {
                snp_err(
                    "vcek",
                    format!("{} has no {name} extension ({oid})", cert.role),
                )
            })?;
            der_small_int(v).ok_or_else(|| {
                snp_err(
                    "vcek",
                    format!(
                        "{} {name} extension: expected a DER INTEGER 0..=255, got {}",
                        cert.role,
                        hex::encode(v)
                    ),
                )
            })
        };
        let fmc = match layout {
            TcbLayout::Turin => Some(spl(OID_FMC_SPL, "fmcSPL")?),
            TcbLayout::MilanGenoa => None,
        };
        let tcb = TcbParts {
            fmc,
            bootloader: spl(OID_BL_SPL, "blSPL")?,
            tee: spl(OID_TEE_SPL, "teeSPL")?,
            snp: spl(OID_SNP_SPL, "snpSPL")?,
            microcode: spl(OID_UCODE_SPL, "ucodeSPL")?,
        };
        Ok(Self {
            product_name: cert.product_name()?,
            tcb,
            hwid: cert.extension(OID_HWID).map(<[u8]>::to_vec),
        })
    }

    /// The TCB as a TCB_VERSION under `layout`.
    pub fn tcb_version(&self, layout: TcbLayout) -> TcbVersion {
        TcbVersion::from_parts(&self.tcb, layout)
    }
}

/// A DER INTEGER (short form) holding 0..=255.
fn der_small_int(v: &[u8]) -> Option<u8> {
    match v {
        [0x02, 1, b] if *b < 0x80 => Some(*b),
        [0x02, 2, 0, b] if *b >= 0x80 => Some(*b),
        _ => None,
    }
}

/// A DER IA5String (short form).
fn der_ia5(v: &[u8]) -> Option<String> {
    match v {
        [0x16, len, rest @ ..] if usize::from(*len) == rest.len() && rest.is_ascii() => {
            String::from_utf8(rest.to_vec()).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_helpers() {
        assert_eq!(der_small_int(&[2, 1, 0x73]), Some(0x73));
        assert_eq!(der_small_int(&[2, 2, 0, 0xd1]), Some(0xd1));
        assert_eq!(der_small_int(&[2, 1, 0x80]), None);
        assert_eq!(der_small_int(&[4, 1, 1]), None);
        assert_eq!(der_ia5(b"\x16\x08Milan-B0").as_deref(), Some("Milan-B0"));
        assert_eq!(der_ia5(b"\x16\x09Milan-B0"), None);
    }
}
