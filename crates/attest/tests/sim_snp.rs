//! The simulated SEV-SNP platform (`testdata/sim-snp`) end to end through
//! `initra_verify::SnpVerifier`: its reports verify only under the test ARK, are labelled simulated
//! when it is given as a simulated root, carry the guest options into the claims, and any flipped
//! signed byte breaks them.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use initra_attest::sim::snp::{SimSnpOptions, SimSnpPlatform};
use initra_attest::{Attester, Backend};
use initra_evidence::snp::CertTable;
use initra_evidence::{HostData, Measurement48};
use initra_verify::{Policy, RootKind, SnpCollateral, SnpProduct, SnpRoots, SnpVerifier};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sim-snp");

fn platform() -> SimSnpPlatform {
    SimSnpPlatform::load(Path::new(FIXTURE)).unwrap()
}

fn collateral(p: &SimSnpPlatform) -> SnpCollateral {
    SnpCollateral::from_cert_table(&CertTable::parse(&p.cert_table()).unwrap()).unwrap()
}

fn verifier(roots: SnpRoots, policy: Policy) -> SnpVerifier {
    SnpVerifier::new(roots, Arc::new(policy))
}

#[test]
fn sim_snp_report_verifies_under_the_test_ark_only() {
    let p = platform();
    assert_eq!(p.backend(), Backend::SimSnp);
    let raw = p.quote(&[0xab; 64]).unwrap();
    let c = collateral(&p);
    let now = SystemTime::now();

    let custom = SnpRoots::amd()
        .with_ark(SnpProduct::Milan, p.ark_der().to_vec())
        .unwrap();
    let v = verifier(custom, Policy::default())
        .verify(&raw, &c, None, now)
        .unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert_eq!(v.claims.product, SnpProduct::Milan);
    assert_eq!(v.claims.report_data.0, [0xab; 64]);
    assert_eq!(v.claims.measurement.0, [0x5a; 48]);
    assert_eq!(v.claims.reported_tcb.to_string(), "0300000000000873");
    assert_eq!(v.root, RootKind::Custom);

    let simulated = SnpRoots::amd()
        .with_simulated_ark(p.ark_der().to_vec())
        .unwrap();
    let v = verifier(simulated, Policy::default())
        .verify(&raw, &c, None, now)
        .unwrap();
    assert!(v.is_accepted());
    assert!(v.simulated);
    assert_eq!(v.to_json()["simulated"], true);

    let e = verifier(SnpRoots::amd(), Policy::default())
        .verify(&raw, &c, None, now)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "SNP ark: the chain's ARK (OU=Engineering, C=US, O=initra TEST ONLY - not AMD, CN=ARK-Milan) is none of the trusted ARKs for milan: OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices, CN=ARK-Milan (Amd); a simulated platform's ARK is trusted only when given (--snp-sim-ark)"
    );
}

#[test]
fn flipped_measurement_byte_breaks_the_signature() {
    let p = platform();
    let mut raw = p.quote(&[1; 64]).unwrap();
    raw[0x90] ^= 0x80;
    let roots = SnpRoots::amd()
        .with_simulated_ark(p.ark_der().to_vec())
        .unwrap();
    let e = verifier(roots, Policy::default())
        .verify(&raw, &collateral(&p), None, SystemTime::now())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "SNP signature: report signature does not verify with the VCEK key (ECDSA P-384 SHA-384)"
    );
}

#[test]
fn options_reach_the_claims_and_the_policy() {
    let opts = SimSnpOptions {
        measurement: Measurement48([0x42; 48]),
        host_data: HostData([7; 32]),
        debug: true,
        ..SimSnpOptions::default()
    };
    let p = platform().with_options(opts);
    let raw = p.quote(&[0; 64]).unwrap();
    let roots = SnpRoots::amd()
        .with_simulated_ark(p.ark_der().to_vec())
        .unwrap();
    // Debug guests are valid but rejected unless the policy allows debugging.
    let v = verifier(roots.clone(), Policy::default())
        .verify(&raw, &collateral(&p), None, SystemTime::now())
        .unwrap();
    assert!(!v.is_accepted());
    assert!(v.claims.debug);
    assert_eq!(v.claims.measurement.0, [0x42; 48]);
    assert_eq!(v.claims.host_data.0, [7; 32]);
    let v = verifier(roots, Policy::default().with_allow_debug(true))
        .verify(&raw, &collateral(&p), None, SystemTime::now())
        .unwrap();
    assert!(v.is_accepted());
}

#[test]
fn crl_of_the_test_ark_is_checked() {
    let p = platform();
    let raw = p.quote(&[3; 64]).unwrap();
    let roots = SnpRoots::amd()
        .with_simulated_ark(p.ark_der().to_vec())
        .unwrap();
    let v = verifier(roots, Policy::default());
    let ok = collateral(&p)
        .with_crl_file(&Path::new(FIXTURE).join("crl.der"))
        .unwrap();
    assert!(v
        .verify(&raw, &ok, None, SystemTime::now())
        .unwrap()
        .is_accepted());
    let revoked = collateral(&p)
        .with_crl_file(&Path::new(FIXTURE).join("crl_ask_revoked.der"))
        .unwrap();
    let e = v
        .verify(&raw, &revoked, None, SystemTime::now())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("SNP crl: ASK SEV-Milan (serial 0x010001) is revoked"),
        "{e}"
    );
}
