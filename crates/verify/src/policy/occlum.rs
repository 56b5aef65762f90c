//! Occlum's verify config, read as is (`docs/policy.md` §3): `verify_*` "on"/"off" switches and
//! the `sgx_mrs` list; an entry matches when every switched-on field matches.

use serde_json::Value;

use super::fields::{hex_error, kind, value_u16, Fields};
use super::{Identities, IdentityRule, Policy, SgxIdentity};

const SWITCHES: [&str; 6] = [
    "verify_mr_enclave",
    "verify_mr_signer",
    "verify_isv_prod_id",
    "verify_isv_svn",
    "verify_config_svn",
    "verify_enclave_debuggable",
];

/// Whether `text` is an Occlum config (has `sgx_mrs`, a `verify_*` switch or `ra_config`).
pub(crate) fn looks_like_occlum(text: &str) -> bool {
    match super::json::parse(text) {
        Ok(Value::Object(map)) => {
            map.contains_key("sgx_mrs")
                || map.contains_key("ra_config")
                || map.keys().any(|k| k.starts_with("verify_"))
        }
        _ => false,
    }
}

/// Parses an Occlum verify config into a policy (UpToDate only, no debug unless an entry allows it).
pub(crate) fn occlum_policy(text: &str) -> Result<Policy, String> {
    let value = super::json::parse(text)?;
    // init_ra_conf.json nests the verify config under ra_config.
    let (config, prefix) = match value.get("ra_config") {
        Some(inner) => (inner, "ra_config"),
        None => (&value, ""),
    };
    let mut f = Fields::new(config, prefix)?;
    let mut on = [false; 6];
    for (slot, key) in on.iter_mut().zip(SWITCHES) {
        *slot = match f.string(key)? {
            Some("on") => true,
            Some("off") => false,
            None => return Err(format!("{}: missing (\"on\" or \"off\")", f.path(key))),
            Some(other) => {
                return Err(format!(
                    "{}: expected \"on\" or \"off\", got {other:?}",
                    f.path(key)
                ))
            }
        };
    }
    let [mr_enclave_on, mr_signer_on, prod_on, svn_on, config_svn_on, debuggable_on] = on;
    let list = f
        .array("sgx_mrs")?
        .ok_or_else(|| format!("{}: missing", f.path("sgx_mrs")))?;
    if list.is_empty() {
        return Err(format!("{}: empty list", f.path("sgx_mrs")));
    }
    let label = f.path("sgx_mrs");
    f.finish()?;
    let mut rules = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let path = format!("{label}[{i}]");
        let obj = entry
            .as_object()
            .ok_or_else(|| format!("{path}: expected an object, got {}", kind(entry)))?;
        let get = |key: &str| obj.get(key).filter(|v| !v.is_null());
        let hex_field = |key: &str,
                         on: bool|
         -> Result<Option<initra_evidence::Measurement>, String> {
            if !on {
                return Ok(None);
            }
            let field = format!("{path}.{key}");
            match get(key) {
                None => Err(format!(
                    "{field}: verify_{key} is on but the value is missing"
                )),
                Some(Value::String(s)) if s.trim().is_empty() => Err(format!(
                    "{field}: verify_{key} is on but the value is empty"
                )),
                Some(Value::String(s)) => s.parse().map(Some).map_err(|e| hex_error(&field, s, &e)),
                Some(other) => Err(format!(
                    "{field}: expected a hex string, got {}",
                    kind(other)
                )),
            }
        };
        let num_field = |key: &str, on: bool| -> Result<Option<u16>, String> {
            if !on {
                return Ok(None);
            }
            let field = format!("{path}.{key}");
            match get(key) {
                None => Err(format!(
                    "{field}: the verify switch is on but the value is missing"
                )),
                Some(v) => value_u16(v).map(Some).map_err(|e| format!("{field}: {e}")),
            }
        };
        let debuggable = if debuggable_on {
            match get("debuggable") {
                Some(Value::Bool(b)) => Some(*b),
                None => {
                    return Err(format!(
                    "{path}.debuggable: verify_enclave_debuggable is on but the value is missing"
                ))
                }
                Some(other) => {
                    return Err(format!(
                        "{path}.debuggable: expected true or false, got {}",
                        kind(other)
                    ))
                }
            }
        } else {
            None
        };
        rules.push(IdentityRule::Sgx(SgxIdentity {
            mr_enclave: hex_field("mr_enclave", mr_enclave_on)?,
            mr_signer: hex_field("mr_signer", mr_signer_on)?,
            isv_prod_id: num_field("isv_prod_id", prod_on)?,
            min_isv_svn: num_field("isv_svn", svn_on)?,
            config_svn: num_field("config_svn", config_svn_on)?,
            debuggable,
        }));
    }
    Ok(Policy {
        identities: Identities::OneOf { label, rules },
        ..Policy::default()
    })
}
