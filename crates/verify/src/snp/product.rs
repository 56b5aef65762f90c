//! SEV-SNP products and their pinned AMD root keys (ARKs).

use core::fmt;
use core::str::FromStr;

use std::path::Path;
use std::time::SystemTime;

use initra_evidence::snp::TcbLayout;

use super::certs::AmdCert;
use crate::{Error, RootKind};

/// AMD's ARK-Milan (self-signed, RSA-4096, 2020-10-22..2045-10-22), as published at
/// `https://kdsintf.amd.com/vcek/v1/Milan/cert_chain`.
const ARK_MILAN_DER: &[u8] = include_bytes!("ark_milan.der");
/// AMD's ARK-Genoa (2022-01-26..2047-01-26).
const ARK_GENOA_DER: &[u8] = include_bytes!("ark_genoa.der");
/// AMD's ARK-Turin (2023-05-15..2048-05-15).
const ARK_TURIN_DER: &[u8] = include_bytes!("ark_turin.der");

/// An EPYC generation with SEV-SNP; each has its own ARK and ASK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnpProduct {
    /// EPYC 7003 (Zen 3).
    Milan,
    /// EPYC 9004 (Zen 4).
    Genoa,
    /// EPYC 9005 (Zen 5).
    Turin,
}

impl SnpProduct {
    /// Every product.
    pub const ALL: [SnpProduct; 3] = [SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin];

    /// `"milan"`, `"genoa"`, `"turin"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnpProduct::Milan => "milan",
            SnpProduct::Genoa => "genoa",
            SnpProduct::Turin => "turin",
        }
    }

    /// AMD's spelling in certificate names and KDS URLs (`Milan`, `Genoa`, `Turin`).
    pub fn amd_name(self) -> &'static str {
        match self {
            SnpProduct::Milan => "Milan",
            SnpProduct::Genoa => "Genoa",
            SnpProduct::Turin => "Turin",
        }
    }

    /// The TCB_VERSION layout of this product.
    pub fn tcb_layout(self) -> TcbLayout {
        match self {
            SnpProduct::Turin => TcbLayout::Turin,
            SnpProduct::Milan | SnpProduct::Genoa => TcbLayout::MilanGenoa,
        }
    }

    /// The product line of a CPU by its CPUID family and model (named by version 3+ reports):
    /// each line spans a range of models (Genoa includes Bergamo and Siena, Turin its dense
    /// parts), as AMD's KDS groups them.
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(SnpProduct::Milan),
            (0x19, 0x10..=0x1F | 0xA0..=0xAF) => Some(SnpProduct::Genoa),
            (0x1A, 0x00..=0x1F) => Some(SnpProduct::Turin),
            _ => None,
        }
    }

    /// The product named by a VCEK's productName extension (`Milan-B0`, `Genoa-B1`, `Turin`).
    pub fn from_product_name(name: &str) -> Option<Self> {
        let line = name.split('-').next().unwrap_or(name);
        Self::ALL.into_iter().find(|p| p.amd_name() == line)
    }

    fn builtin_ark(self) -> &'static [u8] {
        match self {
            SnpProduct::Milan => ARK_MILAN_DER,
            SnpProduct::Genoa => ARK_GENOA_DER,
            SnpProduct::Turin => ARK_TURIN_DER,
        }
    }
}

impl fmt::Display for SnpProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SnpProduct {
    type Err = String;

    /// `milan`, `genoa` or `turin` (any case).
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown SEV-SNP product {s:?} (expected milan, genoa or turin)")
            })
    }
}

/// The ARKs a verifier trusts per product: AMD's by default. Each is labelled with a
/// [`RootKind`]: reports under a simulated ARK are labelled simulated in every verdict. A simulated
/// ARK is trusted *besides* AMD's, so one server admits real and simulated guests alike.
/// An operator may add AMD's CRL for an ARK: the verifier then checks it for every report under
/// that ARK whose collateral does not bring its own (docs/snp.md §9).
#[derive(Clone, Debug)]
pub struct SnpRoots {
    arks: Vec<TrustedArk>,
    /// (raw subject of the issuing ARK, CRL DER).
    crls: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One trusted ARK.
#[derive(Clone, Debug)]
struct TrustedArk {
    product: SnpProduct,
    der: Vec<u8>,
    kind: RootKind,
}

impl Default for SnpRoots {
    /// AMD's ARKs for Milan, Genoa and Turin.
    fn default() -> Self {
        Self::amd()
    }
}

impl SnpRoots {
    /// AMD's ARKs for Milan, Genoa and Turin (compiled in).
    pub fn amd() -> Self {
        Self {
            arks: SnpProduct::ALL
                .into_iter()
                .map(|product| TrustedArk {
                    product,
                    der: product.builtin_ark().to_vec(),
                    kind: RootKind::Amd,
                })
                .collect(),
            crls: Vec::new(),
        }
    }

    /// These roots with `der` as the only ARK of `product` (AMD's is no longer trusted for it),
    /// an operator-supplied root ([`RootKind::Custom`]).
    pub fn with_ark(mut self, product: SnpProduct, der: Vec<u8>) -> Result<Self, Error> {
        AmdCert::parse("ARK", &der).map_err(|e| Error::TrustRoot {
            reason: format!("ARK for {product}: {e}"),
        })?;
        self.arks.retain(|a| a.product != product);
        self.arks.push(TrustedArk {
            product,
            der,
            kind: RootKind::Custom,
        });
        Ok(self)
    }

    /// These roots also trusting the simulated SNP platform's ARK `der` (docs/snp.md §8), for the
    /// product its subject names (`CN=ARK-Milan`): reports under it are labelled simulated.
    /// AMD's own ARK is refused here: genuine evidence must never be labelled simulated.
    pub fn with_simulated_ark(mut self, der: Vec<u8>) -> Result<Self, Error> {
        let cert = AmdCert::parse("simulated ARK", &der).map_err(|e| Error::TrustRoot {
            reason: e.to_string(),
        })?;
        let cn = cert.common_name();
        let product = cn
            .strip_prefix("ARK-")
            .and_then(SnpProduct::from_product_name)
            .ok_or_else(|| Error::TrustRoot {
                reason: format!(
                    "simulated ARK: subject CN {cn:?} does not name a product (expected ARK-Milan, ARK-Genoa or ARK-Turin)"
                ),
            })?;
        let is_amd = SnpProduct::ALL.into_iter().any(|p| {
            AmdCert::parse("ARK", p.builtin_ark()).is_ok_and(|amd| amd.spki() == cert.spki())
        });
        if is_amd {
            return Err(Error::TrustRoot {
                reason: format!(
                    "simulated ARK: this is AMD's own {cn} (trusted by default); a simulated ARK is a test root such as testdata/sim-snp/ark.der"
                ),
            });
        }
        let spki = cert.spki().to_vec();
        self.arks.retain(|a| {
            a.kind != RootKind::Simulated
                || AmdCert::parse("ARK", &a.der).map_or(true, |c| c.spki() != spki.as_slice())
        });
        self.arks.push(TrustedArk {
            product,
            der,
            kind: RootKind::Simulated,
        });
        Ok(self)
    }

    /// [`SnpRoots::with_simulated_ark`] with the ARK read from `path` (DER or PEM).
    pub fn with_simulated_ark_file(self, path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let der =
            crate::roots::cert_der_from_der_or_pem(&bytes).map_err(|reason| Error::TrustRoot {
                reason: format!("{}: {reason}", path.display()),
            })?;
        self.with_simulated_ark(der).map_err(|e| match e {
            Error::TrustRoot { reason } => Error::TrustRoot {
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }

    /// The trusted ARKs of `product` (DER) with their kind, AMD's first.
    pub fn arks(&self, product: SnpProduct) -> impl Iterator<Item = (&[u8], RootKind)> {
        self.arks
            .iter()
            .filter(move |a| a.product == product)
            .map(|a| (a.der.as_slice(), a.kind))
    }

    /// The first trusted ARK of `product` (DER).
    pub fn ark(&self, product: SnpProduct) -> Option<&[u8]> {
        self.arks(product).next().map(|(der, _)| der)
    }

    /// These roots with the CRL in `path` (DER or PEM) for the trusted ARK that issued it: its
    /// issuer name and RSA-PSS signature are checked now (a CRL no trusted ARK signed is a
    /// configuration error, not a refusal of every peer later).
    pub fn with_crl_file(mut self, path: &Path) -> Result<Self, Error> {
        let der = super::crl::read_crl_file(path)?;
        let issuer = super::crl::issuer_raw(&der)?;
        let in_file = |e: Error| match e {
            Error::Snp { check, reason } => Error::Snp {
                check,
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        };
        let ark = self
            .arks
            .iter()
            .filter_map(|a| AmdCert::parse("ARK", &a.der).ok())
            .find(|c| c.cert.subject().as_raw() == issuer.as_slice())
            .ok_or_else(|| Error::Snp {
                check: "crl",
                reason: format!(
                    "{}: the CRL's issuer is none of the trusted ARKs (AMD's, or a simulated ARK given before the CRL)",
                    path.display()
                ),
            })?;
        super::crl::check_issued_by(&der, &ark).map_err(in_file)?;
        self.crls.retain(|(subject, _)| *subject != issuer);
        self.crls.push((issuer, der));
        Ok(self)
    }

    /// The operator's CRL issued by the ARK whose raw subject is `ark_subject`, if any.
    pub fn crl(&self, ark_subject: &[u8]) -> Option<&[u8]> {
        self.crls
            .iter()
            .find(|(subject, _)| subject == ark_subject)
            .map(|(_, der)| der.as_slice())
    }

    /// Fails if an operator CRL is past its nextUpdate at `now` (it would refuse every report
    /// under its ARK), naming the date: for a server to refuse such a configuration at start.
    pub fn check_crls_current(&self, now: SystemTime) -> Result<(), Error> {
        let now = crate::freshness::unix(now);
        for (_, der) in &self.crls {
            if let Some(next) = super::crl::next_update(der)? {
                if now > next {
                    return Err(Error::Snp {
                        check: "crl",
                        reason: format!(
                            "the configured CRL expired at nextUpdate {}: fetch a current one",
                            crate::freshness::fmt_unix(next)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether any ARK is a simulated one.
    pub fn trusts_simulated(&self) -> bool {
        self.arks.iter().any(|a| a.kind == RootKind::Simulated)
    }
}
