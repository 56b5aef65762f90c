//! What the server concluded about the peer of a connection, and the trait that concludes it.
//!
//! The verdict is computed once per connection, right after the TLS handshake (full quote verification),
//! and travels to every RPC of that connection as tonic connect-info ([`ConnInfo`]).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// The attested identity of a peer, as shown in logs and by `WhoAmI`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerIdentity {
    /// `sgx`, `tdx` or `snp`.
    pub tee: String,
    /// MRENCLAVE (SGX), MRTD (TDX) or the launch measurement (SEV-SNP), lower-case hex.
    pub mr_enclave: String,
    /// MRSIGNER (SGX), lower-case hex; empty for TDX and SEV-SNP.
    pub mr_signer: String,
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// Whether the enclave / TD is in debug mode.
    pub debug: bool,
    /// True when the evidence chains to the simulated platform root.
    pub simulated: bool,
    /// The TCB status from quote verification (`UpToDate`, ...).
    pub tcb_status: String,
    /// Intel security advisories that apply to the platform.
    pub advisory_ids: Vec<String>,
    /// Every identity field of the TEE in one line (for SEV-SNP: product, measurement, host_data,
    /// vmpl, guest policy, reported TCB, chip id), for audit records.
    pub summary: String,
}

impl fmt::Display for PeerIdentity {
    /// The TEE's own identity fields (`summary`), then debug and simulated: an SEV-SNP or TDX
    /// peer is not shown with SGX fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} debug={} simulated={}",
            self.summary, self.debug, self.simulated
        )
    }
}

/// The server's verdict on one peer. `C` is the claims type the [`Gate`] uses for per-secret access control.
#[derive(Debug)]
pub struct PeerVerdict<C> {
    /// The verified identity; `None` when the evidence itself could not be verified.
    pub identity: Option<PeerIdentity>,
    /// The claims (present whenever `identity` is).
    pub claims: Option<C>,
    /// `None` = accepted; `Some(reason)` = rejected, e.g. `isv_svn: 0 < required 88`.
    pub rejection: Option<String>,
}

impl<C> PeerVerdict<C> {
    /// An accepted peer.
    pub fn accepted(identity: PeerIdentity, claims: C) -> Self {
        Self {
            identity: Some(identity),
            claims: Some(claims),
            rejection: None,
        }
    }

    /// A peer whose evidence verified but that the verify config / policy rejects.
    pub fn rejected(identity: PeerIdentity, claims: C, reason: impl Into<String>) -> Self {
        Self {
            identity: Some(identity),
            claims: Some(claims),
            rejection: Some(reason.into()),
        }
    }

    /// A peer whose evidence could not be verified at all (no identity).
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self {
            identity: None,
            claims: None,
            rejection: Some(reason.into()),
        }
    }

    /// The accepted claims, or the rejection reason.
    pub fn accepted_claims(&self) -> Result<&C, &str> {
        match (&self.rejection, &self.claims) {
            (None, Some(claims)) => Ok(claims),
            (Some(reason), _) => Err(reason),
            (None, None) => Err("no attested identity"),
        }
    }
}

/// Decides on peers and on secret access. The production implementation wraps `initra_verify::Verifier`;
/// tests substitute their own.
pub trait Gate: Send + Sync + 'static {
    /// What per-secret rules are evaluated against.
    type Claims: Send + Sync + 'static;

    /// Fully verifies the peer's end-entity certificate (an RA-TLS certificate). CPU-bound: the server
    /// calls it on the blocking pool.
    fn assess(&self, end_entity_der: &[u8], now: SystemTime) -> PeerVerdict<Self::Claims>;

    /// Whether a peer with `claims` may read the secret `name`; `Err` says why not.
    fn secret_access(&self, name: &str, claims: &Self::Claims) -> Result<(), String>;

    /// Whether a peer accepted when its connection was attested is still accepted by this gate's
    /// (possibly reloaded) policy and trust roots. Cheap: no cryptography, only the decision. The
    /// default keeps the original verdict.
    fn reassess(&self, _identity: &PeerIdentity, _claims: &Self::Claims) -> Result<(), String> {
        Ok(())
    }
}

/// The connect-info of an accepted connection: where it comes from and the verdict on its peer.
pub struct ConnInfo<C> {
    /// The peer's socket address.
    pub remote_addr: Option<SocketAddr>,
    /// The verdict on the peer's attestation.
    pub verdict: Arc<PeerVerdict<C>>,
}

// A derived Clone would require `C: Clone`; only the Arc is cloned.
impl<C> Clone for ConnInfo<C> {
    fn clone(&self) -> Self {
        Self {
            remote_addr: self.remote_addr,
            verdict: Arc::clone(&self.verdict),
        }
    }
}
