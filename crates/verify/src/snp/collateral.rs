//! The certificates an SNP report is verified with: the VCEK (or VLEK) and the ASK (or ASVK) / ARK
//! chain, from files or from the report's certificate table (`auxblob`).

use std::path::Path;

use std::time::SystemTime;

use initra_evidence::snp::{CertTable, SnpReport, GUID_ARK, GUID_ASK, GUID_VCEK, GUID_VLEK};

use crate::Error;

/// Bound on a certificate file (AMD chains are ~5 KiB).
const MAX_CERT_FILE: u64 = 256 * 1024;

/// The endorsement key certificate and its chain, DER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnpCollateral {
    /// VCEK or VLEK (DER).
    pub vcek: Vec<u8>,
    /// ASK / ASVK and, optionally, ARK (DER, any order). A missing ARK is taken from the trusted
    /// roots; a present one must equal it.
    pub chain: Vec<Vec<u8>>,
    /// AMD's CRL of the product (DER, signed by the ARK), checked when present
    /// ([`SnpCollateral::with_crl_file`], docs/snp.md §9).
    pub crl: Option<Vec<u8>>,
}

impl SnpCollateral {
    /// From DER bytes.
    pub fn new(vcek: Vec<u8>, chain: Vec<Vec<u8>>) -> Self {
        Self {
            vcek,
            chain,
            crl: None,
        }
    }

    /// Reads the VCEK / VLEK (DER or PEM) and the chain (PEM with ASK then ARK, as AMD's KDS
    /// `cert_chain` serves it, or one DER certificate).
    pub fn from_files(vcek: &Path, chain: &Path) -> Result<Self, Error> {
        let mut vcek_certs = read_certs(vcek)?;
        if vcek_certs.len() != 1 {
            return Err(Error::Snp {
                check: "collateral",
                reason: format!(
                    "{}: expected one certificate (the VCEK or VLEK), found {}",
                    vcek.display(),
                    vcek_certs.len()
                ),
            });
        }
        let chain_certs = read_certs(chain)?;
        if chain_certs.is_empty() || chain_certs.len() > 2 {
            return Err(Error::Snp {
                check: "collateral",
                reason: format!(
                    "{}: expected the ASK (or ASVK) and the ARK, found {} certificates",
                    chain.display(),
                    chain_certs.len()
                ),
            });
        }
        Ok(Self {
            vcek: vcek_certs.remove(0),
            chain: chain_certs,
            crl: None,
        })
    }

    /// From an SNP certificate table (configfs-tsm `auxblob`): the VCEK (or VLEK), ASK, ARK.
    pub fn from_cert_table(table: &CertTable) -> Result<Self, Error> {
        let vcek = table
            .get(GUID_VCEK)
            .or_else(|| table.get(GUID_VLEK))
            .ok_or_else(|| Error::Snp {
                check: "collateral",
                reason: "certificate table has no VCEK or VLEK entry".into(),
            })?;
        let chain = [GUID_ASK, GUID_ARK]
            .into_iter()
            .filter_map(|g| table.get(g))
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        if chain.is_empty() {
            return Err(Error::Snp {
                check: "collateral",
                reason: "certificate table has no ASK entry".into(),
            });
        }
        Ok(Self {
            vcek: vcek.to_vec(),
            chain,
            crl: None,
        })
    }
}

/// Where the VCEK and the AMD chain of a report come from when the evidence does not carry them
/// (no certificate table): AMD's KDS, a cache of it, an offline directory.
pub trait SnpCollateralSource: Send + Sync {
    /// The VCEK (for the report's chip id and reported TCB) and its chain, at `now`.
    fn snp_collateral_for(
        &self,
        report: &SnpReport,
        now: SystemTime,
    ) -> Result<SnpCollateral, Error>;
}

/// Every certificate of a file: PEM blocks, or the file as one DER certificate.
fn read_certs(path: &Path) -> Result<Vec<Vec<u8>>, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_CERT_FILE {
        return Err(Error::Snp {
            check: "collateral",
            reason: format!(
                "{}: {len} bytes exceeds the maximum {MAX_CERT_FILE}",
                path.display()
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    if !bytes.starts_with(b"-----") && !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Ok(vec![bytes]);
    }
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(&bytes) {
        let pem = item.map_err(|e| Error::Snp {
            check: "collateral",
            reason: format!("{}: invalid PEM: {e}", path.display()),
        })?;
        if pem.label == "CERTIFICATE" {
            out.push(pem.contents);
        }
    }
    Ok(out)
}
