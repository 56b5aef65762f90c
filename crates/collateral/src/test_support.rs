//! Test support (feature `test-support`, not part of the API): a fake PCCS on 127.0.0.1 (std
//! `TcpListener`, one thread per connection, optional TLS) serving one platform's collateral on
//! the v4 endpoints with the real headers, counting requests; and a fake AMD KDS ([`FakeKds`])
//! serving VCEKs, chains and CRLs of `testdata/sim-snp` and `testdata/snp/virtee`. Used by this
//! crate's tests and by the CLI end-to-end tests.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcap_qvl::QuoteCollateralV3;
use initra_evidence::Tee;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::key::CollateralKey;

/// What the fake PCCS serves for its one platform.
#[derive(Clone, Debug)]
pub struct Responses {
    pub tee: Tee,
    /// Upper-case hex, as in the `fmspc=` query.
    pub fmspc: String,
    /// `processor` or `platform`.
    pub ca: String,
    /// Body of `/tcb` (`{"tcbInfo":..,"signature":..}`).
    pub tcb_body: Vec<u8>,
    /// Body of `/qe/identity`.
    pub qe_body: Vec<u8>,
    /// PEM chains, sent URL-encoded in the issuer-chain headers.
    pub tcb_chain_pem: String,
    pub qe_chain_pem: String,
    pub pck_crl_chain_pem: String,
    pub pck_crl_der: Vec<u8>,
    pub root_crl_der: Vec<u8>,
}

impl Responses {
    /// The responses a PCCS gives for `collateral` (e.g. a simulated platform's
    /// `collateral.json`): the signed JSON texts wrapped with their signatures, the chains and CRLs.
    pub fn from_collateral(key: &CollateralKey, c: &QuoteCollateralV3) -> Self {
        Self {
            tee: key.tee,
            fmspc: key.fmspc.to_string().to_uppercase(),
            ca: key.ca.to_string(),
            tcb_body: format!(
                r#"{{"tcbInfo":{},"signature":"{}"}}"#,
                c.tcb_info,
                hex::encode(&c.tcb_info_signature)
            )
            .into_bytes(),
            qe_body: format!(
                r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
                c.qe_identity,
                hex::encode(&c.qe_identity_signature)
            )
            .into_bytes(),
            tcb_chain_pem: c.tcb_info_issuer_chain.clone(),
            qe_chain_pem: c.qe_identity_issuer_chain.clone(),
            pck_crl_chain_pem: c.pck_crl_issuer_chain.clone(),
            pck_crl_der: c.pck_crl.clone(),
            root_crl_der: c.root_ca_crl.clone(),
        }
    }
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
    tls: bool,
}

impl FakePccs {
    /// Serves `responses` over plain HTTP, or HTTPS with `tls`.
    pub fn start(responses: Responses, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let with_tls = tls.is_some();
        let b = behaviour.clone();
        let addr = spawn_server(tls, hits.clone(), stop.clone(), move |path| {
            let b = b.lock().unwrap().clone();
            std::thread::sleep(b.delay);
            route(path, &b, &responses)
        });
        Self {
            addr,
            hits,
            behaviour,
            stop,
            tls: with_tls,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
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

impl Drop for FakePccs {
    fn drop(&mut self) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            let _ = TcpStream::connect(self.addr);
        }
    }
}

/// Reads a collateral file in dcap-qvl's JSON layout (e.g. a simulated platform's `collateral.json`).
pub fn collateral_file(path: &std::path::Path) -> QuoteCollateralV3 {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A URL on which nothing listens.
pub fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Listens on 127.0.0.1 (a free port) and answers each request with `handler(path)` (path with
/// query), recording the path in `hits`, one thread per connection, until `stop`.
fn spawn_server(
    tls: Option<Arc<rustls::ServerConfig>>,
    hits: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handler: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let (h, t, f) = (hits.clone(), tls.clone(), handler.clone());
            std::thread::spawn(move || {
                let _ = match t {
                    Some(cfg) => {
                        let Ok(tls) = rustls::ServerConnection::new(cfg) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(tls, conn), &h, &*f)
                    }
                    None => serve(conn, &h, &*f),
                };
            });
        }
    });
    addr
}

fn serve<S: Read + Write>(
    stream: S,
    hits: &Mutex<Vec<String>>,
    handler: &dyn Fn(&str) -> Reply,
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
    let (status, headers, body) = handler(&path);
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

/// PEM text of one DER object.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn encode_crl(der: &[u8], enc: CrlEncoding) -> Vec<u8> {
    match enc {
        CrlEncoding::Der => der.to_vec(),
        CrlEncoding::Hex => hex::encode(der).into_bytes(),
        CrlEncoding::Pem => pem("X509 CRL", der).into_bytes(),
    }
}

fn header(pem: &str) -> String {
    utf8_percent_encode(pem, NON_ALPHANUMERIC).to_string()
}

type Reply = (String, Vec<(&'static str, String)>, Vec<u8>);

fn route(path: &str, b: &Behaviour, r: &Responses) -> Reply {
    let (status, headers, body) = pccs_route(path, b, r);
    (status.to_owned(), headers, body)
}

fn pccs_route(
    path: &str,
    b: &Behaviour,
    r: &Responses,
) -> (&'static str, Vec<(&'static str, String)>, Vec<u8>) {
    let (p, query) = path.split_once('?').unwrap_or((path, ""));
    let tee = r.tee.to_string();
    let tcb = format!("/{tee}/certification/v4/tcb");
    let qe = format!("/{tee}/certification/v4/qe/identity");
    if p == tcb {
        if query != format!("fmspc={}", r.fmspc) {
            return (
                "404 Not Found",
                vec![],
                b"No cache data for this platform".to_vec(),
            );
        }
        let body = if b.garbage_tcb {
            b"<html>502 proxy error</html>".to_vec()
        } else {
            r.tcb_body.clone()
        };
        return (
            "200 OK",
            vec![
                ("TCB-Info-Issuer-Chain", header(&r.tcb_chain_pem)),
                ("Content-Type", "application/json".into()),
            ],
            body,
        );
    }
    if p == qe {
        return (
            "200 OK",
            vec![("SGX-Enclave-Identity-Issuer-Chain", header(&r.qe_chain_pem))],
            r.qe_body.clone(),
        );
    }
    match p {
        "/sgx/certification/v4/pckcrl" if query == format!("ca={}&encoding=der", r.ca) => (
            "200 OK",
            vec![("SGX-PCK-CRL-Issuer-Chain", header(&r.pck_crl_chain_pem))],
            encode_crl(&r.pck_crl_der, b.pck_crl),
        ),
        "/sgx/certification/v4/rootcacrl" => {
            ("200 OK", vec![], encode_crl(&r.root_crl_der, b.root_crl))
        }
        _ => ("404 Not Found", vec![], Vec::new()),
    }
}

/// The sample files the fake KDS serves.
pub const SIM_SNP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sim-snp");
pub const VIRTEE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/snp/virtee");

/// The hwID (= chip_id) of the simulated SNP platform (testdata/sim-snp/README.md).
pub const SIM_SNP_HWID: &str = "696e697472612d73696d2d736e702d6368697000000000000000000000000000\
                                202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
/// The chip_id of `testdata/snp/virtee/report_milan.hex`.
pub const VIRTEE_MILAN_HWID: &str = "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc\
                                     15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6";
/// The TCB query of both samples (reported_tcb 0300000000000873).
pub const MILAN_TCB_QUERY: &str = "blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115";

/// What the fake KDS serves: path (with query) → body.
#[derive(Clone, Debug, Default)]
pub struct KdsFiles {
    routes: std::collections::HashMap<String, Vec<u8>>,
}

impl KdsFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// `GET /vcek/v1/{product}/{hwid}?{query}` → `der`.
    pub fn vcek(mut self, product: &str, hwid: &str, query: &str, der: Vec<u8>) -> Self {
        self.routes
            .insert(format!("/vcek/v1/{product}/{hwid}?{query}"), der);
        self
    }

    /// `GET /vcek/v1/{product}/cert_chain` → `pem`.
    pub fn cert_chain(mut self, product: &str, pem: Vec<u8>) -> Self {
        self.routes
            .insert(format!("/vcek/v1/{product}/cert_chain"), pem);
        self
    }

    /// `GET /vcek/v1/{product}/crl` → `der`.
    pub fn crl(mut self, product: &str, der: Vec<u8>) -> Self {
        self.routes.insert(format!("/vcek/v1/{product}/crl"), der);
        self
    }

    /// The simulated platform (Milan): its VCEK, chain and empty CRL.
    pub fn sim_snp() -> Self {
        let f = |n: &str| std::fs::read(format!("{SIM_SNP_DIR}/{n}")).unwrap();
        Self::new()
            .vcek("Milan", SIM_SNP_HWID, MILAN_TCB_QUERY, f("vcek.der"))
            .cert_chain("Milan", f("cert_chain.pem"))
            .crl("Milan", f("crl.der"))
    }

    /// The virtee Milan sample: its VCEK and AMD's chain (no CRL: AMD's is not in testdata).
    pub fn virtee_milan() -> Self {
        let f = |n: &str| std::fs::read(format!("{VIRTEE_DIR}/{n}")).unwrap();
        Self::new()
            .vcek(
                "Milan",
                VIRTEE_MILAN_HWID,
                MILAN_TCB_QUERY,
                f("vcek_milan.der"),
            )
            .cert_chain("Milan", f("cert_chain_milan.pem"))
    }

    /// Both route sets.
    pub fn merge(mut self, other: KdsFiles) -> Self {
        self.routes.extend(other.routes);
        self
    }
}

/// What the fake KDS does besides serving its files.
#[derive(Clone, Debug, Default)]
pub struct KdsBehaviour {
    /// Answer every request with this status (and an empty body), e.g. 429 or 404.
    pub status: Option<u16>,
    /// Answer 200 with an HTML error page instead of the file.
    pub garbage: bool,
    pub delay: Duration,
}

/// A fake AMD KDS on 127.0.0.1 (HTTP), recording every request path.
pub struct FakeKds {
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
    behaviour: Arc<Mutex<KdsBehaviour>>,
    stop: Arc<AtomicBool>,
}

impl FakeKds {
    pub fn start(files: KdsFiles) -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(KdsBehaviour::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let b = behaviour.clone();
        let addr = spawn_server(None, hits.clone(), stop.clone(), move |path| {
            let b = b.lock().unwrap().clone();
            std::thread::sleep(b.delay);
            if let Some(status) = b.status {
                return (format!("{status} Status"), vec![], Vec::new());
            }
            match files.routes.get(path) {
                Some(_) if b.garbage => (
                    "200 OK".into(),
                    vec![],
                    b"<html>502 proxy error</html>".to_vec(),
                ),
                Some(body) => ("200 OK".into(), vec![], body.clone()),
                None => ("404 Not Found".into(), vec![], Vec::new()),
            }
        });
        Self {
            addr,
            hits,
            behaviour,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub fn hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    pub fn paths(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    pub fn set(&self, f: impl FnOnce(&mut KdsBehaviour)) {
        f(&mut self.behaviour.lock().unwrap());
    }
}

impl Drop for FakeKds {
    fn drop(&mut self) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            let _ = TcpStream::connect(self.addr);
        }
    }
}
