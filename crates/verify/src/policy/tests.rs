use super::*;
use initra_evidence::Quote;

macro_rules! sample {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/", $p)
    };
}

const MR_ENCLAVE: &str = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb";
const MR_SIGNER: &str = "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6";

fn claims(path: &str) -> Claims {
    let bytes = initra_evidence::input::decode_evidence(&std::fs::read(path).unwrap()).unwrap();
    Claims::from_quote(&Quote::parse(&bytes).unwrap())
}

fn sgx() -> Claims {
    claims(sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin"))
}

fn occlum_debug() -> Claims {
    claims(sample!("sgx/trustee-occlum-v3/occlum_quote.dat"))
}

fn tdx() -> Claims {
    claims(sample!("tdx/dcapqvl-tdx-v4/tdx_quote.bin"))
}

fn occlum(mr_enclave: &str, isv_svn: u16, debuggable: bool, svn_on: &str) -> Policy {
    let text = format!(
        r#"{{"verify_mr_enclave": "on", "verify_mr_signer": "on", "verify_isv_prod_id": "on",
            "verify_isv_svn": "{svn_on}", "verify_config_svn": "on", "verify_enclave_debuggable": "on",
            "sgx_mrs": [{{"mr_enclave": "{mr_enclave}", "mr_signer": "{MR_SIGNER}", "isv_prod_id": 0,
                          "isv_svn": {isv_svn}, "config_svn": 0, "debuggable": {debuggable}}}]}}"#
    );
    Policy::from_bytes(text.as_bytes(), "test").unwrap()
}

fn up_to_date(p: &Policy, c: &Claims) -> Decision {
    p.evaluate(&TcbStatus::UpToDate, &[], c)
}

fn reason(d: Decision) -> String {
    d.reason().unwrap_or("accepted").to_owned()
}

#[test]
fn occlum_entry_matches_when_every_switched_on_field_matches() {
    let p = occlum(MR_ENCLAVE, 0, false, "on");
    assert_eq!(up_to_date(&p, &sgx()), Decision::Accepted);
}

#[test]
fn occlum_isv_svn_is_a_minimum() {
    let p = occlum(MR_ENCLAVE, 88, false, "on");
    assert_eq!(
        reason(up_to_date(&p, &sgx())),
        "sgx_mrs[0]: isv_svn 0 < required 88"
    );
    let p = occlum(MR_ENCLAVE, 88, false, "off");
    assert!(up_to_date(&p, &sgx()).is_accepted());
}

#[test]
fn occlum_mismatch_names_field_expected_actual() {
    let other = "ab".repeat(32);
    let p = occlum(&other, 0, false, "on");
    assert_eq!(
        reason(up_to_date(&p, &sgx())),
        format!("sgx_mrs[0]: mr_enclave expected {other} got {MR_ENCLAVE}")
    );
    // A TDX quote against an SGX-only config.
    assert_eq!(
        reason(up_to_date(&p, &tdx())),
        "sgx_mrs[0]: tee expected sgx got tdx"
    );
}

#[test]
fn occlum_debug_enclave_needs_debuggable_true_or_allow_debug() {
    let debug = occlum_debug();
    let text = |debuggable: bool, switch: &str| {
        format!(
            r#"{{"verify_mr_enclave": "on", "verify_mr_signer": "off", "verify_isv_prod_id": "off",
                "verify_isv_svn": "off", "verify_config_svn": "off", "verify_enclave_debuggable": "{switch}",
                "sgx_mrs": [{{"mr_enclave": "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68",
                              "debuggable": {debuggable}}}]}}"#
        )
    };
    let p = Policy::from_bytes(text(true, "on").as_bytes(), "t").unwrap();
    assert!(up_to_date(&p, &debug).is_accepted());
    let p = Policy::from_bytes(text(false, "on").as_bytes(), "t").unwrap();
    let d = up_to_date(&p, &debug);
    assert_eq!(
        reason(d),
        "debug (attributes.flags bit 1) expected false got true; allow_debug is off"
    );
    assert!(up_to_date(&p.with_allow_debug(true), &debug)
        .reason()
        .unwrap()
        .contains("debuggable expected false got true"));
    // Switch off: the entry says nothing about debug; policy default rejects it.
    let p = Policy::from_bytes(text(true, "off").as_bytes(), "t").unwrap();
    assert!(!up_to_date(&p, &debug).is_accepted());
    assert!(up_to_date(&p.with_allow_debug(true), &debug).is_accepted());
}

#[test]
fn occlum_templates_switched_on_with_empty_values_are_config_errors() {
    let e = Policy::from_any_file(sample!("occlum-config/ra_config_template.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sgx_mrs[0].mr_enclave: verify_mr_enclave is on but the value is empty"),
        "{e}"
    );
    assert!(e.contains("ra_config_template.json"), "{e}");
    let e =
        Policy::from_occlum_config_file(sample!("occlum-config/example_ra_config_template.json"))
            .unwrap_err()
            .to_string();
    assert!(e.contains("sgx_mrs[0].mr_enclave"), "{e}");
    // Everything switched off (init_ra_conf template): any identity, debug still rejected.
    let p = Policy::from_any_file(sample!(
        "occlum-config/init_ra_conf.grpc_ratls.template.json"
    ))
    .unwrap();
    assert!(up_to_date(&p, &sgx()).is_accepted());
    assert!(!up_to_date(&p, &occlum_debug()).is_accepted());
}

#[test]
fn occlum_bad_values() {
    let base = r#""verify_mr_signer": "off", "verify_isv_prod_id": "off", "verify_isv_svn": "off",
                  "verify_config_svn": "off", "verify_enclave_debuggable": "off""#;
    let e = Policy::from_bytes(
        format!(
            r#"{{"verify_mr_enclave": "on", {base}, "sgx_mrs": [{{}}, {{"mr_enclave": "xyz"}}]}}"#
        )
        .as_bytes(),
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("sgx_mrs[0].mr_enclave: verify_mr_enclave is on but the value is missing"),
        "{e}"
    );
    let e = Policy::from_bytes(
        format!(r#"{{"verify_mr_enclave": "on", {base}, "sgx_mrs": [{{"mr_enclave": "abcd"}}]}}"#)
            .as_bytes(),
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("sgx_mrs[0].mr_enclave: expected 32 bytes of hex, got 2"),
        "{e}"
    );
    let e = Policy::from_bytes(
        format!(r#"{{"verify_mr_enclave": "yes", {base}, "sgx_mrs": [{{}}]}}"#).as_bytes(),
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("verify_mr_enclave: expected \"on\" or \"off\""),
        "{e}"
    );
}

#[test]
fn initra_policy_identities() {
    let text = format!(
        r#"{{"identities": [
            {{"tee": "tdx", "mr_td": "{}"}},
            {{"tee": "sgx", "mr_enclave": "{MR_ENCLAVE}", "mr_signer": "{MR_SIGNER}", "min_isv_svn": 1}}
        ]}}"#,
        "00".repeat(48)
    );
    let p = Policy::from_bytes(text.as_bytes(), "t").unwrap();
    // Closest entry is the SGX one (one mismatch), not the TDX one.
    assert_eq!(
        reason(up_to_date(&p, &sgx())),
        "identities[1]: isv_svn 0 < required 1"
    );
    assert_eq!(
        reason(up_to_date(&p, &tdx())),
        format!(
            "identities[0]: mr_td expected {} got 91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
            "00".repeat(48)
        )
    );
    let tdx_ok = r#"{"identities": [{"tee": "tdx",
        "mr_td": "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
        "td_attributes": "0000001000000000"}]}"#;
    let p = Policy::from_bytes(tdx_ok.as_bytes(), "t").unwrap();
    assert!(up_to_date(&p, &tdx()).is_accepted());
}

#[test]
fn initra_policy_config_errors_name_the_field() {
    let cases = [
        (r#"{}"#, "identities: missing"),
        (r#"{"identities": []}"#, "identities: empty list"),
        (
            r#"{"identities": "all"}"#,
            "identities: expected a list or \"any\"",
        ),
        (
            r#"{"identities": "any", "allow_debugg": true}"#,
            "unknown field(s) allow_debugg",
        ),
        (
            r#"{"identities": [{"tee": "sgx", "mr_enclave": "zz"}]}"#,
            "identities[0].mr_enclave: not hex",
        ),
        (
            r#"{"identities": [{"tee": "tdx", "mr_td": "00"}]}"#,
            "identities[0].mr_td: expected 48 bytes of hex, got 1",
        ),
        (
            r#"{"identities": [{"tee": "sgx"}]}"#,
            "identities[0]: pins no code: an SGX identity needs mr_enclave or mr_signer",
        ),
        (
            r#"{"identities": [{"tee": "sgx", "isv_prod_id": 1}]}"#,
            "identities[0]: pins no code: an SGX identity needs mr_enclave or mr_signer",
        ),
        (
            r#"{"identities": [{"tee": "tdx", "mr_owner": "00"}]}"#,
            "identities[0].mr_owner: expected 48 bytes of hex, got 1",
        ),
        (
            r#"{"identities": [{"tee": "tdx", "xfam": "e702060000000000"}]}"#,
            "identities[0]: pins no code: a TDX identity needs mr_td",
        ),
        (
            r#"{"identities": [{"tee": "sgx", "mr_enclave": null, "mr_signer": "00"}]}"#,
            "identities[0].mr_enclave: expected a string, got null",
        ),
        (
            r#"{"identities": null}"#,
            "identities: expected a list or \"any\", got null",
        ),
        (
            r#"{"identities": "any", "allow_debug": null}"#,
            "allow_debug: expected true or false, got null",
        ),
        (
            r#"{"identities": [{"mr_td": "00"}]}"#,
            "identities[0].tee: missing",
        ),
        (
            r#"{"identities": [{"tee": "sgx", "isv_svn": 3}]}"#,
            "identities[0].isv_svn: use min_isv_svn",
        ),
        (
            r#"{"identities": [{"tee": "sgx", "mr_td": "00"}]}"#,
            "identities[0]: mr_td is a TDX field, but this identity's tee is \"sgx\"",
        ),
        (
            r#"{"identities": [{"tee": "tdx", "mr_td": "00", "measurement": "00"}]}"#,
            "identities[0].mr_td: expected 48 bytes of hex, got 1",
        ),
        (
            r#"{"identities": [{"tee": "snp", "mr_enclave": "00"}]}"#,
            "identities[0]: mr_enclave is an SGX field, but this identity's tee is \"snp\"",
        ),
        (
            r#"{"identities": [{"tee": "tdx", "mr_tdd": "00"}]}"#,
            "identities[0]: unknown field(s) mr_tdd",
        ),
        (
            r#"{"identities": "any", "accept_tcb_status": ["Revoked"]}"#,
            "accept_tcb_status[0]: Revoked is never accepted",
        ),
        (
            r#"{"identities": "any", "accept_tcb_status": ["uptodate"]}"#,
            "accept_tcb_status[0]: unknown TCB status \"uptodate\"",
        ),
        (
            r#"{"identities": "any", "max_collateral_age": "soon"}"#,
            "max_collateral_age: \"soon\"",
        ),
        (
            r#"{"identities": "any", "secrets": {"k": {"allow": []}}}"#,
            "secrets.k.allow: empty list",
        ),
        (
            r#"{"identities": "any", "secrets": {"k": {}}}"#,
            "secrets.k.allow: missing",
        ),
        (
            r#"{"identities": [{"tee": "sgx", "mr_signer": "00"}], "identities": "any"}"#,
            "invalid JSON: duplicate key \"identities\"",
        ),
        (
            r#"{"identities": "any", "accept_tcb_status": []}"#,
            "accept_tcb_status: empty list (no quote could be accepted",
        ),
        (r#"[1]"#, "top level: expected an object"),
        (r#"{"identities": "any""#, "invalid JSON"),
    ];
    for (text, want) in cases {
        let e = Policy::from_bytes(text.as_bytes(), "p.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("policy p.json: "), "{e}");
        assert!(e.contains(want), "{text}: {e}");
    }
    assert!(Policy::from_bytes(&[0xff, 0xfe], "x").is_err());
}

#[test]
fn tcb_rules() {
    let p = Policy::from_bytes(
        br#"{"identities": "any", "accept_tcb_status": ["UpToDate", "OutOfDate"], "max_collateral_age": "7d"}"#,
        "t",
    )
    .unwrap();
    assert_eq!(p.max_collateral_age(), Some(Duration::from_secs(7 * 86400)));
    let adv = vec!["INTEL-SA-00960".to_owned()];
    assert!(p
        .evaluate(&TcbStatus::OutOfDate, &adv, &sgx())
        .is_accepted());
    assert_eq!(
        reason(p.evaluate(&TcbStatus::Revoked, &[], &sgx())),
        "tcb status Revoked not in accepted [UpToDate,OutOfDate]"
    );
    assert!(!p
        .evaluate(&TcbStatus::Unknown("New".into()), &[], &sgx())
        .is_accepted());
    // The policy's max_collateral_age drives the one freshness check (crate::freshness).
    let freshness = crate::FreshnessPolicy {
        max_age: p.max_collateral_age(),
        grace: None,
    };
    let tcb_info_issued_at_0 = [crate::freshness::ItemDates {
        item: crate::freshness::Item::TcbInfo,
        issued: 0,
        next_update: None,
    }];
    let at = |secs: u64| std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    assert_eq!(
        freshness.check_max_age(&tcb_info_issued_at_0, at(7 * 86400)),
        Ok(())
    );
    assert_eq!(
        freshness
            .check_max_age(&tcb_info_issued_at_0, at(8 * 86400))
            .unwrap_err()
            .to_string(),
        "collateral TCB info too old: issued 1970-01-01T00:00:00Z, 8days before now \
         1970-01-09T00:00:00Z; max age 7days"
    );
    // A flag can tighten the policy's limit, never loosen it.
    let day = Duration::from_secs(86400);
    assert_eq!(
        p.clone().with_max_collateral_age(day).max_collateral_age(),
        Some(day)
    );
    assert_eq!(
        p.with_max_collateral_age(30 * day).max_collateral_age(),
        Some(7 * day)
    );
    assert_eq!(
        Policy::default()
            .with_max_collateral_age(30 * day)
            .max_collateral_age(),
        Some(30 * day)
    );
    // TCB is checked before debug.
    let d = Policy::default().evaluate(&TcbStatus::OutOfDate, &[], &occlum_debug());
    assert!(matches!(
        d,
        Decision::Rejected {
            kind: RejectionKind::TcbStatus,
            ..
        }
    ));
}

#[test]
fn secret_access_is_deny_by_default_once_rules_exist() {
    assert!(Policy::default().secret_access("anything", &sgx()).is_ok());
    let text = format!(
        r#"{{"identities": "any", "secrets": {{
            "image_key": {{"allow": [{{"tee": "sgx", "mr_enclave": "{MR_ENCLAVE}"}}]}},
            "db_password": {{"allow": [{{"tee": "sgx", "mr_signer": "{}"}}]}}
        }}}}"#,
        "11".repeat(32)
    );
    let p = Policy::from_bytes(text.as_bytes(), "t").unwrap();
    assert!(p.has_secret_rules());
    assert!(p.secret_access("image_key", &sgx()).is_ok());
    let e = p.secret_access("db_password", &sgx()).unwrap_err();
    assert_eq!(
        e.reason,
        format!(
            "secrets.db_password.allow[0]: mr_signer expected {} got {MR_SIGNER}",
            "11".repeat(32)
        )
    );
    let e = p.secret_access("cert", &sgx()).unwrap_err().to_string();
    assert!(e.contains("no rule for this secret"), "{e}");
    assert!(p.secret_access("image_key", &tdx()).is_err());
}

#[test]
fn combining_occlum_identities_with_an_initra_policy() {
    let base = Policy::from_bytes(
        br#"{"identities": "any", "accept_tcb_status": ["UpToDate", "ConfigurationAndSWHardeningNeeded"]}"#,
        "t",
    )
    .unwrap();
    let combined = base.with_identities_from(&occlum(MR_ENCLAVE, 88, false, "on"));
    let d = combined.evaluate(&TcbStatus::ConfigurationAndSWHardeningNeeded, &[], &sgx());
    assert_eq!(reason(d), "sgx_mrs[0]: isv_svn 0 < required 88");
}

#[test]
fn tdx_rejections_name_the_field() {
    let mr_td = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
    let policy = |fields: &str| {
        let text = format!(r#"{{"identities": [{{"tee": "tdx", {fields}}}]}}"#);
        Policy::from_bytes(text.as_bytes(), "t").unwrap()
    };
    let c = tdx();
    let Claims::Tdx(tc) = &c else {
        panic!("expected TDX claims")
    };
    let rtmr1 = "11".repeat(48);
    let p = policy(&format!(r#""mr_td": "{mr_td}", "rtmr1": "{rtmr1}""#));
    assert_eq!(
        reason(up_to_date(&p, &c)),
        format!("identities[0]: rtmr1 expected {rtmr1} got {}", tc.rtmr1)
    );
    let p = policy(&format!(
        r#""mr_td": "{mr_td}", "xfam": "0300000000000000", "td_attributes": "0000000000000000""#
    ));
    assert_eq!(
        reason(up_to_date(&p, &c)),
        format!(
            "identities[0]: td_attributes expected 0000000000000000 got {}; xfam expected 0300000000000000 got {}",
            tc.td_attributes, tc.xfam
        )
    );
    // mr_servicetd never matches a TD 1.0 quote.
    let p = policy(&format!(
        r#""mr_td": "{mr_td}", "mr_servicetd": "{}""#,
        "00".repeat(48)
    ));
    assert_eq!(
        reason(up_to_date(&p, &c)),
        format!(
            "identities[0]: mr_servicetd expected {} got absent (TD 1.0 quote)",
            "00".repeat(48)
        )
    );
}

#[test]
fn tdx_debug_td_is_rejected_naming_td_attributes() {
    let Claims::Tdx(mut tc) = tdx() else {
        panic!("expected TDX claims")
    };
    // TUD.DEBUG, and bit 6 (another TUD bit, e.g. TD profiling): both put the TD under debug.
    for bit in [0x01, 0x40] {
        let mut tc = tc.clone();
        tc.td_attributes.0[0] |= bit;
        tc.debug = tc.td_attributes.is_debug();
        let c = Claims::Tdx(tc);
        assert_eq!(
            reason(up_to_date(&Policy::default(), &c)),
            "debug (td_attributes TUD bits 0..7) expected false got true; allow_debug is off"
        );
        assert!(up_to_date(&Policy::default().with_allow_debug(true), &c).is_accepted());
    }
    // Bits outside the TUD byte (here SEPT_VE_DISABLE, bit 28) are not debug.
    tc.td_attributes.0[3] |= 0x10;
    assert!(!tc.td_attributes.is_debug());
}

#[test]
fn tdx_service_td_binding_is_accepted_only_when_pinned() {
    let Claims::Tdx(mut tc) = tdx() else {
        panic!("expected TDX claims")
    };
    let servicetd: initra_evidence::Measurement48 = "ab".repeat(48).parse().unwrap();
    tc.mr_servicetd = Some(servicetd);
    let mr_td = tc.mr_td.to_string();
    let c = Claims::Tdx(tc);
    let policy = |text: String| Policy::from_bytes(text.as_bytes(), "t").unwrap();

    let unpinned = policy(format!(
        r#"{{"identities": [{{"tee": "tdx", "mr_td": "{mr_td}"}}]}}"#
    ));
    assert_eq!(
        reason(up_to_date(&unpinned, &c)),
        format!(
            "identities[0]: mr_servicetd expected all zero (no service TD; pin mr_servicetd to accept one) got {servicetd}"
        )
    );
    let any = policy(r#"{"identities": "any"}"#.into());
    assert_eq!(
        reason(up_to_date(&any, &c)),
        format!(
            "identities \"any\": mr_servicetd expected all zero (no service TD; pin mr_servicetd to accept one) got {servicetd}"
        )
    );
    let pinned = policy(format!(
        r#"{{"identities": [{{"tee": "tdx", "mr_td": "{mr_td}", "mr_servicetd": "{servicetd}"}}]}}"#
    ));
    assert!(up_to_date(&pinned, &c).is_accepted());
    // A TD 1.5 quote with an all-zero MRSERVICETD is bound to nothing.
    let Claims::Tdx(mut tc) = c else {
        panic!("expected TDX claims")
    };
    tc.mr_servicetd = Some(initra_evidence::Measurement48::default());
    let c = Claims::Tdx(tc);
    assert!(up_to_date(&unpinned, &c).is_accepted());
    assert!(up_to_date(&any, &c).is_accepted());
}

#[test]
fn may_admit_names_the_tees_a_policy_can_accept() {
    let any = Policy::from_bytes(br#"{"identities": "any"}"#, "t").unwrap();
    assert!(any.may_admit("snp") && any.may_admit("sgx"));
    let sgx = occlum(MR_ENCLAVE, 0, false, "on");
    assert!(sgx.may_admit("sgx"));
    assert!(!sgx.may_admit("snp") && !sgx.may_admit("tdx"));
}

#[test]
fn policy_files_must_be_regular_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let e = Policy::from_any_file(dir.path()).unwrap_err().to_string();
    assert!(e.ends_with("not a regular file"), "{e}");
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; (4 << 20) + 1]).unwrap();
    let e = Policy::from_any_file(&big).unwrap_err().to_string();
    assert!(e.contains("larger than 4 MiB"), "{e}");
    let e = Policy::from_any_file("/dev/zero").unwrap_err().to_string();
    assert!(e.ends_with("not a regular file"), "{e}");
}
