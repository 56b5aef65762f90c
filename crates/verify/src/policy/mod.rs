//! The fail-closed policy evaluated after cryptographic verification (`docs/policy.md`).
//!
//! Order: TCB status → advisories → debug → identity (SEV-SNP: debug → identity). Anything not
//! explicitly allowed is a rejection whose reason names the field, the expected and the actual
//! value. `max_collateral_age` is enforced by the [`crate::Verifier`] with
//! [`crate::FreshnessPolicy`]: too old collateral makes the quote invalid, not rejected.

mod fields;
mod identity;
mod json;
mod occlum;
mod parse;
mod tcb;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

pub use identity::{IdentityRule, SgxIdentity, SnpIdentity, TdxIdentity};
pub use json::parse as parse_strict_json;

use identity::Subject;
pub use tcb::TcbStatus;

use crate::claims::Claims;
use crate::snp::SnpClaims;
use crate::verdict::{Decision, RejectionKind};
use crate::Error;

/// Which identities a policy accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identities {
    /// Any identity (explicit `"identities": "any"`, or no `--policy` on the command line).
    Any,
    /// One of these; the label (`identities`, `sgx_mrs`) prefixes mismatch reports.
    OneOf {
        /// Where the rules came from, for messages.
        label: String,
        /// The rules (at least one).
        rules: Vec<IdentityRule>,
    },
}

/// A fail-closed verification policy. Parse it once and share it (`Arc<Policy>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    accept_tcb_status: Vec<TcbStatus>,
    allowed_advisories: Option<BTreeSet<String>>,
    allow_debug: bool,
    identities: Identities,
    secrets: BTreeMap<String, Vec<IdentityRule>>,
    max_collateral_age: Option<Duration>,
}

/// A secret request refused by per-secret access control.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("secret {secret:?}: access denied: {reason}")]
pub struct AccessDenied {
    /// The secret's name.
    pub secret: String,
    /// Why (the closest rule's mismatches, or "no rule").
    pub reason: String,
}

impl Default for Policy {
    /// UpToDate only, no debug, no identity constraint, no secret rules.
    fn default() -> Self {
        Self {
            accept_tcb_status: vec![TcbStatus::UpToDate],
            allowed_advisories: None,
            allow_debug: false,
            identities: Identities::Any,
            secrets: BTreeMap::new(),
            max_collateral_age: None,
        }
    }
}

impl Policy {
    /// Reads initra's policy file (JSON, `docs/policy.md`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let (text, origin) = read(path.as_ref())?;
        parse::initra_policy(&text).map_err(|reason| Error::Policy { origin, reason })
    }

    /// Reads Occlum's verify config (`dynamic_config.json`, or `init_ra_conf.json` with its
    /// `ra_config`).
    pub fn from_occlum_config_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let (text, origin) = read(path.as_ref())?;
        occlum::occlum_policy(&text).map_err(|reason| Error::Policy { origin, reason })
    }

    /// Reads either format, detected by its keys (`verify_*` / `sgx_mrs` / `ra_config` = Occlum).
    pub fn from_any_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let (text, origin) = read(path.as_ref())?;
        Self::from_bytes(text.as_bytes(), &origin)
    }

    /// Parses either format from bytes; `origin` names the source in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::Policy {
            origin: origin.to_owned(),
            reason,
        };
        let text = core::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
        if occlum::looks_like_occlum(text) {
            occlum::occlum_policy(text).map_err(err)
        } else {
            parse::initra_policy(text).map_err(err)
        }
    }

    /// This policy with the identities of `other` (e.g. an Occlum verify config combined with
    /// an initra policy file that holds TCB and secret rules).
    pub fn with_identities_from(mut self, other: &Policy) -> Self {
        self.identities = other.identities.clone();
        self
    }

    /// This policy accepting these TCB statuses (Revoked is ignored: never accepted).
    pub fn with_accepted_statuses(mut self, statuses: Vec<TcbStatus>) -> Self {
        self.accept_tcb_status = statuses
            .into_iter()
            .filter(|s| !matches!(s, TcbStatus::Revoked | TcbStatus::Unknown(_)))
            .collect();
        self
    }

    /// This policy with debug enclaves / TDs allowed or not.
    pub fn with_allow_debug(mut self, allow: bool) -> Self {
        self.allow_debug = allow;
        self
    }

    /// Accepted TCB statuses.
    pub fn accepted_statuses(&self) -> &[TcbStatus] {
        &self.accept_tcb_status
    }

    /// The advisory allow-list, if any.
    pub fn allowed_advisories(&self) -> Option<&BTreeSet<String>> {
        self.allowed_advisories.as_ref()
    }

    /// Whether debug enclaves / TDs are allowed.
    pub fn allow_debug(&self) -> bool {
        self.allow_debug
    }

    /// The accepted identities.
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// This policy refusing collateral whose TCB info, QE identity or PCK CRL was issued more
    /// than `max` before the verification time. The stricter of `max` and the policy's own limit
    /// applies, so a flag or setting can only tighten a policy file.
    pub fn with_max_collateral_age(mut self, max: Duration) -> Self {
        self.max_collateral_age = Some(self.max_collateral_age.map_or(max, |own| own.min(max)));
        self
    }

    /// Maximum collateral age (TCB info, QE identity and PCK CRL issue dates to the verification
    /// time), if set; enforced by the [`crate::Verifier`].
    pub fn max_collateral_age(&self) -> Option<Duration> {
        self.max_collateral_age
    }

    /// Whether evidence of this TEE (`"sgx"`, `"tdx"` or `"snp"`) can be accepted at all:
    /// `"identities": "any"`, or an identity for it.
    pub fn may_admit(&self, tee: &str) -> bool {
        match &self.identities {
            Identities::Any => true,
            Identities::OneOf { rules, .. } => rules.iter().any(|r| r.tee() == tee),
        }
    }

    /// Whether any per-secret rule exists (then access is deny-by-default).
    pub fn has_secret_rules(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Decides on cryptographically verified evidence: TCB status → advisories → debug →
    /// identity. For SEV-SNP claims `status` and `advisory_ids` do not apply (see
    /// [`Policy::evaluate_snp`]).
    pub fn evaluate(
        &self,
        status: &TcbStatus,
        advisory_ids: &[String],
        claims: &Claims,
    ) -> Decision {
        if let Claims::Snp(c) = claims {
            return self.evaluate_snp(c);
        }
        if let Some(d) = self.check_tcb(status, advisory_ids) {
            return d;
        }
        self.check_debug_and_identity(Subject::Dcap(claims))
    }

    /// Decides on a cryptographically verified SEV-SNP report: debug (guest policy bit 19) →
    /// identity. TCB statuses do not apply (the reported TCB is bound to the VCEK during
    /// verification; identities may require a `min_reported_tcb`).
    pub fn evaluate_snp(&self, claims: &SnpClaims) -> Decision {
        self.check_debug_and_identity(Subject::Snp(claims))
    }

    fn check_debug_and_identity(&self, subject: Subject<'_>) -> Decision {
        if let Some(d) = self.check_debug(subject) {
            return d;
        }
        match &self.identities {
            Identities::OneOf { label, rules } => {
                if let Err(reason) = identity::match_rules(rules, subject, label) {
                    return Decision::rejected(RejectionKind::Identity, reason);
                }
            }
            // "any" accepts any code, not what the defaults refuse (a service TD binding, a
            // migration agent, a VMPL other than 0): only a listed identity lifts those.
            Identities::Any => {
                let refused = identity::default_mismatches(subject);
                if !refused.is_empty() {
                    return Decision::rejected(
                        RejectionKind::Identity,
                        format!("identities \"any\": {}", identity::joined(&refused)),
                    );
                }
            }
        }
        Decision::Accepted
    }

    fn check_tcb(&self, status: &TcbStatus, advisory_ids: &[String]) -> Option<Decision> {
        let accepted = self
            .accept_tcb_status
            .iter()
            .map(TcbStatus::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let never = matches!(status, TcbStatus::Revoked | TcbStatus::Unknown(_));
        if never || !self.accept_tcb_status.contains(status) {
            let mut reason = format!("tcb status {status} not in accepted [{accepted}]");
            if !advisory_ids.is_empty() {
                reason.push_str(&format!("; advisories {}", advisory_ids.join(",")));
            }
            return Some(Decision::rejected(RejectionKind::TcbStatus, reason));
        }
        if let Some(allowed) = &self.allowed_advisories {
            let denied: Vec<&str> = advisory_ids
                .iter()
                .filter(|a| !allowed.contains(a.as_str()))
                .map(String::as_str)
                .collect();
            if !denied.is_empty() {
                let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
                return Some(Decision::rejected(
                    RejectionKind::Advisory,
                    format!(
                        "advisories {} not in allowed_advisories [{}] (tcb status {status})",
                        denied.join(","),
                        allowed.join(",")
                    ),
                ));
            }
        }
        None
    }

    fn check_debug(&self, subject: Subject<'_>) -> Option<Decision> {
        if !subject.debug() || self.allow_debug {
            return None;
        }
        // Occlum: an entry with verify_enclave_debuggable on and debuggable true that matches
        // in full accepts a debug enclave.
        if let Identities::OneOf { rules, .. } = &self.identities {
            if rules
                .iter()
                .any(|r| r.permits_debug() && r.mismatches(subject).is_empty())
            {
                return None;
            }
        }
        let field = match subject {
            Subject::Dcap(Claims::Sgx(_)) => "debug (attributes.flags bit 1)",
            Subject::Dcap(Claims::Tdx(_)) => "debug (td_attributes TUD bits 0..7)",
            Subject::Snp(_) | Subject::Dcap(Claims::Snp(_)) => "debug (guest policy bit 19)",
        };
        Some(Decision::rejected(
            RejectionKind::Debug,
            format!("{field} expected false got true; allow_debug is off"),
        ))
    }

    /// Per-secret access control: allowed when no `secrets` rule exists at all; otherwise the
    /// secret needs a rule and one of its identities must match (deny by default).
    pub fn secret_access(&self, name: &str, claims: &Claims) -> Result<(), AccessDenied> {
        self.secret_access_for(name, Subject::from(claims))
    }

    /// [`Policy::secret_access`] for an SEV-SNP peer.
    pub fn secret_access_snp(&self, name: &str, claims: &SnpClaims) -> Result<(), AccessDenied> {
        self.secret_access_for(name, Subject::Snp(claims))
    }

    fn secret_access_for(&self, name: &str, claims: Subject<'_>) -> Result<(), AccessDenied> {
        if self.secrets.is_empty() {
            return Ok(());
        }
        let rules = self.secrets.get(name).ok_or_else(|| AccessDenied {
            secret: name.to_owned(),
            reason: "no rule for this secret in the policy's `secrets` (deny by default)".into(),
        })?;
        identity::match_rules(rules, claims, &format!("secrets.{name}.allow"))
            .map(|_| ())
            .map_err(|reason| AccessDenied {
                secret: name.to_owned(),
                reason,
            })
    }
}

/// The largest policy file read (thousands of identities fit): a larger file, or a device that
/// never ends, is a mistake to report rather than memory to exhaust.
const MAX_POLICY_BYTES: u64 = 4 << 20;

fn read(path: &Path) -> Result<(String, String), Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let policy_err = |reason: String| Error::Policy {
        origin: format!("file {}", path.display()),
        reason,
    };
    // Checked before opening: opening a FIFO without a writer would block.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(policy_err("not a regular file".into()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(policy_err(format!(
            "larger than {} MiB (a policy file holds identities and rules, not data)",
            MAX_POLICY_BYTES >> 20
        )));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| policy_err("not JSON text (invalid UTF-8)".into()))?;
    Ok((text, path.display().to_string()))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests;
