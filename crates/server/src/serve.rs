//! Wiring: the accept loop feeds tonic, which serves the secret services, health and reflection; SIGHUP
//! reloads the state; the shutdown future stops accepting and lets in-flight calls finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use initra_proto::initra::v1::secrets_server::SecretsServer;
use initra_proto::ratls::gr_secret_server::GrSecretServer;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

use crate::accept::Acceptor;
use crate::config::Limits;
use crate::peer::Gate;
use crate::service::SecretService;
use crate::state::{Shared, State};
use crate::Error;

/// Rebuilds the whole state from its files (SIGHUP).
pub(crate) type Reloader<G> = Arc<dyn Fn() -> Result<State<G>, Error> + Send + Sync>;

/// Largest response: a secrets file is bounded by [`crate::secrets::MAX_SECRETS_FILE_BYTES`].
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Everything [`serve`] needs, already loaded.
pub(crate) struct Serve<G: Gate> {
    pub(crate) listener: TcpListener,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    pub(crate) state: State<G>,
    pub(crate) reload: Option<Reloader<G>>,
    pub(crate) limits: Limits,
}

/// Serves until `shutdown` completes, then drains in-flight calls.
pub(crate) async fn serve<G: Gate>(
    s: Serve<G>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let Serve {
        listener,
        tls,
        state,
        reload,
        limits,
    } = s;
    let shared = Arc::new(Shared::new(state));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (conn_tx, conn_rx) = mpsc::channel(64);

    let acceptor = Acceptor {
        listener,
        tls: TlsAcceptor::from(tls),
        shared: Arc::clone(&shared),
        handshake_timeout: limits.handshake_timeout,
        connections: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        verifications: Arc::new(Semaphore::new(limits.verify_workers.max(1))),
    };
    let accept_task = tokio::spawn(acceptor.run(conn_tx, stop_rx.clone()));
    if let Some(reload) = reload {
        spawn_reload_on_sighup(Arc::clone(&shared), reload, stop_rx.clone());
    }

    let (health, health_service) = tonic_health::server::health_reporter();
    for name in [
        "",
        initra_proto::service_names::GR_SECRET,
        initra_proto::service_names::SECRETS,
    ] {
        health
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(initra_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| Error::Transport(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| Error::Transport(e.to_string()))?;

    let service = Arc::new(SecretService::new(Arc::clone(&shared)));
    let gr_secret = GrSecretServer::from_arc(Arc::clone(&service))
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let secrets = SecretsServer::from_arc(service)
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);

    let stop_signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight calls");
        let _ = stop_tx.send(true);
    };
    let result = tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .max_frame_size(None)
        .add_service(gr_secret)
        .add_service(secrets)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(ReceiverStream::new(conn_rx), stop_signal)
        .await
        .map_err(|e| Error::Transport(e.to_string()));
    accept_task.abort();
    result
}

#[cfg(unix)]
fn spawn_reload_on_sighup<G: Gate>(
    shared: Arc<Shared<G>>,
    reload: Reloader<G>,
    mut stop: watch::Receiver<bool>,
) {
    use tokio::signal::unix::{signal, SignalKind};

    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot install the SIGHUP handler: reload disabled");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                got = hangup.recv() => if got.is_none() { break },
                _ = stop.wait_for(|s| *s) => break,
            }
            // Loading parses files and collateral: keep it off the async workers.
            let load = Arc::clone(&reload);
            match tokio::task::spawn_blocking(move || load()).await {
                Ok(Ok(state)) => {
                    let count = state.secrets.len();
                    shared.replace(state);
                    // A notice: shown at every log level, like the `listening on` line.
                    tracing::info!(
                        target: "initra::notice",
                        "reloaded secrets and policy ({count} secrets)"
                    );
                }
                // Notices too: an operator who sent SIGHUP must learn that nothing changed.
                Ok(Err(e)) => tracing::error!(
                    target: "initra::notice",
                    "reload failed, keeping the previous configuration: {e}"
                ),
                Err(e) => tracing::error!(
                    target: "initra::notice",
                    "reload task failed, keeping the previous configuration: {e}"
                ),
            }
        }
    });
}

#[cfg(not(unix))]
fn spawn_reload_on_sighup<G: Gate>(_: Arc<Shared<G>>, _: Reloader<G>, _: watch::Receiver<bool>) {}
