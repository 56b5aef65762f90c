//! The simulated platform's quotes and collateral, checked directly with dcap-qvl (independent of
//! initra-verify): the PKI, CRLs, TCB info, QE identity and quote layout are what dcap-qvl expects.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use initra_attest::sim::{SimAttester, SimOptions, SimPlatform};
use initra_attest::{Attester, EnclaveIdentity};
use initra_evidence::Measurement;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn sim_quote_verifies_with_dcap_qvl_under_the_sim_root_only() {
    let dir = tempfile::tempdir().unwrap();
    let platform = SimPlatform::create(dir.path(), &SimOptions::default()).unwrap();
    let root = platform.root_ca_der().to_vec();
    let collateral: dcap_qvl::QuoteCollateralV3 =
        serde_json::from_str(&std::fs::read_to_string(platform.collateral_path()).unwrap())
            .unwrap();
    let identity = EnclaveIdentity::new(Measurement([0x11; 32]), platform.mr_signer());
    let attester = SimAttester::new(platform, identity).unwrap();
    let quote = attester.quote(&[0x5a; 64]).unwrap();

    let report = dcap_qvl::verify::QuoteVerifier::new(root)
        .verify(&quote, &collateral, now_secs())
        .unwrap();
    assert_eq!(report.status, "UpToDate");
    assert!(report.advisory_ids.is_empty());
    let enclave = report.report.as_sgx().unwrap();
    assert_eq!(enclave.mr_enclave, [0x11; 32]);
    assert_eq!(enclave.report_data, [0x5a; 64]);

    let err = dcap_qvl::verify::QuoteVerifier::new_prod()
        .verify(&quote, &collateral, now_secs())
        .unwrap_err();
    assert!(format!("{err:#}").contains("root"), "{err:#}");
}
