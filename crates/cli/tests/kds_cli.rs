//! `initra quote verify` on an SEV-SNP report without --vcek / --chain, fetching them from a fake
//! AMD KDS (`--kds-url`), running the real binary. No network.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use initra_collateral::test_support::{FakeKds, KdsFiles, MILAN_TCB_QUERY, VIRTEE_MILAN_HWID};
use support::{code, initra, json, sample, text};

const REPORT: &str = sample!("snp/virtee/report_milan.hex");
/// Inside every sample certificate's validity.
const AT: &str = "2025-06-01T00:00:00Z";

#[test]
fn quote_verify_fetches_the_vcek_and_chain_from_the_kds() {
    let kds = FakeKds::start(KdsFiles::virtee_milan());
    let url = kds.url();
    // AMD's CRL of the sample's time is not in testdata: --no-kds-crl.
    let o = initra(&[
        "quote",
        "verify",
        REPORT,
        "--kds-url",
        &url,
        "--product",
        "milan",
        "--no-kds-crl",
        "--at",
        AT,
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v = json(&o);
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["tee"], "snp");
    assert_eq!(v["product_name"], "Milan-B0");
    assert_eq!(v["reported_tcb"], "0300000000000873");
    assert_eq!(
        kds.paths(),
        [
            format!("/vcek/v1/Milan/{VIRTEE_MILAN_HWID}?{MILAN_TCB_QUERY}"),
            "/vcek/v1/Milan/cert_chain".to_owned(),
        ]
    );
}

#[test]
fn kds_errors_and_flag_conflicts_are_named() {
    let kds = FakeKds::start(KdsFiles::virtee_milan());
    let url = kds.url();
    // With the CRL (the default) the KDS's 404 for it is the error, naming URL and status.
    let o = initra(&[
        "quote",
        "verify",
        REPORT,
        "--kds-url",
        &url,
        "--product",
        "milan",
        "--at",
        AT,
    ]);
    assert_eq!(code(&o), 2);
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("AMD KDS {url}/vcek/v1/Milan/crl: HTTP 404")),
        "{err}"
    );
    // A version 2 report names no product: --product is needed.
    let o = initra(&["quote", "verify", REPORT, "--kds-url", &url, "--at", AT]);
    assert_eq!(code(&o), 2);
    let err = text(&o.stderr);
    assert!(err.contains("set snp_product (--product"), "{err}");
    // Files and KDS are alternatives.
    let o = initra(&[
        "quote",
        "verify",
        REPORT,
        "--kds-url",
        &url,
        "--vcek",
        sample!("snp/virtee/vcek_milan.der"),
        "--chain",
        sample!("snp/virtee/cert_chain_milan.pem"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("--kds-url fetches the VCEK and chain"));
    // Neither: the error says both ways.
    let o = initra(&["quote", "verify", REPORT, "--at", AT]);
    assert_eq!(code(&o), 2);
    let err = text(&o.stderr);
    assert!(
        err.contains("needs --vcek FILE and --chain FILE") && err.contains("--kds-url URL"),
        "{err}"
    );
    // --kds-url is for SNP reports only.
    let o = initra(&[
        "quote",
        "verify",
        sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin"),
        "--kds-url",
        &url,
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains("--kds-url is for SEV-SNP reports"),
        "{}",
        text(&o.stderr)
    );
    // --no-kds-crl only with --kds-url.
    let o = initra(&["quote", "verify", REPORT, "--no-kds-crl"]);
    assert_eq!(code(&o), 2);
    assert_eq!(kds.hits(), 3, "{:?}", kds.paths());
}

#[test]
fn no_kds_crl_usage_shows_it_takes_no_value() {
    let o = initra(&["quote", "verify", REPORT, "--no-kds-crl"]);
    assert_eq!(code(&o), 2);
    let err = text(&o.stderr);
    assert!(err.contains("--kds-url <URL>"), "{err}");
    assert!(!err.contains("--no-kds-crl <"), "{err}");
    assert!(
        err.contains("initra quote verify <FILE> --kds-url <URL> [--no-kds-crl] [OPTIONS]"),
        "{err}"
    );
}

#[test]
fn an_unreachable_kds_is_named_in_retry_warnings_and_the_error() {
    let dead = initra_collateral::test_support::dead_url();
    let o = initra(&[
        "quote",
        "verify",
        REPORT,
        "--kds-url",
        &dead,
        "--product",
        "milan",
        "--at",
        AT,
    ]);
    assert_eq!(code(&o), 2);
    let err = text(&o.stderr);
    let url = format!("{dead}/vcek/v1/Milan/{VIRTEE_MILAN_HWID}?{MILAN_TCB_QUERY}");
    // Two retries (the default), each warning in the KDS's words.
    assert_eq!(
        err.matches(&format!("error=AMD KDS {url}: unreachable: connect"))
            .count(),
        2,
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "initra: error: AMD KDS {url}: unreachable: connect"
        )),
        "{err}"
    );
    assert!(!err.contains("PCCS"), "{err}");
}
