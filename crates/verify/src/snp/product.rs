//! SEV-SNP products and their pinned AMD root keys (ARKs).

use core::fmt;
use core::str::FromStr;

use initra_evidence::snp::TcbLayout;
use x509_parser::prelude::{FromDer, X509Certificate};

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

    /// CPUID family and model of this product (checked against version 3+ reports).
    pub fn cpuid(self) -> (u8, u8) {
        match self {
            SnpProduct::Milan => (0x19, 0x01),
            SnpProduct::Genoa => (0x19, 0x11),
            SnpProduct::Turin => (0x1A, 0x02),
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

/// The ARKs a verifier trusts, one per product: AMD's by default. Each is labelled with a
/// [`RootKind`]: reports under a simulated ARK are labelled simulated in every verdict.
/// An operator may add AMD's CRL for a product: the verifier then checks it for every report of
/// that product whose collateral does not bring its own (docs/snp.md §9).
#[derive(Clone, Debug)]
pub struct SnpRoots {
    arks: Vec<(SnpProduct, Vec<u8>, RootKind)>,
    crls: Vec<(SnpProduct, Vec<u8>)>,
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
                .map(|p| (p, p.builtin_ark().to_vec(), RootKind::Amd))
                .collect(),
            crls: Vec::new(),
        }
    }

    /// These roots with `der` as the ARK of `product` instead, an operator-supplied root
    /// ([`RootKind::Custom`]).
    pub fn with_ark(self, product: SnpProduct, der: Vec<u8>) -> Result<Self, Error> {
        self.with_ark_of_kind(product, der, RootKind::Custom)
    }

    /// These roots with the simulated SNP platform's ARK `der` (`docs/simulated-platform.md`),
    /// for the product its subject names (`CN=ARK-Milan`): reports under it are labelled simulated.
    pub fn with_simulated_ark(self, der: Vec<u8>) -> Result<Self, Error> {
        let cn = super::certs::AmdCert::parse("simulated ARK", &der)
            .map_err(|e| Error::TrustRoot {
                reason: e.to_string(),
            })?
            .common_name();
        let product = cn
            .strip_prefix("ARK-")
            .and_then(SnpProduct::from_product_name)
            .ok_or_else(|| Error::TrustRoot {
                reason: format!(
                    "simulated ARK: subject CN {cn:?} does not name a product (expected ARK-Milan, ARK-Genoa or ARK-Turin)"
                ),
            })?;
        self.with_ark_of_kind(product, der, RootKind::Simulated)
    }

    /// [`SnpRoots::with_simulated_ark`] with the ARK read from `path` (DER or PEM).
    pub fn with_simulated_ark_file(self, path: &std::path::Path) -> Result<Self, Error> {
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

    fn with_ark_of_kind(
        mut self,
        product: SnpProduct,
        der: Vec<u8>,
        kind: RootKind,
    ) -> Result<Self, Error> {
        X509Certificate::from_der(&der).map_err(|e| Error::TrustRoot {
            reason: format!("ARK for {product}: not a DER X.509 certificate: {e}"),
        })?;
        self.arks.retain(|(p, _, _)| *p != product);
        self.arks.push((product, der, kind));
        Ok(self)
    }

    /// The trusted ARK of `product` (DER).
    pub fn ark(&self, product: SnpProduct) -> Option<&[u8]> {
        self.arks
            .iter()
            .find(|(p, _, _)| *p == product)
            .map(|(_, der, _)| der.as_slice())
    }

    /// What kind of root the ARK of `product` is.
    pub fn ark_kind(&self, product: SnpProduct) -> Option<RootKind> {
        self.arks
            .iter()
            .find(|(p, _, _)| *p == product)
            .map(|(_, _, kind)| *kind)
    }

    /// These roots with the CRL in `path` (DER or PEM) for the product whose trusted ARK issued
    /// it (its issuer name is that ARK's subject; the signature is checked at verification).
    pub fn with_crl_file(mut self, path: &std::path::Path) -> Result<Self, Error> {
        let der = super::crl::read_crl_file(path)?;
        let issuer = super::crl::issuer_raw(&der)?;
        let product = self
            .arks
            .iter()
            .find(|(_, ark, _)| {
                X509Certificate::from_der(ark)
                    .is_ok_and(|(_, c)| c.subject().as_raw() == issuer.as_slice())
            })
            .map(|(p, _, _)| *p)
            .ok_or_else(|| Error::Snp {
                check: "crl",
                reason: format!(
                    "{}: the CRL's issuer is none of the trusted ARKs (AMD's, or a simulated ARK given before the CRL)",
                    path.display()
                ),
            })?;
        self.crls.retain(|(p, _)| *p != product);
        self.crls.push((product, der));
        Ok(self)
    }

    /// The operator's CRL for `product` (DER), if any.
    pub fn crl(&self, product: SnpProduct) -> Option<&[u8]> {
        self.crls
            .iter()
            .find(|(p, _)| *p == product)
            .map(|(_, der)| der.as_slice())
    }

    /// Whether any ARK is a simulated one.
    pub fn trusts_simulated(&self) -> bool {
        self.arks.iter().any(|(_, _, k)| *k == RootKind::Simulated)
    }
}
