//! The production [`Gate`]: the client's bound quote verified in full by `initra_verify::Verifier`, and
//! per-secret access decided by its policy.

use std::sync::Arc;
use std::time::SystemTime;

use initra_verify::{Claims, Verdict, Verifier};
use rustls_pki_types::CertificateDer;

use crate::peer::{Gate, PeerIdentity, PeerVerdict};

/// Verifies client evidence with a shared [`Verifier`] (collateral and policy parsed once per load).
pub struct VerifierGate {
    verifier: Arc<Verifier>,
}

impl VerifierGate {
    /// A gate deciding with `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Self { verifier }
    }
}

impl Gate for VerifierGate {
    type Claims = Claims;

    fn assess(&self, end_entity_der: &[u8], now: SystemTime) -> PeerVerdict<Claims> {
        let cert = CertificateDer::from(end_entity_der);
        let quote = match initra_ratls::verifier::peer_quote(std::slice::from_ref(&cert)) {
            Ok(q) => q,
            Err(e) => return PeerVerdict::invalid(format!("client certificate: {e}")),
        };
        match self.verifier.verify(&quote, now) {
            Err(e) => PeerVerdict::invalid(format!("client quote verification failed: {e}")),
            Ok(verdict) => {
                let identity = identity_of(&verdict);
                match verdict.decision.reason() {
                    None => PeerVerdict::accepted(identity, verdict.claims),
                    Some(reason) => {
                        let reason = reason.to_owned();
                        PeerVerdict::rejected(identity, verdict.claims, reason)
                    }
                }
            }
        }
    }

    fn secret_access(&self, name: &str, claims: &Claims) -> Result<(), String> {
        self.verifier
            .policy()
            .secret_access(name, claims)
            .map_err(|denied| denied.reason)
    }
}

/// The log / `WhoAmI` view of a verdict.
pub(crate) fn identity_of(verdict: &Verdict) -> PeerIdentity {
    let (mr_enclave, mr_signer, isv_prod_id, isv_svn) = match &verdict.claims {
        Claims::Sgx(c) => (
            c.mr_enclave.to_string(),
            c.mr_signer.to_string(),
            c.isv_prod_id,
            c.isv_svn,
        ),
        Claims::Tdx(c) => (c.mr_td.to_string(), String::new(), 0, 0),
    };
    PeerIdentity {
        tee: verdict.claims.tee().to_string(),
        mr_enclave,
        mr_signer,
        isv_prod_id,
        isv_svn,
        debug: verdict.claims.debug(),
        simulated: verdict.simulated,
        tcb_status: verdict.tcb_status.as_str().to_owned(),
        advisory_ids: verdict.advisory_ids.clone(),
    }
}
