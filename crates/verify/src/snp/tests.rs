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
    assert!(e.contains("is none of the trusted ARKs for milan"), "{e}");
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
    assert!(
        e.starts_with("SNP validity: VCEK valid notBefore 2023-"),
        "{e}"
    );
    assert!(
        e.ends_with("verification time 2023-01-01T00:00:00Z is outside (not yet valid)"),
        "{e}"
    );
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
        reason(format!(r#"{{"identities": [{{"tee": "snp", "measurement": "{m}", "host_data": "0000000000000000000000000000000000000000000000000000000000000001"}}]}}"#)),
        "identities[0]: host_data expected 0000000000000000000000000000000000000000000000000000000000000001 got 0000000000000000000000000000000000000000000000000000000000000000"
    );
    assert_eq!(
        reason(format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{m}", "min_reported_tcb": {{"bootloader": 3, "tee": 0, "snp": 9, "microcode": 115}}}}]}}"#
        )),
        "identities[0]: reported_tcb snp 8 < required 9"
    );
    assert_eq!(
        reason(format!(r#"{{"identities": [{{"tee": "snp", "measurement": "{m}", "vmpl": 1, "policy_set": "0x100000"}}]}}"#)),
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
    let no_code = "policy p.json: identities[0]: pins no code: an SNP identity needs measurement, \
                   or a non-zero id_key_digest or author_key_digest (host_data, vmpl, family_id \
                   and image_id are chosen by the host) (write \"identities\": \"any\" to accept any)";
    assert_eq!(e(r#"{"identities": [{"tee": "snp"}]}"#), no_code);
    // A guest without an ID block reports all-zero digests: pinning zero pins nothing.
    let zero = "00".repeat(48);
    for key in ["id_key_digest", "author_key_digest"] {
        assert_eq!(
            e(&format!(
                r#"{{"identities": [{{"tee": "snp", "{key}": "{zero}"}}]}}"#
            )),
            no_code
        );
    }
    assert!(policy(&format!(
        r#"{{"identities": [{{"tee": "snp", "id_key_digest": "{}"}}]}}"#,
        "ab".repeat(48)
    ))
    .may_admit("snp"));
    // Contradictions and impossible values are configuration errors, not rules nothing matches.
    assert_eq!(
        e(&format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{zero}", "policy_set": "0x40000", "policy_clear": "0x50000"}}]}}"#
        )),
        "policy p.json: identities[0]: policy_set and policy_clear both name bits 0x40000 (nothing could match)"
    );
    assert_eq!(
        e(&format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{zero}", "platform_info_set": 1, "platform_info_clear": 1}}]}}"#
        )),
        "policy p.json: identities[0]: platform_info_set and platform_info_clear both name bits 0x1 (nothing could match)"
    );
    assert_eq!(
        e(&format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{zero}", "vmpl": 4}}]}}"#
        )),
        "policy p.json: identities[0].vmpl: expected 0..=3, got 4"
    );
    // Fields the host chooses do not pin the guest's code.
    assert_eq!(
        e(
            r#"{"identities": [{"tee": "snp", "vmpl": 0, "host_data": "0000000000000000000000000000000000000000000000000000000000000000"}]}"#
        ),
        no_code
    );
    assert_eq!(
        e(
            r#"{"identities": [{"tee": "snp", "family_id": "00000000000000000000000000000000", "min_guest_svn": 1}]}"#
        ),
        no_code
    );
    // An explicit null is an error, not an unchecked field (a template variable left empty).
    assert_eq!(
        e(r#"{"identities": [{"tee": "snp", "measurement": null, "vmpl": 0}]}"#),
        "policy p.json: identities[0].measurement: expected a string, got null"
    );
    assert_eq!(
        e(
            r#"{"identities": [{"tee": "snp", "author_key_digest": "00", "min_reported_tcb": null}]}"#
        ),
        "policy p.json: identities[0].author_key_digest: expected 48 bytes of hex, got 1"
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
        r#"{"identities": "any", "secrets": {"k": {"allow": [{"tee": "snp", "vmpl": 0,
            "measurement": "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"}]},
            "s": {"allow": [{"tee": "sgx", "mr_signer": "00000000000000000000000000000000000000000000000000000000000000ff", "isv_prod_id": 1}]}}}"#,
    );
    let v = verifier(p.clone()).verify(&raw, &c, None, at()).unwrap();
    assert!(p.secret_access_snp("k", &v.claims).is_ok());
    let e = p.secret_access_snp("s", &v.claims).unwrap_err().to_string();
    assert_eq!(
        e,
        "secret \"s\": access denied: secrets.s.allow[0]: tee expected sgx got snp"
    );
}

#[test]
fn snp_rules_default_to_vmpl_0_and_no_migration_agent() {
    let (raw, _) = virtee();
    let report = initra_evidence::snp::SnpReport::parse(&raw).unwrap();
    let m = report.measurement.to_string();
    let rule = |extra: &str| {
        policy(&format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{m}"{extra}}}]}}"#
        ))
    };
    let base = SnpClaims::from_report(&report, SnpProduct::Milan);
    assert!(rule("").evaluate_snp(&base).is_accepted());

    let mut vmpl2 = base.clone();
    vmpl2.vmpl = 2;
    assert_eq!(
        rule("").evaluate_snp(&vmpl2).reason(),
        Some("identities[0]: vmpl expected 0 (the default; set vmpl to accept another) got 2")
    );
    assert!(rule(r#", "vmpl": 2"#).evaluate_snp(&vmpl2).is_accepted());

    let mut ma = base;
    ma.policy |= initra_evidence::snp::POLICY_MIGRATE_MA;
    assert_eq!(
        rule("").evaluate_snp(&ma).reason(),
        Some(
            "identities[0]: policy 0x70000: bit 0x40000 (MIGRATE_MA) set; a migration agent can \
             export guest memory (accept it with policy_set \"0x40000\")"
        )
    );
    assert!(rule(r#", "policy_set": "0x40000""#)
        .evaluate_snp(&ma)
        .is_accepted());
    assert!(rule(r#", "policy": "0x70000""#)
        .evaluate_snp(&ma)
        .is_accepted());
}

#[test]
fn turin_reports_need_an_fmc_minimum() {
    let (raw, _) = virtee();
    let report = initra_evidence::snp::SnpReport::parse(&raw).unwrap();
    let m = report.measurement.to_string();
    let mut turin = SnpClaims::from_report(&report, SnpProduct::Milan);
    turin.reported_tcb_parts.fmc = Some(1);
    let tcb = r#""bootloader": 3, "tee": 0, "snp": 8, "microcode": 115"#;
    let with = |fmc: &str| {
        policy(&format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{m}", "min_reported_tcb": {{{tcb}{fmc}}}}}]}}"#
        ))
    };
    assert_eq!(
        with("").evaluate_snp(&turin).reason(),
        Some("identities[0]: reported_tcb fmc 1: min_reported_tcb has no fmc (required for Turin reports)")
    );
    assert!(with(r#", "fmc": 1"#).evaluate_snp(&turin).is_accepted());
    assert_eq!(
        with(r#", "fmc": 2"#).evaluate_snp(&turin).reason(),
        Some("identities[0]: reported_tcb fmc 1 < required 2")
    );
}

// --- The simulated SNP platform (testdata/sim-snp) and AMD CRLs -------------------------------

macro_rules! sim {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sim-snp/", $p)
    };
}

fn sim_ark() -> Vec<u8> {
    std::fs::read(sim!("ark.der")).unwrap()
}

fn sim_collateral() -> SnpCollateral {
    collateral(sim!("vcek.der"), sim!("cert_chain.pem"))
}

/// Signs `report` bytes `0..0x2A0` with the test VCEK key and stores r, s as AMD does (72 bytes
/// each, little-endian). Built here with ring rather than with `initra_attest::sim::snp` (which
/// dev-depends on this crate); crates/attest/tests/sim_snp.rs covers that producer end to end.
fn sign_with_sim_vcek(report: &mut [u8]) {
    use ring::signature::{EcdsaKeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let key = std::fs::read(sim!("vcek.key")).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &key, &rng).unwrap();
    let sig = key.sign(&rng, &report[..0x2A0]).unwrap();
    let (r, s) = sig.as_ref().split_at(48);
    for (offset, component) in [(0x2A0, r), (0x2E8, s)] {
        let dst = &mut report[offset..offset + 72];
        dst.fill(0);
        for (d, b) in dst.iter_mut().zip(component.iter().rev()) {
            *d = *b;
        }
    }
}

/// The virtee report (its reported_tcb 0300000000000873 is what the test VCEK certifies) with
/// the test chip's id and a new measurement, signed by the test VCEK.
fn sim_report() -> Vec<u8> {
    let (mut raw, _) = virtee();
    let vcek = std::fs::read(sim!("vcek.der")).unwrap();
    let cert = certs::AmdCert::parse("VCEK", &vcek).unwrap();
    let info = VcekInfo::from_cert(&cert, SnpProduct::Milan.tcb_layout()).unwrap();
    raw[0x1A0..0x1E0].copy_from_slice(info.hwid.as_deref().unwrap());
    raw[0x90..0xC0].fill(0x5a);
    sign_with_sim_vcek(&mut raw);
    raw
}

fn sim_verifier() -> SnpVerifier {
    let roots = SnpRoots::amd()
        .with_ark(SnpProduct::Milan, sim_ark())
        .unwrap();
    SnpVerifier::new(roots, Arc::new(Policy::default()))
}

#[test]
fn sim_report_verifies_only_under_the_test_ark() {
    let raw = sim_report();
    let c = sim_collateral();
    let v = sim_verifier().verify(&raw, &c, None, at()).unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert_eq!(v.claims.product, SnpProduct::Milan);
    assert_eq!(v.claims.measurement.0, [0x5a; 48]);
    assert_eq!(v.claims.reported_tcb.to_string(), "0300000000000873");
    assert_eq!(
        v.vcek.hwid.as_deref().map(hex::encode).unwrap(),
        "696e697472612d73696d2d736e702d6368697000000000000000000000000000\
         202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    );
    // Certificates are valid 2024-01-01 .. 2049-12-31: "now" needs no pinning.
    assert!(sim_verifier()
        .verify(&raw, &c, None, SystemTime::now())
        .is_ok());

    // AMD's roots only: the chain's ARK is not AMD's ARK-Milan.
    let e = err_of(verifier(Policy::default()).verify(&raw, &c, None, at()));
    assert_eq!(
        e,
        "SNP ark: the chain's ARK (OU=Engineering, C=US, O=initra TEST ONLY - not AMD, CN=ARK-Milan) is none of the trusted ARKs for milan: OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices, CN=ARK-Milan (Amd); a simulated platform's ARK is trusted only when given (--snp-sim-ark)"
    );
    // ... and without the ARK in the chain, the ASK does not verify under AMD's ARK.
    let ask_only = SnpCollateral::new(c.vcek, vec![std::fs::read(sim!("ask.der")).unwrap()]);
    let e = err_of(verifier(Policy::default()).verify(&raw, &ask_only, None, at()));
    assert!(e.starts_with("SNP chain: ASK issuer"), "{e}");
}

#[test]
fn sim_report_with_a_flipped_measurement_byte_fails_the_signature() {
    let mut raw = sim_report();
    raw[0x90] ^= 0x01;
    let e = err_of(sim_verifier().verify(&raw, &sim_collateral(), None, at()));
    assert_eq!(
        e,
        "SNP signature: report signature does not verify with the VCEK key (ECDSA P-384 SHA-384)"
    );
}

fn with_crl(file: &str) -> SnpCollateral {
    sim_collateral().with_crl_file(file.as_ref()).unwrap()
}

#[test]
fn crl_without_entries_accepts() {
    let v = sim_verifier()
        .verify(&sim_report(), &with_crl(sim!("crl.der")), None, at())
        .unwrap();
    assert!(v.is_accepted());
}

#[test]
fn crl_listing_the_ask_rejects_naming_the_serial() {
    let e = err_of(sim_verifier().verify(
        &sim_report(),
        &with_crl(sim!("crl_ask_revoked.der")),
        None,
        at(),
    ));
    assert_eq!(
        e,
        "SNP crl: ASK SEV-Milan (serial 0x010001) is revoked: listed in the ARK's CRL since \
         2024-01-01T00:00:00Z, reason KeyCompromise"
    );
}

#[test]
fn crl_listing_the_vcek_rejects_naming_the_serial() {
    let e = err_of(sim_verifier().verify(
        &sim_report(),
        &with_crl(sim!("crl_vcek_revoked.der")),
        None,
        at(),
    ));
    assert!(
        e.starts_with("SNP crl: VCEK SEV-VCEK (serial 0x0) is revoked"),
        "{e}"
    );
}

#[test]
fn crl_signed_by_another_key_rejects() {
    let e = err_of(sim_verifier().verify(
        &sim_report(),
        &with_crl(sim!("crl_other_key.der")),
        None,
        at(),
    ));
    assert_eq!(
        e,
        "SNP crl: CRL signature does not verify with the ARK key (RSA-PSS SHA-384)"
    );
}

#[test]
fn expired_crl_rejects_naming_next_update() {
    // Pinned 2025-06-01: the CRL's nextUpdate is 2024-02-01.
    let e = err_of(sim_verifier().verify(
        &sim_report(),
        &with_crl(sim!("crl_expired.der")),
        None,
        at(),
    ));
    assert_eq!(
        e,
        "SNP crl: CRL valid thisUpdate 2024-01-01T00:00:00Z .. nextUpdate 2024-02-01T00:00:00Z, \
         verification time 2025-06-01T00:00:00Z is outside (expired)"
    );
    // Inside its window (2024-01-15) it is accepted.
    let jan = SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_276_800);
    assert!(sim_verifier()
        .verify(&sim_report(), &with_crl(sim!("crl_expired.der")), None, jan)
        .is_ok());
}

#[test]
fn crl_of_another_ark_rejects_naming_the_issuer() {
    // The test ARK's CRL with AMD's chain: wrong issuer.
    let (raw, c) = virtee();
    let c = c.with_crl(std::fs::read(sim!("crl.der")).unwrap());
    let e = err_of(verifier(Policy::default()).verify(&raw, &c, None, at()));
    assert!(
        e.starts_with("SNP crl: CRL issuer \"OU=Engineering, C=US, O=initra TEST ONLY - not AMD, CN=ARK-Milan\" is not the ARK subject"),
        "{e}"
    );
}

#[test]
fn crl_file_may_be_pem_and_must_be_a_crl() {
    let dir = tempfile::tempdir().unwrap();
    let der = std::fs::read(sim!("crl_ask_revoked.der")).unwrap();
    let pem = format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der)
    );
    let path = dir.path().join("crl.pem");
    std::fs::write(&path, pem).unwrap();
    let c = sim_collateral().with_crl_file(&path).unwrap();
    assert_eq!(c.crl.as_deref(), Some(der.as_slice()));

    let e = sim_collateral()
        .with_crl_file(sim!("ark.der").as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("SNP crl: ") && e.contains("ark.der: not a DER X.509 CRL"),
        "{e}"
    );
    let e = sim_collateral()
        .with_crl_file(sim!("cert_chain.pem").as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("cert_chain.pem: expected one X509 CRL PEM block, found 0"),
        "{e}"
    );
    let e = sim_collateral()
        .with_crl_file(dir.path().join("missing.crl").as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.crl"), "{e}");
}

/// The operator's CRL (`SnpRoots::with_crl_file`, `--snp-crl`) applies to reports whose collateral
/// brings none (the RA-TLS certificate table never does).
#[test]
fn operator_crl_in_the_roots_applies_to_every_report_of_its_product() {
    let raw = sim_report();
    let roots = |crl: &str| {
        SnpRoots::amd()
            .with_simulated_ark(sim_ark())
            .unwrap()
            .with_crl_file(std::path::Path::new(crl))
            .unwrap()
    };
    let verify = |roots: SnpRoots| {
        SnpVerifier::new(roots, Arc::new(Policy::default())).verify(
            &raw,
            &sim_collateral(),
            None,
            at(),
        )
    };
    let ok = verify(roots(sim!("crl.der"))).unwrap();
    assert!(ok.is_accepted() && ok.simulated);
    let e = err_of(verify(roots(sim!("crl_ask_revoked.der"))));
    assert!(
        e.starts_with("SNP crl: ASK SEV-Milan (serial 0x010001) is revoked"),
        "{e}"
    );
    // Both apply: the collateral's empty CRL does not mask the operator's revocation.
    let e = err_of(
        SnpVerifier::new(
            roots(sim!("crl_vcek_revoked.der")),
            Arc::new(Policy::default()),
        )
        .verify(
            &raw,
            &sim_collateral()
                .with_crl_file(sim!("crl.der").as_ref())
                .unwrap(),
            None,
            at(),
        ),
    );
    assert!(e.contains("VCEK") && e.contains("revoked"), "{e}");
    // A CRL no trusted ARK issued is refused when configured, naming the file.
    let e = SnpRoots::amd()
        .with_crl_file(std::path::Path::new(sim!("crl.der")))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("crl.der") && e.contains("none of the trusted ARKs"),
        "{e}"
    );
}

/// A simulated ARK is trusted besides AMD's: genuine Milan reports still verify, labelled real.
#[test]
fn simulated_ark_is_added_not_substituted_and_amds_own_is_refused() {
    let roots = SnpRoots::amd().with_simulated_ark(sim_ark()).unwrap();
    let v = SnpVerifier::new(roots, Arc::new(Policy::default()));
    let (raw, c) = virtee();
    let real = v.verify(&raw, &c, None, at()).unwrap();
    assert!(real.is_accepted() && !real.simulated);
    assert_eq!(real.root, crate::RootKind::Amd);
    let sim = v
        .verify(&sim_report(), &sim_collateral(), None, at())
        .unwrap();
    assert!(sim.is_accepted() && sim.simulated);
    // Without the ARK in the chain, the intermediate's issuer picks the trusted ARK.
    let ask_only = SnpCollateral::new(c.vcek.clone(), vec![c.chain[0].clone()]);
    assert!(!v.verify(&raw, &ask_only, None, at()).unwrap().simulated);

    let amd_milan = SnpRoots::amd().ark(SnpProduct::Milan).unwrap().to_vec();
    let e = SnpRoots::amd()
        .with_simulated_ark(amd_milan)
        .unwrap_err()
        .to_string();
    assert!(e.contains("AMD's own ARK-Milan"), "{e}");
}

/// An operator CRL is checked when configured: a wrong signer is refused at once, an expired
/// one is reported by `check_crls_current`.
#[test]
fn operator_crl_is_checked_when_configured() {
    let sim_roots = || SnpRoots::amd().with_simulated_ark(sim_ark()).unwrap();
    let e = sim_roots()
        .with_crl_file(std::path::Path::new(sim!("crl_other_key.der")))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("crl_other_key.der") && e.contains("CRL signature does not verify"),
        "{e}"
    );
    let expired = sim_roots()
        .with_crl_file(std::path::Path::new(sim!("crl_expired.der")))
        .unwrap();
    let e = expired.check_crls_current(at()).unwrap_err().to_string();
    assert!(e.contains("expired at nextUpdate 2024-02-01"), "{e}");
    let current = sim_roots()
        .with_crl_file(std::path::Path::new(sim!("crl.der")))
        .unwrap();
    assert!(current.check_crls_current(at()).is_ok());
}

#[test]
fn cpuid_ranges_name_the_product_line() {
    let cases = [
        ((0x19, 0x01), Some(SnpProduct::Milan)),
        ((0x19, 0x11), Some(SnpProduct::Genoa)),
        ((0x19, 0xA0), Some(SnpProduct::Genoa)), // Bergamo / Siena
        ((0x1A, 0x02), Some(SnpProduct::Turin)),
        ((0x1A, 0x11), Some(SnpProduct::Turin)), // Turin dense
        ((0x19, 0x21), None),                    // a client part, not EPYC
        ((0x17, 0x31), None),                    // Rome: no SNP
    ];
    for ((family, model), want) in cases {
        assert_eq!(
            SnpProduct::from_cpuid(family, model),
            want,
            "{family:#x}/{model:#x}"
        );
    }
}

#[test]
fn platform_info_bits_can_be_required_set_or_clear() {
    let (raw, _) = virtee();
    let report = initra_evidence::snp::SnpReport::parse(&raw).unwrap();
    let m = report.measurement.to_string();
    let mut claims = SnpClaims::from_report(&report, SnpProduct::Milan);
    claims.platform_info = 0x3; // SMT and TSME enabled
    let rule = |extra: &str| {
        policy(&format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{m}", {extra}}}]}}"#
        ))
    };
    assert_eq!(
        rule(r#""platform_info_clear": "0x1""#)
            .evaluate_snp(&claims)
            .reason(),
        Some("identities[0]: platform_info 0x3: bits 0x1 set, platform_info_clear requires 0x1 clear")
    );
    assert_eq!(
        rule(r#""platform_info_set": "0x6""#)
            .evaluate_snp(&claims)
            .reason(),
        Some(
            "identities[0]: platform_info 0x3: bits 0x4 clear, platform_info_set requires 0x6 set"
        )
    );
    assert!(
        rule(r#""platform_info_set": 2, "platform_info_clear": "0x4""#)
            .evaluate_snp(&claims)
            .is_accepted()
    );
}

#[test]
fn identities_any_keeps_the_snp_defaults() {
    let (raw, _) = virtee();
    let report = initra_evidence::snp::SnpReport::parse(&raw).unwrap();
    let any = policy(r#"{"identities": "any"}"#);
    let mut claims = SnpClaims::from_report(&report, SnpProduct::Milan);
    assert!(any.evaluate_snp(&claims).is_accepted());
    claims.vmpl = 2;
    claims.policy |= initra_evidence::snp::POLICY_MIGRATE_MA;
    assert_eq!(
        any.evaluate_snp(&claims).reason(),
        Some(
            "identities \"any\": vmpl expected 0 (the default; set vmpl to accept another) got 2; \
             policy 0x70000: bit 0x40000 (MIGRATE_MA) set; a migration agent can export guest \
             memory (accept it with policy_set \"0x40000\")"
        )
    );
}
