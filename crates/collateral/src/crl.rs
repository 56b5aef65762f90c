//! CRLs in the encodings PCCS versions serve: raw DER (Intel PCS, `encoding=der`), hex of DER
//! (PCCS `rootcacrl`, older PCCS `pckcrl`) and PEM (`-----BEGIN X509 CRL-----`). All three
//! normalise to the same DER bytes, so verification results are identical.

pub use initra_verify::freshness::CrlDates;
use initra_verify::FreshnessError;

use crate::Error;

/// Bound on a CRL's size; Intel's largest (PCK Processor CA) is tens of KiB.
pub const MAX_CRL_LEN: usize = 4 * 1024 * 1024;

/// Normalises a CRL given as DER, hex of DER (optionally `0x`, whitespace) or PEM to DER, and
/// checks that it parses as an X.509 CRL. `item` names the CRL in errors.
pub fn crl_der(bytes: &[u8], item: &str) -> Result<Vec<u8>, Error> {
    let err = |reason: String| Error::Crl {
        item: item.to_owned(),
        reason,
    };
    if bytes.len() > MAX_CRL_LEN {
        return Err(err(format!(
            "size: expected at most {MAX_CRL_LEN} bytes, got {}",
            bytes.len()
        )));
    }
    // DER starts with 0x30 (SEQUENCE), which is also ASCII '0' (as in hex "0x..."): try DER
    // first, text second.
    let textual = bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    let der = if bytes.first() == Some(&0x30) && (!textual || crl_dates(bytes, item).is_ok()) {
        bytes.to_vec()
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| err("neither DER (starts with 0x30), hex nor PEM".into()))?
            .trim();
        if text.starts_with("-----BEGIN") {
            let pem = x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
                .next()
                .ok_or_else(|| err("PEM: no block found".into()))?
                .map_err(|e| err(format!("PEM: {e}")))?;
            if pem.label != "X509 CRL" {
                return Err(err(format!(
                    "PEM label: expected X509 CRL, got {}",
                    pem.label
                )));
            }
            pem.contents
        } else {
            let hex_text: String = text
                .strip_prefix("0x")
                .unwrap_or(text)
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            hex::decode(&hex_text).map_err(|e| {
                err(format!(
                    "neither DER (starts with 0x30), hex nor PEM: hex: {e}"
                ))
            })?
        }
    };
    crl_dates(&der, item)?;
    Ok(der)
}

/// Parses a DER CRL and returns its dates ([`initra_verify::freshness::crl_dates`]).
pub fn crl_dates(der: &[u8], item: &str) -> Result<CrlDates, Error> {
    initra_verify::freshness::crl_dates(der, item).map_err(|e| match e {
        FreshnessError::Unreadable { item, reason } => Error::Crl { item, reason },
        other => Error::Freshness(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_CRL: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/tdx/automata-solana-v4/intel_root_ca_crl.der"
    ));

    #[test]
    fn der_hex_and_pem_give_the_same_der() {
        let hex_text = hex::encode(ROOT_CRL);
        // PEM is covered in tests/pccs.rs (needs a base64 encoder).
        assert_eq!(crl_der(ROOT_CRL, "root CA CRL").unwrap(), ROOT_CRL);
        assert_eq!(
            crl_der(hex_text.as_bytes(), "root CA CRL").unwrap(),
            ROOT_CRL
        );
        assert_eq!(
            crl_der(format!("0x{}\n", hex_text.to_uppercase()).as_bytes(), "x").unwrap(),
            ROOT_CRL
        );
        let dates = crl_dates(ROOT_CRL, "root CA CRL").unwrap();
        assert!(dates.next_update.unwrap() > dates.this_update);
    }

    #[test]
    fn garbage_is_named() {
        let err = crl_der(b"<html>oops</html>", "PCK CRL").unwrap_err();
        assert!(err.to_string().starts_with("PCK CRL: neither DER"), "{err}");
        let err = crl_der(&[0x30, 0x03, 1, 2, 3], "PCK CRL").unwrap_err();
        assert!(err.to_string().contains("not an X.509 CRL"), "{err}");
    }
}
