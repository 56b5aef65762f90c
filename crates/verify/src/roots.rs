//! Trust roots: which root CA a quote's PCK chain must end in.

use std::path::Path;

use initra_evidence::Quote;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::Error;

/// Intel SGX Root CA (DER), the root of every production SGX / TDX PCK chain. Same bytes as
/// dcap-qvl's `TrustedRootCA.der`.
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("intel_sgx_root_ca.der");

/// What a trust root stands for; quotes verified under a `Simulated` root are marked simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    /// AMD's SEV-SNP root (ARK) for a product, compiled in.
    Amd,
    /// An operator-supplied root (e.g. a test CA shaped like Intel's).
    Custom,
    /// Intel's production SGX root.
    Intel,
    /// The simulated platform's root (`initra sim init`): evidence is not hardware-backed.
    Simulated,
}

/// One configured root certificate.
#[derive(Clone, Debug)]
pub struct TrustRoot {
    kind: RootKind,
    der: Vec<u8>,
    subject: String,
}

impl TrustRoot {
    /// Parses a root certificate (DER).
    pub fn new(der: Vec<u8>, kind: RootKind) -> Result<Self, Error> {
        Self::parse(der, kind).map_err(|reason| Error::TrustRoot { reason })
    }

    /// The parser's ASN.1 detail (`UnexpectedTag { .. }`) tells a user nothing: say what was expected.
    fn parse(der: Vec<u8>, kind: RootKind) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(&der)
            .map_err(|_| "not a DER or PEM X.509 certificate".to_owned())?;
        let subject = cert.subject().to_string();
        Ok(Self { kind, der, subject })
    }

    /// The root's kind.
    pub fn kind(&self) -> RootKind {
        self.kind
    }

    /// The certificate (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject DN.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// The set of roots a verifier trusts.
#[derive(Clone, Debug)]
pub struct TrustRoots {
    roots: Vec<TrustRoot>,
}

impl Default for TrustRoots {
    /// Intel's production root only.
    fn default() -> Self {
        Self::intel()
    }
}

impl TrustRoots {
    /// Intel's production root only.
    pub fn intel() -> Self {
        let roots = TrustRoot::new(INTEL_SGX_ROOT_CA_DER.to_vec(), RootKind::Intel)
            .map(|r| vec![r])
            .unwrap_or_default();
        Self { roots }
    }

    /// No root at all (add some with [`TrustRoots::with_root`]).
    pub fn empty() -> Self {
        Self { roots: Vec::new() }
    }

    /// Adds a root (DER).
    pub fn with_root(mut self, der: Vec<u8>, kind: RootKind) -> Result<Self, Error> {
        self.roots.push(TrustRoot::new(der, kind)?);
        Ok(self)
    }

    /// Adds the root certificate in `path`, DER or PEM.
    pub fn with_root_file(self, path: &Path, kind: RootKind) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let root = cert_der_from_der_or_pem(&bytes)
            .and_then(|der| TrustRoot::parse(der, kind))
            .map_err(|reason| Error::TrustRoot {
                reason: format!("{}: {reason}", path.display()),
            })?;
        let mut this = self;
        this.roots.push(root);
        Ok(this)
    }

    /// Adds the root certificate in `path` (DER or PEM), as [`RootKind::Simulated`] when its
    /// subject says `SIMULATED` (every certificate of `initra sim init` does), otherwise
    /// [`RootKind::Custom`]. Marking a root simulated only ever adds caution.
    pub fn with_root_file_auto(self, path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let root = cert_der_from_der_or_pem(&bytes)
            .and_then(|der| TrustRoot::parse(der, RootKind::Custom))
            .map_err(|reason| Error::TrustRoot {
                reason: format!("{}: {reason}", path.display()),
            })?;
        let kind = if root.subject.contains("SIMULATED") {
            RootKind::Simulated
        } else {
            RootKind::Custom
        };
        let mut this = self;
        this.roots.push(TrustRoot { kind, ..root });
        Ok(this)
    }

    /// The configured roots.
    pub fn roots(&self) -> &[TrustRoot] {
        &self.roots
    }

    /// The root the quote's PCK chain ends in. Quoting enclaves always put the root at the end of the
    /// chain, so the last certificate must be byte-identical to a configured root: a look-alike (same
    /// subject and key, or a certificate claiming to be issued by the root) is refused, naming its issuer.
    pub fn root_for(&self, quote: &Quote) -> Result<&TrustRoot, Error> {
        let pem = quote.pck_chain_pem().ok_or(Error::NoPckChain {
            cert_type: quote.certification_data().cert_type,
        })?;
        let chain = pem_chain_der(pem)?;
        let last_der = chain.last().ok_or_else(|| Error::PckChain {
            reason: "no certificate in the PCK chain".into(),
        })?;
        if let Some(root) = self.roots.iter().find(|r| r.der == *last_der) {
            return Ok(root);
        }
        let issuer = X509Certificate::from_der(last_der)
            .map(|(_, c)| c.issuer().to_string())
            .map_err(|e| Error::PckChain {
                reason: format!("last certificate: {e}"),
            })?;
        Err(Error::UntrustedRoot {
            issuer,
            configured: self.describe(),
        })
    }

    fn describe(&self) -> String {
        if self.roots.is_empty() {
            return "none".into();
        }
        self.roots
            .iter()
            .map(|r| format!("{} ({:?})", r.subject, r.kind).to_lowercase())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Every certificate (DER) of a PEM chain, in order.
///
/// The chain must be in the canonical form Intel's quoting enclave writes (docs/quote-formats.md,
/// certification data type 5): `-----BEGIN CERTIFICATE-----`, base64 in 64-character lines, `-----END
/// CERTIFICATE-----`, each line ending in `\n`, optionally followed by one NUL. Anything else in those bytes
/// would be unauthenticated slack in the quote, so it is refused rather than ignored.
pub(crate) fn pem_chain_der(pem: &str) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let item = item.map_err(|e| Error::PckChain {
            reason: format!("PEM: {e}"),
        })?;
        if item.label != "CERTIFICATE" {
            return Err(Error::PckChain {
                reason: format!("PEM block {:?} where CERTIFICATE was expected", item.label),
            });
        }
        out.push(item.contents);
    }
    let body = pem.strip_suffix('\0').unwrap_or(pem);
    if body != canonical_pem(&out) {
        return Err(Error::PckChain {
            reason: "the PEM chain is not in canonical form (64-character base64 lines, \\n line ends, at most one trailing NUL)".into(),
        });
    }
    Ok(out)
}

fn canonical_pem(certs: &[Vec<u8>]) -> String {
    use base64::Engine as _;
    let mut s = String::new();
    for der in certs {
        s.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for line in b64.as_bytes().chunks(64) {
            s.push_str(&String::from_utf8_lossy(line));
            s.push('\n');
        }
        s.push_str("-----END CERTIFICATE-----\n");
    }
    s
}

/// A certificate given as DER or PEM.
pub(crate) fn cert_der_from_der_or_pem(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"-----") || bytes.iter().take(64).all(|b| b.is_ascii()) {
        let mut pems = x509_parser::pem::Pem::iter_from_buffer(bytes);
        match pems.next() {
            Some(Ok(p)) => return Ok(p.contents),
            Some(Err(e)) => return Err(format!("PEM: {e}")),
            None => return Err("no PEM certificate found".into()),
        }
    }
    Ok(bytes.to_vec())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    #[test]
    fn unreadable_root_file_has_one_prefix_and_a_readable_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img.png");
        std::fs::write(&path, [0x89u8, b'P', b'N', b'G', 0, 0xff, 0xfe, 1, 2, 3]).unwrap();
        for err in [
            TrustRoots::intel()
                .with_root_file(&path, RootKind::Custom)
                .unwrap_err(),
            TrustRoots::intel().with_root_file_auto(&path).unwrap_err(),
        ] {
            let msg = err.to_string();
            assert_eq!(
                msg,
                format!(
                    "trust root: {}: not a DER or PEM X.509 certificate",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn intel_root_parses() {
        let roots = TrustRoots::intel();
        assert_eq!(roots.roots().len(), 1);
        assert!(roots.roots()[0].subject().contains("Intel SGX Root CA"));
    }
}
