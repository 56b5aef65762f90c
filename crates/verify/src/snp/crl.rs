//! AMD's certificate revocation lists (docs/snp.md §9).
//!
//! AMD's KDS serves one CRL per product (`https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/crl`,
//! DER; AMD 57230 "Certificate Revocation List"), signed by the product's ARK with RSASSA-PSS
//! SHA-384, listing revoked ASKs and ASVKs. When a [`SnpCollateral`] carries one, the verifier
//! checks its signature with the pinned ARK, its issuer (= the ARK's subject), its validity
//! (`thisUpdate <= now <= nextUpdate`), and that neither the ASK / ASVK nor the VCEK / VLEK serial
//! is listed. Without a CRL nothing is checked: production deployments should give one.

use std::path::Path;
use std::time::SystemTime;

use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::certs::AmdCert;
use super::SnpCollateral;
use crate::freshness::{fmt_unix, unix};
use crate::Error;

/// Bound on a CRL file (AMD's are a few KiB).
const MAX_CRL_FILE: u64 = 1024 * 1024;

fn crl_err(reason: impl Into<String>) -> Error {
    Error::Snp {
        check: "crl",
        reason: reason.into(),
    }
}

impl SnpCollateral {
    /// This collateral with AMD's CRL `der` (checked by the verifier, not here).
    pub fn with_crl(mut self, der: Vec<u8>) -> Self {
        self.crl = Some(der);
        self
    }

    /// This collateral with the CRL read from `path`: DER, or PEM (`-----BEGIN X509 CRL-----`).
    /// Fails unless the file holds one well-formed CRL.
    pub fn with_crl_file(self, path: &Path) -> Result<Self, Error> {
        Ok(self.with_crl(read_crl_file(path)?))
    }
}

/// The CRL in `path` (DER, or one PEM `X509 CRL` block), checked to be one well-formed CRL.
pub(crate) fn read_crl_file(path: &Path) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_CRL_FILE {
        return Err(crl_err(format!(
            "{}: {len} bytes exceeds the maximum {MAX_CRL_FILE}",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let der = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        pem_crl(&bytes).map_err(|reason| crl_err(format!("{}: {reason}", path.display())))?
    } else {
        bytes
    };
    parse(&der).map_err(|e| match e {
        Error::Snp { check, reason } => Error::Snp {
            check,
            reason: format!("{}: {reason}", path.display()),
        },
        other => other,
    })?;
    Ok(der)
}

/// The raw issuer name of a well-formed CRL.
pub(crate) fn issuer_raw(der: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(parse(der)?.issuer().as_raw().to_vec())
}

/// nextUpdate of a well-formed CRL (Unix seconds), if it has one.
pub(crate) fn next_update(der: &[u8]) -> Result<Option<i64>, Error> {
    Ok(parse(der)?.next_update().map(|t| t.timestamp()))
}

/// The one `X509 CRL` PEM block of a file.
fn pem_crl(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut found = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(bytes) {
        let pem = item.map_err(|e| format!("invalid PEM: {e}"))?;
        if pem.label == "X509 CRL" {
            found.push(pem.contents);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(format!("expected one X509 CRL PEM block, found {n}")),
    }
}

fn parse(der: &[u8]) -> Result<CertificateRevocationList<'_>, Error> {
    let (rest, crl) = CertificateRevocationList::from_der(der).map_err(|e| {
        crl_err(format!(
            "not a DER X.509 CRL: {}",
            crate::describe_x509_error(&e)
        ))
    })?;
    if !rest.is_empty() {
        return Err(crl_err(format!(
            "{} trailing bytes after the CRL",
            rest.len()
        )));
    }
    Ok(crl)
}

/// Checks that `ark` issued and signed the CRL `der` (name and RSA-PSS signature); time-independent,
/// so an operator's CRL is checked when it is configured, not first when a peer arrives.
pub(super) fn check_issued_by(der: &[u8], ark: &AmdCert<'_>) -> Result<(), Error> {
    let crl = parse(der)?;
    check_signature(&crl, ark)
}

fn check_signature(crl: &CertificateRevocationList<'_>, ark: &AmdCert<'_>) -> Result<(), Error> {
    if crl.issuer().as_raw() != ark.cert.subject().as_raw() {
        return Err(crl_err(format!(
            "CRL issuer {:?} is not the ARK subject {:?}",
            crl.issuer().to_string(),
            ark.cert.subject().to_string()
        )));
    }
    if crl.tbs_cert_list.signature != crl.signature_algorithm {
        return Err(crl_err(
            "the CRL's inner and outer signature algorithms differ",
        ));
    }
    ark.verify_pss(
        "crl",
        "CRL",
        &crl.signature_algorithm,
        crl.tbs_cert_list.as_ref(),
        &crl.signature_value.data,
    )
}

/// Checks AMD's CRL `der` against the pinned `ark` at `now` and fails if any of `certs` (the ASK /
/// ASVK and the VCEK / VLEK) is listed.
pub(super) fn check(
    der: &[u8],
    ark: &AmdCert<'_>,
    certs: &[&AmdCert<'_>],
    now: SystemTime,
) -> Result<(), Error> {
    let crl = parse(der)?;
    check_signature(&crl, ark)?;

    let now = unix(now);
    let this_update = crl.last_update().timestamp();
    let next_update = crl
        .next_update()
        .ok_or_else(|| crl_err("the CRL has no nextUpdate: cannot tell whether it is current"))?
        .timestamp();
    if now < this_update || now > next_update {
        return Err(crl_err(format!(
            "CRL valid thisUpdate {} .. nextUpdate {}, verification time {} is outside{}",
            fmt_unix(this_update),
            fmt_unix(next_update),
            fmt_unix(now),
            if now > next_update { " (expired)" } else { "" }
        )));
    }

    for cert in certs {
        let serial = trim_serial(cert.cert.raw_serial());
        if let Some(entry) = crl
            .iter_revoked_certificates()
            .find(|r| trim_serial(r.raw_serial()) == serial)
        {
            let reason = entry
                .reason_code()
                .map(|(_, code)| format!(", reason {code}"))
                .unwrap_or_default();
            return Err(crl_err(format!(
                "{} {} (serial 0x{}) is revoked: listed in the ARK's CRL since {}{reason}",
                cert.role,
                cert.common_name(),
                serial_hex(serial),
                fmt_unix(entry.revocation_date.timestamp()),
            )));
        }
    }
    Ok(())
}

/// A DER INTEGER's content without leading zero bytes, so that `00 80` and `80` compare equal.
fn trim_serial(raw: &[u8]) -> &[u8] {
    let skip = raw.iter().take_while(|b| **b == 0).count();
    raw.get(skip..).unwrap_or_default()
}

fn serial_hex(trimmed: &[u8]) -> String {
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        hex::encode(trimmed)
    }
}
