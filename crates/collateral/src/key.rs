//! What collateral depends on: TEE type, FMSPC and the CA that issued the PCK certificate.
//!
//! TCB info is per (TEE, FMSPC), the QE identity per TEE and the PCK CRL per CA, so the triple
//! identifies one complete `QuoteCollateralV3`. It keys the cache, its file names and bundle entries.

use std::fmt;
use std::str::FromStr;

use initra_evidence::{Quote, Tee};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::Error;

/// Family-Model-Stepping-Platform-CustomSKU, 6 bytes from the PCK certificate's SGX extension
/// (OID 1.2.840.113741.1.13.1.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fmspc([u8; 6]);

impl Fmspc {
    /// The raw bytes.
    pub fn bytes(&self) -> [u8; 6] {
        self.0
    }
}

impl From<[u8; 6]> for Fmspc {
    fn from(b: [u8; 6]) -> Self {
        Self(b)
    }
}

impl fmt::Display for Fmspc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fmspc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fmspc {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bytes = hex::decode(s).map_err(|e| Error::Key {
            reason: format!("fmspc: expected 12 hex digits, got {s:?}: {e}"),
        })?;
        let arr: [u8; 6] = bytes.as_slice().try_into().map_err(|_| Error::Key {
            reason: format!("fmspc: expected 6 bytes, got {}", bytes.len()),
        })?;
        Ok(Self(arr))
    }
}

/// The Intel CA that issued a PCK certificate; selects the PCK CRL (`ca=processor|platform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PckCa {
    /// "Intel SGX PCK Platform CA" (multi-package platforms, all TDX machines).
    Platform,
    /// "Intel SGX PCK Processor CA" (single-package SGX platforms).
    Processor,
}

impl PckCa {
    /// `"platform"` or `"processor"`, as in the PCS `ca=` parameter.
    pub fn as_str(&self) -> &'static str {
        match self {
            PckCa::Platform => "platform",
            PckCa::Processor => "processor",
        }
    }
}

impl fmt::Display for PckCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PckCa {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "platform" => Ok(PckCa::Platform),
            "processor" => Ok(PckCa::Processor),
            other => Err(Error::Key {
                reason: format!("ca: expected platform or processor, got {other:?}"),
            }),
        }
    }
}

/// The cache / bundle key of one collateral set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CollateralKey {
    /// The TEE type (selects the `/sgx/` or `/tdx/` endpoints).
    pub tee: Tee,
    /// The platform's FMSPC.
    pub fmspc: Fmspc,
    /// The PCK certificate's issuing CA.
    pub ca: PckCa,
}

impl CollateralKey {
    /// The key a quote needs: FMSPC from the SGX extension of the PCK leaf certificate in the
    /// quote's certification data (type 5), CA type from the leaf's issuer CN.
    pub fn from_quote(quote: &Quote) -> Result<Self, Error> {
        let pem = quote.pck_chain_pem().ok_or_else(|| Error::Key {
            reason: format!(
                "quote carries no PCK certificate chain (certification data type {}; only type 5 is supported)",
                quote.certification_data().cert_type
            ),
        })?;
        let leaf = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
            .next()
            .ok_or_else(|| Error::Key {
                reason: "PCK chain: no PEM certificate".into(),
            })?
            .map_err(|e| Error::Key {
                reason: format!("PCK chain: {e}"),
            })?;
        Self::from_pck_leaf(quote.tee(), &leaf.contents)
    }

    /// The key for a PCK leaf certificate (DER) on a `tee` platform.
    pub fn from_pck_leaf(tee: Tee, leaf_der: &[u8]) -> Result<Self, Error> {
        let (_, cert) = X509Certificate::from_der(leaf_der).map_err(|e| Error::Key {
            reason: format!("PCK leaf certificate: {e}"),
        })?;
        let issuer_cn = cert
            .issuer()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default();
        let ca = if issuer_cn.contains("Platform CA") {
            PckCa::Platform
        } else if issuer_cn.contains("Processor CA") {
            PckCa::Processor
        } else {
            return Err(Error::Key {
                reason: format!(
                    "PCK leaf issuer CN: expected \"Intel SGX PCK Platform CA\" or \"Intel SGX PCK Processor CA\", got {issuer_cn:?}"
                ),
            });
        };
        let ext = dcap_qvl::intel::parse_pck_extension(leaf_der).map_err(|e| Error::Key {
            reason: format!("PCK leaf SGX extension (1.2.840.113741.1.13.1): {e:#}"),
        })?;
        Ok(Self {
            tee,
            fmspc: Fmspc(ext.fmspc),
            ca,
        })
    }

    /// `tee-fmspc-ca`, e.g. `tdx-00806f050000-platform`: cache file stem and bundle entry name.
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.tee, self.fmspc, self.ca)
    }
}

impl fmt::Display for CollateralKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

impl FromStr for CollateralKey {
    type Err = Error;
    /// Parses [`CollateralKey::id`].
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut parts = s.split('-');
        let (Some(tee), Some(fmspc), Some(ca), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Key {
                reason: format!(
                    "expected tee-fmspc-ca (e.g. tdx-00806f050000-platform), got {s:?}"
                ),
            });
        };
        let tee = match tee {
            "sgx" => Tee::Sgx,
            "tdx" => Tee::Tdx,
            other => {
                return Err(Error::Key {
                    reason: format!("tee: expected sgx or tdx, got {other:?}"),
                })
            }
        };
        Ok(Self {
            tee,
            fmspc: fmspc.parse()?,
            ca: ca.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips() {
        let key: CollateralKey = "tdx-00806f050000-platform".parse().unwrap();
        assert_eq!(key.tee, Tee::Tdx);
        assert_eq!(key.ca, PckCa::Platform);
        assert_eq!(key.fmspc.bytes(), [0, 0x80, 0x6f, 5, 0, 0]);
        assert_eq!(key.id(), "tdx-00806f050000-platform");
        assert!("tdx-00806f0500-platform".parse::<CollateralKey>().is_err());
        assert!("snp-00806f050000-platform"
            .parse::<CollateralKey>()
            .is_err());
    }
}
