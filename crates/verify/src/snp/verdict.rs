//! The outcome of verifying an SNP report that is cryptographically valid.

use initra_evidence::snp::SigningKey;
use serde_json::{json, Value};

use super::{SnpClaims, VcekInfo};
use crate::verdict::Decision;
use crate::RootKind;

/// A verified SNP report's identity claims, what its VCEK certifies, and the policy decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnpVerdict {
    /// The report fields.
    pub claims: SnpClaims,
    /// What the VCEK (or VLEK) certifies.
    pub vcek: VcekInfo,
    /// Which key signed the report.
    pub signing_key: SigningKey,
    /// The kind of ARK the chain ended in.
    pub root: RootKind,
    /// Verified under a simulated ARK: not hardware-backed.
    pub simulated: bool,
    /// The policy's decision.
    pub decision: Decision,
}

impl SnpVerdict {
    /// Whether the policy accepted.
    pub fn is_accepted(&self) -> bool {
        self.decision.is_accepted()
    }

    /// The `--json` shape of `initra quote verify` (`docs/cli-json.md`): the SGX / TDX keys
    /// (`verdict`, `tee` = `"snp"`, `tcb_status` = null, `advisory_ids` = [], `simulated`, `reason`,
    /// `rejected_by`, `fmspc` = null), then the report fields flat, `product_name`, `signing_key`.
    pub fn to_json(&self) -> Value {
        // SNP has no collateral-derived TCB status: the reported TCB is checked against the VCEK
        // (invalid otherwise) and against the policy's `min_reported_tcb`.
        let mut out = crate::verdict::json_envelope(
            &self.decision,
            json!("snp"),
            Value::Null,
            json!([]),
            self.simulated,
            Value::Null,
            serde_json::to_value(&self.claims),
        );
        out.insert("product_name".into(), json!(self.vcek.product_name));
        out.insert("signing_key".into(), json!(self.signing_key));
        Value::Object(out)
    }
}
