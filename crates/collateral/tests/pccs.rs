//! PCCS client, cache, bundles and freshness against a fake PCCS on 127.0.0.1 serving the
//! recorded Intel responses of `tdx/automata-solana-v4`. No network.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use dcap_qvl::QuoteCollateralV3;
use initra_collateral::{
    Bundle, BundleSource, CachedSource, CollateralCache, CollateralEntry, CollateralKey,
    CollateralSettings, Error, FreshnessChecked, HttpLimits, PccsClient, PccsConfig, PccsSource,
    SourceKind, TlsTrust,
};
use initra_verify::{Collateral, CollateralSource, StaticCollateral};

fn config(url: &str) -> PccsConfig {
    let mut c = PccsConfig::new(url);
    c.limits = HttpLimits {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        retries: 1,
        backoff: Duration::from_millis(50),
    };
    c
}

fn client(url: &str) -> PccsClient {
    PccsClient::new(&config(url)).unwrap()
}

fn key() -> CollateralKey {
    CollateralKey::from_quote(&quote()).unwrap()
}

fn sample_collateral() -> QuoteCollateralV3 {
    serde_json::from_slice(&solana("collateral.dcap-qvl.json")).unwrap()
}

/// dcap-qvl's verdict at the pinned time: (status, advisories).
fn verify(c: &QuoteCollateralV3, now: SystemTime) -> (String, Vec<String>) {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = dcap_qvl::verify::verify(quote().raw(), c, now).unwrap();
    (r.status, r.advisory_ids)
}

fn july20() -> SystemTime {
    at("2025-07-20T00:00:00Z")
}

const ONE_FETCH: usize = 4; // tcb, qe/identity, pckcrl, rootcacrl

fn chain_ders(pem: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map(|p| p.unwrap().contents)
        .collect()
}

#[test]
fn key_from_quote() {
    assert_eq!(key().id(), "tdx-00806f050000-platform");
}

#[test]
fn fetch_assembles_the_sample_collateral() {
    let pccs = solana_pccs();
    let c = client(&format!("{}/sgx/certification/v4/", pccs.url()))
        .fetch_blocking(&key())
        .unwrap();
    let sample = sample_collateral();
    assert_eq!(c.tcb_info, sample.tcb_info, "exact signed tcbInfo text");
    assert_eq!(c.tcb_info_signature, sample.tcb_info_signature);
    assert_eq!(c.qe_identity, sample.qe_identity);
    assert_eq!(c.qe_identity_signature, sample.qe_identity_signature);
    assert_eq!(c.pck_crl, sample.pck_crl);
    assert_eq!(c.root_ca_crl, sample.root_ca_crl);
    assert_eq!(
        chain_ders(&c.tcb_info_issuer_chain),
        chain_ders(&sample.tcb_info_issuer_chain)
    );
    assert_eq!(
        chain_ders(&c.qe_identity_issuer_chain),
        chain_ders(&sample.qe_identity_issuer_chain)
    );
    assert_eq!(
        chain_ders(&c.pck_crl_issuer_chain),
        chain_ders(&sample.pck_crl_issuer_chain)
    );
    let mut paths = pccs.paths();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
            "/sgx/certification/v4/rootcacrl",
            "/tdx/certification/v4/qe/identity",
            "/tdx/certification/v4/tcb?fmspc=00806F050000",
        ]
    );
    let (status, advisories) = verify(&c, july20());
    assert_eq!(status, "OutOfDate");
    assert_eq!(
        advisories,
        ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"]
    );
}

#[test]
fn crl_encodings_give_identical_results() {
    let pccs = solana_pccs();
    let mut results = Vec::new();
    for enc in [CrlEncoding::Der, CrlEncoding::Hex, CrlEncoding::Pem] {
        pccs.set(|b| {
            b.pck_crl = enc;
            b.root_crl = enc;
        });
        let c = client(&pccs.url()).fetch_blocking(&key()).unwrap();
        results.push((
            c.pck_crl.clone(),
            c.root_ca_crl.clone(),
            verify(&c, july20()),
        ));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    assert_eq!(results[0].0, solana("pck_platform_crl.der"));
}

#[test]
fn cache_hit_does_not_touch_the_server_and_survives_a_restart() {
    let pccs = solana_pccs();
    let dir = tempfile::tempdir().unwrap();
    let source = CachedSource::new(
        CollateralCache::persistent(dir.path()).unwrap(),
        Some(client(&pccs.url())),
    );
    let first = source.collateral_for_at(&quote(), july20()).unwrap();
    assert_eq!(pccs.hits(), ONE_FETCH);
    let second = source.collateral_for_at(&quote(), july20()).unwrap();
    assert_eq!(pccs.hits(), ONE_FETCH, "cache hit");
    assert!(Arc::ptr_eq(&first, &second));
    let file = dir.path().join("tdx-00806f050000-platform.json");
    assert!(file.is_file());

    // A restarted server (new source, same directory) with the PCCS gone verifies from disk.
    pccs.stop();
    let restarted = CachedSource::new(
        CollateralCache::persistent(dir.path()).unwrap(),
        Some(client(&pccs.url())),
    );
    let (c, logs) = with_logs(|| restarted.collateral_for_at(&quote(), july20()));
    let c = c.unwrap();
    assert_eq!(verify(c.inner(), july20()).0, "OutOfDate");
    assert!(!logs.contains("WARN"), "no network needed: {logs}");
}

#[test]
fn refresh_when_next_update_is_near() {
    let pccs = solana_pccs();
    let source = CachedSource::new(CollateralCache::in_memory(), Some(client(&pccs.url())))
        .with_refresh_margin(Duration::from_secs(24 * 3600));
    source.collateral_for_at(&quote(), july20()).unwrap();
    assert_eq!(pccs.hits(), ONE_FETCH);
    // Earliest nextUpdate: TCB info 2025-08-06T09:06:43Z; one day before it is inside the margin.
    source
        .collateral_for_at(&quote(), at("2025-08-05T00:00:00Z"))
        .unwrap();
    assert_eq!(pccs.hits(), ONE_FETCH, "2 days before: no refresh");
    source
        .collateral_for_at(&quote(), at("2025-08-05T12:00:00Z"))
        .unwrap();
    assert_eq!(pccs.hits(), 2 * ONE_FETCH, "within the margin: refreshed");
}

#[test]
fn pccs_down_with_cache_is_a_warning() {
    let pccs = solana_pccs();
    let source = CachedSource::new(CollateralCache::in_memory(), Some(client(&pccs.url())));
    let before = source.collateral_for_at(&quote(), july20()).unwrap();
    pccs.stop();
    let near = at("2025-08-06T00:00:00Z"); // due for refresh, still valid
    let (after, logs) = with_logs(|| source.collateral_for_at(&quote(), near));
    let after = after.unwrap();
    assert!(Arc::ptr_eq(&before, &after));
    assert!(
        logs.contains("WARN")
            && logs.contains("PCCS refresh failed; verifying with the cached collateral"),
        "{logs}"
    );
    assert!(logs.contains(&pccs.url()), "{logs}");

    // Past nextUpdate the cached copy is no longer a fallback.
    let err = source
        .collateral_for_at(&quote(), at("2025-08-07T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cached collateral expired (TCB info nextUpdate 2025-08-06T09:06:43Z)"),
        "{err}"
    );
}

#[test]
fn pccs_down_without_cache_names_the_url_within_the_timeout() {
    let url = dead_url();
    let source = CachedSource::new(CollateralCache::in_memory(), Some(client(&url)));
    let start = Instant::now();
    let err = source
        .collateral_for_at(&quote(), july20())
        .unwrap_err()
        .to_string();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(
        err.contains(&format!("PCCS {url}/")) && err.contains("unreachable: connect 127.0.0.1"),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
}

#[test]
fn unknown_fmspc_is_a_clear_404() {
    let pccs = solana_pccs();
    let other: CollateralKey = "tdx-00906ed50000-platform".parse().unwrap();
    let err = client(&pccs.url()).fetch_blocking(&other).unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 404, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "PCCS {}/tdx/certification/v4/tcb?fmspc=00906ED50000: HTTP 404 (not found: unknown FMSPC / CA for this \
             PCCS, or the URL is not a PCCS v4 API base): No cache data for this platform",
            pccs.url()
        )
    );
    // 404 is not retried.
    assert!(pccs.paths().iter().filter(|p| p.contains("tcb?")).count() == 1);
}

#[test]
fn garbage_body_is_a_clear_error() {
    let pccs = solana_pccs();
    pccs.set(|b| b.garbage_tcb = true);
    let err = client(&pccs.url())
        .fetch_blocking(&key())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "PCCS {}/tdx/certification/v4/tcb?fmspc=00806F050000: bad response: body: expected JSON {{\"tcbInfo\"",
            pccs.url()
        )),
        "{err}"
    );
    assert!(
        err.contains("body starts \"<html>502 proxy error</html>\""),
        "{err}"
    );
}

#[test]
fn slow_pccs_times_out() {
    let pccs = solana_pccs();
    pccs.set(|b| b.delay = Duration::from_secs(5));
    let mut cfg = config(&pccs.url());
    cfg.limits.request_timeout = Duration::from_millis(300);
    cfg.limits.retries = 1;
    let start = Instant::now();
    let err = PccsClient::new(&cfg)
        .unwrap()
        .fetch_blocking(&key())
        .unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        err.to_string().ends_with(": no response within 300ms"),
        "{err}"
    );
}

#[test]
fn concurrent_requests_share_one_fetch() {
    let pccs = solana_pccs();
    pccs.set(|b| b.delay = Duration::from_millis(200));
    let source = Arc::new(CachedSource::new(
        CollateralCache::in_memory(),
        Some(client(&pccs.url())),
    ));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let s = Arc::clone(&source);
            std::thread::spawn(move || {
                s.collateral_for_at(&quote(), july20())
                    .map(|c| c.inner().tcb_info.len())
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().unwrap() > 1000);
    }
    assert_eq!(pccs.hits(), ONE_FETCH, "{:?}", pccs.paths());
}

#[test]
fn same_result_from_pccs_cache_and_bundle() {
    let pccs = solana_pccs();
    let dir = tempfile::tempdir().unwrap();
    let now = july20();

    let direct = PccsSource::new(client(&pccs.url()));
    let from_pccs = direct.collateral_for_at(&quote(), now).unwrap();

    let cached = CachedSource::new(
        CollateralCache::persistent(dir.path().join("cache")).unwrap(),
        Some(client(&pccs.url())),
    );
    cached.collateral_for_at(&quote(), now).unwrap();
    let from_cache = CachedSource::new(
        CollateralCache::persistent(dir.path().join("cache")).unwrap(),
        None,
    )
    .collateral_for_at(&quote(), now)
    .unwrap();

    let mut bundle = Bundle::new(1_753_000_000);
    bundle.insert(direct.fetch(&key()).unwrap());
    let path = dir.path().join("bundle.json");
    bundle.write(&path).unwrap();
    let from_bundle = BundleSource::open(&path)
        .unwrap()
        .collateral_for_at(&quote(), now)
        .unwrap();

    let expected = verify(&sample_collateral(), now);
    assert_eq!(expected.0, "OutOfDate");
    for c in [&from_pccs, &from_cache, &from_bundle] {
        assert_eq!(verify(c.inner(), now), expected);
    }

    // The same through initra's verifier.
    for c in [from_pccs, from_cache, from_bundle] {
        let verifier = initra_verify::Verifier::new(
            initra_verify::TrustRoots::intel(),
            Arc::new(StaticCollateral::single(Collateral::clone(&c))),
            Arc::new(initra_verify::Policy::default()),
        );
        let verdict = verifier.verify(quote().raw(), now).unwrap();
        assert_eq!(verdict.tcb_status.as_str(), "OutOfDate");
        assert_eq!(verdict.advisory_ids, expected.1);
    }
}

#[test]
fn bundle_round_trip_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.json");
    let mut bundle = Bundle::new(1_753_000_000);
    bundle.insert(CollateralEntry {
        key: key(),
        source: "test".into(),
        fetched_at: 1_753_000_000,
        collateral: sample_collateral(),
    });
    bundle.write(&path).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["format"], "initra-collateral-bundle");
    assert_eq!(json["version"], 1);
    assert_eq!(
        json["entries"]["tdx-00806f050000-platform"]["fmspc"],
        "00806f050000"
    );
    let summary = Bundle::read(&path).unwrap().summary().unwrap();
    let e = &summary.entries[0];
    assert_eq!(e.valid_from, "2025-07-07T09:20:26Z");
    assert_eq!(e.valid_until.as_deref(), Some("2025-08-06T09:06:43Z"));

    // A quote whose key the bundle lacks: the error lists what it holds.
    let other = BundleSource::open(&path).unwrap();
    let err = other
        .get(&"sgx-00a067110000-processor".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("no collateral for sgx-00a067110000-processor: bundle {} holds tdx-00806f050000-platform", path.display()));

    let mut v = json;
    v["version"] = 2.into();
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let err = Bundle::read(&path).unwrap_err().to_string();
    assert!(
        err.ends_with("version: expected 1, got 2 (written by a newer initra?)"),
        "{err}"
    );
}

#[test]
fn max_age_policy_on_the_june_set() {
    let june = Collateral::from_json_file(format!("{EVM_EXTRA}/collateral_v4_0625.dcap-qvl.json"))
        .unwrap();
    let policy = initra_collateral::freshness::from_strs(Some("7d"), None).unwrap();
    let source = FreshnessChecked::new(StaticCollateral::single(june), policy);
    let q = quote();
    source
        .collateral_for_at(&q, at("2025-06-05T00:00:00Z"))
        .unwrap();
    let err = source
        .collateral_for_at(&q, at("2025-06-20T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("collateral PCK CRL too old: issued 2025-06-04T09:19:31Z"),
        "{err}"
    );
    assert!(err.contains("max age 7days"), "{err}");
}

#[test]
fn settings_build_a_chain_in_order() {
    let pccs = solana_pccs();
    let dir = tempfile::tempdir().unwrap();
    let settings: CollateralSettings = serde_json::from_value(serde_json::json!({
        "sources": ["cache", "pccs"],
        "pccs_url": pccs.url(),
        "cache_dir": dir.path().join("c"),
        "qcnl_conf": dir.path().join("none.conf"),
        "max_collateral_age": "30d",
        "request_timeout": "2s",
    }))
    .unwrap();
    assert_eq!(
        settings.sources.as_deref(),
        Some(&[SourceKind::Cache, SourceKind::Pccs][..])
    );
    let chain = settings.build().unwrap();
    chain.collateral_for_at(&quote(), july20()).unwrap();
    assert_eq!(pccs.hits(), ONE_FETCH);
    assert!(dir
        .path()
        .join("c/tdx-00806f050000-platform.json")
        .is_file());

    let bad: CollateralSettings = serde_json::from_value(serde_json::json!({
        "sources": ["pccs"], "qcnl_conf": dir.path().join("none.conf")
    }))
    .unwrap();
    if std::env::var_os("PCCS_URL").is_none() {
        let err = bad.build().err().unwrap().to_string();
        assert!(
            err.starts_with("collateral.sources: pccs is listed but no PCCS URL is configured"),
            "{err}"
        );
    }
}

fn self_signed() -> (Arc<rustls::ServerConfig>, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    let key = rustls_pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    (Arc::new(cfg), cert_pem)
}

#[test]
fn https_pccs_with_self_signed_certificate() {
    let (tls, cert_pem) = self_signed();
    let pccs = solana_pccs_tls(tls);
    let dir = tempfile::tempdir().unwrap();

    // use_secure_cert=false: accepted (with a warning).
    let mut insecure = config(&pccs.url());
    insecure.trust = TlsTrust::AcceptAny;
    let c = PccsClient::new(&insecure)
        .unwrap()
        .fetch_blocking(&key())
        .unwrap();
    assert_eq!(verify(&c, july20()).0, "OutOfDate");

    // Verified against another CA (Intel's root): the handshake fails with a clear reason.
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, pem("CERTIFICATE", &solana("root.der"))).unwrap();
    let mut strict = config(&pccs.url());
    strict.trust = TlsTrust::CaFile(other_ca);
    strict.limits.retries = 0;
    let err = PccsClient::new(&strict)
        .unwrap()
        .fetch_blocking(&key())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unreachable: TLS handshake: invalid peer certificate: UnknownIssuer"),
        "{err}"
    );

    // The PCCS's own certificate as CA file: accepted.
    let ca = dir.path().join("pccs.pem");
    std::fs::write(&ca, cert_pem).unwrap();
    let mut pinned = config(&pccs.url());
    pinned.trust = TlsTrust::CaFile(ca);
    PccsClient::new(&pinned)
        .unwrap()
        .fetch_blocking(&key())
        .unwrap();
}
