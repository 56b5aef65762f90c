//! The simulated enclave measurement (docs/simulated-platform.md, "Measurement").
//!
//! On hardware MRENCLAVE is computed by the CPU while the enclave's pages are loaded. The simulated
//! platform has no loader, so it measures what will run: the executable and its configuration files.
//! A changed byte in any of them changes MRENCLAVE, which a policy then rejects as on hardware.
//!
//! ```text
//! MRENCLAVE = SHA-256( "initra-sim-mrenclave-v1" || 0x00
//!                      || SHA-256(executable)
//!                      || u32le(number of config files)
//!                      || SHA-256(config_1) || ... || SHA-256(config_n) )
//! MRSIGNER  = SHA-256( DER SubjectPublicKeyInfo of the enclave signing key )
//! ```
//!
//! Config files are hashed in the order given; their names are not measured (moving a file does not
//! change the measurement, changing its content does).

use std::io::Read;
use std::path::Path;

use initra_evidence::Measurement;
use ring::digest;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};

use crate::Error;

/// Domain separator of the MRENCLAVE construction.
pub const MRENCLAVE_DOMAIN: &[u8] = b"initra-sim-mrenclave-v1\0";

/// Computes the simulated MRENCLAVE of `exe` and its `configs` (hashed in the given order).
pub fn measure_enclave(exe: &Path, configs: &[&Path]) -> Result<Measurement, Error> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(MRENCLAVE_DOMAIN);
    ctx.update(&hash_file(exe)?);
    let count = u32::try_from(configs.len()).map_err(|_| Error::InvalidValue {
        field: "configs",
        reason: format!("{} config files exceed u32", configs.len()),
    })?;
    ctx.update(&count.to_le_bytes());
    for config in configs {
        ctx.update(&hash_file(config)?);
    }
    Ok(measurement(ctx.finish()))
}

/// MRSIGNER of an enclave signed by the key whose DER SubjectPublicKeyInfo is `spki_der`.
///
/// Equal to `openssl pkey -pubin -in signer.pem -outform DER | sha256sum`.
pub fn mr_signer_of(spki_der: &[u8]) -> Measurement {
    measurement(digest::digest(&digest::SHA256, spki_der))
}

/// MRSIGNER for a signer given as a PEM file: a `PUBLIC KEY`, a `CERTIFICATE` (its key is used) or a
/// PKCS#8 `PRIVATE KEY` (its public half is used).
pub fn mr_signer_from_pem_file(path: &Path) -> Result<Measurement, Error> {
    let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    signer_spki_from_pem(&pem)
        .map(|spki| mr_signer_of(&spki))
        .map_err(|reason| Error::InvalidFile {
            path: path.to_path_buf(),
            what: "signer key (PEM)",
            reason,
        })
}

/// The DER SubjectPublicKeyInfo of a PEM public key, certificate or PKCS#8 private key.
pub(crate) fn signer_spki_from_pem(pem: &[u8]) -> Result<Vec<u8>, String> {
    if let Ok(spki) = SubjectPublicKeyInfoDer::from_pem_slice(pem) {
        return Ok(spki.as_ref().to_vec());
    }
    if let Ok(cert) = CertificateDer::from_pem_slice(pem) {
        return spki_of_certificate(&cert);
    }
    if let Ok(key) = PrivatePkcs8KeyDer::from_pem_slice(pem) {
        let pair = rcgen::KeyPair::try_from(&key).map_err(|e| e.to_string())?;
        return Ok(rcgen::PublicKeyData::subject_public_key_info(&pair));
    }
    Err("expected a PEM PUBLIC KEY, CERTIFICATE or PRIVATE KEY (PKCS#8)".to_owned())
}

/// Extracts the SubjectPublicKeyInfo of a DER certificate without a full X.509 parser: the
/// certificate is SEQUENCE { tbs SEQUENCE { [0] version, serial, sigalg, issuer, validity, subject,
/// spki, ... }, ... } and every element before the SPKI is skipped by its DER length.
fn spki_of_certificate(cert: &[u8]) -> Result<Vec<u8>, String> {
    let (_, cert_body, _) = der_element(cert).ok_or("certificate: bad outer SEQUENCE")?;
    let (_, tbs, _) = der_element(cert_body).ok_or("certificate: bad tbsCertificate")?;
    let mut rest = tbs;
    // Optional explicit version [0].
    if rest.first() == Some(&0xa0) {
        rest = der_element(rest).ok_or("certificate: bad version")?.2;
    }
    for field in ["serialNumber", "signature", "issuer", "validity", "subject"] {
        rest = der_element(rest)
            .ok_or_else(|| format!("certificate: bad {field}"))?
            .2;
    }
    let (whole, _, _) = der_element(rest).ok_or("certificate: bad subjectPublicKeyInfo")?;
    Ok(whole.to_vec())
}

/// Splits one DER element off `input`: (whole element, contents, rest).
fn der_element(input: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (&_tag, after_tag) = input.split_first()?;
    let (&first_len, after_len) = after_tag.split_first()?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2usize)
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len_bytes = after_len.get(..n)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some((whole, whole.get(header..)?, input.get(end..)?))
}

fn hash_file(path: &Path) -> Result<[u8; 32], Error> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        ctx.update(buf.get(..n).unwrap_or_default());
    }
    Ok(measurement(ctx.finish()).0)
}

fn measurement(d: digest::Digest) -> Measurement {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Measurement(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_matches_documentation() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("init");
        let cfg = dir.path().join("init_ra_conf.json");
        std::fs::write(&exe, b"\x7fELF fake").unwrap();
        std::fs::write(&cfg, b"{}").unwrap();

        let sha = |b: &[u8]| digest::digest(&digest::SHA256, b).as_ref().to_vec();
        let mut expected = MRENCLAVE_DOMAIN.to_vec();
        expected.extend(sha(b"\x7fELF fake"));
        expected.extend(1u32.to_le_bytes());
        expected.extend(sha(b"{}"));
        let got = measure_enclave(&exe, &[&cfg]).unwrap();
        assert_eq!(got.0.to_vec(), sha(&expected));

        // One changed byte of the config changes MRENCLAVE; so does dropping the config.
        std::fs::write(&cfg, b"{ }").unwrap();
        assert_ne!(measure_enclave(&exe, &[&cfg]).unwrap(), got);
        assert_ne!(measure_enclave(&exe, &[]).unwrap(), got);
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = measure_enclave(Path::new("/nonexistent/init"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/nonexistent/init: "), "{err}");
    }

    #[test]
    fn signer_from_public_key_certificate_and_private_key_agree() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let from_pub = signer_spki_from_pem(key.public_key_pem().as_bytes()).unwrap();
        let from_cert = signer_spki_from_pem(cert.pem().as_bytes()).unwrap();
        let from_priv = signer_spki_from_pem(key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(from_pub, spki);
        assert_eq!(from_cert, spki);
        assert_eq!(from_priv, spki);
        assert!(signer_spki_from_pem(b"not pem").is_err());
    }
}
