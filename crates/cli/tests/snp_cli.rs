//! `initra quote verify|inspect` on SEV-SNP reports, running the real binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::process::Output;

use support::{code, initra, json, sample};

const REPORT: &str = sample!("snp/virtee/report_milan.hex");
const VCEK: &str = sample!("snp/virtee/vcek_milan.der");
const CHAIN: &str = sample!("snp/virtee/cert_chain_milan.pem");
/// Inside every sample certificate's validity.
const AT: &str = "2025-06-01T00:00:00Z";
const MEASUREMENT: &str = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";

fn verify(report: &str, vcek: &str, chain: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "quote", "verify", report, "--vcek", vcek, "--chain", chain, "--at", AT, "--json",
    ];
    args.extend_from_slice(extra);
    initra(&args)
}

#[test]
fn milan_report_verifies_and_prints_the_verdict_shape() {
    let o = verify(REPORT, VCEK, CHAIN, &["--product", "milan"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["tee"], "snp");
    assert_eq!(v["measurement"], MEASUREMENT);
    assert_eq!(v["host_data"], "00".repeat(32));
    assert!(v["report_data"].as_str().unwrap().starts_with("d447b55d"));
    assert_eq!(v["policy"], "0x30000");
    assert_eq!(v["reported_tcb"], "0300000000000873");
    assert_eq!(v["reported_tcb_parts"]["microcode"], 0x73);
    assert_eq!(v["debug"], false);
    assert_eq!(v["simulated"], false);
    assert_eq!(v["product"], "milan");
    assert_eq!(v["product_name"], "Milan-B0");
    assert!(v["reason"].is_null());
    // Text output names the same fields.
    let o = initra(&[
        "quote", "verify", REPORT, "--vcek", VCEK, "--chain", CHAIN, "--at", AT,
    ]);
    assert_eq!(code(&o), 0);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("tee              snp"), "{text}");
}

#[test]
fn gosevguest_binary_report_verifies_and_debug_policy_decides() {
    let (r, vcek, chain) = (
        sample!("snp/gosevguest/attestation.bin"),
        sample!("snp/gosevguest/vcek.der"),
        sample!("snp/gosevguest/ask_ark_milan.pem"),
    );
    // Guest policy 0xb0000 allows debugging: rejected (1) unless --allow-debug.
    let o = verify(r, vcek, chain, &[]);
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert_eq!(v["rejected_by"], "debug");
    assert_eq!(
        v["reason"],
        "debug (guest policy bit 19) expected false got true; allow_debug is off"
    );
    let o = verify(r, vcek, chain, &["--allow-debug"]);
    assert_eq!(code(&o), 0);
}

#[test]
fn policy_rejection_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.json");
    std::fs::write(
        &policy,
        r#"{"identities": [{"tee": "snp", "vmpl": 0, "measurement": "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f", "min_reported_tcb": {"bootloader": 3, "tee": 0, "snp": 9, "microcode": 115}}]}"#,
    )
    .unwrap();
    let o = verify(REPORT, VCEK, CHAIN, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        json(&o)["reason"],
        "identities[0]: reported_tcb snp 8 < required 9"
    );
}

#[test]
fn tampered_report_wrong_product_and_wrong_chain_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = hex::decode(std::fs::read_to_string(REPORT).unwrap().trim()).unwrap();
    bytes[21] ^= 0x80;
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let o = verify(bad.to_str().unwrap(), VCEK, CHAIN, &[]);
    assert_eq!(code(&o), 2);
    let v = json(&o);
    assert_eq!(v["verdict"], "invalid");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("SNP signature: report signature does not verify"),
        "{v}"
    );

    let o = verify(REPORT, VCEK, CHAIN, &["--product", "turin"]);
    assert_eq!(code(&o), 2);
    assert!(json(&o)["reason"]
        .as_str()
        .unwrap()
        .contains("SNP product: expected turin, got milan"));

    let o = verify(
        REPORT,
        VCEK,
        sample!("snp/virtee/cert_chain_turin.pem"),
        &[],
    );
    assert_eq!(code(&o), 2);
    assert!(json(&o)["reason"]
        .as_str()
        .unwrap()
        .contains("is none of the trusted ARKs for milan"));

    let o = verify(REPORT, VCEK, CHAIN, &["--product", "rome"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown SEV-SNP product \"rome\""));
}

#[test]
fn flag_conflicts_are_reported() {
    let o = initra(&["quote", "verify", REPORT, "--at", AT]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs --vcek FILE and --chain FILE"));
    let sgx = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/sgx/dcapqvl-sgx-v3/sgx_quote.bin"
    );
    let o = initra(&["quote", "verify", sgx, "--vcek", VCEK, "--chain", CHAIN]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("--vcek, --chain and --product are for SEV-SNP reports"));
    let o = initra(&["quote", "verify", sgx]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("--collateral is required to verify an SGX quote"));
}

#[test]
fn inspect_shows_snp_fields() {
    let o = initra(&["quote", "inspect", REPORT, "--json"]);
    assert_eq!(code(&o), 0);
    let v = json(&o);
    assert_eq!(v["tee"], "snp");
    assert_eq!(v["version"], 2);
    assert_eq!(v["report_len"], 1184);
    assert_eq!(v["measurement"], MEASUREMENT);
    assert_eq!(v["policy"], "0x30000");
    assert_eq!(v["vmpl"], 0);
    assert_eq!(v["reported_tcb"], "0300000000000873");
    assert_eq!(v["signing_key"], "vcek");
    assert_eq!(v["debug"], false);
    assert!(v["chip_id"].as_str().unwrap().starts_with("d49554ec"));
    let o = initra(&[
        "quote",
        "inspect",
        sample!("snp/gosevguest/attestation.bin"),
    ]);
    assert_eq!(code(&o), 0);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("tee                      snp"), "{text}");
    assert!(text.contains("debug                    true"), "{text}");
}

#[test]
fn sgx_tdx_only_flags_on_an_snp_report_are_refused() {
    // Each would otherwise be ignored (or meaningless) for SEV-SNP: exit 2, naming the flag.
    let sgx_collateral = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/sgx/dcapqvl-sgx-v3/sgx_quote_collateral.json"
    );
    let cases: [(&[&str], &str); 4] = [
        (
            &["--accept-status", "OutOfDate"],
            "--accept-status is for SGX / TDX quotes; this is an SEV-SNP report (SEV-SNP has no \
             TCB status; set a floor with min_reported_tcb in a --policy identity)",
        ),
        (
            &["--max-collateral-age", "7d"],
            "--max-collateral-age is for SGX / TDX quotes; this is an SEV-SNP report (AMD's CRL \
             given with --crl is refused past its nextUpdate)",
        ),
        (
            &["--collateral", sgx_collateral],
            "--collateral and --root are for SGX / TDX quotes; this is an SEV-SNP report (use \
             --vcek and --chain, or --kds-url)",
        ),
        (
            &["--root", VCEK],
            "--collateral and --root are for SGX / TDX quotes",
        ),
    ];
    for (extra, message) in cases {
        let o = verify(REPORT, VCEK, CHAIN, extra);
        assert_eq!(code(&o), 2, "{extra:?}");
        let v = json(&o);
        assert_eq!(v["verdict"], "invalid");
        let reason = v["reason"].as_str().unwrap();
        assert!(reason.starts_with(REPORT), "{reason}");
        assert!(reason.contains(message), "{extra:?}: {reason}");
    }
}
