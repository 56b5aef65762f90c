//! `initra ratls inspect` on SEV-SNP RA-TLS certificates (simulated SNP platform of
//! testdata/sim-snp), running the real binary: the text and `--json` forms, the report fields in
//! the same shape as `initra quote inspect --json`, and the endorsement extension, decodable or not.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::{Path, PathBuf};

use initra_attest::sim::snp::SimSnpPlatform;
use initra_attest::Attester as _;
use initra_evidence::ratls_ext::{encode_pubkey_hash_claims, encode_tagged_evidence, HashAlg};
use initra_ratls::{read_certificate, CertOptions, RaTlsIdentity};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};
use support::{code, initra, json, sample, text};

const SIM_SNP: &str = sample!("sim-snp");
/// The endorsement extension: TCG DICE endorsement manifest (docs/ratls.md).
const ENDORSEMENT_OID: &str = "2.23.133.5.4.2";

fn platform() -> SimSnpPlatform {
    SimSnpPlatform::load(Path::new(SIM_SNP)).unwrap()
}

/// A fresh SNP RA-TLS identity of the simulated platform, as `initra get-secret --sim-snp` makes.
fn snp_identity() -> RaTlsIdentity {
    RaTlsIdentity::generate(&platform(), &CertOptions::default()).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The length of the simulated platform's certificate table (VCEK, ASK, ARK).
fn cert_table_len() -> usize {
    platform()
        .evidence(&[0; 64])
        .unwrap()
        .endorsements
        .unwrap()
        .len()
}

#[test]
fn snp_cert_text_shows_report_fields_endorsements_and_binding() {
    let dir = tempfile::tempdir().unwrap();
    let id = snp_identity();
    let cert = write(dir.path(), "snp.der", id.cert_der());
    let o = initra(&["ratls", "inspect", cert.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("[evidence "), "{out}");
    assert!(out.contains("binding") && out.contains(": holds"), "{out}");
    // The SNP report's fields, as `quote inspect` names them.
    assert!(out.contains("  tee            snp\n"), "{out}");
    assert!(out.contains("  report_len     1184\n"), "{out}");
    assert!(out.contains("  signing_key    vcek\n"), "{out}");
    assert!(out.contains("  debug          false\n"), "{out}");
    // Guest policy and platform info as `quote inspect` prints them: hex strings.
    assert!(out.contains("  policy         0x30000\n"), "{out}");
    assert!(out.contains("  platform_info  0x1\n"), "{out}");
    assert!(
        out.contains(&format!(
            "[endorsements {ENDORSEMENT_OID}] SEV-SNP certificate table, {} bytes\n",
            cert_table_len()
        )),
        "{out}"
    );
    assert!(out.contains("\nbound            yes ("), "{out}");
}

#[test]
fn snp_cert_json_uses_the_quote_inspect_shape() {
    let dir = tempfile::tempdir().unwrap();
    let id = snp_identity();
    let cert = write(dir.path(), "snp.der", id.cert_der());
    let o = initra(&["ratls", "inspect", cert.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v = json(&o);
    assert_eq!(v["bound"], true);
    assert_eq!(
        v["endorsements"],
        serde_json::json!({ "oid": ENDORSEMENT_OID, "cert_table_len": cert_table_len() })
    );
    let ext = &v["extensions"][0];
    assert_eq!(ext["binding"]["holds"], true);
    assert_eq!(ext["quote_len"], 1184);
    // The report of the certificate, inspected on its own: the very same object.
    let report = write(dir.path(), "report.bin", id.quote());
    let o = initra(&["quote", "inspect", report.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let inspected = json(&o);
    assert_eq!(ext["quote"], inspected);
    // The QA finding: a string like "0x30000", and `debug` present.
    assert!(ext["quote"]["policy"].as_str().unwrap().starts_with("0x"));
    assert_eq!(ext["quote"]["debug"], false);
    assert_eq!(ext["quote"]["tee"], "snp");
}

/// A certificate with the same key and (bound) SNP evidence as `id`, but `endorsement` as the
/// contents of the endorsement extension.
fn cert_with_endorsement(id: &RaTlsIdentity, endorsement: &[u8]) -> Vec<u8> {
    let spki_sha256 = hex::decode(read_certificate(id.cert_der()).unwrap().spki_sha256).unwrap();
    let claims = encode_pubkey_hash_claims(HashAlg::Sha256, &spki_sha256);
    let key = KeyPair::try_from(id.key_der()).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "garbage endorsement");
    params.distinguished_name = dn;
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[2, 23, 133, 5, 4, 9],
            encode_tagged_evidence(id.quote(), &claims),
        ));
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[2, 23, 133, 5, 4, 2],
            endorsement.to_vec(),
        ));
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn an_undecodable_endorsement_extension_is_shown_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let der = cert_with_endorsement(&snp_identity(), b"\xffnot CBOR at all");
    let cert = write(dir.path(), "garbage.der", &der);
    let o = initra(&["ratls", "inspect", cert.to_str().unwrap()]);
    // The evidence is still bound: inspect reports the extension and succeeds.
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("[endorsements {ENDORSEMENT_OID}] undecodable: ")))
        .unwrap_or_else(|| panic!("no endorsements line: {out}"));
    assert!(line.contains("endorsement"), "{line}");
    assert!(out.contains("\nbound            yes ("), "{out}");

    let o = initra(&["ratls", "inspect", cert.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0);
    let v = json(&o);
    assert_eq!(v["endorsements"]["oid"], ENDORSEMENT_OID);
    assert!(v["endorsements"].get("cert_table_len").is_none(), "{v}");
    let error = v["endorsements"]["error"].as_str().unwrap();
    assert!(line.ends_with(error), "{line} / {error}");
}
