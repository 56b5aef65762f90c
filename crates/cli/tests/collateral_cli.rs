//! `initra collateral fetch` / `show` against a fake PCCS on 127.0.0.1 serving the recorded Intel
//! responses of `tdx/automata-solana-v4`. No network.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod support;

use support::{initra, sample, text};

const SOLANA: &str = sample!("tdx/automata-solana-v4");

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(SOLANA).join(name)).unwrap()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Serves the v4 endpoints; returns the base URL and a request counter.
fn fake_pccs() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    // The issuer chains (PEM) as recorded in the derived dcap-qvl file of the same sample.
    let c: serde_json::Value = serde_json::from_slice(&sample("collateral.dcap-qvl.json")).unwrap();
    let tcb_chain = url_encode(c["tcb_info_issuer_chain"].as_str().unwrap());
    let crl_chain = url_encode(c["pck_crl_issuer_chain"].as_str().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let (status, header, body) = match path {
                "/tdx/certification/v4/tcb?fmspc=00806F050000" => (
                    "200 OK",
                    format!("TCB-Info-Issuer-Chain: {tcb_chain}"),
                    sample("tcb_info_v3_with_tdx_module.json"),
                ),
                "/tdx/certification/v4/qe/identity" => (
                    "200 OK",
                    format!("SGX-Enclave-Identity-Issuer-Chain: {tcb_chain}"),
                    sample("qe_identity.json"),
                ),
                "/sgx/certification/v4/pckcrl?ca=platform&encoding=der" => (
                    "200 OK",
                    format!("SGX-PCK-CRL-Issuer-Chain: {crl_chain}"),
                    sample("pck_platform_crl.der"),
                ),
                "/sgx/certification/v4/rootcacrl" => (
                    "200 OK",
                    "X-Fake: 1".into(),
                    hex::encode(sample("intel_root_ca_crl.der")).into_bytes(),
                ),
                _ => ("404 Not Found", "X-Fake: 1".into(), Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\n{header}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn
                .write_all(head.as_bytes())
                .and_then(|()| conn.write_all(&body));
        }
    });
    (format!("http://127.0.0.1:{port}"), hits)
}

#[test]
fn fetch_then_show() {
    let (url, hits) = fake_pccs();
    let dir = tempfile::tempdir().unwrap();
    let bundle: PathBuf = dir.path().join("bundle.json");
    let quote = format!("{SOLANA}/quote_tdx.bin");
    let hex_quote = dir.path().join("quote.hex");
    std::fs::write(
        &hex_quote,
        format!("0x{}\n", hex::encode(sample("quote_tdx.bin"))),
    )
    .unwrap();
    let missing_qcnl = dir.path().join("no-qcnl.conf");

    // Two quotes of the same platform: one entry, fetched once.
    let out = initra(&[
        "collateral",
        "fetch",
        &quote,
        hex_quote.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
        "--pccs-url",
        &url,
        "--qcnl-conf",
        missing_qcnl.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    assert_eq!(
        text(&out.stdout),
        format!(
            "tdx-00806f050000-platform: fetched from {url}\nwrote {} (1 entry)\n",
            bundle.display()
        )
    );

    let out = initra(&["collateral", "show", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("initra-collateral-bundle v1"), "{shown}");
    assert!(
        shown.contains(
            "  TCB info     issued 2025-07-07T09:06:43Z  next update 2025-08-06T09:06:43Z\n"
        ),
        "{shown}"
    );
    assert!(
        shown.contains(
            "  PCK CRL      issued 2025-07-07T09:15:57Z  next update 2025-08-06T09:15:57Z\n"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("  valid        2025-07-07T09:20:26Z .. 2025-08-06T09:06:43Z (first to expire: TCB info)\n"),
        "{shown}"
    );

    let out = initra(&["collateral", "show", bundle.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    let e = &v["entries"][0];
    assert_eq!(e["key"], "tdx-00806f050000-platform");
    assert_eq!(e["fmspc"], "00806f050000");
    assert_eq!(e["ca"], "platform");
    assert_eq!(e["items"][1]["item"], "qe_identity");
    assert_eq!(e["items"][1]["issued"], "2025-07-07T09:20:26Z");
    assert_eq!(e["items"][3]["item"], "root_ca_crl");
    assert_eq!(e["valid_until"], "2025-08-06T09:06:43Z");
}

#[test]
fn fetch_errors_name_the_url_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.json");
    let quote = format!("{SOLANA}/quote_tdx.bin");
    let missing_qcnl = dir.path().join("no-qcnl.conf");
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let out = initra(&[
        "collateral",
        "fetch",
        &quote,
        "--out",
        bundle.to_str().unwrap(),
        "--pccs-url",
        &dead,
        "--retries",
        "0",
        "--qcnl-conf",
        missing_qcnl.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("initra: error: PCCS {dead}/"))
            && err.contains("unreachable: connect"),
        "{err}"
    );
    assert!(!bundle.exists());

    // No URL anywhere.
    let out = initra(&[
        "collateral",
        "fetch",
        &quote,
        "--out",
        bundle.to_str().unwrap(),
        "--qcnl-conf",
        missing_qcnl.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr)
        .contains("no PCCS URL: pass --pccs-url, set PCCS_URL, or set pccs_url in"));

    // A bundle that is not one.
    std::fs::write(&bundle, "{}").unwrap();
    let out = initra(&["collateral", "show", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!(
        "initra: error: bundle {}: JSON: missing field",
        bundle.display()
    )));
}
