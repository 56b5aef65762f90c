//! The outcome of verifying a quote that is cryptographically valid.

use initra_evidence::Tee;
use serde_json::{json, Map, Value};

use crate::claims::Claims;
use crate::policy::TcbStatus;
use crate::roots::RootKind;
use crate::snp::SnpVerdict;

/// Which policy check rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// An advisory outside the allow-list.
    Advisory,
    /// A debug enclave / TD without permission.
    Debug,
    /// No identity rule matched.
    Identity,
    /// TCB status not accepted.
    TcbStatus,
}

/// The policy decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Every check passed.
    Accepted,
    /// A check failed; `reason` names field, expected and actual value.
    Rejected {
        /// Which check.
        kind: RejectionKind,
        /// Why, e.g. `tcb status OutOfDate not in accepted [UpToDate]; advisories INTEL-SA-00960`.
        reason: String,
    },
}

impl Decision {
    pub(crate) fn rejected(kind: RejectionKind, reason: String) -> Self {
        Decision::Rejected { kind, reason }
    }

    /// Whether accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Decision::Accepted)
    }

    /// The rejection reason, if rejected.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Decision::Accepted => None,
            Decision::Rejected { reason, .. } => Some(reason),
        }
    }
}

/// A verified quote's TCB result, identity claims and policy decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// SGX or TDX.
    pub tee: Tee,
    /// TCB status reported by verification (present even when the policy rejects).
    pub tcb_status: TcbStatus,
    /// Advisory IDs reported by verification.
    pub advisory_ids: Vec<String>,
    /// Verified under a simulated root: not hardware-backed.
    pub simulated: bool,
    /// The kind of root the PCK chain ended in.
    pub root: RootKind,
    /// FMSPC of the platform (lower-case hex), when known.
    pub fmspc: Option<String>,
    /// The report fields.
    pub claims: Claims,
    /// The policy's decision.
    pub decision: Decision,
}

impl Verdict {
    /// Whether the policy accepted.
    pub fn is_accepted(&self) -> bool {
        self.decision.is_accepted()
    }

    /// The `--json` shape of `initra quote verify` (`docs/cli-json.md`): `verdict`, `tee`,
    /// `tcb_status`, `advisory_ids`, `simulated`, `reason`, then the report fields flat.
    pub fn to_json(&self) -> Value {
        Value::Object(json_envelope(
            &self.decision,
            json!(self.tee),
            json!(self.tcb_status),
            json!(self.advisory_ids),
            self.simulated,
            json!(self.fmspc),
            serde_json::to_value(&self.claims),
        ))
    }
}

/// The verdict on evidence of any kind: a DCAP quote (SGX, TDX) or an SEV-SNP report
/// ([`crate::Verifier::verify_evidence`]).
// Boxed variants would only add a pointer chase; verdicts are few and short-lived.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceVerdict {
    /// A verified DCAP quote.
    Dcap(Verdict),
    /// A verified SEV-SNP report.
    Snp(SnpVerdict),
}

impl EvidenceVerdict {
    /// The policy's decision.
    pub fn decision(&self) -> &Decision {
        match self {
            EvidenceVerdict::Dcap(v) => &v.decision,
            EvidenceVerdict::Snp(v) => &v.decision,
        }
    }

    /// Whether the policy accepted.
    pub fn is_accepted(&self) -> bool {
        self.decision().is_accepted()
    }

    /// Verified under a simulated root (Intel-shaped or ARK): not hardware-backed.
    pub fn simulated(&self) -> bool {
        match self {
            EvidenceVerdict::Dcap(v) => v.simulated,
            EvidenceVerdict::Snp(v) => v.simulated,
        }
    }

    /// The TCB status from collateral; `None` for SEV-SNP (its reported TCB is bound to the
    /// VCEK during verification instead).
    pub fn tcb_status(&self) -> Option<&TcbStatus> {
        match self {
            EvidenceVerdict::Dcap(v) => Some(&v.tcb_status),
            EvidenceVerdict::Snp(_) => None,
        }
    }

    /// The TCB status for logs and audit records: its name, or `n/a` for SEV-SNP (no
    /// collateral-derived status: the reported TCB is bound to the VCEK during verification).
    pub fn tcb_status_label(&self) -> &str {
        self.tcb_status().map_or("n/a", TcbStatus::as_str)
    }

    /// Advisory IDs (always empty for SEV-SNP).
    pub fn advisory_ids(&self) -> &[String] {
        match self {
            EvidenceVerdict::Dcap(v) => &v.advisory_ids,
            EvidenceVerdict::Snp(_) => &[],
        }
    }

    /// The attested identity.
    pub fn claims(&self) -> Claims {
        match self {
            EvidenceVerdict::Dcap(v) => v.claims.clone(),
            EvidenceVerdict::Snp(v) => Claims::Snp(v.claims.clone()),
        }
    }

    /// `"sgx"`, `"tdx"` or `"snp"`.
    pub fn tee_name(&self) -> &'static str {
        match self {
            EvidenceVerdict::Dcap(v) => v.tee.as_str(),
            EvidenceVerdict::Snp(_) => "snp",
        }
    }

    /// A short identity for logs.
    pub fn summary(&self) -> String {
        match self {
            EvidenceVerdict::Dcap(v) => v.claims.summary(),
            EvidenceVerdict::Snp(v) => v.claims.summary(),
        }
    }

    /// The `--json` shape of the verdict (`docs/cli-json.md`).
    pub fn to_json(&self) -> Value {
        match self {
            EvidenceVerdict::Dcap(v) => v.to_json(),
            EvidenceVerdict::Snp(v) => v.to_json(),
        }
    }
}

/// The keys every `--json` verdict shares (docs/cli-json.md), in order, then the report fields flat.
pub(crate) fn json_envelope(
    decision: &Decision,
    tee: Value,
    tcb_status: Value,
    advisory_ids: Value,
    simulated: bool,
    fmspc: Value,
    claims: serde_json::Result<Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let verdict = if decision.is_accepted() {
        "accepted"
    } else {
        "rejected"
    };
    out.insert("verdict".into(), json!(verdict));
    out.insert("tee".into(), tee);
    out.insert("tcb_status".into(), tcb_status);
    out.insert("advisory_ids".into(), advisory_ids);
    out.insert("simulated".into(), json!(simulated));
    out.insert("reason".into(), json!(decision.reason()));
    if let Decision::Rejected { kind, .. } = decision {
        out.insert("rejected_by".into(), json!(kind));
    }
    out.insert("fmspc".into(), fmspc);
    if let Ok(Value::Object(claims)) = claims {
        out.extend(claims);
    }
    out
}
