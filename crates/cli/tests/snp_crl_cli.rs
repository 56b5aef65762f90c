//! `initra quote verify --crl`: AMD's ARK-signed CRL for SEV-SNP reports, running the real binary.

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
/// Signed by the TEST ARK of testdata/sim-snp, not by AMD's ARK-Milan.
const TEST_ARK_CRL: &str = sample!("sim-snp/crl.der");

fn verify_with_crl(crl: &str) -> Output {
    initra(&[
        "quote", "verify", REPORT, "--vcek", VCEK, "--chain", CHAIN, "--crl", crl, "--at", AT,
        "--json",
    ])
}

fn reason(o: &Output) -> String {
    json(o)["reason"].as_str().unwrap().to_owned()
}

#[test]
fn crl_not_issued_by_the_chains_ark_is_invalid() {
    // The virtee report is valid without --crl ...
    let o = initra(&[
        "quote", "verify", REPORT, "--vcek", VCEK, "--chain", CHAIN, "--at", AT, "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    // ... but a CRL from another ARK (the test ARK) is not AMD's: invalid, exit 2.
    let o = verify_with_crl(TEST_ARK_CRL);
    assert_eq!(code(&o), 2);
    assert_eq!(json(&o)["verdict"], "invalid");
    let r = reason(&o);
    assert!(
        r.contains("SNP crl: CRL issuer \"OU=Engineering, C=US, O=initra TEST ONLY - not AMD, CN=ARK-Milan\" is not the ARK subject"),
        "{r}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("SNP crl"));
}

#[test]
fn crl_file_must_hold_a_crl() {
    // A certificate is not a CRL.
    let o = verify_with_crl(VCEK);
    assert_eq!(code(&o), 2);
    let r = reason(&o);
    assert!(
        r.contains("SNP crl: ") && r.contains("vcek_milan.der: not a DER X.509 CRL"),
        "{r}"
    );
    // A PEM file without an X509 CRL block.
    let o = verify_with_crl(CHAIN);
    assert_eq!(code(&o), 2);
    assert!(
        reason(&o).contains("cert_chain_milan.pem: expected one X509 CRL PEM block, found 0"),
        "{}",
        reason(&o)
    );
    let o = verify_with_crl("/nonexistent/amd.crl");
    assert_eq!(code(&o), 2);
    assert!(
        reason(&o).contains("/nonexistent/amd.crl"),
        "{}",
        reason(&o)
    );
}

#[test]
fn crl_is_for_snp_reports_only() {
    let sgx = sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin");
    let o = initra(&["quote", "verify", sgx, "--crl", TEST_ARK_CRL]);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--crl is AMD's CRL for SEV-SNP reports; this is an SGX quote"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A report of the simulated SNP platform, written to a temporary file.
fn sim_report(dir: &std::path::Path) -> String {
    use initra_attest::sim::snp::SimSnpPlatform;
    let platform = SimSnpPlatform::load(std::path::Path::new(sample!("sim-snp"))).unwrap();
    let raw = platform
        .report(&initra_evidence::ReportData([7; 64]))
        .unwrap();
    let path = dir.join("report.bin");
    std::fs::write(&path, raw).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn simulated_snp_report_verifies_under_its_ark_and_the_crl_decides() {
    let dir = tempfile::tempdir().unwrap();
    let report = sim_report(dir.path());
    let sim = |file: &str| format!("{}/{file}", sample!("sim-snp"));
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "quote".to_owned(),
            "verify".into(),
            report.clone(),
            "--vcek".into(),
            sim("vcek.der"),
            "--chain".into(),
            sim("cert_chain.pem"),
            "--json".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        initra(&args)
    };
    // AMD's ARKs only: invalid, naming the ARK.
    let o = verify(&[]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ARK"));
    // With the simulated ARK: accepted, labelled simulated; an empty CRL changes nothing.
    let ark = sim("ark.der");
    let crl = sim("crl.der");
    let o = verify(&["--snp-sim-ark", &ark, "--crl", &crl]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let j = json(&o);
    assert_eq!(j["tee"], "snp");
    assert_eq!(j["simulated"], true);
    assert_eq!(j["measurement"], "5a".repeat(48));
    // A CRL listing the ASK: invalid, naming the serial.
    let revoked = sim("crl_ask_revoked.der");
    let o = verify(&["--snp-sim-ark", &ark, "--crl", &revoked]);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("serial 0x010001") && err.contains("revoked"),
        "{err}"
    );
}

#[test]
fn an_unreadable_crl_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = verify_with_crl(d);
    assert_eq!(code(&o), 2);
    assert_eq!(
        reason(&o),
        format!("--crl {d}: is a directory, expected a file")
    );
    let missing = dir.path().join("missing.crl");
    let o = verify_with_crl(missing.to_str().unwrap());
    assert_eq!(code(&o), 2);
    let r = reason(&o);
    assert!(
        r.starts_with(&format!("--crl {}: ", missing.display())),
        "{r}"
    );
    // Other file flags likewise, before any work.
    let o = initra(&[
        "quote", "verify", REPORT, "--vcek", d, "--chain", CHAIN, "--at", AT,
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("initra: error: --vcek {d}: is a directory")),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A file that is no CRL is named with the flag too.
    let o = verify_with_crl(CHAIN);
    assert_eq!(code(&o), 2);
    assert!(reason(&o).starts_with("--crl: SNP crl: "), "{}", reason(&o));
}

/// `initra sim snp-report` writes a report that `quote verify` accepts under the simulated ARK
/// (labelled simulated) with the chosen measurement, and that a policy then decides on.
#[test]
fn sim_snp_report_command_round_trips_through_quote_verify() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.bin");
    let out_s = out.to_string_lossy().into_owned();
    let sim = sample!("sim-snp");
    let measurement = "ab".repeat(48);
    let o = initra(&[
        "sim",
        "snp-report",
        sim,
        "--report-data",
        "0x0102",
        "--measurement",
        &measurement,
        "-o",
        &out_s,
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SIMULATED SEV-SNP report"));
    let vcek = format!("{sim}/vcek.der");
    let chain = format!("{sim}/cert_chain.pem");
    let ark = format!("{sim}/ark.der");
    let o = initra(&[
        "quote",
        "verify",
        &out_s,
        "--vcek",
        &vcek,
        "--chain",
        &chain,
        "--snp-sim-ark",
        &ark,
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let j = json(&o);
    assert_eq!(j["measurement"], measurement);
    assert_eq!(j["simulated"], true);
    assert!(j["report_data"].as_str().unwrap().starts_with("0102000000"));
    // A bad measurement is named.
    let o = initra(&[
        "sim",
        "snp-report",
        sim,
        "--report-data",
        "00",
        "--measurement",
        "abcd",
        "-o",
        &out_s,
    ]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--measurement"));
}
