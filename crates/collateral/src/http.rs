//! A minimal HTTP/1.1 GET client (hyper 1 connections over tokio, TLS by tokio-rustls with the
//! ring provider): bounded connect and request timeouts, bounded retries with exponential
//! backoff, bounded response size. One connection per request: collateral is fetched rarely.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::validity::fmt_duration;
use crate::Error;

/// Bound on a response body: TCB info and CRLs are tens of KiB.
pub const MAX_BODY_LEN: usize = 8 * 1024 * 1024;

/// Bound on the characters of a response body quoted in an error (an excerpt of its first line).
pub const MAX_BODY_EXCERPT: usize = 200;

/// CA bundles tried, in order, when `use_secure_cert` is on and no CA file is configured
/// (after `SSL_CERT_FILE`).
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Checks that `url` is an absolute `http://` or `https://` URL with a host, before any request is
/// made (a wrong URL is a configuration error, never retried). The error says what is wrong.
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL ({e}); expected http(s)://HOST[:PORT]/..."))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("{url:?}: scheme {other:?}, expected http or https")),
        None => {
            return Err(format!(
                "{url:?} is not an absolute URL; expected http(s)://HOST[:PORT]/..."
            ))
        }
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(format!("{url:?}: no host")),
    }
}

/// How the client treats the PCCS's TLS certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsTrust {
    /// Verify against the system CA bundle (`use_secure_cert: true`, the default).
    System,
    /// Verify against the CA certificates (PEM) in this file, e.g. a self-signed PCCS's own cert.
    CaFile(PathBuf),
    /// Accept any certificate (`use_secure_cert: false`), logged at warn. The collateral itself
    /// is still verified: it is signed by Intel, so a forged PCCS can only withhold or replay it.
    AcceptAny,
}

/// Timeouts and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// TCP connect + TLS handshake.
    pub connect_timeout: Duration,
    /// One request, from connect to the last body byte.
    pub request_timeout: Duration,
    /// Extra attempts after a transient failure (network, timeout, 5xx, 429).
    pub retries: u32,
    /// Delay before the first retry; doubles each time.
    pub backoff: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            retries: 2,
            backoff: Duration::from_millis(500),
        }
    }
}

/// A buffered response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Who a client talks to: the name in logs and configuration errors, what an HTTP status
/// means there (the hint appended to [`Error::HttpStatus`]), and its transport errors in the
/// service's own terms (their default texts say PCCS).
#[derive(Debug)]
pub(crate) struct Service {
    pub(crate) name: &'static str,
    pub(crate) status_hint: fn(u16) -> &'static str,
    /// Applied to every error [`HttpClient::get`] logs or returns.
    pub(crate) into_error: fn(Error) -> Error,
}

/// A PCCS or Intel PCS (API v4).
pub(crate) const PCCS: Service = Service {
    name: "PCCS",
    status_hint: pccs_status_hint,
    into_error: std::convert::identity,
};

/// The GET client.
#[derive(Clone)]
pub(crate) struct HttpClient {
    limits: HttpLimits,
    tls: Arc<rustls::ClientConfig>,
    service: &'static Service,
}

impl HttpClient {
    pub(crate) fn new(limits: HttpLimits, trust: &TlsTrust) -> Result<Self, Error> {
        Ok(Self {
            limits,
            tls: Arc::new(tls_config(trust)?),
            service: &PCCS,
        })
    }

    /// This client naming `service` in logs and errors.
    pub(crate) fn for_service(mut self, service: &'static Service) -> Self {
        self.service = service;
        self
    }

    pub(crate) fn limits(&self) -> HttpLimits {
        self.limits
    }

    /// GET with retries; 2xx only.
    pub(crate) async fn get(&self, url: &str) -> Result<Response, Error> {
        let mut delay = self.limits.backoff;
        let mut attempt = 0u32;
        loop {
            let result =
                match tokio::time::timeout(self.limits.request_timeout, self.get_once(url)).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::Timeout {
                        url: url.to_owned(),
                        after: fmt_duration(self.limits.request_timeout),
                    }),
                };
            let err = match result {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            // Transience is judged on the transport error; logs and callers see the service's.
            let transient = err.is_transient();
            let err = (self.service.into_error)(err);
            if !transient || attempt >= self.limits.retries {
                return Err(err);
            }
            attempt += 1;
            tracing::warn!(url, attempt, error = %err, retry_in = %fmt_duration(delay), service = self.service.name, "request failed; retrying");
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }

    async fn get_once(&self, url: &str) -> Result<Response, Error> {
        let unreachable = |reason: String| Error::Unreachable {
            url: url.to_owned(),
            reason,
        };
        // A malformed URL or an unknown host does not get better by retrying: not transient.
        check_url(url).map_err(|reason| Error::Config {
            origin: format!("{} URL", self.service.name),
            reason,
        })?;
        let uri: Uri = url
            .parse()
            .map_err(|e| unreachable(format!("invalid URL: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(unreachable(format!(
                    "scheme: expected http or https, got {}",
                    other.unwrap_or("none")
                )))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| unreachable("no host in URL".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| host.clone());
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("initra/", env!("CARGO_PKG_VERSION")),
            )
            .header(hyper::header::ACCEPT, "*/*")
            .body(Empty::<Bytes>::new())
            .map_err(|e| unreachable(format!("request: {e}")))?;

        let connect_timeout = self.limits.connect_timeout;
        let addrs: Vec<std::net::SocketAddr> = tokio::time::timeout(
            connect_timeout,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        .map_err(|_| {
            unreachable(format!(
                "resolving {host}: no answer within {}",
                fmt_duration(connect_timeout)
            ))
        })?
        .map_err(|e| Error::Config {
            origin: format!("{} {url}", self.service.name),
            reason: format!("cannot resolve host {host:?}: {e}"),
        })?
        .collect();
        let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect(&addrs[..]))
            .await
            .map_err(|_| {
                unreachable(format!(
                    "connect: no answer within {}",
                    fmt_duration(connect_timeout)
                ))
            })?
            .map_err(|e| unreachable(format!("connect {host}:{port}: {e}")))?;
        if https {
            let name = ServerName::try_from(host.clone())
                .map_err(|e| unreachable(format!("TLS server name {host:?}: {e}")))?;
            let tls = tokio::time::timeout(
                connect_timeout,
                tokio_rustls::TlsConnector::from(Arc::clone(&self.tls)).connect(name, tcp),
            )
            .await
            .map_err(|_| {
                unreachable(format!(
                    "TLS handshake: no answer within {}",
                    fmt_duration(connect_timeout)
                ))
            })?
            .map_err(|e| unreachable(format!("TLS handshake: {e}")))?;
            send(url, tls, request, self.service).await
        } else {
            send(url, tcp, request, self.service).await
        }
    }
}

async fn send<S>(
    url: &str,
    stream: S,
    request: hyper::Request<Empty<Bytes>>,
    service: &Service,
) -> Result<Response, Error>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let unreachable = |reason: String| Error::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(format!("HTTP handshake: {e}")))?;
    // The connection task ends when `sender` is dropped or the peer closes.
    let conn_task = tokio::spawn(conn);
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(format!("HTTP: {e}")));
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            conn_task.abort();
            return Err(e);
        }
    };
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, MAX_BODY_LEN)
        .collect()
        .await
        .map_err(|e| unreachable(format!("reading body: {e}")))?
        .to_bytes()
        .to_vec();
    conn_task.abort();
    if !status.is_success() {
        return Err(Error::HttpStatus {
            url: url.to_owned(),
            status: status.as_u16(),
            hint: status_hint((service.status_hint)(status.as_u16()), &body),
        });
    }
    Ok(Response {
        headers: parts.headers,
        body,
    })
}

fn pccs_status_hint(status: u16) -> &'static str {
    match status {
        404 => {
            " (not found: unknown FMSPC / CA for this PCCS, or the URL is not a PCCS v4 API base)"
        }
        401 | 403 => " (refused: the PCCS / PCS rejects this client; check its access settings)",
        429 => " (rate limited)",
        500..=599 => " (PCCS server error; it may be unable to reach Intel PCS)",
        _ => "",
    }
}

/// `why` followed by the start of the response body, if any.
fn status_hint(why: &str, body: &[u8]) -> String {
    let excerpt = body_excerpt(body);
    if excerpt.is_empty() {
        why.to_owned()
    } else {
        format!("{why}: {excerpt}")
    }
}

/// What an error quotes of a response body: its first non-blank line, at most
/// [`MAX_BODY_EXCERPT`] characters, control characters and invalid UTF-8 escaped (`\t`,
/// `\u{1b}`, `\xff`), ending in `…` when anything was left out. An HTML error page or binary
/// garbage must not flood a log line or a terminal.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let mut lines = body
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty());
    let Some(line) = lines.next() else {
        return String::new();
    };
    let mut pieces = Vec::new();
    for chunk in line.utf8_chunks() {
        for c in chunk.valid().chars() {
            pieces.push(if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            });
        }
        pieces.extend(chunk.invalid().iter().map(|b| format!("\\x{b:02x}")));
    }
    let len = |p: &[String]| p.iter().map(|s| s.chars().count()).sum::<usize>();
    let more = lines.next().is_some();
    if !more && len(&pieces) <= MAX_BODY_EXCERPT {
        return pieces.concat();
    }
    // Room for the ellipsis.
    let mut out = String::new();
    let mut used = 0;
    for p in pieces {
        let n = p.chars().count();
        if used + n >= MAX_BODY_EXCERPT {
            break;
        }
        out.push_str(&p);
        used += n;
    }
    out.push('…');
    out
}

/// Runs `fetch` to completion from synchronous code (a rustls verifier, a CLI, a
/// [`initra_verify::CollateralSource`]): on a private single-threaded runtime in a scoped thread, so
/// it works inside or outside a tokio runtime. `url` names the fetch in the errors of this helper.
pub(crate) fn block_on<T, F>(url: &str, fetch: F) -> Result<T, Error>
where
    T: Send,
    F: std::future::Future<Output = Result<T, Error>> + Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Unreachable {
                    url: url.to_owned(),
                    reason: format!("cannot start the I/O runtime: {e}"),
                })?;
            rt.block_on(fetch)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::Unreachable {
                url: url.to_owned(),
                reason: "fetch thread panicked".into(),
            })
        })
    })
}

fn tls_config(trust: &TlsTrust) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config {
            origin: "TLS".into(),
            reason: e.to_string(),
        })?;
    let config = match trust {
        TlsTrust::AcceptAny => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(danger::AcceptAnyPccsCert(provider)))
            .with_no_client_auth(),
        TlsTrust::CaFile(path) => {
            let roots = roots_from_file(path)?;
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsTrust::System => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
    };
    Ok(config)
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, Error> {
    let pem = std::fs::read(path).map_err(crate::error::io_err(path))?;
    let mut roots = RootCertStore::empty();
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .filter_map(Result::ok)
        .collect();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Error::Config {
            origin: path.display().to_string(),
            reason: "no PEM CA certificate found".into(),
        });
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, Error> {
    let env_file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let candidates = env_file
        .into_iter()
        .chain(SYSTEM_CA_BUNDLES.iter().map(PathBuf::from));
    for path in candidates {
        if path.is_file() {
            return roots_from_file(&path);
        }
    }
    Err(Error::Config {
        origin: "use_secure_cert".into(),
        reason: format!(
            "no system CA bundle found (SSL_CERT_FILE, {}); configure the PCCS CA file",
            SYSTEM_CA_BUNDLES.join(", ")
        ),
    })
}

/// Certificate checks switched off on purpose (`use_secure_cert: false`).
pub(crate) mod danger {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

    /// Accepts any PCCS certificate but still checks the handshake signatures with ring.
    #[derive(Debug)]
    pub(crate) struct AcceptAnyPccsCert(pub(crate) Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAnyPccsCert {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_up_front() {
        assert!(check_url("https://pccs.example:8081/sgx/certification/v4/").is_ok());
        assert!(check_url("http://127.0.0.1:1").is_ok());
        let e = check_url("notaurl").unwrap_err();
        assert!(
            e.contains("\"notaurl\"") && e.contains("not an absolute URL"),
            "{e}"
        );
        let e = check_url("ftp://h/x").unwrap_err();
        assert!(e.contains("\"ftp\"") && e.contains("http or https"), "{e}");
        assert!(check_url("https:///x").is_err());
        let e = PccsClientError::from(crate::PccsClient::new(&crate::PccsConfig::new("notaurl")));
        assert!(e.contains("PCCS URL") && e.contains("notaurl"), "{e}");
    }

    #[test]
    fn body_excerpts_are_one_bounded_printable_line() {
        assert_eq!(body_excerpt(b""), "");
        assert_eq!(body_excerpt(b" \r\n\n"), "");
        assert_eq!(body_excerpt(b"No cache data\n"), "No cache data");
        // nginx's 404 page: the first line, marked as cut.
        let page = b"\r\n<html>\r\n<head><title>404 Not Found</title></head>\r\n</html>\r\n";
        assert_eq!(body_excerpt(page), "<html>…");
        // Control characters and invalid UTF-8 are escaped, never printed raw.
        assert_eq!(
            body_excerpt(b"a\x1b[31m\tb\xff\xfe"),
            "a\\u{1b}[31m\\tb\\xff\\xfe"
        );
        let long = "x".repeat(1000);
        let e = body_excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), MAX_BODY_EXCERPT);
        assert!(e.ends_with("x…"), "{e}");
        let exact = "y".repeat(MAX_BODY_EXCERPT);
        assert_eq!(body_excerpt(exact.as_bytes()), exact);
        // Escapes count towards the bound.
        let ctl = vec![0u8; 1000];
        assert!(body_excerpt(&ctl).chars().count() <= MAX_BODY_EXCERPT);
        // The PCCS's HTTP status errors quote bodies the same way.
        assert_eq!(
            status_hint(pccs_status_hint(500), page),
            " (PCCS server error; it may be unable to reach Intel PCS): <html>…"
        );
    }

    /// The error text of a client construction that must fail.
    struct PccsClientError;

    impl PccsClientError {
        fn from(r: Result<crate::PccsClient, Error>) -> String {
            match r {
                Ok(_) => panic!("accepted"),
                Err(e) => {
                    assert!(!e.is_transient());
                    e.to_string()
                }
            }
        }
    }
}
