//! `initra quote inspect|verify` end to end: exit codes, JSON fields, error messages.

// Test helpers may panic: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::process::Output;

use serde_json::Value;
use support::{code, initra, json, sample, stderr};

const SGX_QUOTE: &str = sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin");
const SGX_COLL: &str = sample!("sgx/dcapqvl-sgx-v3/sgx_quote_collateral.json");
const SGX_TIME: &str = "2025-07-01T00:00:00Z";
const MR_ENCLAVE: &str = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb";
const MR_SIGNER: &str = "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6";

fn verify(quote: &str, coll: &str, at: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "quote",
        "verify",
        quote,
        "--collateral",
        coll,
        "--at",
        at,
        "--json",
    ];
    args.extend_from_slice(extra);
    initra(&args)
}

#[test]
fn sgx_default_policy_rejects_with_status_and_advisories() {
    let o = verify(SGX_QUOTE, SGX_COLL, SGX_TIME, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(v["tee"], "sgx");
    assert_eq!(v["tcb_status"], "ConfigurationAndSWHardeningNeeded");
    assert_eq!(
        v["advisory_ids"],
        serde_json::json!(["INTEL-SA-00289", "INTEL-SA-00615"])
    );
    assert_eq!(v["simulated"], false);
    assert_eq!(
        v["reason"],
        "tcb status ConfigurationAndSWHardeningNeeded not in accepted [UpToDate]; advisories INTEL-SA-00289,INTEL-SA-00615"
    );
    assert_eq!(v["mr_enclave"], MR_ENCLAVE);
    assert_eq!(v["mr_signer"], MR_SIGNER);
    assert_eq!(v["isv_prod_id"], 0);
    assert_eq!(v["isv_svn"], 0);
    assert_eq!(v["config_svn"], 0);
    assert_eq!(v["debug"], false);
    assert!(v["report_data"]
        .as_str()
        .unwrap()
        .starts_with("48656c6c6f2c20776f726c6421"));
}

#[test]
fn sgx_accept_status_passes() {
    let o = verify(
        SGX_QUOTE,
        SGX_COLL,
        SGX_TIME,
        &[
            "--accept-status",
            "UpToDate,ConfigurationAndSWHardeningNeeded",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["reason"], Value::Null);
}

#[test]
fn sgx_expired_collateral_is_invalid() {
    let o = verify(SGX_QUOTE, SGX_COLL, "2025-07-19T10:01:19Z", &[]);
    assert_eq!(code(&o), 2);
    let v = json(&o);
    assert_eq!(v["verdict"], "invalid");
    // The freshness check names the item and both dates before dcap-qvl would say "QE Identity expired".
    let reason = v["reason"].as_str().unwrap().to_lowercase();
    assert!(
        reason.contains("qe identity expired") && reason.contains("2025-07-19t10:01:18z"),
        "{reason}"
    );
}

#[test]
fn tdx_samples_at_pinned_times() {
    let cases = [
        (
            sample!("tdx/dcapqvl-tdx-v4/tdx_quote.bin"),
            sample!("tdx/dcapqvl-tdx-v4/tdx_quote_collateral.json"),
            "2025-07-01T00:00:00Z",
            "UpToDate",
            0,
        ),
        (
            sample!("tdx/dcapqvl-near-v4/quote_hex.txt"),
            sample!("tdx/dcapqvl-near-v4/quote_collateral.json"),
            "2025-09-10T00:00:00Z",
            "UpToDate",
            0,
        ),
        (
            sample!("tdx/gotdxguest-v5/quote_v5_sample.dat"),
            sample!("tdx/gotdxguest-v5/collateral.dcap-qvl.json"),
            "2026-02-19T00:00:00Z",
            "UpToDate",
            0,
        ),
        (
            sample!("tdx/automata-solana-v4/quote_tdx.bin"),
            sample!("tdx/automata-solana-v4/collateral.dcap-qvl.json"),
            "2025-07-20T00:00:00Z",
            "OutOfDate",
            1,
        ),
        (
            sample!("tdx/automata-evm-v4-extra/quotev4.hex"),
            sample!("tdx/automata-evm-v4-extra/collateral_v4_0625.dcap-qvl.json"),
            "2025-06-05T03:45:00Z",
            "OutOfDate",
            1,
        ),
    ];
    for (quote, coll, at, status, exit) in cases {
        let o = verify(quote, coll, at, &[]);
        assert_eq!(code(&o), exit, "{quote}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["tee"], "tdx");
        assert_eq!(v["tcb_status"], status, "{quote}");
        assert!(v["mr_td"].as_str().unwrap().len() == 96);
        for k in [
            "rtmr0",
            "rtmr1",
            "rtmr2",
            "rtmr3",
            "mr_config_id",
            "mr_owner",
            "mr_owner_config",
            "td_attributes",
            "report_data",
        ] {
            assert!(v[k].is_string(), "{k} missing in {v}");
        }
        if status == "OutOfDate" {
            assert_eq!(
                v["advisory_ids"],
                serde_json::json!(["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"])
            );
            assert_eq!(
                v["reason"],
                "tcb status OutOfDate not in accepted [UpToDate]; advisories INTEL-SA-00960,INTEL-SA-00982,INTEL-SA-00986"
            );
        }
    }
    let v5 = json(&verify(
        sample!("tdx/gotdxguest-v5/quote_v5_sample.dat"),
        sample!("tdx/gotdxguest-v5/collateral.dcap-qvl.json"),
        "2026-02-19T00:00:00Z",
        &[],
    ));
    assert_eq!(v5["mr_servicetd"], "0".repeat(96));
}

#[test]
fn tdx_hex_quote_without_matching_tcb_level_is_invalid() {
    let o = verify(
        sample!("tdx/dcapqvl-tdx-v4/tdx-quote.hex"),
        sample!("tdx/dcapqvl-tdx-v4/tdx_quote_collateral.json"),
        "2025-07-01T00:00:00Z",
        &[],
    );
    assert_eq!(code(&o), 2);
    assert!(json(&o)["reason"]
        .as_str()
        .unwrap()
        .contains("No matching TCB level found"));
}

#[test]
fn occlum_policy_isv_svn_minimum_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, svn: u32| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!(
                r#"{{"verify_mr_enclave": "on", "verify_mr_signer": "on", "verify_isv_prod_id": "on",
                    "verify_isv_svn": "on", "verify_config_svn": "on", "verify_enclave_debuggable": "on",
                    "sgx_mrs": [{{"mr_enclave": "{MR_ENCLAVE}", "mr_signer": "{MR_SIGNER}",
                    "isv_prod_id": 0, "isv_svn": {svn}, "config_svn": 0, "debuggable": false}}]}}"#
            ),
        )
        .unwrap();
        p.to_str().unwrap().to_owned()
    };
    let accept = [
        "--accept-status",
        "UpToDate,ConfigurationAndSWHardeningNeeded",
    ];
    let high = write("high.json", 88);
    let o = verify(
        SGX_QUOTE,
        SGX_COLL,
        SGX_TIME,
        &[&["--policy", &high][..], &accept].concat(),
    );
    assert_eq!(code(&o), 1);
    assert_eq!(json(&o)["reason"], "sgx_mrs[0]: isv_svn 0 < required 88");
    let ok = write("ok.json", 0);
    let o = verify(
        SGX_QUOTE,
        SGX_COLL,
        SGX_TIME,
        &[&["--policy", &ok][..], &accept].concat(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn initra_policy_file_identity_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.json");
    std::fs::write(
        &p,
        format!(
            r#"{{"accept_tcb_status": ["UpToDate", "ConfigurationAndSWHardeningNeeded"],
                "identities": [{{"tee": "sgx", "mr_signer": "{}"}}]}}"#,
            "00".repeat(32)
        ),
    )
    .unwrap();
    let o = verify(
        SGX_QUOTE,
        SGX_COLL,
        SGX_TIME,
        &["--policy", p.to_str().unwrap()],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(
        json(&o)["reason"],
        format!(
            "identities[0]: mr_signer expected {} got {MR_SIGNER}",
            "00".repeat(32)
        )
    );
}

#[test]
fn inspect_prints_every_field() {
    let o = initra(&[
        "quote",
        "inspect",
        sample!("sgx/trustee-occlum-v3/occlum_quote.dat"),
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["tee"], "sgx");
    assert_eq!(v["debug"], true);
    assert_eq!(v["fmspc"], "00606a000000");
    assert_eq!(
        v["body"]["mr_enclave"],
        "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68"
    );
    assert_eq!(v["header"]["pce_svn"], 13);
    let o = initra(&[
        "quote",
        "inspect",
        sample!("tdx/dcapqvl-tdx-v4/tdx-quote.hex"),
    ]);
    assert_eq!(code(&o), 0);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("rtmr3"), "{text}");
    assert!(text.contains("547fcba4630bfb981169a8a1903b79c244933413409dd0387acbd8e3b985bcc9164cf52735cd31f60bf2c5d1220c113f"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let quote = std::fs::read(SGX_QUOTE).unwrap();
    let mut wrong_version = quote.clone();
    wrong_version[0] = 9;
    let cases = [
        (file("empty.bin", b""), "evidence is empty"),
        (file("truncated.bin", &quote[..1000]), "truncated"),
        (file("version.bin", &wrong_version), "quote version 9"),
        (file("garbage.hex", b"0xdeadbeefZZ\n"), "not hex"),
        (file("odd.hex", b"abc"), "odd number of hex digits"),
        (
            "/nonexistent/quote.bin".to_owned(),
            "/nonexistent/quote.bin",
        ),
    ];
    for (path, want) in &cases {
        for cmd in ["inspect", "verify"] {
            let mut args = vec!["quote", cmd, path.as_str()];
            if cmd == "verify" {
                args.extend(["--collateral", SGX_COLL, "--at", SGX_TIME]);
            }
            let o = initra(&args);
            assert_eq!(code(&o), 2, "{path} {cmd}");
            let err = stderr(&o);
            assert!(err.starts_with("initra: error: "), "{err}");
            assert!(err.contains(want), "{path} {cmd}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    // Collateral JSON missing a field: names the field and the file.
    let mut coll: Value =
        serde_json::from_str(&std::fs::read_to_string(SGX_COLL).unwrap()).unwrap();
    coll.as_object_mut().unwrap().remove("tcb_info");
    let coll = file("coll.json", coll.to_string().as_bytes());
    let o = verify(SGX_QUOTE, &coll, SGX_TIME, &[]);
    assert_eq!(code(&o), 2);
    let reason = json(&o)["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.contains("missing field `tcb_info`") && reason.contains("coll.json"),
        "{reason}"
    );
    // A bad policy and a bad --accept-status / --at are errors too.
    let bad_policy = file("policy.json", br#"{"identities": []}"#);
    let o = verify(SGX_QUOTE, SGX_COLL, SGX_TIME, &["--policy", &bad_policy]);
    assert_eq!(code(&o), 2);
    assert!(json(&o)["reason"]
        .as_str()
        .unwrap()
        .contains("identities: empty list"));
    let o = verify(
        SGX_QUOTE,
        SGX_COLL,
        SGX_TIME,
        &["--accept-status", "Revoked"],
    );
    assert_eq!(code(&o), 2);
    let o = verify(SGX_QUOTE, SGX_COLL, "yesterday", &[]);
    assert_eq!(code(&o), 2);
    assert!(json(&o)["reason"].as_str().unwrap().contains("RFC 3339"));
}

#[test]
fn wrong_root_is_invalid_and_names_the_issuer() {
    let o = verify(
        SGX_QUOTE,
        SGX_COLL,
        SGX_TIME,
        &["--root", sample!("tdx/automata-solana-v4/platform.der")],
    );
    assert_eq!(code(&o), 2);
    let reason = json(&o)["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.contains("untrusted root") && reason.contains("Intel SGX Root CA"),
        "{reason}"
    );
    // The Intel root given explicitly (DER) works like the default.
    let o = verify(
        SGX_QUOTE,
        SGX_COLL,
        SGX_TIME,
        &[
            "--root",
            sample!("tdx/automata-solana-v4/root.der"),
            "--accept-status",
            "ConfigurationAndSWHardeningNeeded",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Issue 7: `--max-collateral-age` accepts the June 2025 set of automata-evm-v4-extra at 2025-06-05 and
/// refuses it at 2025-06-20 with a maximum age of 7 days, naming the item that is too old.
#[test]
fn max_collateral_age_on_the_june_2025_set() {
    let quote = sample!("tdx/automata-evm-v4-extra/quotev4.hex");
    let coll = sample!("tdx/automata-evm-v4-extra/collateral_v4_0625.dcap-qvl.json");
    let run = |at: &str| {
        let flags = [
            "--accept-status",
            "UpToDate,OutOfDate",
            "--max-collateral-age",
            "7d",
        ];
        verify(quote, coll, at, &flags)
    };
    let fresh = run("2025-06-05T03:45:00Z");
    assert_eq!(
        code(&fresh),
        0,
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    assert_eq!(json(&fresh)["tcb_status"], "OutOfDate");

    let stale = run("2025-06-20T00:00:00Z");
    assert_eq!(
        code(&stale),
        2,
        "{}",
        String::from_utf8_lossy(&stale.stdout)
    );
    let v = json(&stale);
    assert_eq!(v["verdict"], "invalid");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("too old") && reason.contains("7d"),
        "{reason}"
    );

    let bad = initra(&[
        "quote",
        "verify",
        quote,
        "--collateral",
        coll,
        "--max-collateral-age",
        "soon",
    ]);
    assert_eq!(code(&bad), 2);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--max-collateral-age"));
}

/// The policy file's `max_collateral_age` and `--max-collateral-age` combine: the stricter applies,
/// and either alone refuses the June 2025 set on 2025-06-20 as invalid (exit 2).
#[test]
fn policy_max_collateral_age_and_the_flag_combine() {
    let quote = sample!("tdx/automata-evm-v4-extra/quotev4.hex");
    let coll = sample!("tdx/automata-evm-v4-extra/collateral_v4_0625.dcap-qvl.json");
    let dir = tempfile::tempdir().unwrap();
    let policy = |max_age: &str| {
        let p = dir.path().join(format!("policy-{max_age}.json"));
        std::fs::write(
            &p,
            format!(
                r#"{{"identities": "any", "accept_tcb_status": ["UpToDate", "OutOfDate"],
                    "max_collateral_age": "{max_age}"}}"#
            ),
        )
        .unwrap();
        p.to_str().unwrap().to_owned()
    };
    let (week, month) = (policy("7d"), policy("30d"));
    let at_june_20 = |extra: &[&str]| verify(quote, coll, "2025-06-20T00:00:00Z", extra);

    let o = at_june_20(&["--policy", &month]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for extra in [
        &["--policy", &week][..],
        &["--policy", &month, "--max-collateral-age", "7d"],
        &["--policy", &week, "--max-collateral-age", "30d"],
    ] {
        let o = at_june_20(extra);
        assert_eq!(code(&o), 2, "{extra:?}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["verdict"], "invalid");
        let reason = v["reason"].as_str().unwrap();
        assert!(
            reason.contains("collateral PCK CRL too old: issued 2025-06-04T09:19:31Z")
                && reason.ends_with("max age 7days"),
            "{extra:?}: {reason}"
        );
    }
}
