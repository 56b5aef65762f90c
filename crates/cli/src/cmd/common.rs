//! Argument groups and output shapes shared by several subcommands.

use std::path::PathBuf;

use initra_collateral::{CollateralSettings, VerifierSettings};
use initra_evidence::snp::SnpReport;
use serde_json::{json, Value};

/// How the peer's evidence is verified: trust roots, collateral sources, freshness and extra TCB
/// statuses (`initra server`, `initra get-secret`). Maps 1:1 onto
/// [`initra_collateral::VerifierSettings`].
#[derive(clap::Args, Debug, Default)]
pub(crate) struct VerifierArgs {
    /// Additional trust root (DER or PEM); repeatable. Intel's root is always trusted.
    #[arg(long, value_name = "FILE")]
    root: Vec<PathBuf>,
    /// The simulated platform's root (`DIR/root-ca.der`): without it simulated evidence is refused.
    #[arg(long, value_name = "FILE")]
    sim_root: Vec<PathBuf>,
    /// The simulated SEV-SNP platform's ARK (`CN=ARK-<Product>`, e.g. testdata/sim-snp/ark.der):
    /// without it only AMD's ARKs are trusted; repeatable.
    #[arg(long, value_name = "FILE")]
    snp_sim_ark: Vec<PathBuf>,
    /// AMD's CRL for an SEV-SNP product (DER or PEM, `https://kdsintf.amd.com/vcek/v1/Milan/crl`),
    /// checked for every SNP report of that product; repeatable.
    #[arg(long, value_name = "FILE")]
    snp_crl: Vec<PathBuf>,
    /// Collateral file (dcap-qvl JSON layout), asked before the other sources; repeatable.
    #[arg(long, value_name = "FILE")]
    collateral: Vec<PathBuf>,
    /// Offline collateral bundle (`initra collateral fetch`), for machines without network; repeatable.
    #[arg(long, value_name = "FILE")]
    collateral_bundle: Vec<PathBuf>,
    /// PCCS / Intel PCS base URL; default: $PCCS_URL, else pccs_url of /etc/sgx_default_qcnl.conf.
    #[arg(long, value_name = "URL", value_parser = url_text)]
    pccs_url: Option<String>,
    /// AMD KDS base URL (e.g. https://kdsintf.amd.com): SEV-SNP reports without a certificate
    /// table get their VCEK, chain and CRL from it (cached in --collateral-cache). Without it such
    /// reports are refused.
    #[arg(long, value_name = "URL", value_parser = url_text)]
    kds_url: Option<String>,
    /// CA certificates (PEM) for the PCCS's TLS certificate (e.g. a self-signed PCCS).
    #[arg(long, value_name = "PEM")]
    pccs_ca: Option<PathBuf>,
    /// Directory where fetched collateral is cached across restarts (created 0700).
    #[arg(long, value_name = "DIR")]
    collateral_cache: Option<PathBuf>,
    /// Refuse TCB info, QE identity or PCK CRL issued longer ago than this (e.g. `7d`).
    #[arg(long, value_name = "DURATION", value_parser = duration_text)]
    max_collateral_age: Option<String>,
    /// Accept collateral this long past its nextUpdate (logged at warn on each use).
    #[arg(long, value_name = "DURATION", value_parser = duration_text)]
    collateral_grace: Option<String>,
    /// Also accept this TCB status, in addition to the policy's (UpToDate by default); repeatable or
    /// comma-separated.
    #[arg(long, value_name = "STATUS", value_delimiter = ',', value_parser = tcb_status_text)]
    accept_status: Vec<String>,
}

impl VerifierArgs {
    /// The settings these flags ask for.
    pub(crate) fn into_settings(self) -> VerifierSettings {
        VerifierSettings {
            trust_roots: self.root,
            simulated_roots: self.sim_root,
            snp_simulated_arks: self.snp_sim_ark,
            snp_crls: self.snp_crl,
            collateral_files: self.collateral,
            accept_tcb_status: self.accept_status,
            collateral: CollateralSettings {
                pccs_url: self.pccs_url,
                pccs_ca_file: self.pccs_ca,
                cache_dir: self.collateral_cache,
                bundles: self.collateral_bundle,
                max_collateral_age: self.max_collateral_age,
                collateral_grace: self.collateral_grace,
                ..CollateralSettings::default()
            },
            kds_url: self.kds_url,
            snp_product: None,
        }
    }
}

/// Checks a duration flag at parse time; the settings keep the text (as in config files).
fn duration_text(s: &str) -> Result<String, String> {
    humantime::parse_duration(s.trim())
        .map(|_| s.to_owned())
        .map_err(|e| format!("expected a duration like 7d or 12h: {e}"))
}

/// Checks a PCCS URL at parse time (http/https scheme and a host): a typo is not retried until a deadline.
pub(crate) fn url_text(s: &str) -> Result<String, String> {
    initra_collateral::http::check_url(s.trim()).map(|()| s.to_owned())
}

/// Checks a TCB status name at parse time (Intel's exact spelling); the error lists the valid ones.
fn tcb_status_text(s: &str) -> Result<String, String> {
    s.parse::<initra_verify::TcbStatus>().map(|_| s.to_owned())
}

/// Every field of an SEV-SNP report as `initra quote inspect --json` prints it (docs/cli-json.md):
/// `tee` = `"snp"`, `report_len`, the report fields, `policy` / `platform_info` as `"0x.."`
/// strings and `debug`. `initra ratls inspect` shows the reports of certificates with it too, so
/// both commands print one shape.
pub(crate) fn snp_report_json(report: &SnpReport) -> Value {
    let mut value = json!({ "tee": "snp", "report_len": report.raw().len() });
    if let (Value::Object(map), Ok(Value::Object(fields))) =
        (&mut value, serde_json::to_value(report))
    {
        map.extend(fields);
        map.insert("policy".into(), json!(format!("{:#x}", report.policy)));
        map.insert(
            "platform_info".into(),
            json!(format!("{:#x}", report.platform_info)),
        );
        map.insert("debug".into(), json!(report.is_debug()));
    }
    value
}
