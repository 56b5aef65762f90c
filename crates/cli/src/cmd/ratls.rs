//! `initra ratls`: inspect RA-TLS certificates (docs/ratls.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use initra_evidence::Evidence;
use initra_ratls::{read_certificate_pem_or_der, CertEvidence};
use serde_json::{json, Value};

use crate::cmd::common::snp_report_json;
use crate::output::print_stdout;

/// `initra ratls ...`
#[derive(clap::Subcommand)]
pub(crate) enum RatlsCmd {
    /// Show the evidence extensions of a certificate (PEM or DER), each binding rule and whether it
    /// holds, and the quote fields.
    ///
    /// Exit status: 0 when a binding holds, 2 otherwise.
    Inspect(InspectArgs),
}

/// `initra ratls inspect CERT`
#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// The certificate, PEM or DER.
    cert: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: RatlsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RatlsCmd::Inspect(args) => inspect(&args),
    }
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// The report fields of a quote (the same flat claims as `initra quote verify --json`), or of an
/// SEV-SNP report (exactly what `initra quote inspect --json` prints for it; the product is known
/// only once the VCEK is verified).
fn quote_claims(raw: &[u8]) -> Value {
    match Evidence::parse(raw) {
        Ok(Evidence::Snp(report)) => snp_report_json(&report),
        Ok(Evidence::Quote(quote)) => {
            let mut v = serde_json::to_value(initra_verify::Claims::from_quote(&quote))
                .unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                map.insert("tee".into(), json!(quote.tee()));
                map.insert(
                    "fmspc".into(),
                    json!(initra_verify::quote_fmspc(&quote).ok()),
                );
            }
            v
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn to_json(ev: &CertEvidence) -> anyhow::Result<Value> {
    let mut value = serde_json::to_value(ev)?;
    if let Value::Object(map) = &mut value {
        map.insert("not_before".into(), json!(rfc3339(ev.not_before)));
        map.insert("not_after".into(), json!(rfc3339(ev.not_after)));
        if let Some(Value::Array(exts)) = map.get_mut("extensions") {
            for (json_ext, ext) in exts.iter_mut().zip(&ev.extensions) {
                if let Value::Object(m) = json_ext {
                    m.insert("quote".into(), quote_claims(&ext.quote));
                    if let Some(Value::Object(b)) = m.get_mut("binding") {
                        b.insert("formula".into(), json!(ext.binding.rule.describe()));
                    }
                }
            }
        }
        let bound = ev.bound();
        map.insert("bound".into(), json!(bound.is_ok()));
        map.insert(
            "bound_format".into(),
            json!(bound.as_ref().ok().map(|e| e.format)),
        );
        map.insert("reason".into(), json!(bound.err().map(|e| e.to_string())));
    }
    Ok(value)
}

fn render(value: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let mut out = String::new();
    for key in [
        "subject",
        "not_before",
        "not_after",
        "key_algorithm",
        "spki_sha256",
    ] {
        out.push_str(&format!("{key:<16} {}\n", s(&value[key])));
    }
    for ext in value["extensions"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "[evidence {} {}]\n",
            s(&ext["format"]),
            s(&ext["oid"])
        ));
        let b = &ext["binding"];
        let holds = if b["holds"] == json!(true) {
            "holds"
        } else {
            "DOES NOT HOLD"
        };
        out.push_str(&format!(
            "{:<16} {} : {holds}\n",
            "binding",
            s(&b["formula"])
        ));
        out.push_str(&format!(
            "{:<16} {}\n{:<16} {}\n",
            "expected",
            s(&b["expected"]),
            "actual",
            s(&b["actual"])
        ));
        if !b["reason"].is_null() {
            out.push_str(&format!("{:<16} {}\n", "reason", s(&b["reason"])));
        }
        out.push_str(&format!("{:<16} {}\n", "quote_len", s(&ext["quote_len"])));
        if let Value::Object(q) = &ext["quote"] {
            for (k, v) in q {
                out.push_str(&format!("  {k:<14} {}\n", s(v)));
            }
        }
    }
    if let Value::Object(e) = &value["endorsements"] {
        // `Map` indexing panics on a missing key: read with `get`.
        let field = |k: &str| e.get(k).unwrap_or(&Value::Null);
        let what = match (field("cert_table_len"), field("error")) {
            (Value::Number(n), _) => format!("SEV-SNP certificate table, {n} bytes"),
            (_, err) => format!("undecodable: {}", s(err)),
        };
        out.push_str(&format!("[endorsements {}] {what}\n", s(field("oid"))));
    }
    for bad in value["undecodable"].as_array().into_iter().flatten() {
        out.push_str(&format!("[undecodable {}] {}\n", s(&bad[0]), s(&bad[1])));
    }
    match value["bound"] == json!(true) {
        true => out.push_str(&format!(
            "bound            yes ({})\n",
            s(&value["bound_format"])
        )),
        false => out.push_str(&format!("bound            no: {}\n", s(&value["reason"]))),
    }
    out
}

fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&args.cert).with_context(|| format!("reading {}", args.cert.display()))?;
    let ev =
        read_certificate_pem_or_der(&bytes).with_context(|| format!("{}", args.cert.display()))?;
    let value = to_json(&ev)?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
    } else {
        print_stdout(&render(&value))?;
    }
    match ev.bound() {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            crate::output::print_error(
                &anyhow::Error::new(e).context(args.cert.display().to_string()),
            );
            Ok(ExitCode::from(2))
        }
    }
}
