//! SEV-SNP collateral from a fake AMD KDS on 127.0.0.1 (`initra_collateral::test_support`)
//! serving `testdata/sim-snp` and `testdata/snp/virtee`: URLs, verification of what is fetched,
//! caching (memory, disk), single flight, and errors. No network.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use initra_attest::sim::snp::SimSnpPlatform;
use initra_collateral::test_support::{
    dead_url, FakeKds, KdsFiles, MILAN_TCB_QUERY, SIM_SNP_DIR, SIM_SNP_HWID, VIRTEE_DIR,
    VIRTEE_MILAN_HWID,
};
use initra_collateral::{
    Error, HttpLimits, KdsCache, KdsClient, KdsConfig, KdsSource, VcekKey, VerifierSettings,
};
use initra_evidence::input::decode_evidence;
use initra_evidence::snp::SnpReport;
use initra_evidence::ReportData;
use initra_verify::{Policy, SnpCollateralSource, SnpProduct, SnpRoots, SnpVerifier};

/// 2025-06-01: inside every virtee certificate's validity (as `initra_verify`'s SNP tests).
fn at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_736_000)
}

fn virtee_raw() -> Vec<u8> {
    decode_evidence(&std::fs::read(format!("{VIRTEE_DIR}/report_milan.hex")).unwrap()).unwrap()
}

fn virtee_report() -> SnpReport {
    SnpReport::parse(&virtee_raw()).unwrap()
}

fn sim_platform() -> SimSnpPlatform {
    SimSnpPlatform::load(Path::new(SIM_SNP_DIR)).unwrap()
}

/// A signed version 3 report of the simulated platform (CPUID says Milan).
fn sim_raw() -> Vec<u8> {
    sim_platform().report(&ReportData([7; 64])).unwrap()
}

fn client(url: &str) -> KdsClient {
    let mut config = KdsConfig::new(url);
    config.limits = HttpLimits {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        retries: 1,
        backoff: Duration::from_millis(20),
    };
    KdsClient::new(&config).unwrap()
}

fn source(url: &str) -> KdsSource {
    KdsSource::new(client(url), KdsCache::in_memory())
}

fn vcek_path(hwid: &str) -> String {
    format!("/vcek/v1/Milan/{hwid}?{MILAN_TCB_QUERY}")
}

fn amd_verifier() -> SnpVerifier {
    SnpVerifier::new(SnpRoots::amd(), Arc::new(Policy::default()))
}

fn sim_verifier() -> SnpVerifier {
    let ark = std::fs::read(format!("{SIM_SNP_DIR}/ark.der")).unwrap();
    SnpVerifier::new(
        SnpRoots::amd().with_simulated_ark(ark).unwrap(),
        Arc::new(Policy::default()),
    )
}

#[test]
fn virtee_vcek_is_fetched_for_its_hwid_and_tcb_and_verifies() {
    let kds = FakeKds::start(KdsFiles::virtee_milan());
    // A version 2 report has no CPUID: the product is configured.
    let src = source(&kds.url())
        .with_product(Some(SnpProduct::Milan))
        .without_crl();
    let c = src.collateral(&virtee_report(), at()).unwrap();
    assert_eq!(
        kds.paths(),
        [
            format!("/vcek/v1/Milan/{VIRTEE_MILAN_HWID}?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115"),
            "/vcek/v1/Milan/cert_chain".to_owned(),
        ]
    );
    assert_eq!(
        c.vcek,
        std::fs::read(format!("{VIRTEE_DIR}/vcek_milan.der")).unwrap()
    );
    assert_eq!(c.chain.len(), 2);
    assert_eq!(c.crl, None);
    let v = amd_verifier()
        .verify_report(&virtee_report(), &c, None, at())
        .unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert_eq!(v.vcek.product_name.as_deref(), Some("Milan-B0"));
    assert!(!v.simulated);

    // Second call: from memory, no request.
    let again = src.collateral(&virtee_report(), at()).unwrap();
    assert_eq!(again, c);
    assert_eq!(kds.hits(), 2);
}

#[test]
fn sim_report_gets_vcek_chain_and_crl_and_verifies_simulated() {
    let kds = FakeKds::start(KdsFiles::sim_snp());
    let src = source(&kds.url());
    let report = SnpReport::parse(&sim_raw()).unwrap();
    // Product from the version 3 report's CPUID; nothing configured.
    let c = src.collateral(&report, at()).unwrap();
    assert_eq!(
        kds.paths(),
        [
            vcek_path(SIM_SNP_HWID),
            "/vcek/v1/Milan/cert_chain".to_owned(),
            "/vcek/v1/Milan/crl".to_owned(),
        ]
    );
    assert_eq!(
        c.crl.as_deref(),
        Some(&std::fs::read(format!("{SIM_SNP_DIR}/crl.der")).unwrap()[..])
    );
    let v = sim_verifier()
        .verify_report(&report, &c, None, at())
        .unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision);
    assert!(v.simulated);

    // Through the trait, as the Verifier asks: served from memory.
    let again = src.snp_collateral_for(&report, at()).unwrap();
    assert_eq!(again, c);
    assert_eq!(kds.hits(), 3);
}

#[test]
fn a_revoking_crl_from_the_kds_makes_verification_fail() {
    let crl = std::fs::read(format!("{SIM_SNP_DIR}/crl_vcek_revoked.der")).unwrap();
    let kds = FakeKds::start(KdsFiles::sim_snp().crl("Milan", crl));
    let report = SnpReport::parse(&sim_raw()).unwrap();
    let c = source(&kds.url()).collateral(&report, at()).unwrap();
    let err = sim_verifier()
        .verify_report(&report, &c, None, at())
        .unwrap_err()
        .to_string();
    assert!(err.contains("revoked"), "{err}");
}

#[test]
fn persisted_cache_serves_a_new_source_without_the_kds() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("kds");
    let report = SnpReport::parse(&sim_raw()).unwrap();
    let kds = FakeKds::start(KdsFiles::sim_snp());
    let first = KdsSource::new(
        client(&kds.url()),
        KdsCache::persistent(&cache_dir).unwrap(),
    )
    .collateral(&report, at())
    .unwrap();
    assert_eq!(kds.hits(), 3);

    let key = VcekKey::from_report(&report, None).unwrap();
    let names = [
        format!("vcek-milan-{SIM_SNP_HWID}-0300000000000873.der"),
        "cert_chain-milan.pem".to_owned(),
        "crl-milan.der".to_owned(),
    ];
    let cache = KdsCache::persistent(&cache_dir).unwrap();
    assert_eq!(
        cache.vcek_path(&key).unwrap(),
        cache_dir.join(&names[0]),
        "file named by product, hwID and TCB"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache_dir), 0o700);
        for name in &names {
            assert_eq!(mode(&cache_dir.join(name)), 0o600, "{name}");
        }
    }
    // A restarted verifier: new source, new cache instance, the KDS gone.
    drop(kds);
    let second = KdsSource::new(client(&dead_url()), cache)
        .collateral(&report, at())
        .unwrap();
    assert_eq!(second, first);
    assert!(sim_verifier()
        .verify_report(&report, &second, None, at())
        .unwrap()
        .is_accepted());
}

#[test]
fn a_corrupt_cache_file_is_replaced_by_a_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let report = SnpReport::parse(&sim_raw()).unwrap();
    let key = VcekKey::from_report(&report, None).unwrap();
    let cache = KdsCache::persistent(dir.path()).unwrap();
    std::fs::write(cache.vcek_path(&key).unwrap(), b"not a certificate").unwrap();
    let kds = FakeKds::start(KdsFiles::sim_snp());
    let c = KdsSource::new(client(&kds.url()), cache)
        .collateral(&report, at())
        .unwrap();
    assert_eq!(kds.paths()[0], vcek_path(SIM_SNP_HWID));
    assert_eq!(
        std::fs::read(
            dir.path()
                .join(format!("vcek-milan-{SIM_SNP_HWID}-0300000000000873.der"))
        )
        .unwrap(),
        c.vcek
    );
}

#[test]
fn concurrent_callers_share_one_fetch() {
    let kds = FakeKds::start(KdsFiles::sim_snp());
    kds.set(|b| b.delay = Duration::from_millis(200));
    let src = Arc::new(source(&kds.url()));
    let raw = sim_raw();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (src, raw) = (src.clone(), raw.clone());
            std::thread::spawn(move || {
                src.collateral(&SnpReport::parse(&raw).unwrap(), at())
                    .unwrap()
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(kds.hits(), 3, "{:?}", kds.paths());
}

fn err_text(src: &KdsSource, report: &SnpReport) -> (Error, String) {
    let e = src.collateral(report, at()).unwrap_err();
    let text = e.to_string();
    (e, text)
}

#[test]
fn not_found_names_the_url_and_status() {
    // The KDS knows the simulated chip only.
    let kds = FakeKds::start(KdsFiles::sim_snp());
    let src = source(&kds.url()).with_product(Some(SnpProduct::Milan));
    let (e, text) = err_text(&src, &virtee_report());
    let url = format!("{}{}", kds.url(), vcek_path(VIRTEE_MILAN_HWID));
    assert!(
        text.starts_with(&format!("AMD KDS {url}: HTTP 404 (not found: no VCEK")),
        "{text}"
    );
    assert!(matches!(
        e,
        Error::Kds {
            status: Some(404),
            ..
        }
    ));
    assert_eq!(kds.hits(), 1, "404 is not retried");
}

#[test]
fn rate_limiting_is_reported_and_not_hammered() {
    let kds = FakeKds::start(KdsFiles::sim_snp());
    kds.set(|b| b.status = Some(429));
    let src = source(&kds.url());
    let report = SnpReport::parse(&sim_raw()).unwrap();
    let (e, text) = err_text(&src, &report);
    assert!(
        matches!(
            e,
            Error::Kds {
                status: Some(429),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        text.starts_with(&format!(
            "AMD KDS {}{}: HTTP 429 (rate limited by the KDS",
            kds.url(),
            vcek_path(SIM_SNP_HWID)
        )),
        "{text}"
    );
    // One retry with backoff (HttpLimits::retries = 1), then the error.
    assert_eq!(kds.hits(), 2);
    // Asked again at once: the same error, no request.
    let (_, again) = err_text(&src, &report);
    assert!(
        again.contains("HTTP 429") && again.contains("not asked again"),
        "{again}"
    );
    assert_eq!(kds.hits(), 2);
    // After the retry interval the KDS is asked again.
    kds.set(|b| b.status = None);
    let src = source(&kds.url()).with_retry_interval(Duration::ZERO);
    src.collateral(&report, at()).unwrap();
}

#[test]
fn garbage_answers_are_errors_naming_the_url() {
    let kds = FakeKds::start(KdsFiles::sim_snp());
    kds.set(|b| b.garbage = true);
    let report = SnpReport::parse(&sim_raw()).unwrap();
    let (_, text) = err_text(&source(&kds.url()), &report);
    let url = format!("{}{}", kds.url(), vcek_path(SIM_SNP_HWID));
    assert!(
        text.starts_with(&format!(
            "AMD KDS {url}: bad response: VCEK: not a DER X.509 certificate"
        )),
        "{text}"
    );
}

#[test]
fn a_vcek_for_another_chip_or_chain_of_another_product_is_refused() {
    let sim_vcek = std::fs::read(format!("{SIM_SNP_DIR}/vcek.der")).unwrap();
    // The KDS answers the virtee chip's URL with the simulated chip's VCEK.
    let kds = FakeKds::start(KdsFiles::virtee_milan().vcek(
        "Milan",
        VIRTEE_MILAN_HWID,
        MILAN_TCB_QUERY,
        sim_vcek,
    ));
    let src = source(&kds.url())
        .with_product(Some(SnpProduct::Milan))
        .without_crl();
    let (_, text) = err_text(&src, &virtee_report());
    assert!(
        text.contains(&format!(
            "bad response: VCEK hwID: expected {VIRTEE_MILAN_HWID}, got {SIM_SNP_HWID}"
        )),
        "{text}"
    );
    // Genoa's chain path serves Milan's chain.
    let chain = std::fs::read(format!("{VIRTEE_DIR}/cert_chain_milan.pem")).unwrap();
    let kds = FakeKds::start(KdsFiles::new().cert_chain("Genoa", chain));
    let e = block(client(&kds.url()).cert_chain(SnpProduct::Genoa)).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("cert_chain ASK subject CN: expected SEV-Genoa, got \"SEV-Milan\""),
        "{e}"
    );
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn the_product_comes_from_cpuid_or_configuration() {
    let sim = SnpReport::parse(&sim_raw()).unwrap();
    assert_eq!(
        VcekKey::from_report(&sim, None).unwrap().product,
        SnpProduct::Milan
    );
    let e = VcekKey::from_report(&sim, Some(SnpProduct::Genoa)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "collateral key: snp_product: configured genoa, but the report's CPUID says milan"
    );
    let e = VcekKey::from_report(&virtee_report(), None).unwrap_err();
    assert!(
        e.to_string()
            .contains("SEV-SNP report version 2 has no CPUID fields: set snp_product"),
        "{e}"
    );
    // No request is made for a key that cannot be formed.
    let kds = FakeKds::start(KdsFiles::sim_snp());
    assert!(source(&kds.url())
        .with_product(Some(SnpProduct::Genoa))
        .collateral(&sim, at())
        .is_err());
    assert_eq!(kds.hits(), 0);
}

#[test]
fn a_masked_chip_id_cannot_be_fetched() {
    let mut raw = virtee_raw();
    raw[0x48] |= 0b10; // flags bit 1: mask_chip_key
    let report = SnpReport::parse(&raw).unwrap();
    assert!(report.mask_chip_key);
    let e = VcekKey::from_report(&report, Some(SnpProduct::Milan)).unwrap_err();
    assert!(e.to_string().contains("mask_chip_key is set"), "{e}");
}

#[test]
fn verifier_settings_wire_the_kds_into_verify_evidence() {
    let kds = FakeKds::start(KdsFiles::sim_snp());
    let dir = tempfile::tempdir().unwrap();
    let settings: VerifierSettings = serde_json::from_value(serde_json::json!({
        "snp_simulated_arks": [format!("{SIM_SNP_DIR}/ark.der")],
        "kds_url": kds.url(),
        "collateral": { "sources": [], "cache_dir": dir.path() },
    }))
    .unwrap();
    let verifier = settings.build(Policy::default()).unwrap();
    let v = verifier.verify_evidence(&sim_raw(), None, at()).unwrap();
    assert!(v.is_accepted(), "{:?}", v.decision());
    assert!(v.simulated());
    assert_eq!(kds.hits(), 3);
    assert!(dir.path().join("kds/crl-milan.der").is_file());

    // Without kds_url: no network, the table-less report is refused.
    let offline = VerifierSettings {
        kds_url: None,
        ..settings.clone()
    };
    let err = offline
        .build(Policy::default())
        .unwrap()
        .verify_evidence(&sim_raw(), None, at())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no VCEK"), "{err}");
    assert_eq!(kds.hits(), 3);

    // snp_product is checked when the verifier is built.
    let bad = VerifierSettings {
        snp_product: Some("rome".into()),
        ..settings
    };
    let err = bad.build(Policy::default()).unwrap_err().to_string();
    assert!(
        err.starts_with("snp_product: unknown SEV-SNP product \"rome\""),
        "{err}"
    );
}

mod common;

/// A server on 127.0.0.1 answering every request with `status` and `body` (as a KDS behind a
/// proxy that serves its own error pages), until the test ends.
fn reply_server(status: &'static str, body: &'static [u8]) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body);
        }
    });
    url
}

fn milan_key() -> VcekKey {
    VcekKey::from_report(&virtee_report(), Some(SnpProduct::Milan)).unwrap()
}

#[test]
fn retry_warnings_and_errors_name_the_kds_not_pccs() {
    let url = dead_url();
    let (result, logs) = common::with_logs(|| block(client(&url).vcek(&milan_key())));
    let e = result.unwrap_err();
    let vcek_url = format!("{url}{}", vcek_path(VIRTEE_MILAN_HWID));
    assert!(
        e.to_string()
            .starts_with(&format!("AMD KDS {vcek_url}: unreachable: connect")),
        "{e}"
    );
    assert!(matches!(e, Error::Kds { status: None, .. }), "{e:?}");
    // HttpLimits::retries = 1: one warning, in the KDS's words.
    assert_eq!(
        logs.matches("request failed; retrying").count(),
        1,
        "{logs}"
    );
    assert!(
        logs.contains(&format!("error=AMD KDS {vcek_url}: unreachable: connect")),
        "{logs}"
    );
    assert!(!logs.contains("PCCS"), "{logs}");
}

#[test]
fn an_html_404_page_is_quoted_as_one_short_line() {
    let page: &'static [u8] = b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n\
        <center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let url = reply_server("404 Not Found", page);
    let e = block(client(&url).vcek(&milan_key())).unwrap_err();
    let text = e.to_string();
    assert_eq!(
        text,
        format!(
            "AMD KDS {url}{}: HTTP 404 (not found: no VCEK for this chip id and TCB at this KDS, \
             or the URL is not a KDS base): <html>…",
            vcek_path(VIRTEE_MILAN_HWID)
        )
    );
    assert!(matches!(
        e,
        Error::Kds {
            status: Some(404),
            ..
        }
    ));

    // A one-line body longer than the bound is cut; control bytes are escaped.
    static LONG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let long = LONG.get_or_init(|| {
        let mut b = b"\x1b[2Jerror ".to_vec();
        b.extend(std::iter::repeat_n(b'x', 5000));
        b
    });
    let url = reply_server("502 Bad Gateway", long);
    let text = block(client(&url).crl(SnpProduct::Milan))
        .unwrap_err()
        .to_string();
    let (_, quoted) = text.split_once("(KDS server error): ").unwrap();
    assert!(quoted.starts_with("\\u{1b}[2Jerror xxx"), "{quoted}");
    assert!(quoted.ends_with("x…"), "{quoted}");
    assert_eq!(quoted.chars().count(), 200);
    assert!(!text.contains('\x1b'));
}

#[test]
fn a_cert_chain_that_is_not_pem_says_so() {
    let chain_err = |body: &[u8]| {
        let kds = FakeKds::start(KdsFiles::new().cert_chain("Milan", body.to_vec()));
        let e = block(client(&kds.url()).cert_chain(SnpProduct::Milan)).unwrap_err();
        let prefix = format!(
            "AMD KDS {}/vcek/v1/Milan/cert_chain: bad response: ",
            kds.url()
        );
        let text = e.to_string();
        assert!(text.starts_with(&prefix), "{text}");
        text[prefix.len()..].to_owned()
    };
    assert_eq!(
        chain_err(b""),
        "cert_chain: empty body, expected 2 PEM certificates (ASK, ARK)"
    );
    assert_eq!(
        chain_err(b"\r\n<html>502 proxy error</html>\r\n"),
        "cert_chain: not PEM, expected 2 PEM certificates (ASK, ARK); body starts \
         \"<html>502 proxy error</html>\""
    );
    let random: Vec<u8> = (0u8..64).map(|i| i.wrapping_mul(97) ^ 0xa5).collect();
    assert_eq!(
        chain_err(&random),
        format!(
            "cert_chain: not PEM, expected 2 PEM certificates (ASK, ARK); body starts {}",
            hex::encode(&random[..16])
        )
    );
    // The real chain as DER (one certificate, not PEM) is not taken for a one-certificate chain.
    let ark = std::fs::read(format!("{SIM_SNP_DIR}/ark.der")).unwrap();
    assert!(chain_err(&ark).starts_with("cert_chain: not PEM"));
    // PEM with one certificate: the count.
    let one = initra_collateral::test_support::pem("CERTIFICATE", &ark);
    assert_eq!(
        chain_err(one.as_bytes()),
        "cert_chain: expected 2 PEM certificates (ASK, ARK), got 1"
    );
}

#[test]
fn empty_and_garbage_vcek_and_crl_answers_say_what_they_are() {
    let kds = FakeKds::start(
        KdsFiles::new()
            .vcek("Milan", VIRTEE_MILAN_HWID, MILAN_TCB_QUERY, Vec::new())
            .crl("Milan", Vec::new()),
    );
    let c = client(&kds.url());
    let e = block(c.vcek(&milan_key())).unwrap_err().to_string();
    assert!(e.ends_with(": bad response: VCEK: empty body"), "{e}");
    let e = block(c.crl(SnpProduct::Milan)).unwrap_err().to_string();
    assert!(e.ends_with(": bad response: CRL: empty body"), "{e}");
    // An HTML page where DER is expected: the parser's complaint in words, and the page's line.
    kds.set(|b| b.garbage = true);
    let e = block(c.vcek(&milan_key())).unwrap_err().to_string();
    assert!(
        e.contains(
            "bad response: VCEK: not a DER X.509 certificate (ends before its encoded length)"
        ) && e.ends_with("; body starts \"<html>502 proxy error</html>\""),
        "{e}"
    );
    assert!(!e.contains("Parsing Error") && !e.contains("Tag("), "{e}");
    // Random bytes: the tag the parser found, named.
    let kds = FakeKds::start(KdsFiles::new().vcek(
        "Milan",
        VIRTEE_MILAN_HWID,
        MILAN_TCB_QUERY,
        vec![0x01, 0x01, 0xff, 0x00],
    ));
    let e = block(client(&kds.url()).vcek(&milan_key()))
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with(
            "VCEK: not a DER X.509 certificate (DER tag: expected Sequence, got Boolean); \
             body starts 0101ff00"
        ),
        "{e}"
    );
}
