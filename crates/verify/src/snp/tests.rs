use std::sync::Arc;
use std::time::{Duration, SystemTime};

use initra_evidence::input::decode_evidence;

use super::*;
use crate::{Error, Policy};

macro_rules! sample {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/snp/", $p)
    };
}

/// 2025-06-01: inside every sample certificate's validity (Turin VCEK from 2024-11-06).
fn at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_736_000)
}

fn report(path: &str) -> Vec<u8> {
    decode_evidence(&std::fs::read(path).unwrap()).unwrap()
}

fn collateral(vcek: &str, chain: &str) -> SnpCollateral {
    SnpCollateral::from_files(vcek.as_ref(), chain.as_ref()).unwrap()
}

fn virtee() -> (Vec<u8>, SnpCollateral) {
    (
        report(sample!("virtee/report_milan.hex")),
        collateral(
            sample!("virtee/vcek_milan.der"),
            sample!("virtee/cert_chain_milan.pem"),
        ),
    )
}

fn gosevguest() -> (Vec<u8>, SnpCollateral) {
    (
        report(sample!("gosevguest/attestation.bin")),
        collateral(
            sample!("gosevguest/vcek.der"),
            sample!("gosevguest/ask_ark_milan.pem"),
        ),
    )
}

fn verifier(policy: Policy) -> SnpVerifier {
    SnpVerifier::new(SnpRoots::amd(), Arc::new(policy))
}

fn err_of(r: Result<SnpVerdict, Error>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn virtee_milan_report_verifies_with_its_chain() {
    let (raw, c) = virtee();
    let v = verifier(Policy::default())
        .verify(&raw, &c, Some(SnpProduct::Milan), at())
        .unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert_eq!(v.claims.product, SnpProduct::Milan);
    assert_eq!(v.vcek.product_name.as_deref(), Some("Milan-B0"));
    assert_eq!(v.claims.reported_tcb.to_string(), "0300000000000873");
    let j = v.to_json();
    assert_eq!(j["tee"], "snp");
    assert_eq!(j["verdict"], "accepted");
    assert_eq!(j["policy"], "0x30000");
    assert_eq!(j["debug"], false);
    assert_eq!(j["reported_tcb"], "0300000000000873");
    assert_eq!(j["reported_tcb_parts"]["snp"], 8);
    assert!(j["measurement"].as_str().unwrap().starts_with("7a1e5c26"));
    assert!(j["report_data"].as_str().unwrap().starts_with("d447b55d"));
    assert!(j["tcb_status"].is_null());
}

#[test]
fn product_is_taken_from_the_vcek_when_not_given() {
    let (raw, c) = virtee();
    let v = verifier(Policy::default())
        .verify(&raw, &c, None, at())
        .unwrap();
    assert_eq!(v.claims.product, SnpProduct::Milan);
}

#[test]
fn gosevguest_report_verifies_with_its_vcek_and_milan_chain() {
    let (raw, c) = gosevguest();
    // Guest policy 0xb0000 has bit 19 (debug) set: valid, but rejected unless debug is allowed.
    let v = verifier(Policy::default())
        .verify(&raw, &c, Some(SnpProduct::Milan), at())
        .unwrap();
    assert!(v.claims.debug);
    assert_eq!(v.to_json()["rejected_by"], "debug");
    let v = verifier(Policy::default().with_allow_debug(true))
        .verify(&raw, &c, Some(SnpProduct::Milan), at())
        .unwrap();
    assert!(v.is_accepted());
    assert_eq!(v.claims.reported_tcb_parts.microcode, 0x44);
    assert_eq!(v.claims.policy, 0xb0000);
}

#[test]
fn flipped_report_byte_fails_the_signature() {
    let (mut raw, c) = virtee();
    raw[21] ^= 0x80;
    let e = err_of(verifier(Policy::default()).verify(&raw, &c, None, at()));
    assert_eq!(
        e,
        "SNP signature: report signature does not verify with the VCEK key (ECDSA P-384 SHA-384)"
    );
}

#[test]
fn flipped_vcek_byte_fails() {
    let (raw, mut c) = virtee();
    c.vcek[40] ^= 0x01;
    let e = err_of(verifier(Policy::default()).verify(&raw, &c, None, at()));
    assert_eq!(
        e,
        "SNP chain: VCEK signature does not verify with the ASK key (RSA-PSS SHA-384)"
    );
}

#[test]
fn wrong_product_fails() {
    let (raw, c) = virtee();
    let e = err_of(verifier(Policy::default()).verify(&raw, &c, Some(SnpProduct::Turin), at()));
    assert_eq!(
        e,
        "SNP product: expected turin, got milan (VCEK productName Milan-B0)"
    );
    // The Milan report and VCEK against the Turin ASK / ARK.
    let turin = collateral(
        sample!("virtee/vcek_milan.der"),
        sample!("virtee/cert_chain_turin.pem"),
    );
    let e = err_of(verifier(Policy::default()).verify(&raw, &turin, None, at()));
    assert!(e.contains("is not the trusted ARK for milan"), "{e}");
    // Turin VCEK with the Milan report: product mismatch, or chain / TCB failure.
    let vcek_turin = collateral(
        sample!("virtee/vcek_turin.der"),
        sample!("virtee/cert_chain_turin.pem"),
    );
    let e = err_of(verifier(Policy::default()).verify(
        &raw,
        &vcek_turin,
        Some(SnpProduct::Milan),
        at(),
    ));
    assert_eq!(
        e,
        "SNP product: expected milan, got turin (VCEK productName Turin)"
    );
    let e = err_of(verifier(Policy::default()).verify(&raw, &vcek_turin, None, at()));
    assert!(e.starts_with("SNP signature"), "{e}");
}

#[test]
fn other_reports_vcek_fails() {
    // The go-sev-guest report with the virtee VCEK: different chip and key.
    let (raw, _) = gosevguest();
    let (_, c) = virtee();
    let e = err_of(verifier(Policy::default()).verify(&raw, &c, None, at()));
    assert!(e.starts_with("SNP signature"), "{e}");
}

#[test]
fn reported_tcb_must_match_the_vcek() {
    // Re-signing is impossible, so check the comparison directly.
    let (raw, _) = gosevguest();
    let mut report = initra_evidence::snp::SnpReport::parse(&raw).unwrap();
    let vcek = std::fs::read(sample!("virtee/vcek_milan.der")).unwrap();
    let cert = certs::AmdCert::parse("VCEK", &vcek).unwrap();
    let info = VcekInfo::from_cert(&cert, SnpProduct::Milan.tcb_layout()).unwrap();
    assert_eq!(info.tcb.snp, 8);
    let e = verifier::tests_check_tcb(&report, &info)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "SNP reported_tcb: bootloader: VCEK certifies 3, report has 2"
    );
    report.reported_tcb = info.tcb_version(SnpProduct::Milan.tcb_layout());
    assert!(verifier::tests_check_tcb(&report, &info).is_ok());
}

#[test]
fn outside_validity_fails() {
    let (raw, c) = virtee();
    // 2023-01-01: before the VCEK's notBefore (2023-04-03).
    let early = SystemTime::UNIX_EPOCH + Duration::from_secs(1_672_531_200);
    let e = err_of(verifier(Policy::default()).verify(&raw, &c, None, early));
    assert!(e.starts_with("SNP validity: VCEK valid"), "{e}");
}

#[test]
fn builtin_arks_are_self_signed() {
    for p in SnpProduct::ALL {
        let der = SnpRoots::amd().ark(p).unwrap().to_vec();
        let ark = certs::AmdCert::parse("ARK", &der).unwrap();
        ark.verify_issued_by(&ark).unwrap();
        assert_eq!(ark.common_name(), format!("ARK-{}", p.amd_name()));
    }
}

fn policy(text: &str) -> Policy {
    Policy::from_bytes(text.as_bytes(), "test").unwrap()
}

#[test]
fn snp_policy_fields() {
    let (raw, c) = virtee();
    let m = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";
    let ok = policy(&format!(
        r#"{{"identities": [{{"tee": "snp", "measurement": "{m}", "vmpl": 0, "policy_clear": "0x80000",
             "min_reported_tcb": {{"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}}}}]}}"#
    ));
    assert!(verifier(ok)
        .verify(&raw, &c, None, at())
        .unwrap()
        .is_accepted());

    let reason = |text: String| {
        verifier(policy(&text))
            .verify(&raw, &c, None, at())
            .unwrap()
            .decision
            .reason()
            .unwrap()
            .to_owned()
    };
    let other = "ab".repeat(48);
    assert_eq!(
        reason(format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{other}"}}]}}"#
        )),
        format!("identities[0]: measurement expected {other} got {m}")
    );
    assert_eq!(
        reason(r#"{"identities": [{"tee": "snp", "host_data": "0000000000000000000000000000000000000000000000000000000000000001"}]}"#.into()),
        "identities[0]: host_data expected 0000000000000000000000000000000000000000000000000000000000000001 got 0000000000000000000000000000000000000000000000000000000000000000"
    );
    assert_eq!(
        reason(r#"{"identities": [{"tee": "snp", "min_reported_tcb": {"bootloader": 3, "tee": 0, "snp": 9, "microcode": 115}}]}"#.into()),
        "identities[0]: reported_tcb snp 8 < required 9"
    );
    assert_eq!(
        reason(r#"{"identities": [{"tee": "snp", "vmpl": 1, "policy_set": "0x100000"}]}"#.into()),
        "identities[0]: vmpl expected 1 got 0; policy 0x30000: bits 0x100000 clear, policy_set requires 0x100000 set"
    );
    assert_eq!(
        reason(r#"{"identities": [{"tee": "sgx", "mr_enclave": "0000000000000000000000000000000000000000000000000000000000000000"}]}"#.into()),
        "identities[0]: tee expected sgx got snp"
    );
}

#[test]
fn snp_debug_guest_is_rejected_unless_allowed() {
    let (raw, c) = virtee();
    let mut report = initra_evidence::snp::SnpReport::parse(&raw).unwrap();
    report.policy |= initra_evidence::snp::POLICY_DEBUG;
    let claims = SnpClaims::from_report(&report, SnpProduct::Milan);
    assert!(claims.debug);
    let d = Policy::default().evaluate_snp(&claims);
    assert_eq!(
        d.reason(),
        Some("debug (guest policy bit 19) expected false got true; allow_debug is off")
    );
    assert!(Policy::default()
        .with_allow_debug(true)
        .evaluate_snp(&claims)
        .is_accepted());
    let _ = c;
}

#[test]
fn snp_policy_config_errors_name_the_field() {
    let e = |t: &str| {
        Policy::from_bytes(t.as_bytes(), "p.json")
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        e(r#"{"identities": [{"tee": "snp", "measurement": "abcd"}]}"#),
        "policy p.json: identities[0].measurement: expected 48 bytes of hex, got 2"
    );
    assert_eq!(
        e(r#"{"identities": [{"tee": "snp", "min_reported_tcb": {"bootloader": 1}}]}"#),
        "policy p.json: identities[0].min_reported_tcb.tee: missing (0..=255)"
    );
    assert_eq!(
        e(r#"{"identities": [{"tee": "snp", "policy_clear": "zz"}]}"#),
        "policy p.json: identities[0].policy_clear: expected an integer (number, or string \"0x..\"), got \"zz\""
    );
    assert_eq!(
        e(r#"{"identities": [{"tee": "snp"}]}"#),
        "policy p.json: identities[0]: no field to check (an identity must constrain something; use \"identities\": \"any\")"
    );
    assert_eq!(
        e(r#"{"identities": [{"tee": "snp", "mesurement": "00"}]}"#),
        "policy p.json: identities[0]: unknown field(s) mesurement"
    );
}

#[test]
fn secret_access_for_snp_peers() {
    let (raw, c) = virtee();
    let p = policy(
        r#"{"identities": "any", "secrets": {"k": {"allow": [{"tee": "snp", "vmpl": 0}]},
            "s": {"allow": [{"tee": "sgx", "isv_prod_id": 1}]}}}"#,
    );
    let v = verifier(p.clone()).verify(&raw, &c, None, at()).unwrap();
    assert!(p.secret_access_snp("k", &v.claims).is_ok());
    let e = p.secret_access_snp("s", &v.claims).unwrap_err().to_string();
    assert_eq!(
        e,
        "secret \"s\": access denied: secrets.s.allow[0]: tee expected sgx got snp"
    );
}
