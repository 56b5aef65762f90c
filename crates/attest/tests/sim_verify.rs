//! The simulated platform end to end through `initra_verify::Verifier` (the production verification
//! path): accepted only under the simulated root, labelled simulated; every byte of the quote is
//! covered by a signature, a hash or a parse check.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::SystemTime;

use initra_attest::sim::{SimAttester, SimOptions, SimPlatform};
use initra_attest::{Attester, Backend, EnclaveIdentity};
use initra_evidence::{Measurement, Quote};
use initra_verify::{Collateral, Policy, RootKind, StaticCollateral, TrustRoots, Verifier};

struct Fixture {
    _dir: tempfile::TempDir,
    platform_dir: std::path::PathBuf,
    attester: SimAttester,
    root: Vec<u8>,
    collateral: Arc<StaticCollateral>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let platform_dir = dir.path().join("sim");
    let platform = SimPlatform::create(&platform_dir, &SimOptions::default()).unwrap();
    let root = platform.root_ca_der().to_vec();
    let collateral = Arc::new(StaticCollateral::single(
        Collateral::from_json_file(platform.collateral_path()).unwrap(),
    ));
    let identity = EnclaveIdentity::new(Measurement([0x11; 32]), platform.mr_signer());
    let attester = SimAttester::new(platform, identity).unwrap();
    Fixture {
        _dir: dir,
        platform_dir,
        attester,
        root,
        collateral,
    }
}

fn verifier(roots: TrustRoots, collateral: Arc<StaticCollateral>) -> Verifier {
    Verifier::new(roots, collateral, Arc::new(Policy::default()))
}

#[test]
fn sim_quote_is_accepted_under_the_simulated_root_and_labelled_simulated() {
    let f = fixture();
    assert_eq!(f.attester.backend(), Backend::Sim);
    let quote = f.attester.quote(&[0xab; 64]).unwrap();
    let roots = TrustRoots::intel()
        .with_root(f.root.clone(), RootKind::Simulated)
        .unwrap();
    let verdict = verifier(roots, f.collateral)
        .verify(&quote, SystemTime::now())
        .unwrap();
    assert!(verdict.is_accepted(), "{:?}", verdict.decision);
    assert!(verdict.simulated);
    assert_eq!(verdict.root, RootKind::Simulated);
    assert_eq!(format!("{:?}", verdict.tcb_status), "UpToDate");
    assert!(verdict.advisory_ids.is_empty());
    let json = verdict.to_json();
    assert_eq!(json["simulated"], true);
    assert_eq!(json["mr_enclave"], "11".repeat(32));
    assert_eq!(json["report_data"], "ab".repeat(64));
    assert_eq!(json["debug"], false);
}

#[test]
fn intel_roots_alone_reject_the_sim_quote_naming_the_untrusted_root() {
    let f = fixture();
    let quote = f.attester.quote(&[0; 64]).unwrap();
    let err = verifier(TrustRoots::intel(), f.collateral)
        .verify(&quote, SystemTime::now())
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("untrusted root"), "{msg}");
    assert!(msg.contains("initra SIMULATED SGX Root CA"), "{msg}");
}

#[test]
fn quote_fields_are_what_the_identity_says() {
    let f = fixture();
    let mut id = f.attester.identity().clone();
    id.isv_prod_id = 7;
    id.isv_svn = 88;
    id.config_svn = 1234;
    id.debug = true;
    let platform = SimPlatform::load(&f.platform_dir).unwrap();
    let attester = SimAttester::new(platform, id.clone()).unwrap();
    let raw = attester.quote(&[3; 64]).unwrap();
    let quote = Quote::parse(&raw).unwrap();
    let initra_evidence::QuoteBody::Sgx(report) = quote.body() else {
        panic!("not SGX")
    };
    assert_eq!(report.mr_enclave, id.mr_enclave);
    assert_eq!(report.mr_signer, id.mr_signer);
    assert_eq!(
        (report.isv_prod_id, report.isv_svn, report.config_svn),
        (7, 88, 1234)
    );
    assert!(quote.is_debug());
    assert_eq!(quote.report_data().as_bytes(), &[3; 64]);

    // A debug enclave verifies cryptographically but the default policy rejects it.
    let roots = TrustRoots::empty()
        .with_root(f.root.clone(), RootKind::Simulated)
        .unwrap();
    let verdict = verifier(roots, f.collateral)
        .verify(&raw, SystemTime::now())
        .unwrap();
    assert!(!verdict.is_accepted());
    assert!(
        verdict.decision.reason().unwrap().contains("debug"),
        "{:?}",
        verdict.decision
    );
}

#[test]
fn collateral_outside_its_window_is_rejected() {
    let f = fixture();
    let quote = f.attester.quote(&[0; 64]).unwrap();
    let roots = TrustRoots::empty()
        .with_root(f.root.clone(), RootKind::Simulated)
        .unwrap();
    let v = verifier(roots, f.collateral);
    let day = std::time::Duration::from_secs(86_400);
    assert!(v.verify(&quote, SystemTime::now() + 31 * day).is_err());
    assert!(v.verify(&quote, SystemTime::now() - 2 * day).is_err());
    assert!(v
        .verify(&quote, SystemTime::now() + 29 * day)
        .unwrap()
        .is_accepted());
}

#[test]
fn renewed_collateral_verifies_later() {
    let f = fixture();
    let quote = f.attester.quote(&[0; 64]).unwrap();
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(60);
    let mut platform = SimPlatform::load(&f.platform_dir).unwrap();
    platform
        .renew_collateral(&SimOptions {
            validity_days: 30,
            now: Some(later),
        })
        .unwrap();
    let collateral = Arc::new(StaticCollateral::single(
        Collateral::from_json_file(platform.collateral_path()).unwrap(),
    ));
    let roots = TrustRoots::empty()
        .with_root(f.root, RootKind::Simulated)
        .unwrap();
    let verdict = verifier(roots, collateral)
        .verify(&quote, later.into())
        .unwrap();
    assert!(verdict.is_accepted(), "{:?}", verdict.decision);
}

/// Flips one bit at each offset of `quote` and returns the offsets whose tampered quote is still
/// accepted.
fn surviving_flips(v: &Verifier, quote: &[u8], now: SystemTime) -> Vec<usize> {
    let mut survived = Vec::new();
    for offset in 0..quote.len() {
        let mut tampered = quote.to_vec();
        tampered[offset] ^= 0x01;
        if v.verify(&tampered, now)
            .is_ok_and(|verdict| verdict.is_accepted())
        {
            survived.push(offset);
        }
    }
    survived
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Offset where the PEM PCK chain starts (after the certification data type and size).
const PEM_START: usize = 48 + 384 + 4 + 64 + 64 + 384 + 64 + 2 + 32 + 2 + 4;

/// Walks every byte offset of the signed regions (header, report body) and of the signature data up
/// to the PCK chain (ISV signature, attestation key, QE report, QE report signature, QE auth data,
/// certification data header): each flip must make verification fail or reject.
#[test]
fn tamper_sweep_signed_regions_and_signature_data() {
    let f = fixture();
    let quote = f.attester.quote(&[0x42; 64]).unwrap();
    let roots = TrustRoots::empty()
        .with_root(f.root.clone(), RootKind::Simulated)
        .unwrap();
    let v = verifier(roots, f.collateral);
    let now = SystemTime::now();
    assert!(v.verify(&quote, now).unwrap().is_accepted());
    let survived = surviving_flips(&v, &quote[..PEM_START], now);
    assert!(
        survived.is_empty(),
        "flips at {survived:?} of {PEM_START} still verified"
    );
}

/// Walks every byte of the PEM PCK chain. Flips inside the leaf and PCK CA certificates break their
/// signatures. Flips in the root's copy and in PEM framing (line breaks, BEGIN/END lines, the NUL
/// terminator) do not change a certificate the path uses; they must fail too, which requires
/// initra-verify to demand (a) a chain ending in a byte-identical configured root and (b) canonical
/// PEM framing. Until both land, this test pins which bytes are not yet covered.
#[test]
fn tamper_sweep_pck_chain_pem_leaf_and_ca_are_covered() {
    let f = fixture();
    let quote = f.attester.quote(&[0x42; 64]).unwrap();
    let roots = TrustRoots::empty()
        .with_root(f.root.clone(), RootKind::Simulated)
        .unwrap();
    let v = verifier(roots, f.collateral);
    let now = SystemTime::now();
    let survived = surviving_flips(&v, &quote, now);

    let begins = find_all(&quote, b"-----BEGIN CERTIFICATE-----");
    let ends = find_all(&quote, b"-----END CERTIFICATE-----");
    assert_eq!((begins.len(), ends.len()), (3, 3));
    let root_copy = begins[2]..quote.len();
    let framing = |o: usize| {
        quote[o] == b'\n'
            || begins.iter().any(|b| (*b..b + 27).contains(&o))
            || ends.iter().any(|e| (*e..e + 25).contains(&o))
    };
    let uncovered: Vec<usize> = survived
        .iter()
        .copied()
        .filter(|o| !root_copy.contains(o) && !framing(*o))
        .collect();
    assert!(
        uncovered.is_empty(),
        "flips inside the leaf / PCK CA certificates still verified: {uncovered:?}"
    );
}

/// Every byte of the PEM PCK chain, including the root's copy and the framing. Needs the two
/// initra-verify checks described above.
#[test]
fn tamper_sweep_every_byte_of_the_pck_chain() {
    let f = fixture();
    let quote = f.attester.quote(&[0x42; 64]).unwrap();
    let roots = TrustRoots::empty()
        .with_root(f.root.clone(), RootKind::Simulated)
        .unwrap();
    let v = verifier(roots, f.collateral);
    let survived = surviving_flips(&v, &quote, SystemTime::now());
    assert!(
        survived.is_empty(),
        "{} of {} flips still verified: {survived:?}",
        survived.len(),
        quote.len()
    );
}

#[test]
fn private_keys_are_0600_and_load_errors_name_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    for key in [
        "root-ca.key",
        "pck-ca.key",
        "tcb-signing.key",
        "pck.key",
        "attestation.key",
        "signer.key",
    ] {
        let mode = std::fs::metadata(f.platform_dir.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    assert!(SimPlatform::create(&f.platform_dir, &SimOptions::default())
        .unwrap_err()
        .to_string()
        .contains("already exists"));

    std::fs::write(f.platform_dir.join("pck.key"), "not a key").unwrap();
    let err = SimPlatform::load(&f.platform_dir).unwrap_err().to_string();
    assert!(err.contains("pck.key: invalid PCK key"), "{err}");
    std::fs::remove_file(f.platform_dir.join("attestation.key")).unwrap();
    let err = SimPlatform::load(&f.platform_dir).unwrap_err().to_string();
    assert!(
        err.contains("attestation.key: missing (attestation key)"),
        "{err}"
    );
    let err = SimPlatform::load(std::path::Path::new("/nonexistent-sim"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nonexistent-sim/platform.json: missing"),
        "{err}"
    );
}
