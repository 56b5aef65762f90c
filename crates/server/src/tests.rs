//! Library-level tests of the transport: a test gate (accepts certificates whose subject says "good")
//! stands in for quote verification, so these exercise TLS, limits, connect-info and status codes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper_util::rt::TokioIo;
use initra_proto::initra::v1 as pb;
use initra_proto::ratls::gr_secret_client::GrSecretClient;
use initra_proto::ratls::SecretRequest;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::{Channel, Endpoint};

use crate::config::Limits;
use crate::peer::{Gate, PeerIdentity, PeerVerdict};
use crate::secrets::SecretStore;
use crate::serve::{serve, Serve};
use crate::state::State;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts certificates whose DER contains "good"; rejects "bad" with an SVN reason.
struct CnGate;

impl Gate for CnGate {
    type Claims = String;
    fn assess(&self, der: &[u8], _now: SystemTime) -> PeerVerdict<String> {
        let has = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        let id = PeerIdentity {
            tee: "sgx".into(),
            mr_enclave: "aa".repeat(32),
            ..Default::default()
        };
        if has(b"good") {
            PeerVerdict::accepted(id, "good".into())
        } else if has(b"bad") {
            PeerVerdict::rejected(id, "bad".into(), "isv_svn: 0 < required 88")
        } else {
            PeerVerdict::invalid("no evidence")
        }
    }
    fn secret_access(&self, name: &str, _claims: &String) -> Result<(), String> {
        if name == "restricted" {
            return Err("no rule allows this identity".into());
        }
        Ok(())
    }
}

#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ClientCertVerifier for AnyCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn self_signed(cn: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

struct TestServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), crate::Error>>,
}

impl TestServer {
    async fn start(limits: Limits) -> Self {
        let (cert, key) = self_signed("server");
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(AnyCert(provider())))
            .with_single_cert(vec![cert], key)
            .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let secrets = SecretStore::from_bytes([
            ("cert", b"test sample certificates\n".to_vec()),
            ("restricted", b"x".to_vec()),
        ]);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s = Serve {
            listener,
            tls: Arc::new(tls),
            state: State {
                secrets,
                gate: CnGate,
            },
            reload: None,
            limits,
        };
        let task = tokio::spawn(serve(s, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

fn client_tls(cn: Option<&str>) -> rustls::ClientConfig {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider())));
    let mut cfg = match cn {
        Some(cn) => {
            let (cert, key) = self_signed(cn);
            builder.with_client_auth_cert(vec![cert], key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    cfg
}

async fn tls_connect(
    addr: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(cfg)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

async fn channel(addr: SocketAddr, cn: Option<&str>) -> Result<Channel, tonic::transport::Error> {
    let cfg = Arc::new(client_tls(cn));
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let cfg = Arc::clone(&cfg);
            async move { tls_connect(addr, cfg).await.map(TokioIo::new) }
        }))
        .await
}

async fn good_fetch(addr: SocketAddr) {
    let mut c = GrSecretClient::new(channel(addr, Some("good")).await.unwrap());
    let reply = c
        .get_secret(SecretRequest {
            name: "cert".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.secret, "\"dGVzdCBzYW1wbGUgY2VydGlmaWNhdGVzCg==\"");
}

#[tokio::test]
async fn services_answer_with_exact_bytes_and_codes() {
    let server = TestServer::start(Limits::default()).await;
    good_fetch(server.addr).await;

    let ch = channel(server.addr, Some("good")).await.unwrap();
    let mut secrets = pb::secrets_client::SecretsClient::new(ch.clone());
    let got = secrets
        .get_secrets(pb::GetSecretsRequest {
            names: vec!["cert".into(), "cert".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.secrets.len(), 2);
    assert_eq!(got.secrets[0].name, "cert");
    assert_eq!(got.secrets[0].value, b"test sample certificates\n");

    let err = secrets
        .get_secrets(pb::GetSecretsRequest {
            names: vec!["nope".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert_eq!(err.message(), "secret \"nope\" not found");
    let err = secrets
        .get_secrets(pb::GetSecretsRequest {
            names: vec!["cert".into(), "restricted".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(
        err.message().contains("\"restricted\"") && err.message().contains("no rule allows"),
        "{err:?}"
    );

    let who = secrets
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(who.accepted);
    assert_eq!(who.readable_secrets, ["cert"]);
    assert_eq!(who.mr_enclave, "aa".repeat(32));

    let mut occlum = GrSecretClient::new(ch);
    let err = occlum
        .get_secret(SecretRequest {
            name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    let mut health = tonic_health::pb::health_client::HealthClient::new(
        channel(server.addr, Some("good")).await.unwrap(),
    );
    for service in ["", "ratls.GrSecret", "initra.v1.Secrets"] {
        let resp = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            resp.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn rejected_client_gets_permission_denied_with_reason() {
    let server = TestServer::start(Limits::default()).await;
    let ch = channel(server.addr, Some("bad")).await.unwrap();
    let err = GrSecretClient::new(ch.clone())
        .get_secret(SecretRequest {
            name: "cert".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        err.message(),
        "client attestation rejected: isv_svn: 0 < required 88"
    );
    let who = pb::secrets_client::SecretsClient::new(ch)
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!who.accepted);
    assert_eq!(who.reason, "isv_svn: 0 < required 88");
    assert!(who.readable_secrets.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn client_without_certificate_is_refused_others_unaffected() {
    let server = TestServer::start(Limits::default()).await;
    let outcome = async {
        let mut tls = tls_connect(server.addr, Arc::new(client_tls(None))).await?;
        // TLS 1.3: the server's refusal arrives after the client's Finished; reading surfaces it.
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await?;
        let mut buf = [0u8; 64];
        tls.read(&mut buf).await
    }
    .await;
    assert!(matches!(outcome, Err(_) | Ok(0)), "{outcome:?}");
    good_fetch(server.addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn stalled_client_is_dropped_after_handshake_timeout_others_unaffected() {
    let limits = Limits {
        handshake_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = TestServer::start(limits).await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap(); // a ClientHello that never completes
    good_fetch(server.addr).await;
    let mut buf = [0u8; 16];
    for s in [&mut stalled, &mut half] {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap();
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "stalled connection still open: {n:?}"
        );
    }
    good_fetch(server.addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_after_tls_is_dropped_others_unaffected() {
    let server = TestServer::start(Limits::default()).await;
    let mut tls = tls_connect(server.addr, Arc::new(client_tls(Some("good"))))
        .await
        .unwrap();
    tls.write_all(b"this is not an HTTP/2 preface at all\r\n\r\n\x00\x00\x00\x04\x00")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let res = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue, // a GOAWAY frame may come first
            }
        }
    })
    .await;
    assert!(res.is_ok(), "server kept a garbage connection open");

    // Valid preface, then a malformed frame (a DATA frame on stream 0).
    let mut tls = tls_connect(server.addr, Arc::new(client_tls(Some("good"))))
        .await
        .unwrap();
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    tls.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap(); // empty SETTINGS
    tls.write_all(&[0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 2, 3])
        .await
        .unwrap(); // DATA on stream 0
    let res = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(res.is_ok(), "server kept a malformed-frame connection open");
    good_fetch(server.addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_message_is_refused_others_unaffected() {
    let limits = Limits {
        max_message_bytes: 1024,
        ..Limits::default()
    };
    let server = TestServer::start(limits).await;
    let ch = channel(server.addr, Some("good")).await.unwrap();
    let err = GrSecretClient::new(ch.clone())
        .get_secret(SecretRequest {
            name: "x".repeat(4096),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");
    // The same connection still serves normal calls.
    let ok = GrSecretClient::new(ch)
        .get_secret(SecretRequest {
            name: "cert".into(),
        })
        .await
        .unwrap();
    assert!(ok.into_inner().secret.starts_with('"'));
    good_fetch(server.addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_with_open_idle_connection() {
    let server = TestServer::start(Limits::default()).await;
    let ch = channel(server.addr, Some("good")).await.unwrap();
    GrSecretClient::new(ch.clone())
        .get_secret(SecretRequest {
            name: "cert".into(),
        })
        .await
        .unwrap();
    let addr = server.addr;
    server.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
    drop(ch);
}

#[tokio::test]
async fn reflection_lists_every_service() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let server = TestServer::start(Limits::default()).await;
    let mut client = ServerReflectionClient::new(channel(server.addr, Some("good")).await.unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected reflection response: {resp:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "ratls.GrSecret",
        "initra.v1.Secrets",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    server.shutdown().await;
}

/// `initra_client` against this server's transport: initra's service, then an Occlum-only server
/// (no `initra.v1.Secrets`) where the client falls back to `ratls.GrSecret` and decodes the quoted form.
mod client {
    use initra_client::{
        ClientConfig, ClientIdentity, Error, RetryPolicy, SecretClient, ServerTrust,
    };
    use initra_proto::ratls::gr_secret_server::GrSecretServer;
    use tokio::sync::{mpsc, watch, Semaphore};
    use tokio_rustls::TlsAcceptor;
    use tokio_stream::wrappers::ReceiverStream;

    use super::*;
    use crate::accept::Acceptor;
    use crate::service::SecretService;
    use crate::state::Shared;

    fn config(addr: SocketAddr, cn: &str) -> ClientConfig {
        let (cert, key) = self_signed(cn);
        ClientConfig {
            server: addr.to_string(),
            identity: ClientIdentity::from_chain(vec![cert], key),
            server_trust: ServerTrust::Custom(Arc::new(AnyCert(provider()))),
            connect_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(10),
            retry: RetryPolicy::none(),
        }
    }

    /// A server speaking only Occlum's service.
    async fn occlum_only() -> SocketAddr {
        let (cert, key) = self_signed("server");
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(AnyCert(provider())))
            .with_single_cert(vec![cert], key)
            .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let secrets = SecretStore::from_bytes([
            ("cert", b"test sample certificates\n".to_vec()),
            ("bin", vec![0, 1]),
        ]);
        let shared = Arc::new(Shared::new(State {
            secrets,
            gate: CnGate,
        }));
        let acceptor = Acceptor {
            listener,
            tls: TlsAcceptor::from(Arc::new(tls)),
            shared: Arc::clone(&shared),
            handshake_timeout: Duration::from_secs(5),
            connections: Arc::new(Semaphore::new(16)),
            verifications: Arc::new(Semaphore::new(2)),
        };
        let (tx, rx) = mpsc::channel(8);
        let (_stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            let _keep = _stop_tx;
            acceptor.run(tx, stop_rx).await
        });
        let service = GrSecretServer::new(SecretService::new(shared));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(ReceiverStream::new(rx)),
        );
        addr
    }

    #[tokio::test]
    async fn fetches_several_secrets_in_one_call() {
        let server = TestServer::start(Limits::default()).await;
        let mut c = SecretClient::connect(config(server.addr, "good"))
            .await
            .unwrap();
        let got = c.get_secrets(&["cert", "cert"]).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "cert");
        assert_eq!(got[1].1.as_slice(), b"test sample certificates\n");
        match c.get_secrets(&["cert", "nope"]).await {
            Err(Error::NotFound { name }) => assert_eq!(name, "nope"),
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        match c.get_secrets(&["restricted"]).await {
            Err(e @ Error::ClientRejected { .. }) => {
                assert!(e.to_string().contains("\"restricted\""), "{e}")
            }
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        let who = c.who_am_i().await.unwrap();
        assert!(who.accepted);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn rejected_client_is_a_rejection_not_a_connection_failure() {
        let server = TestServer::start(Limits::default()).await;
        let err = initra_client::fetch_secrets(config(server.addr, "bad"), &["cert"])
            .await
            .err()
            .unwrap();
        assert!(err.is_rejection(), "{err}");
        assert!(
            err.to_string().contains("isv_svn: 0 < required 88"),
            "{err}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn falls_back_to_occlum_service_and_decodes_quoted_replies() {
        let addr = occlum_only().await;
        let got = initra_client::fetch_secrets(config(addr, "good"), &["cert", "bin"])
            .await
            .unwrap();
        assert_eq!(got[0].1.as_slice(), b"test sample certificates\n");
        assert_eq!(got[1].1.as_slice(), &[0, 1]);
        let err = initra_client::fetch_secrets(config(addr, "good"), &["nope"])
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, Error::NotFound { ref name } if name == "nope"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unreachable_after_retries_within_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener); // nothing listens there now
        let mut cfg = config(addr, "good");
        cfg.retry = RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_attempts: 3,
        };
        let start = std::time::Instant::now();
        match initra_client::fetch_secrets(cfg, &["cert"]).await {
            Err(Error::Unreachable {
                attempts, addr: a, ..
            }) => {
                assert_eq!(attempts, 3);
                assert_eq!(a, addr.to_string());
            }
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
