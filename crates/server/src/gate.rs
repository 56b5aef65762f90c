//! The production [`Gate`]: the client's bound evidence (SGX / TDX quote, or SEV-SNP report with
//! the certificate table of its endorsement extension) verified in full by
//! `initra_verify::Verifier`, and per-secret access decided by its policy.

use std::sync::Arc;
use std::time::SystemTime;

use initra_verify::{Claims, EvidenceVerdict, TcbStatus, Verifier};
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
        let peer = match initra_ratls::verifier::peer_evidence(std::slice::from_ref(&cert)) {
            Ok(p) => p,
            Err(e) => return PeerVerdict::invalid(format!("client certificate: {e}")),
        };
        match self
            .verifier
            .verify_evidence(&peer.evidence, peer.endorsements.as_deref(), now)
        {
            Err(e) => PeerVerdict::invalid(format!("client evidence verification failed: {e}")),
            Ok(verdict) => {
                let identity = identity_of(&verdict);
                let claims = verdict.claims();
                match verdict.decision().reason() {
                    None => PeerVerdict::accepted(identity, claims),
                    Some(reason) => PeerVerdict::rejected(identity, claims, reason.to_owned()),
                }
            }
        }
    }

    fn reassess(&self, identity: &PeerIdentity, claims: &Claims) -> Result<(), String> {
        if identity.simulated && !self.verifier.trusts_simulated_for(&identity.tee) {
            return Err("simulated evidence: the simulated root is no longer trusted".into());
        }
        let status = TcbStatus::from_reported(&identity.tcb_status);
        match self
            .verifier
            .policy()
            .evaluate(&status, &identity.advisory_ids, claims)
            .reason()
        {
            None => Ok(()),
            Some(reason) => Err(reason.to_owned()),
        }
    }

    fn secret_access(&self, name: &str, claims: &Claims) -> Result<(), String> {
        self.verifier
            .policy()
            .secret_access(name, claims)
            .map_err(|denied| denied.reason)
    }
}

/// The log / `WhoAmI` view of a verdict. SEV-SNP: `mr_enclave` carries the launch measurement.
pub(crate) fn identity_of(verdict: &EvidenceVerdict) -> PeerIdentity {
    let (mr_enclave, mr_signer, isv_prod_id, isv_svn) = match verdict.claims() {
        Claims::Sgx(c) => (
            c.mr_enclave.to_string(),
            c.mr_signer.to_string(),
            c.isv_prod_id,
            c.isv_svn,
        ),
        Claims::Tdx(c) => (c.mr_td.to_string(), String::new(), 0, 0),
        Claims::Snp(c) => (c.measurement.to_string(), String::new(), 0, 0),
    };
    PeerIdentity {
        tee: verdict.tee_name().to_owned(),
        mr_enclave,
        mr_signer,
        isv_prod_id,
        isv_svn,
        debug: verdict.claims().debug(),
        simulated: verdict.simulated(),
        tcb_status: verdict.tcb_status_label().to_owned(),
        advisory_ids: verdict.advisory_ids().to_vec(),
        summary: verdict.summary(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use initra_attest::sim::{SimAttester, SimOptions, SimPlatform};
    use initra_attest::EnclaveIdentity;
    use initra_ratls::{CertOptions, RaTlsIdentity};
    use initra_verify::{Policy, RootKind, SnpRoots, StaticCollateral, TrustRoots, Verifier};

    use super::*;

    fn occlum_config(mr_enclave: &str, mr_signer: &str) -> String {
        format!(
            r#"{{"verify_mr_enclave":"on","verify_mr_signer":"on","verify_isv_prod_id":"on",
                "verify_isv_svn":"on","verify_config_svn":"off","verify_enclave_debuggable":"on",
                "sgx_mrs":[{{"mr_enclave":"{mr_enclave}","mr_signer":"{mr_signer}","isv_prod_id":0,
                "isv_svn":0,"config_svn":0,"debuggable":false}}]}}"#
        )
    }

    fn gate(platform: &SimPlatform, policy: &str, sim_root: bool) -> VerifierGate {
        let mut roots = TrustRoots::intel();
        if sim_root {
            roots = roots
                .with_root(platform.root_ca_der().to_vec(), RootKind::Simulated)
                .unwrap();
        }
        let collateral = StaticCollateral::from_files(&[platform.collateral_path()]).unwrap();
        let policy = Policy::from_bytes(policy.as_bytes(), "test policy").unwrap();
        VerifierGate::new(Arc::new(Verifier::new(
            roots,
            Arc::new(collateral),
            Arc::new(policy),
        )))
    }

    /// After a reload, a connection attested under the old policy is judged by the new one on its next RPC.
    #[test]
    fn reassess_applies_a_reloaded_policy_to_an_attested_peer() {
        let dir = tempfile::tempdir().unwrap();
        let platform = SimPlatform::create(dir.path(), &SimOptions::default()).unwrap();
        let mr_enclave = initra_evidence::types::Measurement([0x11; 32]);
        let id = EnclaveIdentity::new(mr_enclave, platform.mr_signer());
        let me = occlum_config(&id.mr_enclave.to_string(), &id.mr_signer.to_string());
        let other = occlum_config(&"22".repeat(32), &id.mr_signer.to_string());
        let attester = SimAttester::new(SimPlatform::load(dir.path()).unwrap(), id).unwrap();
        let cert = RaTlsIdentity::generate(&attester, &CertOptions::default()).unwrap();

        let before = gate(&platform, &me, true);
        let verdict = before.assess(cert.cert_der(), SystemTime::now());
        let claims = verdict.accepted_claims().unwrap();
        let identity = verdict.identity.clone().unwrap();
        assert!(identity.simulated);
        assert_eq!(before.reassess(&identity, claims), Ok(()));

        let tightened = gate(&platform, &other, true);
        let reason = tightened.reassess(&identity, claims).unwrap_err();
        assert!(reason.contains("mr_enclave"), "{reason}");

        let no_sim_root = gate(&platform, &me, false);
        let reason = no_sim_root.reassess(&identity, claims).unwrap_err();
        assert!(reason.contains("simulated root"), "{reason}");

        // A simulated SEV-SNP ARK left in place does not keep a simulated SGX peer trusted.
        let ark = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/sim-snp/ark.der"
        ))
        .unwrap();
        let snp_only = VerifierGate::new(Arc::new(
            Verifier::new(
                TrustRoots::intel(),
                Arc::new(StaticCollateral::from_files(&[platform.collateral_path()]).unwrap()),
                Arc::new(Policy::from_bytes(me.as_bytes(), "test policy").unwrap()),
            )
            .with_snp_roots(SnpRoots::amd().with_simulated_ark(ark).unwrap()),
        ));
        assert!(snp_only.verifier.trusts_simulated());
        let reason = snp_only.reassess(&identity, claims).unwrap_err();
        assert!(reason.contains("simulated root"), "{reason}");
    }
}
