//! A fake PCCS (std TcpListener, one thread per connection) serving the recorded Intel
//! responses of `tdx/automata-solana-v4` with the real headers, counting requests.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

pub const SOLANA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/tdx/automata-solana-v4"
);
pub const EVM_EXTRA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/tdx/automata-evm-v4-extra"
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

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn chain_header(ders: &[&[u8]]) -> String {
    let pem: String = ders.iter().map(|d| pem("CERTIFICATE", d)).collect();
    utf8_percent_encode(&pem, NON_ALPHANUMERIC).to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlEncoding {
    Der,
    Hex,
    Pem,
}

/// What the fake PCCS does.
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub delay: Duration,
    pub garbage_tcb: bool,
    pub pck_crl: CrlEncoding,
    pub root_crl: CrlEncoding,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            garbage_tcb: false,
            pck_crl: CrlEncoding::Der,
            root_crl: CrlEncoding::Hex,
        }
    }
}

pub struct FakePccs {
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
    stop: Arc<AtomicBool>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl FakePccs {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    pub fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, b, s, t) = (hits.clone(), behaviour.clone(), stop.clone(), tls.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, b, t) = (h.clone(), b.clone(), t.clone());
                std::thread::spawn(move || {
                    let _ = match t {
                        Some(cfg) => {
                            let Ok(tls) = rustls::ServerConnection::new(cfg) else {
                                return;
                            };
                            serve(rustls::StreamOwned::new(tls, conn), &h, &b)
                        }
                        None => serve(conn, &h, &b),
                    };
                });
            }
        });
        Self {
            addr,
            hits,
            behaviour,
            stop,
            tls,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.addr.port())
    }

    pub fn hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    pub fn paths(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.behaviour.lock().unwrap());
    }

    /// Closes the listening socket: later connections are refused.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A URL on which nothing listens.
pub fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

fn serve<S: Read + Write>(
    stream: S,
    hits: &Mutex<Vec<String>>,
    behaviour: &Mutex<Behaviour>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    hits.lock().unwrap().push(path.clone());
    let b = behaviour.lock().unwrap().clone();
    std::thread::sleep(b.delay);
    let (status, headers, body) = route(&path, &b);
    let mut stream = reader.into_inner();
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)?;
    stream.flush()
}

fn encode_crl(der: Vec<u8>, enc: CrlEncoding) -> Vec<u8> {
    match enc {
        CrlEncoding::Der => der,
        CrlEncoding::Hex => hex::encode(der).into_bytes(),
        CrlEncoding::Pem => pem("X509 CRL", &der).into_bytes(),
    }
}

fn route(path: &str, b: &Behaviour) -> (&'static str, Vec<(&'static str, String)>, Vec<u8>) {
    let signing = chain_header(&[&solana("signing.der"), &solana("root.der")]);
    let (p, query) = path.split_once('?').unwrap_or((path, ""));
    match p {
        "/tdx/certification/v4/tcb" => {
            if query != format!("fmspc={FMSPC}") {
                return (
                    "404 Not Found",
                    vec![],
                    b"No cache data for this platform".to_vec(),
                );
            }
            let body = if b.garbage_tcb {
                b"<html>502 proxy error</html>".to_vec()
            } else {
                solana("tcb_info_v3_with_tdx_module.json")
            };
            (
                "200 OK",
                vec![
                    ("TCB-Info-Issuer-Chain", signing),
                    ("Content-Type", "application/json".into()),
                ],
                body,
            )
        }
        "/tdx/certification/v4/qe/identity" => (
            "200 OK",
            vec![("SGX-Enclave-Identity-Issuer-Chain", signing)],
            solana("qe_identity.json"),
        ),
        "/sgx/certification/v4/pckcrl" if query == "ca=platform&encoding=der" => (
            "200 OK",
            vec![(
                "SGX-PCK-CRL-Issuer-Chain",
                chain_header(&[&solana("platform.der"), &solana("root.der")]),
            )],
            encode_crl(solana("pck_platform_crl.der"), b.pck_crl),
        ),
        "/sgx/certification/v4/rootcacrl" => (
            "200 OK",
            vec![],
            encode_crl(solana("intel_root_ca_crl.der"), b.root_crl),
        ),
        _ => ("404 Not Found", vec![], Vec::new()),
    }
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
