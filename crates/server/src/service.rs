//! The gRPC services: Occlum's `ratls.GrSecret` and initra's `initra.v1.Secrets` (docs/protocol.md).
//!
//! Every RPC reads the connection's verdict from the connect-info, takes one state snapshot and decides
//! from those two alone. Each decision is logged once (target `initra::audit`) with the peer identity,
//! the secret names, the verdict and the reason; secret values are never logged.

use std::sync::Arc;

use initra_proto::initra::v1 as pb;
use initra_proto::ratls::{SecretReply, SecretRequest};
use tonic::{Request, Response, Status};

use crate::peer::{ConnInfo, Gate, PeerVerdict};
use crate::secrets::Secret;
use crate::state::{Shared, State};

/// Most names one `GetSecrets` call may ask for.
pub const MAX_NAMES_PER_CALL: usize = 1024;

/// Why a release was refused. Each maps to one gRPC status (docs/protocol.md, "Status codes").
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Denial {
    /// The request itself is malformed (no names, too many).
    InvalidArgument(String),
    /// The named secret is not configured.
    NotFound(String),
    /// The peer's attestation was rejected by policy when the connection was accepted.
    PeerRejected(String),
    /// The peer's evidence could not be verified at all (no identity): a failure, not a policy decision.
    PeerInvalid(String),
    /// The peer is attested but policy does not let it read this secret.
    SecretForbidden {
        /// The secret.
        name: String,
        /// The policy's reason.
        reason: String,
    },
}

impl Denial {
    fn reason(&self) -> String {
        match self {
            Self::InvalidArgument(r) => r.clone(),
            Self::NotFound(name) => format!("secret {name:?} not found"),
            Self::PeerRejected(r) => format!("client attestation rejected: {r}"),
            Self::PeerInvalid(r) => format!("client attestation invalid: {r}"),
            Self::SecretForbidden { name, reason } => {
                format!("secret {name:?} not allowed for this client: {reason}")
            }
        }
    }

    fn status(&self) -> Status {
        let msg = self.reason();
        match self {
            Self::InvalidArgument(_) => Status::invalid_argument(msg),
            Self::NotFound(_) => Status::not_found(msg),
            Self::PeerRejected(_) | Self::SecretForbidden { .. } => Status::permission_denied(msg),
            Self::PeerInvalid(_) => Status::unauthenticated(msg),
        }
    }
}

/// Decides whether the peer may have all of `names`; all or nothing, first failure wins.
pub(crate) fn release<'s, G: Gate>(
    state: &'s State<G>,
    verdict: &PeerVerdict<G::Claims>,
    names: &[String],
) -> Result<Vec<&'s Secret>, Denial> {
    let claims = verdict.accepted_claims().map_err(|r| {
        if verdict.identity.is_some() {
            Denial::PeerRejected(r.to_owned())
        } else {
            Denial::PeerInvalid(r.to_owned())
        }
    })?;
    // A reload (SIGHUP) may have tightened the policy since this connection was attested.
    if let Some(identity) = &verdict.identity {
        state.gate.reassess(identity, claims).map_err(|r| {
            Denial::PeerRejected(format!(
                "{r} (policy reloaded since this connection was attested)"
            ))
        })?;
    }
    if names.is_empty() {
        return Err(Denial::InvalidArgument(
            "names: expected at least one secret name, got none".into(),
        ));
    }
    if names.len() > MAX_NAMES_PER_CALL {
        return Err(Denial::InvalidArgument(format!(
            "names: {} names > maximum {MAX_NAMES_PER_CALL}",
            names.len()
        )));
    }
    names
        .iter()
        .map(|name| {
            let secret = state
                .secrets
                .get(name)
                .ok_or_else(|| Denial::NotFound(name.clone()))?;
            state
                .gate
                .secret_access(name, claims)
                .map_err(|reason| Denial::SecretForbidden {
                    name: name.clone(),
                    reason,
                })?;
            Ok(secret)
        })
        .collect()
}

/// Both secret services over one shared state.
pub(crate) struct SecretService<G: Gate> {
    shared: Arc<Shared<G>>,
}

impl<G: Gate> SecretService<G> {
    pub(crate) fn new(shared: Arc<Shared<G>>) -> Self {
        Self { shared }
    }

    fn decide(
        &self,
        rpc: &'static str,
        info: &ConnInfo<G::Claims>,
        names: &[String],
    ) -> (Arc<State<G>>, Result<(), Denial>) {
        let state = self.shared.current();
        let result = release(&state, &info.verdict, names).map(|_| ());
        audit(rpc, info, names, result.as_ref().err());
        (state, result)
    }
}

fn conn_info<G: Gate, T>(req: &Request<T>) -> Result<ConnInfo<G::Claims>, Status> {
    req.extensions()
        .get::<ConnInfo<G::Claims>>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no attested TLS connection"))
}

/// The one log line per decision.
fn audit<C>(rpc: &'static str, info: &ConnInfo<C>, names: &[String], denial: Option<&Denial>) {
    let peer = info.remote_addr.map(|a| a.to_string()).unwrap_or_default();
    match (&info.verdict.identity, denial) {
        (Some(id), None) => tracing::info!(
            target: "initra::audit",
            rpc, peer, tee = %id.tee, identity = %id.summary, debug = id.debug, simulated = id.simulated,
            tcb_status = %id.tcb_status, secrets = ?names, verdict = "granted",
            "secret release granted"
        ),
        (Some(id), Some(denial)) => tracing::warn!(
            target: "initra::audit",
            rpc, peer, tee = %id.tee, identity = %id.summary, debug = id.debug, simulated = id.simulated,
            tcb_status = %id.tcb_status, secrets = ?names, verdict = "denied", reason = %denial.reason(),
            "secret release denied"
        ),
        // The evidence did not verify: nothing about the peer is known but its address.
        (None, denial) => tracing::warn!(
            target: "initra::audit",
            rpc, peer, secrets = ?names, verdict = "denied",
            reason = denial.map_or_else(|| "no attested identity".to_owned(), Denial::reason),
            "secret release denied"
        ),
    }
}

#[tonic::async_trait]
impl<G: Gate> initra_proto::ratls::gr_secret_server::GrSecret for SecretService<G> {
    async fn get_secret(
        &self,
        request: Request<SecretRequest>,
    ) -> Result<Response<SecretReply>, Status> {
        let info = conn_info::<G, _>(&request)?;
        let names = [request.into_inner().name];
        let (state, result) = self.decide("ratls.GrSecret/GetSecret", &info, &names);
        result.map_err(|d| d.status())?;
        let [name] = &names;
        let secret = state
            .secrets
            .get(name)
            .ok_or_else(|| Denial::NotFound(name.clone()).status())?;
        // Occlum's reply form: the base64 text as a JSON string literal (DESIGN.md, compatibility contract).
        Ok(Response::new(SecretReply {
            secret: secret.occlum_reply().to_string(),
        }))
    }
}

#[tonic::async_trait]
impl<G: Gate> pb::secrets_server::Secrets for SecretService<G> {
    async fn get_secrets(
        &self,
        request: Request<pb::GetSecretsRequest>,
    ) -> Result<Response<pb::GetSecretsResponse>, Status> {
        let info = conn_info::<G, _>(&request)?;
        let names = request.into_inner().names;
        let (state, result) = self.decide("initra.v1.Secrets/GetSecrets", &info, &names);
        result.map_err(|d| d.status())?;
        let secrets = names
            .iter()
            .map(|name| {
                let secret = state
                    .secrets
                    .get(name)
                    .ok_or_else(|| Denial::NotFound(name.clone()).status())?;
                Ok(pb::Secret {
                    name: name.clone(),
                    value: secret.bytes().to_vec(),
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        Ok(Response::new(pb::GetSecretsResponse { secrets }))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let info = conn_info::<G, _>(&request)?;
        let state = self.shared.current();
        let verdict = &info.verdict;
        let id = verdict.identity.clone().unwrap_or_default();
        let readable_secrets = match verdict.accepted_claims() {
            Ok(claims) => state
                .secrets
                .names()
                .filter(|name| state.gate.secret_access(name, claims).is_ok())
                .map(str::to_owned)
                .collect(),
            Err(_) => Vec::new(),
        };
        tracing::info!(
            target: "initra::audit",
            rpc = "initra.v1.Secrets/WhoAmI", peer = ?info.remote_addr, identity = %id,
            accepted = verdict.rejection.is_none(), "identity query"
        );
        Ok(Response::new(pb::WhoAmIResponse {
            tee: id.tee,
            mr_enclave: id.mr_enclave,
            mr_signer: id.mr_signer,
            isv_prod_id: u32::from(id.isv_prod_id),
            isv_svn: u32::from(id.isv_svn),
            debug: id.debug,
            simulated: id.simulated,
            tcb_status: id.tcb_status,
            advisory_ids: id.advisory_ids,
            accepted: verdict.rejection.is_none(),
            reason: verdict.rejection.clone().unwrap_or_default(),
            readable_secrets,
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::peer::PeerIdentity;
    use crate::secrets::SecretStore;

    /// A gate whose claims are an ISV SVN; secret `image_key` needs SVN >= 2, others are open.
    pub(crate) struct SvnGate;

    impl Gate for SvnGate {
        type Claims = u16;
        fn assess(&self, _der: &[u8], _now: SystemTime) -> PeerVerdict<u16> {
            PeerVerdict::invalid("not used")
        }
        fn secret_access(&self, name: &str, svn: &u16) -> Result<(), String> {
            if name == "image_key" && *svn < 2 {
                return Err(format!("isv_svn: {svn} < required 2"));
            }
            Ok(())
        }
    }

    fn state() -> State<SvnGate> {
        State {
            secrets: SecretStore::from_bytes([
                ("image_key", b"k\n".to_vec()),
                ("cert", b"c\n".to_vec()),
            ]),
            gate: SvnGate,
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn bytes(r: Result<Vec<&Secret>, Denial>) -> Vec<Vec<u8>> {
        r.unwrap().iter().map(|s| s.bytes().to_vec()).collect()
    }

    #[test]
    fn accepted_peer_gets_all_requested_in_order() {
        let st = state();
        let v = PeerVerdict::accepted(PeerIdentity::default(), 2);
        assert_eq!(
            bytes(release(&st, &v, &names(&["cert", "image_key"]))),
            [b"c\n".to_vec(), b"k\n".to_vec()]
        );
    }

    #[test]
    fn per_secret_rule_denies_whole_call_and_names_secret() {
        let st = state();
        let v = PeerVerdict::accepted(PeerIdentity::default(), 1);
        assert_eq!(
            bytes(release(&st, &v, &names(&["cert"]))),
            [b"c\n".to_vec()]
        );
        let d = release(&st, &v, &names(&["cert", "image_key"]))
            .err()
            .unwrap();
        assert_eq!(
            d,
            Denial::SecretForbidden {
                name: "image_key".into(),
                reason: "isv_svn: 1 < required 2".into()
            }
        );
        let status = d.status();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert!(
            status.message().contains("\"image_key\"")
                && status.message().contains("1 < required 2")
        );
    }

    #[test]
    fn rejected_peer_gets_nothing_with_reason() {
        let st = state();
        let v = PeerVerdict::rejected(PeerIdentity::default(), 9, "isv_svn: 0 < required 88");
        let status = release(&st, &v, &names(&["cert"])).err().unwrap().status();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "client attestation rejected: isv_svn: 0 < required 88"
        );
        let v = PeerVerdict::<u16>::invalid("quote signature invalid");
        let status = release(&st, &v, &names(&["cert"])).err().unwrap().status();
        // Evidence that cannot be verified is a failure, not a policy decision: UNAUTHENTICATED.
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert_eq!(
            status.message(),
            "client attestation invalid: quote signature invalid"
        );
    }

    #[test]
    fn unknown_and_empty_names() {
        let st = state();
        let v = PeerVerdict::accepted(PeerIdentity::default(), 5);
        let status = release(&st, &v, &names(&["cert", "nope"]))
            .err()
            .unwrap()
            .status();
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "secret \"nope\" not found");
        let status = release(&st, &v, &[]).err().unwrap().status();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let many = vec!["cert".to_string(); MAX_NAMES_PER_CALL + 1];
        assert_eq!(
            release(&st, &v, &many).err().unwrap().status().code(),
            tonic::Code::InvalidArgument
        );
    }
}
