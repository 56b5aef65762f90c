//! The SEV-SNP sample reports of testdata parse with the field values its README states.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use initra_evidence::input::decode_evidence;
use initra_evidence::quote::Quote;
use initra_evidence::snp::{looks_like_snp_report, SigningKey, SnpReport, TcbLayout};
use initra_evidence::Error;

macro_rules! sample {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/", $p)
    };
}

fn load(path: &str) -> (Vec<u8>, SnpReport) {
    let bytes = decode_evidence(&std::fs::read(path).unwrap()).unwrap();
    let report = SnpReport::parse(&bytes).unwrap();
    (bytes, report)
}

#[test]
fn virtee_milan_report_hex() {
    let (bytes, r) = load(sample!("snp/virtee/report_milan.hex"));
    assert_eq!(bytes.len(), 1184);
    assert!(looks_like_snp_report(&bytes));
    assert_eq!((r.version, r.policy, r.vmpl), (2, 0x30000, 0));
    assert_eq!(r.reported_tcb.to_string(), "0300000000000873");
    let p = r.reported_tcb.parts(TcbLayout::MilanGenoa);
    assert_eq!((p.bootloader, p.tee, p.snp, p.microcode), (3, 0, 8, 0x73));
    assert_eq!(
        r.measurement.to_string(),
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
    );
    assert!(r.report_data.to_string().starts_with("d447b55d"));
    assert!(r.report_data.to_string().ends_with("ebfd"));
    assert!(r.chip_id.to_string().starts_with("d49554ec"));
    assert!(r.chip_id.to_string().ends_with("1eb6"));
    assert_eq!(r.signing_key, SigningKey::Vcek);
    assert!(!r.is_debug());
    assert_eq!(r.cpuid, None);
    assert_eq!(r.signed_bytes().len(), 0x2A0);
    assert!(r.signature_fixed_be().is_some());
}

#[test]
fn gosevguest_attestation_bin() {
    let (bytes, r) = load(sample!("snp/gosevguest/attestation.bin"));
    assert!(looks_like_snp_report(&bytes));
    assert_eq!((r.version, r.policy, r.vmpl), (2, 0xb0000, 0));
    assert_eq!(r.reported_tcb.to_string(), "0200000000000544");
    assert_eq!(
        r.measurement.to_string(),
        "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"
    );
    assert_eq!(&r.report_data.0[..6], &[1, 2, 3, 4, 5, 0]);
    assert!(r.report_data.0[5..].iter().all(|b| *b == 0));
    assert!(r.chip_id.to_string().starts_with("3ac3fe21"));
    assert!(r.chip_id.to_string().ends_with("6b5d"));
    // JSON has the documented field names.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["reported_tcb"], "0200000000000544");
    assert_eq!(v["signing_key"], "vcek");
}

#[test]
fn dcap_quotes_are_not_snp_reports_and_vice_versa() {
    let q = std::fs::read(sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin")).unwrap();
    assert!(!looks_like_snp_report(&q));
    let tdx = std::fs::read(sample!("tdx/dcapqvl-tdx-v4/tdx_quote.bin")).unwrap();
    assert!(!looks_like_snp_report(&tdx));
    let (bytes, _) = load(sample!("snp/gosevguest/attestation.bin"));
    assert!(Quote::parse(&bytes).is_err());
}

#[test]
fn padding_truncation_and_bad_fields() {
    let (mut bytes, r) = load(sample!("snp/gosevguest/attestation.bin"));
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 100]);
    assert_eq!(SnpReport::parse(&padded).unwrap(), r);
    padded.push(1);
    assert!(matches!(
        SnpReport::parse(&padded),
        Err(Error::TrailingData {
            quote_len: 1184,
            ..
        })
    ));
    let e = SnpReport::parse(&bytes[..700]).unwrap_err().to_string();
    assert!(e.starts_with("snp.signature.r: truncated"), "{e}");
    bytes[0x34] = 2;
    let e = SnpReport::parse(&bytes).unwrap_err().to_string();
    assert_eq!(
        e,
        "snp.signature_algo: expected 1 (ECDSA P-384 SHA-384), got 2"
    );
    bytes[0] = 9;
    let e = SnpReport::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("SNP report version 9"), "{e}");
}
