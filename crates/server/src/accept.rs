//! The accept loop: TCP accept under a connection limit, TLS handshake under a timeout, full verification
//! of the client's evidence on a bounded blocking pool, then the stream goes to tonic with its verdict.
//!
//! Each connection is handled in its own task, so a client that stalls in the handshake only holds its
//! own connection slot until the timeout drops it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;

use crate::peer::{ConnInfo, Gate, PeerVerdict};
use crate::state::Shared;

/// A TLS connection whose peer has been assessed. Holds its connection-limit permit until dropped.
pub(crate) struct AttestedStream<C> {
    inner: TlsStream<TcpStream>,
    info: ConnInfo<C>,
    _permit: OwnedSemaphorePermit,
}

impl<C: Send + Sync + 'static> Connected for AttestedStream<C> {
    type ConnectInfo = ConnInfo<C>;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info.clone()
    }
}

impl<C> AsyncRead for AttestedStream<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<C> AsyncWrite for AttestedStream<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The parts the accept loop needs.
pub(crate) struct Acceptor<G: Gate> {
    pub(crate) listener: TcpListener,
    pub(crate) tls: TlsAcceptor,
    pub(crate) shared: Arc<Shared<G>>,
    pub(crate) handshake_timeout: Duration,
    /// Connection slots (`--max-connections`).
    pub(crate) connections: Arc<Semaphore>,
    /// Concurrent verifications (sized to the cores: verification is CPU work).
    pub(crate) verifications: Arc<Semaphore>,
}

impl<G: Gate> Acceptor<G> {
    /// Runs until `stop` turns true, sending each assessed connection into `out`.
    pub(crate) async fn run(
        self,
        out: mpsc::Sender<Result<AttestedStream<G::Claims>, io::Error>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let this = Arc::new(self);
        loop {
            let permit = tokio::select! {
                p = Arc::clone(&this.connections).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break, // semaphore closed: shutting down
                },
                _ = stop.wait_for(|s| *s) => break,
            };
            let accepted = tokio::select! {
                a = this.listener.accept() => a,
                _ = stop.wait_for(|s| *s) => break,
            };
            let (tcp, addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let this = Arc::clone(&this);
            let out = out.clone();
            tokio::spawn(async move {
                if let Some(stream) = this.handle(tcp, addr, permit).await {
                    // The receiver is gone only when tonic stopped accepting; the connection is dropped.
                    let _ = out.send(Ok(stream)).await;
                }
            });
        }
        tracing::debug!("accept loop stopped");
    }

    async fn handle(
        &self,
        tcp: TcpStream,
        addr: std::net::SocketAddr,
        permit: OwnedSemaphorePermit,
    ) -> Option<AttestedStream<G::Claims>> {
        let tls = match tokio::time::timeout(self.handshake_timeout, self.tls.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::warn!(peer = %addr, error = %e, "TLS handshake failed");
                return None;
            }
            Err(_) => {
                tracing::warn!(peer = %addr, timeout = ?self.handshake_timeout, "TLS handshake timed out");
                return None;
            }
        };
        let end_entity = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec());
        let verdict = match end_entity {
            None => PeerVerdict::invalid("no client certificate"),
            Some(der) => self.assess(der).await,
        };
        match (&verdict.identity, &verdict.rejection) {
            (Some(id), None) => tracing::info!(
                target: "initra::audit", peer = %addr, tee = %id.tee, identity = %id.summary,
                debug = id.debug, simulated = id.simulated, tcb_status = %id.tcb_status, verdict = "accepted",
                "client attestation accepted"
            ),
            (Some(id), reason) => tracing::warn!(
                target: "initra::audit", peer = %addr, tee = %id.tee, identity = %id.summary,
                debug = id.debug, simulated = id.simulated, tcb_status = %id.tcb_status,
                verdict = "rejected", reason = reason.as_deref().unwrap_or("unknown"),
                "client attestation rejected by policy"
            ),
            // No verified identity to report: the evidence itself did not verify.
            (None, reason) => tracing::warn!(
                target: "initra::audit", peer = %addr, verdict = "invalid",
                reason = reason.as_deref().unwrap_or("unknown"),
                "client attestation invalid"
            ),
        }
        let info = ConnInfo {
            remote_addr: Some(addr),
            verdict: Arc::new(verdict),
        };
        Some(AttestedStream {
            inner: tls,
            info,
            _permit: permit,
        })
    }

    /// Full verification of the client's certificate, at most one per core at a time.
    async fn assess(&self, der: Vec<u8>) -> PeerVerdict<G::Claims> {
        let Ok(_slot) = self.verifications.acquire().await else {
            return PeerVerdict::invalid("server shutting down");
        };
        let state = self.shared.current();
        tokio::task::spawn_blocking(move || state.gate.assess(&der, SystemTime::now()))
            .await
            .unwrap_or_else(|e| PeerVerdict::invalid(format!("verification task failed: {e}")))
    }
}
