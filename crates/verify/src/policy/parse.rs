//! initra's policy file (`docs/policy.md` §2).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::fields::{kind, Fields};
use initra_evidence::snp::TcbParts;
use initra_evidence::Measurement48;

use super::{Identities, IdentityRule, Policy, SgxIdentity, SnpIdentity, TcbStatus, TdxIdentity};

/// Parses the JSON text of an initra policy.
pub(crate) fn initra_policy(text: &str) -> Result<Policy, String> {
    let value = super::json::parse(text)?;
    let mut f = Fields::new(&value, "")?;
    let accept_tcb_status = match f.array("accept_tcb_status")? {
        None => vec![TcbStatus::UpToDate],
        Some(list) => statuses(list)?,
    };
    let allowed_advisories = match f.array("allowed_advisories")? {
        None => None,
        Some(list) => Some(advisories(list)?),
    };
    let allow_debug = f.bool("allow_debug")?.unwrap_or(false);
    let identities = match f.get("identities") {
        None => return Err(
            "identities: missing (list at least one identity, or write \"identities\": \"any\" to accept any)"
                .into(),
        ),
        Some(Value::String(s)) if s == "any" => Identities::Any,
        Some(Value::Array(list)) if list.is_empty() => {
            return Err("identities: empty list (write \"identities\": \"any\" to accept any)".into())
        }
        Some(Value::Array(list)) => Identities::OneOf {
            label: "identities".into(),
            rules: rules(list, "identities")?,
        },
        Some(other) => {
            return Err(format!(
                "identities: expected a list or \"any\", got {}",
                kind(other)
            ))
        }
    };
    let secrets = match f.get("secrets") {
        None => BTreeMap::new(),
        Some(v) => secrets(v)?,
    };
    let max_collateral_age = match f.string("max_collateral_age")? {
        None => None,
        Some(s) => Some(
            humantime::parse_duration(s)
                .map_err(|e| format!("max_collateral_age: {s:?}: {e} (e.g. \"7d\", \"12h\")"))?,
        ),
    };
    f.finish()?;
    Ok(Policy {
        accept_tcb_status,
        allowed_advisories,
        allow_debug,
        identities,
        secrets,
        max_collateral_age,
    })
}

fn statuses(list: &[Value]) -> Result<Vec<TcbStatus>, String> {
    if list.is_empty() {
        return Err(
            "accept_tcb_status: empty list (no quote could be accepted; omit it for [\"UpToDate\"])"
                .into(),
        );
    }
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let s = v
            .as_str()
            .ok_or_else(|| format!("accept_tcb_status[{i}]: expected a string, got {}", kind(v)))?;
        let status: TcbStatus = s
            .parse()
            .map_err(|e| format!("accept_tcb_status[{i}]: {e}"))?;
        if status == TcbStatus::Revoked {
            return Err(format!("accept_tcb_status[{i}]: Revoked is never accepted"));
        }
        out.push(status);
    }
    Ok(out)
}

fn advisories(list: &[Value]) -> Result<BTreeSet<String>, String> {
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().map(str::to_owned).ok_or_else(|| {
                format!(
                    "allowed_advisories[{i}]: expected a string, got {}",
                    kind(v)
                )
            })
        })
        .collect()
}

fn secrets(v: &Value) -> Result<BTreeMap<String, Vec<IdentityRule>>, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("secrets: expected an object, got {}", kind(v)))?;
    let mut out = BTreeMap::new();
    for (name, rule) in obj {
        let path = format!("secrets.{name}");
        let mut f = Fields::new(rule, &path)?;
        let allow = f
            .array("allow")?
            .ok_or_else(|| format!("{path}.allow: missing (a list of identities)"))?;
        if allow.is_empty() {
            return Err(format!(
                "{path}.allow: empty list (nobody could read this secret)"
            ));
        }
        let rules = rules(allow, &format!("{path}.allow"))?;
        f.finish()?;
        out.insert(name.clone(), rules);
    }
    Ok(out)
}

pub(crate) fn rules(list: &[Value], label: &str) -> Result<Vec<IdentityRule>, String> {
    list.iter()
        .enumerate()
        .map(|(i, v)| rule(v, &format!("{label}[{i}]")))
        .collect()
}

fn rule(v: &Value, path: &str) -> Result<IdentityRule, String> {
    let mut f = Fields::new(v, path)?;
    let rule = match f.string("tee")? {
        Some("sgx") => IdentityRule::Sgx(SgxIdentity {
            mr_enclave: f.hex("mr_enclave")?,
            mr_signer: f.hex("mr_signer")?,
            isv_prod_id: f.u16("isv_prod_id")?,
            min_isv_svn: f.u16("min_isv_svn")?,
            config_svn: f.u16("config_svn")?,
            debuggable: f.bool("debuggable")?,
        }),
        Some("tdx") => IdentityRule::Tdx(TdxIdentity {
            mr_td: f.hex("mr_td")?,
            rtmr0: f.hex("rtmr0")?,
            rtmr1: f.hex("rtmr1")?,
            rtmr2: f.hex("rtmr2")?,
            rtmr3: f.hex("rtmr3")?,
            mr_config_id: f.hex("mr_config_id")?,
            mr_owner: f.hex("mr_owner")?,
            mr_owner_config: f.hex("mr_owner_config")?,
            td_attributes: f.hex("td_attributes")?,
            xfam: f.hex("xfam")?,
            mr_servicetd: f.hex("mr_servicetd")?,
        }),
        Some("snp") => IdentityRule::Snp(SnpIdentity {
            measurement: f.hex("measurement")?,
            host_data: f.hex("host_data")?,
            id_key_digest: f.hex("id_key_digest")?,
            author_key_digest: f.hex("author_key_digest")?,
            family_id: f.hex("family_id")?,
            image_id: f.hex("image_id")?,
            min_guest_svn: f.u32("min_guest_svn")?,
            vmpl: match f.u32("vmpl")? {
                Some(v) if v > 3 => {
                    return Err(format!("{}: expected 0..=3, got {v}", f.path("vmpl")))
                }
                v => v,
            },
            policy: f.u64("policy")?,
            policy_clear: f.u64("policy_clear")?,
            policy_set: f.u64("policy_set")?,
            platform_info_set: f.u64("platform_info_set")?,
            platform_info_clear: f.u64("platform_info_clear")?,
            min_reported_tcb: match f.get("min_reported_tcb") {
                None => None,
                Some(v) => Some(tcb_parts(v, &f.path("min_reported_tcb"))?),
            },
        }),
        Some(other) => {
            return Err(format!(
                "{path}.tee: expected \"sgx\", \"tdx\" or \"snp\", got {other:?}"
            ))
        }
        None => return Err(format!("{path}.tee: missing (\"sgx\", \"tdx\" or \"snp\")")),
    };
    if f.has("isv_svn") {
        return Err(format!(
            "{path}.isv_svn: use min_isv_svn (initra checks a minimum, not equality)"
        ));
    }
    if let IdentityRule::Snp(r) = &rule {
        for (name, set, clear) in [
            ("policy", r.policy_set, r.policy_clear),
            ("platform_info", r.platform_info_set, r.platform_info_clear),
        ] {
            let both = set.unwrap_or(0) & clear.unwrap_or(0);
            if both != 0 {
                return Err(format!(
                    "{path}: {name}_set and {name}_clear both name bits {both:#x} (nothing could match)"
                ));
            }
        }
    }
    if let Some(hint) = fields_of_another_tee(&rule, &f.unknown()) {
        return Err(format!("{path}: {hint}"));
    }
    f.finish()?;
    if let Some(need) = missing_code_pin(&rule) {
        return Err(format!(
            "{path}: pins no code: {need} (write \"identities\": \"any\" to accept any)"
        ));
    }
    Ok(rule)
}

/// `mr_enclave is an sgx field, but this identity's tee is "tdx"`: an unknown key that another
/// TEE's identity has (the field names are those of the identity types themselves).
fn fields_of_another_tee(rule: &IdentityRule, unknown: &[&str]) -> Option<String> {
    let others = [
        IdentityRule::Sgx(SgxIdentity::default()),
        IdentityRule::Tdx(TdxIdentity::default()),
        IdentityRule::Snp(SnpIdentity::default()),
    ];
    unknown.iter().find_map(|key| {
        others
            .iter()
            .filter(|o| o.tee() != rule.tee())
            .find(|o| serde_json::to_value(o).is_ok_and(|v| v.get(*key).is_some()))
            .map(|o| {
                let article = if o.tee() == "tdx" { "a" } else { "an" };
                format!(
                    "{key} is {article} {} field, but this identity's tee is {:?}",
                    o.tee().to_uppercase(),
                    rule.tee()
                )
            })
    })
}

/// A rule must name the code it accepts (`docs/policy.md` §2): the other fields are chosen by
/// whoever launches the enclave or guest (the host sets SNP `host_data`, `vmpl` and the ID block
/// unless a key digest pins its signer; TDX `mr_owner`, `mr_config_id`, `xfam`) or by any signer
/// (SGX `isv_prod_id`), so on their own they accept an attacker's code.
fn missing_code_pin(rule: &IdentityRule) -> Option<&'static str> {
    match rule {
        IdentityRule::Sgx(r) if r.mr_enclave.is_none() && r.mr_signer.is_none() => {
            Some("an SGX identity needs mr_enclave or mr_signer")
        }
        IdentityRule::Tdx(r) if r.mr_td.is_none() => Some("a TDX identity needs mr_td"),
        // A guest launched without an ID block reports all-zero key digests: zero pins nothing.
        IdentityRule::Snp(r)
            if r.measurement.is_none()
                && r.id_key_digest.as_ref().is_none_or(Measurement48::is_zero)
                && r.author_key_digest.as_ref().is_none_or(Measurement48::is_zero) =>
        {
            Some(
                "an SNP identity needs measurement, or a non-zero id_key_digest or \
                 author_key_digest (host_data, vmpl, family_id and image_id are chosen by the host)",
            )
        }
        _ => None,
    }
}

/// `{"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}` (+ `"fmc"` on Turin); every
/// component but `fmc` is required.
fn tcb_parts(v: &Value, path: &str) -> Result<TcbParts, String> {
    let mut f = Fields::new(v, path)?;
    let need = |f: &mut Fields<'_>, key: &'static str| -> Result<u8, String> {
        f.u8(key)?
            .ok_or_else(|| format!("{}: missing (0..=255)", f.path(key)))
    };
    let parts = TcbParts {
        bootloader: need(&mut f, "bootloader")?,
        tee: need(&mut f, "tee")?,
        snp: need(&mut f, "snp")?,
        microcode: need(&mut f, "microcode")?,
        fmc: f.u8("fmc")?,
    };
    f.finish()?;
    Ok(parts)
}
