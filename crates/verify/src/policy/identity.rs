//! Identity rules: which enclaves / TDs a policy accepts, and why one does not match.

use core::fmt;

use initra_evidence::snp::{TcbParts, POLICY_MIGRATE_MA};
use initra_evidence::{GuestId16, HostData, Measurement, Measurement48, TdAttributes, Xfam};
use serde::Serialize;

use crate::claims::{Claims, SgxClaims, TdxClaims};
use crate::snp::SnpClaims;

/// An SGX identity; `None` fields are not checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SgxIdentity {
    /// Required MRENCLAVE.
    pub mr_enclave: Option<Measurement>,
    /// Required MRSIGNER.
    pub mr_signer: Option<Measurement>,
    /// Required ISV product id.
    pub isv_prod_id: Option<u16>,
    /// Minimum ISV SVN (actual >= this).
    pub min_isv_svn: Option<u16>,
    /// Required CONFIGSVN.
    pub config_svn: Option<u16>,
    /// Occlum's `debuggable` (when `verify_enclave_debuggable` is on): `false` requires a production
    /// enclave; `true` lets this entry accept a debug enclave.
    pub debuggable: Option<bool>,
}

/// A TDX identity; `None` fields are not checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TdxIdentity {
    /// Required MRTD.
    pub mr_td: Option<Measurement48>,
    /// Required RTMR0.
    pub rtmr0: Option<Measurement48>,
    /// Required RTMR1.
    pub rtmr1: Option<Measurement48>,
    /// Required RTMR2.
    pub rtmr2: Option<Measurement48>,
    /// Required RTMR3.
    pub rtmr3: Option<Measurement48>,
    /// Required MRCONFIGID.
    pub mr_config_id: Option<Measurement48>,
    /// Required MROWNER.
    pub mr_owner: Option<Measurement48>,
    /// Required MROWNERCONFIG.
    pub mr_owner_config: Option<Measurement48>,
    /// Required TD attributes (exact).
    pub td_attributes: Option<TdAttributes>,
    /// Required XFAM (exact).
    pub xfam: Option<Xfam>,
    /// Required MRSERVICETD (a TD 1.0 quote, without the field, does not match).
    pub mr_servicetd: Option<Measurement48>,
}

/// An SEV-SNP guest identity; `None` fields are not checked (`docs/policy.md` §2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SnpIdentity {
    /// Required launch measurement.
    pub measurement: Option<Measurement48>,
    /// Required HOST_DATA.
    pub host_data: Option<HostData>,
    /// Required ID key digest.
    pub id_key_digest: Option<Measurement48>,
    /// Required author key digest.
    pub author_key_digest: Option<Measurement48>,
    /// Required family ID.
    pub family_id: Option<GuestId16>,
    /// Required image ID.
    pub image_id: Option<GuestId16>,
    /// Minimum guest SVN.
    pub min_guest_svn: Option<u32>,
    /// Required VMPL.
    pub vmpl: Option<u32>,
    /// Required guest policy (exact).
    pub policy: Option<u64>,
    /// Guest policy bits that must be clear (e.g. `0x40000`: no migration agent).
    pub policy_clear: Option<u64>,
    /// Guest policy bits that must be set (e.g. `0x100000`: single socket).
    pub policy_set: Option<u64>,
    /// Minimum reported TCB, component-wise.
    pub min_reported_tcb: Option<TcbParts>,
    /// PLATFORM_INFO bits that must be set (e.g. `0x2`: TSME enabled).
    pub platform_info_set: Option<u64>,
    /// PLATFORM_INFO bits that must be clear (e.g. `0x1`: SMT disabled).
    pub platform_info_clear: Option<u64>,
}

/// One accepted identity.
// Plain variants keep matching simple for callers; values are few and short-lived.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "tee", rename_all = "lowercase")]
pub enum IdentityRule {
    /// An SGX enclave.
    Sgx(SgxIdentity),
    /// A TDX TD.
    Tdx(TdxIdentity),
    /// An SEV-SNP guest.
    Snp(SnpIdentity),
}

/// What identity rules are matched against: the claims of a DCAP quote or of an SNP report.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Subject<'a> {
    /// SGX / TDX.
    Dcap(&'a Claims),
    /// SEV-SNP.
    Snp(&'a SnpClaims),
}

impl<'a> From<&'a Claims> for Subject<'a> {
    fn from(claims: &'a Claims) -> Self {
        match claims {
            Claims::Snp(c) => Subject::Snp(c),
            other => Subject::Dcap(other),
        }
    }
}

impl Subject<'_> {
    pub(crate) fn tee(&self) -> &'static str {
        match self {
            Subject::Dcap(c) => c.tee_name(),
            Subject::Snp(_) => "snp",
        }
    }

    pub(crate) fn debug(&self) -> bool {
        match self {
            Subject::Dcap(c) => c.debug(),
            Subject::Snp(c) => c.debug,
        }
    }
}

/// One field that did not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// Equality required.
    Differs {
        field: &'static str,
        expected: String,
        actual: String,
    },
    /// Minimum required.
    Below {
        field: &'static str,
        actual: u64,
        required: u64,
    },
    /// Free-form (policy bits, TCB components).
    Other(String),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Differs {
                field,
                expected,
                actual,
            } => write!(f, "{field} expected {expected} got {actual}"),
            Mismatch::Below {
                field,
                actual,
                required,
            } => write!(f, "{field} {actual} < required {required}"),
            Mismatch::Other(text) => f.write_str(text),
        }
    }
}

fn eq<T: PartialEq + fmt::Display>(
    out: &mut Vec<Mismatch>,
    field: &'static str,
    want: Option<&T>,
    got: &T,
) {
    if let Some(want) = want {
        if want != got {
            out.push(Mismatch::Differs {
                field,
                expected: want.to_string(),
                actual: got.to_string(),
            });
        }
    }
}

impl IdentityRule {
    /// The TEE this rule is for: `"sgx"`, `"tdx"` or `"snp"`.
    pub fn tee(&self) -> &'static str {
        match self {
            IdentityRule::Sgx(_) => "sgx",
            IdentityRule::Tdx(_) => "tdx",
            IdentityRule::Snp(_) => "snp",
        }
    }

    /// Whether this rule explicitly accepts a debug enclave (Occlum `debuggable: true`).
    pub(crate) fn permits_debug(&self) -> bool {
        matches!(
            self,
            IdentityRule::Sgx(SgxIdentity {
                debuggable: Some(true),
                ..
            })
        )
    }

    /// Every field of `subject` that does not satisfy this rule (empty = match).
    pub(crate) fn mismatches(&self, subject: Subject<'_>) -> Vec<Mismatch> {
        let mut out = Vec::new();
        match (self, subject) {
            (IdentityRule::Sgx(rule), Subject::Dcap(Claims::Sgx(c))) => {
                sgx_mismatches(rule, c, &mut out)
            }
            (IdentityRule::Tdx(rule), Subject::Dcap(Claims::Tdx(c))) => {
                tdx_mismatches(rule, c, &mut out)
            }
            (IdentityRule::Snp(rule), Subject::Snp(c)) => snp_mismatches(rule, c, &mut out),
            _ => out.push(Mismatch::Differs {
                field: "tee",
                expected: self.tee().to_owned(),
                actual: subject.tee().to_owned(),
            }),
        }
        out
    }

    /// Whether `claims` satisfy this rule.
    pub fn matches(&self, claims: &Claims) -> bool {
        self.mismatches(Subject::from(claims)).is_empty()
    }

    /// Whether SNP `claims` satisfy this rule.
    pub fn matches_snp(&self, claims: &SnpClaims) -> bool {
        self.mismatches(Subject::Snp(claims)).is_empty()
    }
}

fn sgx_mismatches(rule: &SgxIdentity, c: &SgxClaims, out: &mut Vec<Mismatch>) {
    eq(out, "mr_enclave", rule.mr_enclave.as_ref(), &c.mr_enclave);
    eq(out, "mr_signer", rule.mr_signer.as_ref(), &c.mr_signer);
    eq(
        out,
        "isv_prod_id",
        rule.isv_prod_id.as_ref(),
        &c.isv_prod_id,
    );
    if let Some(min) = rule.min_isv_svn {
        if c.isv_svn < min {
            out.push(Mismatch::Below {
                field: "isv_svn",
                actual: u64::from(c.isv_svn),
                required: u64::from(min),
            });
        }
    }
    eq(out, "config_svn", rule.config_svn.as_ref(), &c.config_svn);
    // `debuggable: true` permits debug without requiring it; `false` requires production.
    if rule.debuggable == Some(false) && c.debug {
        out.push(Mismatch::Differs {
            field: "debuggable",
            expected: "false".into(),
            actual: "true".into(),
        });
    }
}

fn tdx_mismatches(rule: &TdxIdentity, c: &TdxClaims, out: &mut Vec<Mismatch>) {
    eq(out, "mr_td", rule.mr_td.as_ref(), &c.mr_td);
    eq(out, "rtmr0", rule.rtmr0.as_ref(), &c.rtmr0);
    eq(out, "rtmr1", rule.rtmr1.as_ref(), &c.rtmr1);
    eq(out, "rtmr2", rule.rtmr2.as_ref(), &c.rtmr2);
    eq(out, "rtmr3", rule.rtmr3.as_ref(), &c.rtmr3);
    eq(
        out,
        "mr_config_id",
        rule.mr_config_id.as_ref(),
        &c.mr_config_id,
    );
    eq(out, "mr_owner", rule.mr_owner.as_ref(), &c.mr_owner);
    eq(
        out,
        "mr_owner_config",
        rule.mr_owner_config.as_ref(),
        &c.mr_owner_config,
    );
    eq(
        out,
        "td_attributes",
        rule.td_attributes.as_ref(),
        &c.td_attributes,
    );
    eq(out, "xfam", rule.xfam.as_ref(), &c.xfam);
    match (&rule.mr_servicetd, &c.mr_servicetd) {
        (Some(want), Some(got)) => eq(out, "mr_servicetd", Some(want), got),
        (Some(want), None) => out.push(Mismatch::Differs {
            field: "mr_servicetd",
            expected: want.to_string(),
            actual: "absent (TD 1.0 quote)".into(),
        }),
        (None, _) => tdx_defaults(c, out),
    }
}

/// The fail-closed defaults an identity lifts only by naming them (`docs/policy.md` §2), checked
/// for every rule that does not, and for `"identities": "any"`.
pub(crate) fn default_mismatches(subject: Subject<'_>) -> Vec<Mismatch> {
    let mut out = Vec::new();
    match subject {
        Subject::Dcap(Claims::Tdx(c)) => tdx_defaults(c, &mut out),
        Subject::Snp(c) | Subject::Dcap(Claims::Snp(c)) => {
            snp_vmpl_default(c, &mut out);
            snp_migration_agent_default(c, &mut out);
        }
        Subject::Dcap(Claims::Sgx(_)) => {}
    }
    out
}

/// A TD bound to a service TD (e.g. a migration TD, which can export its state) is accepted only
/// by a rule that names that service TD.
fn tdx_defaults(c: &TdxClaims, out: &mut Vec<Mismatch>) {
    if let Some(got) = c.mr_servicetd.as_ref().filter(|m| !m.is_zero()) {
        out.push(Mismatch::Differs {
            field: "mr_servicetd",
            expected: "all zero (no service TD; pin mr_servicetd to accept one)".into(),
            actual: got.to_string(),
        });
    }
}

/// VMPL 0: a report from a less privileged VMPL was requested by software running beside a more
/// privileged one (an SVSM or paravisor) that the measurement does not cover.
fn snp_vmpl_default(c: &SnpClaims, out: &mut Vec<Mismatch>) {
    if c.vmpl != 0 {
        out.push(Mismatch::Differs {
            field: "vmpl",
            expected: "0 (the default; set vmpl to accept another)".into(),
            actual: c.vmpl.to_string(),
        });
    }
}

/// No migration agent: it can export the guest's memory.
fn snp_migration_agent_default(c: &SnpClaims, out: &mut Vec<Mismatch>) {
    if c.policy & POLICY_MIGRATE_MA != 0 {
        out.push(Mismatch::Other(format!(
            "policy {:#x}: bit {POLICY_MIGRATE_MA:#x} (MIGRATE_MA) set; a migration agent can \
             export guest memory (accept it with policy_set \"{POLICY_MIGRATE_MA:#x}\")",
            c.policy
        )));
    }
}

fn snp_mismatches(rule: &SnpIdentity, c: &SnpClaims, out: &mut Vec<Mismatch>) {
    eq(
        out,
        "measurement",
        rule.measurement.as_ref(),
        &c.measurement,
    );
    eq(out, "host_data", rule.host_data.as_ref(), &c.host_data);
    eq(
        out,
        "id_key_digest",
        rule.id_key_digest.as_ref(),
        &c.id_key_digest,
    );
    eq(
        out,
        "author_key_digest",
        rule.author_key_digest.as_ref(),
        &c.author_key_digest,
    );
    eq(out, "family_id", rule.family_id.as_ref(), &c.family_id);
    eq(out, "image_id", rule.image_id.as_ref(), &c.image_id);
    if let Some(min) = rule.min_guest_svn {
        if c.guest_svn < min {
            out.push(Mismatch::Below {
                field: "guest_svn",
                actual: u64::from(c.guest_svn),
                required: u64::from(min),
            });
        }
    }
    match rule.vmpl {
        Some(want) => eq(out, "vmpl", Some(&want), &c.vmpl),
        None => snp_vmpl_default(c, out),
    }
    let wants_ma = rule.policy.is_some_and(|p| p & POLICY_MIGRATE_MA != 0)
        || rule.policy_set.is_some_and(|p| p & POLICY_MIGRATE_MA != 0);
    if !wants_ma {
        snp_migration_agent_default(c, out);
    }
    if let Some(want) = rule.policy {
        if want != c.policy {
            out.push(Mismatch::Differs {
                field: "policy",
                expected: format!("{want:#x}"),
                actual: format!("{:#x}", c.policy),
            });
        }
    }
    bit_rules(out, "policy", c.policy, rule.policy_set, rule.policy_clear);
    bit_rules(
        out,
        "platform_info",
        c.platform_info,
        rule.platform_info_set,
        rule.platform_info_clear,
    );
    if let Some(min) = &rule.min_reported_tcb {
        if let Some(below) = c.reported_tcb_parts.first_below(min) {
            out.push(Mismatch::Other(format!("reported_tcb {below}")));
        }
        // Turin adds a firmware component; a minimum that leaves it out would not bound it.
        if let (Some(fmc), None) = (c.reported_tcb_parts.fmc, min.fmc) {
            out.push(Mismatch::Other(format!(
                "reported_tcb fmc {fmc}: min_reported_tcb has no fmc (required for Turin reports)"
            )));
        }
    }
}

/// `{name}_set` bits must be 1 and `{name}_clear` bits 0 in `value` (SNP guest policy, platform info).
fn bit_rules(
    out: &mut Vec<Mismatch>,
    name: &str,
    value: u64,
    set: Option<u64>,
    clear: Option<u64>,
) {
    if let Some(clear) = clear {
        let bad = value & clear;
        if bad != 0 {
            out.push(Mismatch::Other(format!(
                "{name} {value:#x}: bits {bad:#x} set, {name}_clear requires {clear:#x} clear"
            )));
        }
    }
    if let Some(set) = set {
        let missing = set & !value;
        if missing != 0 {
            out.push(Mismatch::Other(format!(
                "{name} {value:#x}: bits {missing:#x} clear, {name}_set requires {set:#x} set"
            )));
        }
    }
}

/// Mismatches as one reason: `mr_enclave expected .. got ..; isv_svn 0 < required 88`.
pub(crate) fn joined(mismatches: &[Mismatch]) -> String {
    mismatches
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Finds a rule that matches; otherwise describes the closest one (fewest mismatches):
/// `sgx_mrs[0]: mr_enclave expected .. got ..; isv_svn 0 < required 88`.
pub(crate) fn match_rules<'r>(
    rules: &'r [IdentityRule],
    claims: Subject<'_>,
    label: &str,
) -> Result<&'r IdentityRule, String> {
    // An entry for the other TEE is the least close of all.
    let mut best: Option<(usize, usize, Vec<Mismatch>)> = None;
    for (i, rule) in rules.iter().enumerate() {
        let m = rule.mismatches(claims);
        if m.is_empty() {
            return Ok(rule);
        }
        let score = if rule.tee() == claims.tee() {
            m.len()
        } else {
            usize::MAX
        };
        if best.as_ref().is_none_or(|(_, b, _)| score < *b) {
            best = Some((i, score, m));
        }
    }
    match best {
        Some((i, _, m)) => Err(format!("{label}[{i}]: {}", joined(&m))),
        None => Err(format!("{label}: no identity configured")),
    }
}
