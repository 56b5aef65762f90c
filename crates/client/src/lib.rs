//! The initra secret client (used by `initra init` and `initra get-secret`; docs/protocol.md).
//!
//! One attested session per [`SecretClient`]: mutual RA-TLS over tokio-rustls, gRPC over that stream.
//! [`SecretClient::get_secrets`] asks `initra.v1.Secrets/GetSecrets` for all names at once and falls back
//! to Occlum's `ratls.GrSecret/GetSecret` per name when the server does not implement initra's service.
//! Connection failures are retried with bounded, jittered exponential backoff under an overall deadline;
//! a rejection by either side is final and reported as such.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod connect;
pub mod danger;
mod error;
mod reply;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use initra_proto::initra::v1 as pb;
use initra_proto::ratls::gr_secret_client::GrSecretClient;
use initra_proto::ratls::SecretRequest;
use rustls_pki_types::ServerName;
use tonic::transport::Channel;
use tonic::{Code, Status};
use zeroize::Zeroizing;

pub use config::{ClientConfig, ClientIdentity, ServerTrust};
pub use error::Error;
pub use reply::decode_occlum_reply;
pub use retry::RetryPolicy;

use connect::{classify, connect_once, take_fatal, Failure, FatalSlot};
use retry::Schedule;

/// Secrets as returned: name and exact bytes, in request order.
pub type Secrets = Vec<(String, Zeroizing<Vec<u8>>)>;

/// A session with a secret server.
pub struct SecretClient {
    config: ClientConfig,
    tls: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    channel: Option<Channel>,
    /// Fatal TLS events of the current connection (see [`FatalSlot`]).
    fatal: FatalSlot,
    /// Learnt on the first UNIMPLEMENTED: the server only speaks Occlum's service.
    occlum_only: bool,
}

impl SecretClient {
    /// Connects (with retries) and returns the session once the server has been verified.
    pub async fn connect(config: ClientConfig) -> Result<Self, Error> {
        let tls = connect::tls_config(&config)?;
        let name = connect::server_name(&config.server)?;
        let mut client = Self {
            config,
            tls,
            name,
            channel: None,
            fatal: FatalSlot::default(),
            occlum_only: false,
        };
        let mut schedule = Schedule::new(client.config.retry.clone(), client.config.deadline);
        let mut last = String::new();
        while schedule.start_attempt() {
            match client.open(&schedule).await {
                Ok(()) => return Ok(client),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(msg)) => {
                    tracing::debug!(server = %client.config.server, attempt = schedule.attempts, error = %msg, "connection failed");
                    last = msg;
                }
            }
            if !schedule.wait().await {
                break;
            }
        }
        Err(client.unreachable(&schedule, last))
    }

    /// A new session to the same server with the same TLS configuration (and so the same cache of the
    /// server's verdict); it connects on first use.
    pub fn fresh(&self) -> Self {
        Self {
            config: self.config.clone(),
            tls: Arc::clone(&self.tls),
            name: self.name.clone(),
            channel: None,
            fatal: FatalSlot::default(),
            occlum_only: self.occlum_only,
        }
    }

    /// The server address.
    pub fn server(&self) -> &str {
        &self.config.server
    }

    /// Fetches `names`, all or nothing, as exact bytes in request order.
    pub async fn get_secrets(&mut self, names: &[&str]) -> Result<Secrets, Error> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut schedule = Schedule::new(self.config.retry.clone(), self.config.deadline);
        let mut last = String::new();
        while schedule.start_attempt() {
            let result = match self.open(&schedule).await {
                Ok(()) => self.fetch(names, schedule.remaining()).await,
                Err(f) => Err(f),
            };
            // A refusal seen by the TLS layer outranks the "unavailable" tonic made of it.
            let result = match (result, take_fatal(&self.fatal)) {
                (Err(Failure::Retry(_)), Some(fatal)) => Err(Failure::Fatal(fatal)),
                (r, _) => r,
            };
            match result {
                Ok(secrets) => return Ok(secrets),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(msg)) => {
                    tracing::debug!(server = %self.config.server, attempt = schedule.attempts, error = %msg, "fetch failed");
                    self.channel = None;
                    last = msg;
                }
            }
            if !schedule.wait().await {
                break;
            }
        }
        Err(self.unreachable(&schedule, last))
    }

    /// The server's view of this client's attested identity (`initra.v1.Secrets/WhoAmI`).
    pub async fn who_am_i(&mut self) -> Result<pb::WhoAmIResponse, Error> {
        let schedule = Schedule::new(RetryPolicy::none(), self.config.deadline);
        self.open(&schedule).await.map_err(into_error)?;
        let channel = self
            .channel
            .clone()
            .ok_or_else(|| Error::Protocol("no connection".into()))?;
        let mut req = tonic::Request::new(pb::WhoAmIRequest {});
        req.set_timeout(schedule.remaining());
        pb::secrets_client::SecretsClient::new(channel)
            .who_am_i(req)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| {
                take_fatal(&self.fatal).unwrap_or_else(|| into_error(status_failure(&s, None)))
            })
    }

    async fn open(&mut self, schedule: &Schedule) -> Result<(), Failure> {
        if self.channel.is_some() {
            return Ok(());
        }
        let timeout = self.config.connect_timeout.min(schedule.remaining());
        self.fatal = FatalSlot::default();
        self.channel = Some(
            connect_once(
                &self.config.server,
                &self.name,
                &self.tls,
                timeout,
                &self.fatal,
            )
            .await?,
        );
        Ok(())
    }

    async fn fetch(&mut self, names: &[&str], remaining: Duration) -> Result<Secrets, Failure> {
        let channel = self
            .channel
            .clone()
            .ok_or_else(|| Failure::Retry("no connection".into()))?;
        if !self.occlum_only {
            let mut req = tonic::Request::new(pb::GetSecretsRequest {
                names: names.iter().map(|n| (*n).to_owned()).collect(),
            });
            req.set_timeout(remaining);
            let mut secrets = pb::secrets_client::SecretsClient::new(channel.clone());
            match tokio::time::timeout(remaining, secrets.get_secrets(req)).await {
                Err(_) => {
                    return Err(Failure::Retry(format!(
                        "GetSecrets timed out after {remaining:?}"
                    )))
                }
                Ok(Ok(resp)) => return check_order(names, resp.into_inner()),
                Ok(Err(status)) if status.code() == Code::Unimplemented => {
                    tracing::debug!(
                        "server does not implement initra.v1.Secrets; using ratls.GrSecret"
                    );
                    self.occlum_only = true;
                }
                Ok(Err(status)) => return Err(status_failure(&status, single(names))),
            }
        }
        let mut client = GrSecretClient::new(channel);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let mut req = tonic::Request::new(SecretRequest {
                name: (*name).to_owned(),
            });
            req.set_timeout(remaining);
            let reply = match tokio::time::timeout(remaining, client.get_secret(req)).await {
                Err(_) => {
                    return Err(Failure::Retry(format!(
                        "GetSecret timed out after {remaining:?}"
                    )))
                }
                // Occlum's server answers an unknown name with CANCELLED.
                Ok(Err(status)) if status.code() == Code::Cancelled => {
                    return Err(Failure::Fatal(Error::NotFound {
                        name: (*name).to_owned(),
                    }))
                }
                Ok(Err(status)) => return Err(status_failure(&status, Some(name))),
                Ok(Ok(resp)) => resp.into_inner(),
            };
            let secret = Zeroizing::new(reply.secret);
            let bytes = decode_occlum_reply(name, &secret).map_err(Failure::Fatal)?;
            out.push(((*name).to_owned(), bytes));
        }
        Ok(out)
    }

    fn unreachable(&self, schedule: &Schedule, last: String) -> Error {
        Error::Unreachable {
            addr: self.config.server.clone(),
            attempts: schedule.attempts,
            last: if last.is_empty() {
                "deadline passed before the first attempt".into()
            } else {
                last
            },
        }
    }
}

/// Connects, fetches `names` and closes: the whole Init-RA exchange in one call.
pub async fn fetch_secrets(config: ClientConfig, names: &[&str]) -> Result<Secrets, Error> {
    SecretClient::connect(config)
        .await?
        .get_secrets(names)
        .await
}

fn single<'a>(names: &[&'a str]) -> Option<&'a str> {
    match names {
        [one] => Some(one),
        _ => None,
    }
}

fn into_error(f: Failure) -> Error {
    match f {
        Failure::Fatal(e) => e,
        Failure::Retry(msg) => Error::Protocol(msg),
    }
}

/// Maps a gRPC status to an outcome.
fn status_failure(status: &Status, name: Option<&str>) -> Failure {
    match status.code() {
        Code::PermissionDenied => Failure::Fatal(Error::ClientRejected {
            reason: status.message().to_owned(),
        }),
        // The server could not verify our evidence at all: a failure, not a policy decision.
        Code::Unauthenticated => Failure::Fatal(Error::ClientInvalid {
            reason: status.message().to_owned(),
        }),
        Code::NotFound => Failure::Fatal(Error::NotFound {
            name: name
                .map(str::to_owned)
                .or_else(|| quoted_name(status.message()))
                .unwrap_or_else(|| status.message().to_owned()),
        }),
        Code::Unavailable
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Cancelled => {
            // A TLS alert inside the transport error means the server refused our certificate.
            match classify(status, "RPC") {
                Failure::Retry(_) => {
                    Failure::Retry(format!("{:?}: {}", status.code(), status.message()))
                }
                fatal => fatal,
            }
        }
        code => Failure::Fatal(Error::Protocol(format!(
            "server answered {code:?}: {}",
            status.message()
        ))),
    }
}

/// `secret "x" not found` -> `x`.
fn quoted_name(message: &str) -> Option<String> {
    let start = message.find('"')?;
    let rest = message.get(start..)?;
    let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    de.next()?.ok()
}

fn check_order(names: &[&str], resp: pb::GetSecretsResponse) -> Result<Secrets, Failure> {
    if resp.secrets.len() != names.len() {
        return Err(Failure::Fatal(Error::Protocol(format!(
            "GetSecrets: expected {} secrets, got {}",
            names.len(),
            resp.secrets.len()
        ))));
    }
    names
        .iter()
        .zip(resp.secrets)
        .map(|(want, got)| {
            if got.name != *want {
                return Err(Failure::Fatal(Error::Protocol(format!(
                    "GetSecrets: expected secret {want:?}, got {:?}",
                    got.name
                ))));
            }
            Ok((got.name, Zeroizing::new(got.value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        let f = status_failure(
            &Status::permission_denied("client attestation rejected: isv_svn: 0 < required 88"),
            None,
        );
        assert!(
            matches!(f, Failure::Fatal(Error::ClientRejected { ref reason }) if reason.contains("isv_svn"))
        );
        let f = status_failure(
            &Status::unauthenticated("client attestation invalid: untrusted root"),
            None,
        );
        assert!(
            matches!(f, Failure::Fatal(ref e @ Error::ClientInvalid { .. }) if !e.is_rejection()),
            "{f:?}"
        );
        let f = status_failure(&Status::not_found("secret \"a\\\"b\" not found"), None);
        assert!(
            matches!(f, Failure::Fatal(Error::NotFound { ref name }) if name == "a\"b"),
            "{f:?}"
        );
        let f = status_failure(&Status::not_found("whatever"), Some("k"));
        assert!(matches!(f, Failure::Fatal(Error::NotFound { ref name }) if name == "k"));
        assert!(matches!(
            status_failure(&Status::unavailable("reset"), None),
            Failure::Retry(_)
        ));
        assert!(matches!(
            status_failure(&Status::internal("x"), None),
            Failure::Fatal(Error::Protocol(_))
        ));
    }

    #[test]
    fn response_order_is_checked() {
        let resp = pb::GetSecretsResponse {
            secrets: vec![
                pb::Secret {
                    name: "b".into(),
                    value: vec![1],
                },
                pb::Secret {
                    name: "a".into(),
                    value: vec![],
                },
            ],
        };
        assert!(check_order(&["a", "b"], resp.clone()).is_err());
        let ok = check_order(&["b", "a"], resp).unwrap();
        assert_eq!(ok[0].0, "b");
        assert_eq!(&*ok[0].1, &[1]);
    }
}
