//! `initra collateral`: offline collateral bundles (fetch on a connected machine, show).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use initra_collateral::qcnl::DEFAULT_QCNL_CONF;
use initra_collateral::validity::{fmt_unix, unix};
use initra_collateral::{
    Bundle, BundleSummary, CollateralKey, CollateralSettings, FreshnessPolicy, PccsClient,
    PccsSource,
};

use crate::output::print_stdout;

/// `initra collateral ...`
#[derive(clap::Subcommand)]
pub(crate) enum CollateralCmd {
    /// Fetch collateral for each quote's platform (TEE, FMSPC, PCK CA) from a PCCS / Intel PCS
    /// and write one offline bundle, for servers without network access.
    Fetch(FetchArgs),
    /// Print what a bundle holds: each entry's key, items and validity window.
    Show(ShowArgs),
}

/// `initra collateral fetch`
#[derive(clap::Args)]
pub(crate) struct FetchArgs {
    /// Quote files (binary, or hex with optional 0x).
    #[arg(required = true, value_name = "QUOTE")]
    quotes: Vec<PathBuf>,
    /// The bundle file to write.
    #[arg(long, value_name = "BUNDLE")]
    out: PathBuf,
    /// Keep the entries already in --out (replacing those fetched again).
    #[arg(long)]
    append: bool,
    /// PCCS / Intel PCS base URL; default: $PCCS_URL, else pccs_url of the QCNL file.
    #[arg(long, value_name = "URL", value_parser = super::common::url_text)]
    pccs_url: Option<String>,
    /// Intel's QCNL configuration file (its pccs_url and use_secure_cert are honoured).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_QCNL_CONF)]
    qcnl_conf: PathBuf,
    /// Do not verify the PCCS TLS certificate (as use_secure_cert=false). Collateral
    /// signatures are still verified.
    #[arg(long, conflicts_with = "pccs_ca")]
    insecure: bool,
    /// CA certificates (PEM) to verify the PCCS TLS certificate with (e.g. a self-signed PCCS).
    #[arg(long, value_name = "PEM")]
    pccs_ca: Option<PathBuf>,
    /// Per-request timeout (e.g. 20s).
    #[arg(long, value_name = "DURATION", default_value = "20s")]
    timeout: String,
    /// Retries after a network error, timeout or 5xx.
    #[arg(long, default_value_t = 2)]
    retries: u32,
}

/// `initra collateral show`
#[derive(clap::Args)]
pub(crate) struct ShowArgs {
    /// The bundle file.
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    /// Print one JSON object (schema in docs/collateral.md).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: CollateralCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CollateralCmd::Fetch(a) => fetch(a),
        CollateralCmd::Show(a) => show(a),
    }
}

fn fetch(a: FetchArgs) -> anyhow::Result<ExitCode> {
    // Read every quote before any network request: a bad file fails fast.
    let mut keys = BTreeSet::new();
    for path in &a.quotes {
        let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        let raw = initra_evidence::input::decode_evidence(&bytes)
            .with_context(|| format!("{}", path.display()))?;
        let quote =
            initra_evidence::Quote::parse(&raw).with_context(|| format!("{}", path.display()))?;
        let key =
            CollateralKey::from_quote(&quote).with_context(|| format!("{}", path.display()))?;
        keys.insert(key);
    }
    let settings = CollateralSettings {
        pccs_url: a.pccs_url.clone(),
        use_secure_cert: a.insecure.then_some(false),
        pccs_ca_file: a.pccs_ca.clone(),
        qcnl_conf: Some(a.qcnl_conf.clone()),
        request_timeout: Some(a.timeout.clone()),
        retries: Some(a.retries),
        ..CollateralSettings::default()
    };
    let config = settings.pccs_config()?.with_context(|| {
        format!(
            "no PCCS URL: pass --pccs-url, set PCCS_URL, or set pccs_url in {}",
            a.qcnl_conf.display()
        )
    })?;
    let source = PccsSource::new(PccsClient::new(&config)?);

    let now = SystemTime::now();
    let mut bundle = if a.append && a.out.exists() {
        Bundle::read(&a.out)?
    } else {
        Bundle::new(unix(now))
    };
    bundle.created = unix(now);
    let mut report = String::new();
    for key in &keys {
        let entry = source.fetch(key)?;
        if let Err(e) = FreshnessPolicy::default().check(&entry.collateral, now) {
            tracing::warn!(key = %key, error = %e, "fetched collateral is not valid now (stale PCCS?)");
        }
        report.push_str(&format!("{key}: fetched from {}\n", entry.source));
        bundle.insert(entry);
    }
    bundle.write(&a.out)?;
    report.push_str(&format!(
        "wrote {} ({} entr{})\n",
        a.out.display(),
        bundle.entries().count(),
        if bundle.entries().count() == 1 {
            "y"
        } else {
            "ies"
        }
    ));
    print_stdout(&report)?;
    Ok(ExitCode::SUCCESS)
}

fn show(a: ShowArgs) -> anyhow::Result<ExitCode> {
    let bundle = Bundle::read(&a.bundle)?;
    let summary = bundle.summary()?;
    let text = if a.json {
        let mut s = serde_json::to_string_pretty(&summary)?;
        s.push('\n');
        s
    } else {
        render(&a.bundle, &summary, unix(SystemTime::now()))
    };
    print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn render(path: &std::path::Path, s: &BundleSummary, now: i64) -> String {
    let mut out = format!(
        "{}: {} v{}, created {}, {} entr{}\n",
        path.display(),
        s.format,
        s.version,
        s.created,
        s.entries.len(),
        if s.entries.len() == 1 { "y" } else { "ies" }
    );
    for e in &s.entries {
        out.push_str(&format!(
            "\n{}\n  source       {}\n  fetched      {}\n",
            e.key, e.source, e.fetched_at
        ));
        for i in &e.items {
            out.push_str(&format!(
                "  {:<12} issued {}  next update {}\n",
                i.name,
                i.issued,
                i.next_update.as_deref().unwrap_or("-")
            ));
        }
        let until = e.valid_until.as_deref().unwrap_or("-");
        let first = e
            .first_expiring
            .map(|i| format!(" (first to expire: {})", i.name()))
            .unwrap_or_default();
        out.push_str(&format!(
            "  valid        {} .. {until}{first}\n",
            e.valid_from
        ));
        let from = initra_collateral::validity::parse_rfc3339(&e.valid_from);
        let to = e
            .valid_until
            .as_deref()
            .and_then(initra_collateral::validity::parse_rfc3339);
        let status = match (from, to) {
            (Some(f), _) if now < f => format!("not yet valid (now {})", fmt_unix(now)),
            (_, Some(t)) if now > t => format!("EXPIRED (now {})", fmt_unix(now)),
            _ => "valid now".to_owned(),
        };
        out.push_str(&format!("  status       {status}\n"));
    }
    out
}
