//! Every sample of testdata with a stated expected result gives it at a pinned time, and an
//! expiry error just outside its collateral window.

// Test helpers may panic: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::SystemTime;

use initra_evidence::input::decode_evidence;
use initra_verify::freshness::Item;
use initra_verify::{
    Collateral, Decision, Error, FreshnessError, Policy, RejectionKind, StaticCollateral,
    TcbStatus, TrustRoots, Verdict, Verifier,
};

macro_rules! sample {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/", $p)
    };
}

const SGX_QUOTE: &str = sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin");
const SGX_COLL: &str = sample!("sgx/dcapqvl-sgx-v3/sgx_quote_collateral.json");
const TDX_QUOTE: &str = sample!("tdx/dcapqvl-tdx-v4/tdx_quote.bin");
const TDX_COLL: &str = sample!("tdx/dcapqvl-tdx-v4/tdx_quote_collateral.json");

fn at(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.unix_timestamp() as u64)
}

fn verifier(collateral: &[&str], policy: Policy) -> Verifier {
    Verifier::new(
        TrustRoots::intel(),
        Arc::new(StaticCollateral::from_files(collateral).unwrap()),
        Arc::new(policy),
    )
}

fn permissive() -> Policy {
    Policy::default()
        .with_accepted_statuses(vec![
            TcbStatus::UpToDate,
            TcbStatus::SWHardeningNeeded,
            TcbStatus::ConfigurationNeeded,
            TcbStatus::ConfigurationAndSWHardeningNeeded,
            TcbStatus::OutOfDate,
            TcbStatus::OutOfDateConfigurationNeeded,
        ])
        .with_allow_debug(true)
}

fn run(quote: &str, collateral: &[&str], policy: Policy, time: &str) -> Result<Verdict, Error> {
    let bytes = decode_evidence(&std::fs::read(quote).unwrap()).unwrap();
    verifier(collateral, policy).verify(&bytes, at(time))
}

fn ok(quote: &str, collateral: &[&str], time: &str) -> Verdict {
    run(quote, collateral, permissive(), time).unwrap()
}

fn err(quote: &str, collateral: &[&str], time: &str) -> String {
    run(quote, collateral, permissive(), time)
        .unwrap_err()
        .to_string()
}

#[test]
fn sgx_v3_configuration_and_sw_hardening_needed() {
    let v = ok(SGX_QUOTE, &[SGX_COLL], "2025-07-01T00:00:00Z");
    assert_eq!(v.tcb_status, TcbStatus::ConfigurationAndSWHardeningNeeded);
    assert_eq!(v.advisory_ids, ["INTEL-SA-00289", "INTEL-SA-00615"]);
    assert!(!v.simulated);
    assert!(v.is_accepted());
    assert_eq!(v.fmspc.as_deref(), Some("00a067110000"));
}

#[test]
fn sgx_v3_window_edges() {
    ok(SGX_QUOTE, &[SGX_COLL], "2025-06-19T10:56:11Z");
    ok(SGX_QUOTE, &[SGX_COLL], "2025-07-19T10:01:18Z");
    let e = err(SGX_QUOTE, &[SGX_COLL], "2025-07-19T10:01:19Z");
    assert!(e.contains("QE Identity expired"), "{e}");
    let e = err(SGX_QUOTE, &[SGX_COLL], "2025-06-19T10:56:10Z");
    assert!(e.contains("TCBInfo issue date is in the future"), "{e}");
}

#[test]
fn sgx_default_policy_rejects_with_exact_message() {
    let v = run(
        SGX_QUOTE,
        &[SGX_COLL],
        Policy::default(),
        "2025-07-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(
        v.decision,
        Decision::Rejected {
            kind: RejectionKind::TcbStatus,
            reason: "tcb status ConfigurationAndSWHardeningNeeded not in accepted [UpToDate]; \
                     advisories INTEL-SA-00289,INTEL-SA-00615"
                .into()
        }
    );
    // tcb status and advisories are reported even when rejected.
    let json = v.to_json();
    assert_eq!(json["verdict"], "rejected");
    assert_eq!(json["tcb_status"], "ConfigurationAndSWHardeningNeeded");
    assert_eq!(json["advisory_ids"][1], "INTEL-SA-00615");
    assert_eq!(
        json["mr_enclave"],
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(json["debug"], false);
}

#[test]
fn sgx_accepting_the_status_passes_and_advisory_allow_list_applies() {
    let accept = || {
        Policy::default().with_accepted_statuses(vec![
            TcbStatus::UpToDate,
            TcbStatus::ConfigurationAndSWHardeningNeeded,
        ])
    };
    let v = run(SGX_QUOTE, &[SGX_COLL], accept(), "2025-07-01T00:00:00Z").unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert_eq!(v.to_json()["reason"], serde_json::Value::Null);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(
        &path,
        r#"{"accept_tcb_status": ["UpToDate", "ConfigurationAndSWHardeningNeeded"],
            "allowed_advisories": ["INTEL-SA-00289"], "identities": "any"}"#,
    )
    .unwrap();
    let v = run(
        SGX_QUOTE,
        &[SGX_COLL],
        Policy::from_file(&path).unwrap(),
        "2025-07-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(
        v.decision.reason(),
        Some(
            "advisories INTEL-SA-00615 not in allowed_advisories [INTEL-SA-00289] \
             (tcb status ConfigurationAndSWHardeningNeeded)"
        )
    );
    std::fs::write(
        &path,
        r#"{"accept_tcb_status": ["UpToDate", "ConfigurationAndSWHardeningNeeded"],
            "allowed_advisories": ["INTEL-SA-00289", "INTEL-SA-00615"], "identities": "any"}"#,
    )
    .unwrap();
    let v = run(
        SGX_QUOTE,
        &[SGX_COLL],
        Policy::from_file(&path).unwrap(),
        "2025-07-01T00:00:00Z",
    )
    .unwrap();
    assert!(v.is_accepted());
}

#[test]
fn tdx_v4_up_to_date() {
    let v = ok(TDX_QUOTE, &[TDX_COLL], "2025-07-01T00:00:00Z");
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    assert!(v.advisory_ids.is_empty());
    let v = run(
        TDX_QUOTE,
        &[TDX_COLL],
        Policy::default(),
        "2025-07-01T00:00:00Z",
    )
    .unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert_eq!(
        v.to_json()["mr_td"],
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
    );
    let e = err(TDX_QUOTE, &[TDX_COLL], "2025-07-19T10:00:36Z");
    assert!(e.contains("CrlExpired"), "{e}");
    let e = err(TDX_QUOTE, &[TDX_COLL], "2025-06-19T10:32:26Z");
    assert!(e.contains("in the future"), "{e}");
}

#[test]
fn tdx_hex_quote_has_no_matching_tcb_level() {
    let e = err(
        sample!("tdx/dcapqvl-tdx-v4/tdx-quote.hex"),
        &[TDX_COLL],
        "2025-07-01T00:00:00Z",
    );
    assert!(e.contains("No matching TCB level found"), "{e}");
}

/// The Azure TD has td_attributes 0 (SEPT_VE_DISABLE, bit 28, clear): dcap-qvl 0.7 refuses it as
/// invalid before the TCB levels are matched (the README's "No matching TCB level found" is
/// dcap-qvl 0.5.3's answer). A host can make such a TD take #VE on EPT violations it controls.
#[test]
fn tdx_without_sept_ve_disable_is_invalid() {
    let e = err(
        sample!("tdx/trustee-azure/az-tdx-td-quote.bin"),
        &[sample!("tdx/automata-solana-v4/collateral.dcap-qvl.json")],
        "2025-07-20T00:00:00Z",
    );
    assert!(e.contains("SEPT_VE_DISABLE is not enabled"), "{e}");
}

#[test]
fn tdx_near_up_to_date() {
    let v = ok(
        sample!("tdx/dcapqvl-near-v4/quote_hex.txt"),
        &[sample!("tdx/dcapqvl-near-v4/quote_collateral.json")],
        "2025-09-10T00:00:00Z",
    );
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    assert!(v.advisory_ids.is_empty());
    let e = err(
        sample!("tdx/dcapqvl-near-v4/quote_hex.txt"),
        &[sample!("tdx/dcapqvl-near-v4/quote_collateral.json")],
        "2025-10-02T07:03:52Z",
    );
    assert!(e.contains("expired") || e.contains("Expired"), "{e}");
}

#[test]
fn automata_solana_out_of_date() {
    let coll = sample!("tdx/automata-solana-v4/collateral.dcap-qvl.json");
    let quote = sample!("tdx/automata-solana-v4/quote_tdx.bin");
    let v = ok(quote, &[coll], "2025-07-20T00:00:00Z");
    assert_eq!(v.tcb_status, TcbStatus::OutOfDate);
    assert_eq!(
        v.advisory_ids,
        ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"]
    );
    let v = run(quote, &[coll], Policy::default(), "2025-07-20T00:00:00Z").unwrap();
    assert_eq!(
        v.decision.reason(),
        Some(
            "tcb status OutOfDate not in accepted [UpToDate]; \
             advisories INTEL-SA-00960,INTEL-SA-00982,INTEL-SA-00986"
        )
    );
    let e = err(quote, &[coll], "2025-08-06T09:06:44Z");
    assert!(e.contains("expired") || e.contains("Expired"), "{e}");
    let e = err(quote, &[coll], "2025-07-07T09:20:25Z");
    assert!(e.contains("in the future"), "{e}");
}

#[test]
fn gotdxguest_v5_up_to_date() {
    let quote = sample!("tdx/gotdxguest-v5/quote_v5_sample.dat");
    let coll = sample!("tdx/gotdxguest-v5/collateral.dcap-qvl.json");
    let v = ok(quote, &[coll], "2026-02-19T00:00:00Z");
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    let json = v.to_json();
    assert_eq!(json["mr_servicetd"], "0".repeat(96));
    let e = err(quote, &[coll], "2026-02-18T10:42:14Z");
    assert!(e.contains("in the future"), "{e}");
    let e = err(quote, &[coll], "2026-03-03T14:49:27Z");
    assert!(e.contains("xpired"), "{e}");
}

#[test]
fn automata_evm_june_and_october_collateral_chosen_by_time() {
    let quote = sample!("tdx/automata-evm-v4-extra/quotev4.hex");
    let june = sample!("tdx/automata-evm-v4-extra/collateral_v4_0625.dcap-qvl.json");
    let oct = sample!("tdx/automata-evm-v4-extra/collateral_v4_1025.dcap-qvl.json");
    let v = ok(quote, &[june], "2025-06-05T03:45:00Z");
    assert_eq!(v.tcb_status, TcbStatus::OutOfDate);
    assert_eq!(
        v.advisory_ids,
        ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"]
    );
    // Both loaded: the one valid at `now` is used.
    let v = ok(quote, &[june, oct], "2025-06-05T03:45:00Z");
    assert_eq!(v.tcb_status, TcbStatus::OutOfDate);
    let v = ok(quote, &[oct, june], "2025-10-24T07:10:18Z");
    assert_eq!(v.tcb_status, TcbStatus::OutOfDate);
}

/// Issue 7 at the library level: the policy file's `max_collateral_age` of 7 days accepts the June 2025
/// set of automata-evm-v4-extra on 2025-06-05 and refuses it on 2025-06-20 as invalid, naming the
/// oldest item, with no collateral-source wrapper involved.
#[test]
fn policy_max_collateral_age_on_the_june_2025_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(
        &path,
        r#"{"identities": "any", "accept_tcb_status": ["UpToDate", "OutOfDate"],
            "max_collateral_age": "7d"}"#,
    )
    .unwrap();
    let policy = Policy::from_file(&path).unwrap();
    let quote = sample!("tdx/automata-evm-v4-extra/quotev4.hex");
    let june = sample!("tdx/automata-evm-v4-extra/collateral_v4_0625.dcap-qvl.json");

    let v = run(quote, &[june], policy.clone(), "2025-06-05T03:45:00Z").unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert_eq!(v.tcb_status, TcbStatus::OutOfDate);

    let e = run(quote, &[june], policy, "2025-06-20T00:00:00Z").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Freshness(FreshnessError::TooOld {
                item: Item::PckCrl,
                ..
            })
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "collateral PCK CRL too old: issued 2025-06-04T09:19:31Z, 15days 14h 40m 29s before now \
         2025-06-20T00:00:00Z; max age 7days"
    );
    // Without the limit the same set verifies at the same time.
    ok(quote, &[june], "2025-06-20T00:00:00Z");
}

/// dcap-qvl's expiry message is followed by the item and dates that explain it.
#[test]
fn expired_collateral_names_the_item_and_its_next_update() {
    let e = err(SGX_QUOTE, &[SGX_COLL], "2025-07-19T10:01:19Z");
    assert!(
        e.ends_with(
            "QE Identity expired; collateral QE identity expired: nextUpdate \
             2025-07-19T10:01:18Z is before now 2025-07-19T10:01:19Z"
        ),
        "{e}"
    );
}

#[test]
fn several_collaterals_are_chosen_by_tee_and_fmspc() {
    let v = ok(SGX_QUOTE, &[TDX_COLL, SGX_COLL], "2025-07-01T00:00:00Z");
    assert_eq!(v.tcb_status, TcbStatus::ConfigurationAndSWHardeningNeeded);
    let v = ok(TDX_QUOTE, &[SGX_COLL, TDX_COLL], "2025-07-01T00:00:00Z");
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    let e = err(
        TDX_QUOTE,
        &[
            SGX_COLL,
            sample!("tdx/dcapqvl-near-v4/quote_collateral.json"),
        ],
        "2025-07-01T00:00:00Z",
    );
    assert!(
        e.starts_with("no collateral for tdx quote with FMSPC b0c06f000000"),
        "{e}"
    );
}

#[test]
fn untrusted_root_names_the_issuer() {
    let bytes = std::fs::read(SGX_QUOTE).unwrap();
    let v = Verifier::new(
        TrustRoots::empty(),
        Arc::new(StaticCollateral::from_files(&[SGX_COLL]).unwrap()),
        Arc::new(permissive()),
    );
    let e = v
        .verify(&bytes, at("2025-07-01T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Intel SGX Root CA"), "{e}");
    assert!(e.contains("untrusted root"), "{e}");
}

#[test]
fn wrong_collateral_for_the_quote_is_an_error() {
    let e = err(SGX_QUOTE, &[TDX_COLL], "2025-07-01T00:00:00Z");
    assert!(
        e.starts_with(
            "no collateral for sgx quote with FMSPC 00a067110000 (loaded: tdx b0c06f000000 ("
        ),
        "{e}"
    );
    // Same TEE, another platform: both FMSPCs are named.
    let e = err(
        sample!("tdx/trustee-v4/tdx_quote_4.dat"),
        &[TDX_COLL],
        "2025-07-01T00:00:00Z",
    );
    assert!(
        e.starts_with(
            "no collateral for tdx quote with FMSPC 50806f000000 (loaded: tdx b0c06f000000 ("
        ),
        "{e}"
    );
}

#[test]
fn tampered_quote_fails() {
    let mut bytes = std::fs::read(SGX_QUOTE).unwrap();
    bytes[48 + 64] ^= 1; // mr_enclave
    let v = verifier(&[SGX_COLL], permissive());
    let e = v.verify(&bytes, at("2025-07-01T00:00:00Z")).unwrap_err();
    assert!(matches!(e, Error::Verification { .. }), "{e}");
}

#[test]
fn collateral_missing_field_names_field_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coll.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(SGX_COLL).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("qe_identity");
    std::fs::write(&path, json.to_string()).unwrap();
    let e = Collateral::from_json_file(&path).unwrap_err().to_string();
    assert!(e.contains("missing field `qe_identity`"), "{e}");
    assert!(e.contains("coll.json"), "{e}");
    let e = Collateral::from_json_file(dir.path().join("nope.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.json"), "{e}");
}

#[test]
fn verifier_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Verifier>();
    let v = Arc::new(verifier(&[SGX_COLL], permissive()));
    let bytes = Arc::new(std::fs::read(SGX_QUOTE).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (v, b) = (Arc::clone(&v), Arc::clone(&bytes));
            std::thread::spawn(move || v.verify(&b, at("2025-07-01T00:00:00Z")).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(
            h.join().unwrap().tcb_status,
            TcbStatus::ConfigurationAndSWHardeningNeeded
        );
    }
}

/// `--collateral-grace`: past the collateral's earliest nextUpdate (QE identity, 2025-07-19T10:01:18Z)
/// but within the grace, the quote verifies as of that instant; beyond it, the error names the item,
/// the date and the grace exceeded.
#[test]
fn collateral_grace_extends_verification_past_next_update() {
    let bytes = decode_evidence(&std::fs::read(SGX_QUOTE).unwrap()).unwrap();
    let graced = verifier(&[SGX_COLL], permissive())
        .with_collateral_grace(std::time::Duration::from_secs(86_400));
    let v = graced.verify(&bytes, at("2025-07-20T09:00:00Z")).unwrap();
    assert!(v.is_accepted());
    assert_eq!(v.tcb_status, TcbStatus::ConfigurationAndSWHardeningNeeded);
    let e = graced
        .verify(&bytes, at("2025-07-20T10:01:19Z"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("collateral QE identity expired: nextUpdate 2025-07-19T10:01:18Z")
            && e.ends_with("(grace 1day exceeded)"),
        "{e}"
    );
    // Without a grace the same instant is expired.
    let e = err(SGX_QUOTE, &[SGX_COLL], "2025-07-20T09:00:00Z");
    assert!(e.contains("TCBInfo expired"), "{e}");
}

/// A grace period never stretches certificates: the quote's PCK chain must be valid at the real
/// time even when the collateral is verified as of its nextUpdate.
#[test]
fn collateral_grace_does_not_extend_the_pck_certificates() {
    let bytes = decode_evidence(&std::fs::read(SGX_QUOTE).unwrap()).unwrap();
    let decades = std::time::Duration::from_secs(30 * 365 * 86_400);
    let e = verifier(&[SGX_COLL], permissive())
        .with_collateral_grace(decades)
        .verify(&bytes, at("2050-01-01T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "now 2050-01-01T00:00:00Z is outside (collateral grace does not extend certificates)"
        ),
        "{e}"
    );
}
