//! The fake PCCS of `initra_collateral::test_support` serving the recorded Intel responses of
//! `tdx/automata-solana-v4` with the real headers, and log capture.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub use initra_collateral::test_support::*;

pub const SOLANA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/tdx/automata-solana-v4"
);
pub const EVM_EXTRA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/tdx/automata-evm-v4-extra"
);
pub const FMSPC: &str = "00806F050000";

pub fn solana(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(SOLANA).join(name)).unwrap()
}

pub fn at(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp() as u64)
}

/// The sample quote (8000-byte buffer, padded).
pub fn quote() -> initra_evidence::Quote {
    initra_evidence::Quote::parse(&solana("quote_tdx.bin")).unwrap()
}

/// The recorded Intel responses of `tdx/automata-solana-v4` (bodies as recorded, chains from
/// the sample's certificates).
pub fn solana_responses() -> Responses {
    let signing = chain(&[&solana("signing.der"), &solana("root.der")]);
    Responses {
        tee: initra_evidence::Tee::Tdx,
        fmspc: FMSPC.into(),
        ca: "platform".into(),
        tcb_body: solana("tcb_info_v3_with_tdx_module.json"),
        qe_body: solana("qe_identity.json"),
        tcb_chain_pem: signing.clone(),
        qe_chain_pem: signing,
        pck_crl_chain_pem: chain(&[&solana("platform.der"), &solana("root.der")]),
        pck_crl_der: solana("pck_platform_crl.der"),
        root_crl_der: solana("intel_root_ca_crl.der"),
    }
}

fn chain(ders: &[&[u8]]) -> String {
    ders.iter().map(|d| pem("CERTIFICATE", d)).collect()
}

/// A fake PCCS serving the solana sample over HTTP.
pub fn solana_pccs() -> FakePccs {
    FakePccs::start(solana_responses(), None)
}

/// The same over HTTPS.
pub fn solana_pccs_tls(tls: Arc<rustls::ServerConfig>) -> FakePccs {
    FakePccs::start(solana_responses(), Some(tls))
}

/// Captures tracing output of the current thread.
#[derive(Clone, Default)]
pub struct LogBuf(pub Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

pub fn with_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    let buf = LogBuf::default();
    let sub = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(sub, f);
    (out, buf.text())
}
