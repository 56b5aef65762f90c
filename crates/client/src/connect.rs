//! One connection attempt: TCP, TLS (tokio-rustls, ALPN h2, our verifier), then a tonic channel over that
//! stream. Failures are classified: connection trouble is retried, verdicts are not.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint};

use crate::config::{ClientConfig, ServerTrust};
use crate::Error;

/// Outcome of a failed attempt.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connection-level trouble (refused, reset, timeout): try again.
    Retry(String),
    /// A decision or a permanent error: stop.
    Fatal(Error),
}

/// Builds the rustls client configuration once per client.
pub(crate) fn tls_config(config: &ClientConfig) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match &config.server_trust {
        ServerTrust::Attested(verifier) => Arc::new(
            initra_ratls::verifier::AttestedServerVerifier::with_provider(
                initra_ratls::verifier::ServerTrust::Attested(Arc::clone(verifier)),
                Arc::clone(&provider),
            )
            .map_err(|e| Error::Config(format!("attested server verifier: {e}")))?,
        ),
        ServerTrust::PinnedCa(cas) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in cas {
                roots
                    .add(ca.clone())
                    .map_err(|e| Error::Config(format!("pinned CA certificate: {e}")))?;
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| Error::Config(format!("pinned CA verifier: {e}")))?
        }
        ServerTrust::Custom(v) => Arc::clone(v),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(
            config.identity.chain.clone(),
            config.identity.key.clone_key(),
        )
        .map_err(|e| Error::Config(format!("client certificate / key: {e}")))?;
    tls.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(tls))
}

/// The TLS server name for `host:port` (an IP address or a DNS name).
pub(crate) fn server_name(server: &str) -> Result<ServerName<'static>, Error> {
    let host = split_host(server)?;
    ServerName::try_from(host.to_owned())
        .map_err(|e| Error::Config(format!("server {server:?}: host: {e}")))
}

fn split_host(server: &str) -> Result<&str, Error> {
    let (host, port) = server
        .rsplit_once(':')
        .ok_or_else(|| Error::Config(format!("server {server:?}: expected HOST:PORT")))?;
    port.parse::<u16>()
        .map_err(|_| Error::Config(format!("server {server:?}: port {port:?} is not a number")))?;
    Ok(host.trim_start_matches('[').trim_end_matches(']'))
}

/// Where a connection's I/O layer records a fatal TLS event (e.g. the server's alert refusing our
/// certificate, which TLS 1.3 delivers after the client considers the handshake done). tonic reports such
/// a failure only as "unavailable"; the caller looks here to tell a refusal from a network failure.
pub(crate) type FatalSlot = Arc<Mutex<Option<Error>>>;

/// Takes the recorded fatal event, if any.
pub(crate) fn take_fatal(slot: &FatalSlot) -> Option<Error> {
    slot.lock().ok().and_then(|mut s| s.take())
}

/// One attempt: connect, handshake, wrap in a tonic channel.
pub(crate) async fn connect_once(
    server: &str,
    name: &ServerName<'static>,
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
    fatal: &FatalSlot,
) -> Result<Channel, Failure> {
    let handshake = async {
        let tcp = TcpStream::connect(server)
            .await
            .map_err(|e| Failure::Retry(format!("connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        tokio_rustls::TlsConnector::from(Arc::clone(tls))
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| classify_io(&e, "TLS handshake"))
    };
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| {
            Failure::Retry(format!(
                "connect + TLS handshake timed out after {timeout:?}"
            ))
        })??;
    channel_over(Recording {
        inner: stream,
        fatal: Arc::clone(fatal),
    })
    .await
    .map_err(|f| match take_fatal(fatal) {
        Some(e) => Failure::Fatal(e),
        None => f,
    })
}

/// A TLS stream that records fatal TLS errors into its [`FatalSlot`].
struct Recording {
    inner: TlsStream<TcpStream>,
    fatal: FatalSlot,
}

impl Recording {
    fn note<T>(&self, r: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if let Poll::Ready(Err(e)) = &r {
            if let Failure::Fatal(err) = classify_io(e, "TLS") {
                if let Ok(mut slot) = self.fatal.lock() {
                    slot.get_or_insert(err);
                }
            }
        }
        r
    }
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.note(r)
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A tonic channel over an established stream. The connector hands out that stream once; should tonic
/// need to reconnect, the call fails as unavailable and the caller's retry opens a new attested session.
async fn channel_over(stream: Recording) -> Result<Channel, Failure> {
    let slot = Arc::new(Mutex::new(Some(stream)));
    let connector = tower::service_fn(move |_uri| {
        let taken = slot.lock().map(|mut s| s.take()).unwrap_or(None);
        async move {
            taken.map(TokioIo::new).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "attested connection closed",
                )
            })
        }
    });
    Endpoint::from_static("http://initra.invalid")
        .connect_with_connector(connector)
        .await
        .map_err(|e| classify(&e, "HTTP/2 connection"))
}

/// Classifies an I/O error from the TLS layer.
pub(crate) fn classify_io(err: &std::io::Error, stage: &str) -> Failure {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => {
            classify_rustls(tls, stage).unwrap_or_else(|| Failure::Retry(format!("{stage}: {err}")))
        }
        None => Failure::Retry(format!("{stage}: {err}")),
    }
}

/// Classifies any error by walking its source chain for a TLS error.
pub(crate) fn classify(err: &(dyn StdError + 'static), stage: &str) -> Failure {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            if let Some(f) = classify_rustls(tls, stage) {
                return f;
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                if let Some(f) = classify_rustls(tls, stage) {
                    return f;
                }
            }
        }
        cur = e.source();
    }
    Failure::Retry(format!("{stage}: {}", chain(err)))
}

fn classify_rustls(tls: &rustls::Error, stage: &str) -> Option<Failure> {
    use rustls::AlertDescription as A;
    match tls {
        // Our verifier refused the server: a policy verdict is a rejection; anything else (invalid
        // evidence, untrusted root, no collateral source, pinned-CA chain failure) is a failure.
        rustls::Error::InvalidCertificate(reason) => Some(Failure::Fatal(
            match initra_ratls::verifier::ratls_error(tls) {
                Some(e @ initra_ratls::Error::Rejected { .. }) => Error::ServerRejected {
                    reason: e.to_string(),
                },
                Some(e) => Error::ServerInvalid {
                    reason: e.to_string(),
                },
                None => Error::ServerInvalid {
                    reason: certificate_reason(reason),
                },
            },
        )),
        rustls::Error::General(reason) => Some(Failure::Fatal(Error::ServerInvalid {
            reason: reason.clone(),
        })),
        // The server refused our certificate during the handshake. Its handshake verifier checks only
        // structure, validity and key binding (policy is applied after, as PERMISSION_DENIED): a failure.
        rustls::Error::AlertReceived(
            alert @ (A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::CertificateRequired
            | A::DecryptError),
        ) => Some(Failure::Fatal(Error::ClientInvalid {
            reason: format!(
                "the server refused our certificate during the TLS handshake (alert {alert:?})"
            ),
        })),
        rustls::Error::AlertReceived(_) => None,
        other => Some(Failure::Fatal(Error::Protocol(format!("{stage}: {other}")))),
    }
}

fn certificate_reason(err: &rustls::CertificateError) -> String {
    match err {
        rustls::CertificateError::Other(other) => other.to_string(),
        e => format!("{e:?}"),
    }
}

/// `err: cause: cause` on one line.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("127.0.0.1:50051").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:50051").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("kms.example:443").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("nohost")
            .unwrap_err()
            .to_string()
            .contains("HOST:PORT"));
        assert!(server_name("h:http")
            .unwrap_err()
            .to_string()
            .contains("not a number"));
    }

    #[test]
    fn classification() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(
            classify_io(&refused, "connect"),
            Failure::Retry(_)
        ));
        let bad = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                Arc::new(std::io::Error::other("mr_enclave: expected aa, got bb")),
            ))),
        );
        // Not a verdict of our verifier: a failure, not a rejection.
        match classify_io(&bad, "TLS handshake") {
            Failure::Fatal(e @ Error::ServerInvalid { .. }) => {
                assert!(!e.is_rejection());
                assert!(
                    e.to_string().contains("mr_enclave: expected aa, got bb"),
                    "{e}"
                );
            }
            f => panic!("{f:?}"),
        }
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate),
        );
        assert!(matches!(
            classify(&alert, "rpc"),
            Failure::Fatal(Error::ClientInvalid { .. })
        ));
    }
}
