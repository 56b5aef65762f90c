//! `initra quote`: inspect and verify SGX / TDX quotes and SEV-SNP reports (JSON schema:
//! docs/cli-json.md). The kind of evidence is detected from its content.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use initra_collateral::{KdsCache, KdsClient, KdsConfig, KdsSource};
use initra_evidence::input::decode_evidence;
use initra_evidence::quote::{Quote, QuoteBody};
use initra_evidence::snp::{looks_like_snp_report, SnpReport};
use initra_verify::{
    Policy, SnpCollateral, SnpProduct, SnpRoots, SnpVerifier, StaticCollateral, TcbStatus,
    TrustRoots, Verifier,
};
use serde_json::{json, Value};

use crate::cmd::common::snp_report_json;
use crate::output::print_stdout;

/// `initra quote ...`
#[derive(clap::Subcommand)]
pub(crate) enum QuoteCmd {
    /// Print every field of an SGX / TDX quote or an SEV-SNP report (binary, or hex with or
    /// without 0x).
    Inspect(InspectArgs),
    /// Verify a quote (against --collateral) or an SEV-SNP report (against --vcek and --chain,
    /// or what --kds-url serves) and decide with a policy.
    ///
    /// Exit status: 0 accepted, 1 rejected by policy, 2 invalid evidence / collateral or error.
    // Written out: clap's generated usage puts the positional FILE after the last flag named,
    // which reads as `--no-kds-crl <FILE>` although that flag takes no value.
    #[command(
        override_usage = "initra quote verify <FILE> --collateral <FILE>... [OPTIONS]\n       \
        initra quote verify <FILE> --vcek <FILE> --chain <FILE> [--crl <FILE>] [OPTIONS]\n       \
        initra quote verify <FILE> --kds-url <URL> [--no-kds-crl] [OPTIONS]"
    )]
    // Boxed: its many flags would make every `QuoteCmd` as large as this variant.
    Verify(Box<VerifyArgs>),
}

/// `initra quote inspect`
#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// The quote file.
    file: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `initra quote verify`
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The quote or SEV-SNP report file (binary, or hex with or without 0x).
    file: PathBuf,
    /// SGX / TDX: collateral in dcap-qvl's JSON layout; repeat to load several (chosen by TEE type
    /// + FMSPC). Required for quotes.
    #[arg(long, value_name = "FILE")]
    collateral: Vec<PathBuf>,
    /// SEV-SNP: the VCEK or VLEK certificate (DER or PEM). Required for SNP reports.
    #[arg(long, value_name = "FILE")]
    vcek: Option<PathBuf>,
    /// SEV-SNP: the ASK (or ASVK) and ARK certificates (PEM, as AMD's KDS serves cert_chain).
    /// The ARK must be AMD's for the product. Required for SNP reports.
    #[arg(long, value_name = "FILE")]
    chain: Option<PathBuf>,
    /// SEV-SNP: AMD's CRL of the product (DER or PEM, from
    /// https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/crl), signed by the ARK. When given, a
    /// revoked ASK / ASVK or VCEK, an expired CRL or one not signed by the ARK is invalid. Without
    /// it revocation is not checked: production deployments should give one.
    #[arg(long, value_name = "FILE")]
    crl: Option<PathBuf>,
    /// SEV-SNP: the expected product (default: the VCEK's productName). With --kds-url, the
    /// product of reports without CPUID fields (version 2).
    #[arg(long, value_name = "milan|genoa|turin")]
    product: Option<String>,
    /// SEV-SNP without --vcek / --chain: fetch the VCEK, the ASK + ARK chain and AMD's CRL from
    /// this AMD KDS (e.g. https://kdsintf.amd.com).
    #[arg(long, value_name = "URL", value_parser = crate::cmd::common::url_text)]
    kds_url: Option<String>,
    /// SEV-SNP with --kds-url: do not fetch AMD's CRL (revocation of the ASK / VCEK is then not
    /// checked).
    #[arg(long, requires = "kds_url")]
    no_kds_crl: bool,
    /// Trust this root CA certificate (DER or PEM) instead of Intel's; repeatable. A root whose
    /// subject says SIMULATED marks results `simulated`.
    #[arg(long, value_name = "FILE")]
    root: Vec<PathBuf>,
    /// SEV-SNP: also trust the simulated SNP platform's ARK (e.g. testdata/sim-snp/ark.der);
    /// results under it are `simulated`.
    #[arg(long, value_name = "FILE")]
    snp_sim_ark: Vec<PathBuf>,
    /// Verify as of this time (RFC 3339, e.g. 2025-07-01T00:00:00Z) instead of now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Policy: an Occlum verify config (dynamic_config.json / init_ra_conf.json) or an initra
    /// policy file (docs/policy.md). Without it, no identity is required (TCB + debug only).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// SGX / TDX: also accept these TCB statuses, in addition to the policy's (UpToDate by
    /// default), e.g. SWHardeningNeeded,ConfigurationNeeded; repeatable or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "S,...")]
    accept_status: Vec<String>,
    /// Accept debug enclaves / TDs.
    #[arg(long)]
    allow_debug: bool,
    /// SGX / TDX: refuse collateral whose TCB info, QE identity or PCK CRL was issued longer ago
    /// than this (e.g. `7d`), guarding against a stale PCCS serving old but signed data
    /// (docs/collateral.md). With the policy's `max_collateral_age` too, the stricter applies.
    #[arg(long, value_name = "DURATION")]
    max_collateral_age: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: QuoteCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        QuoteCmd::Inspect(args) => inspect(&args),
        QuoteCmd::Verify(args) => verify(&args),
    }
}

/// The evidence in a file: a DCAP quote or an SEV-SNP report, told apart by content.
// One short-lived value per command; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Evidence {
    Quote(Quote),
    Snp(SnpReport),
}

fn read_evidence(path: &Path) -> anyhow::Result<Evidence> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let raw = decode_evidence(&bytes).with_context(|| format!("{}", path.display()))?;
    if looks_like_snp_report(&raw) {
        let report = SnpReport::parse(&raw)
            .with_context(|| format!("{}: not a valid SEV-SNP report", path.display()))?;
        return Ok(Evidence::Snp(report));
    }
    Quote::parse(&raw)
        .map(Evidence::Quote)
        .with_context(|| format!("{}: not a valid quote", path.display()))
}

fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let quote = match read_evidence(&args.file)? {
        Evidence::Quote(q) => q,
        Evidence::Snp(report) => return inspect_snp(&report, args.json),
    };
    let mut value = serde_json::to_value(&quote)?;
    if let Value::Object(map) = &mut value {
        map.insert("version".into(), json!(quote.version()));
        map.insert("quote_len".into(), json!(quote.raw().len()));
        map.insert("debug".into(), json!(quote.is_debug()));
        map.insert(
            "fmspc".into(),
            json!(initra_verify::quote_fmspc(&quote).ok()),
        );
        map.insert("pck_chain_pem".into(), json!(quote.pck_chain_pem()));
    }
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
    } else {
        print_stdout(&render_inspect(&quote, &value))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render_inspect(quote: &Quote, value: &Value) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: &Value| {
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("{k:<24} {v}\n"));
    };
    line(&mut out, "tee", &json!(quote.tee()));
    line(&mut out, "version", &json!(quote.version()));
    if let Some(t) = quote.body_type() {
        line(&mut out, "body_type", &json!(t));
    }
    line(&mut out, "quote_len", &json!(quote.raw().len()));
    line(&mut out, "fmspc", &value["fmspc"]);
    line(&mut out, "debug", &json!(quote.is_debug()));
    let sections: [(&str, &Value); 3] = [
        ("header", &value["header"]),
        (
            match quote.body() {
                QuoteBody::Sgx(_) => "enclave_report",
                QuoteBody::Tdx(_) => "td_report",
            },
            &value["body"],
        ),
        ("qe_report", &value["qe_report"]),
    ];
    for (name, section) in sections {
        out.push_str(&format!("[{name}]\n"));
        if let Value::Object(map) = section {
            for (k, v) in map {
                line(&mut out, k, v);
            }
        }
    }
    line(
        &mut out,
        "certification_data_type",
        &value["certification_data_type"],
    );
    out
}

fn inspect_snp(report: &SnpReport, as_json: bool) -> anyhow::Result<ExitCode> {
    let value = snp_report_json(report);
    let text = if as_json {
        format!("{}\n", serde_json::to_string_pretty(&value)?)
    } else {
        let mut out = String::new();
        if let Value::Object(map) = &value {
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push_str(&format!("{k:<24} {v}\n"));
            }
        }
        out
    };
    print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Why verification could not even reach a policy decision (exit 2).
struct Invalid(anyhow::Error);

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    match verify_inner(args) {
        Ok((verdict_json, accepted)) => {
            if args.json {
                print_stdout(&format!("{verdict_json}\n"))?;
            } else {
                print_stdout(&render_verdict(&verdict_json))?;
            }
            Ok(if accepted {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(Invalid(err)) if args.json => {
            let value = json!({ "verdict": "invalid", "reason": format!("{err:#}") });
            print_stdout(&format!("{value}\n"))?;
            crate::output::print_error(&err);
            Ok(ExitCode::from(2))
        }
        Err(Invalid(err)) => Err(err),
    }
}

fn verify_inner(args: &VerifyArgs) -> Result<(Value, bool), Invalid> {
    let invalid = |e: anyhow::Error| Invalid(e);
    let now = match &args.at {
        None => SystemTime::now(),
        Some(at) => parse_time(at).map_err(invalid)?,
    };
    check_input_files(args).map_err(invalid)?;
    let policy = build_policy(args).map_err(invalid)?;
    let quote = match read_evidence(&args.file).map_err(invalid)? {
        Evidence::Snp(report) => return verify_snp(args, &report, policy, now),
        Evidence::Quote(q) => q,
    };
    // SEV-SNP-only flags on a DCAP quote: say which and what to use instead.
    let snp_only: [Inapplicable<'_>; 4] = [
        (
            args.vcek.is_some() || args.chain.is_some() || args.product.is_some(),
            "--vcek, --chain and --product are",
            "use --collateral",
        ),
        (args.kds_url.is_some(), "--kds-url is", "use --collateral"),
        (
            args.crl.is_some(),
            "--crl is AMD's CRL",
            "its CRLs come with --collateral",
        ),
        (
            !args.snp_sim_ark.is_empty(),
            "--snp-sim-ark is",
            "use --root for SGX / TDX roots",
        ),
    ];
    refuse_inapplicable(
        &args.file,
        &snp_only,
        "SEV-SNP reports",
        &format!("{} quote", quote.tee().with_article()),
    )?;
    if args.collateral.is_empty() {
        return Err(invalid(anyhow::anyhow!(
            "{}: --collateral is required to verify {} quote",
            args.file.display(),
            quote.tee().with_article()
        )));
    }
    let roots = if args.root.is_empty() {
        TrustRoots::intel()
    } else {
        let mut roots = TrustRoots::empty();
        for path in &args.root {
            roots = roots
                .with_root_file_auto(path)
                .map_err(|e| invalid(e.into()))?;
        }
        roots
    };
    let collateral =
        StaticCollateral::from_files(&args.collateral).map_err(|e| invalid(e.into()))?;
    let verifier = Verifier::new(roots, Arc::new(collateral), Arc::new(policy));
    let verdict = verifier
        .verify_quote(&quote, now)
        .with_context(|| format!("{}", args.file.display()))
        .map_err(invalid)?;
    Ok((verdict.to_json(), verdict.is_accepted()))
}

/// SEV-SNP: the VCEK and chain from files, AMD's pinned ARKs, the same policy file.
fn verify_snp(
    args: &VerifyArgs,
    report: &SnpReport,
    policy: Policy,
    now: SystemTime,
) -> Result<(Value, bool), Invalid> {
    let invalid = |e: anyhow::Error| Invalid(e);
    let file = args.file.display();
    // SGX / TDX-only flags on an SEV-SNP report: the same shape as `snp_only` in `verify_inner`.
    let dcap_only: [Inapplicable<'_>; 3] = [
        (
            !args.collateral.is_empty() || !args.root.is_empty(),
            "--collateral and --root are",
            "use --vcek and --chain, or --kds-url",
        ),
        (
            !args.accept_status.is_empty(),
            "--accept-status is",
            "SEV-SNP has no TCB status; set a floor with min_reported_tcb in a --policy identity",
        ),
        (
            args.max_collateral_age.is_some(),
            "--max-collateral-age is",
            "AMD's CRL given with --crl is refused past its nextUpdate",
        ),
    ];
    refuse_inapplicable(
        &args.file,
        &dcap_only,
        "SGX / TDX quotes",
        "an SEV-SNP report",
    )?;
    let product = args
        .product
        .as_deref()
        .map(str::parse::<SnpProduct>)
        .transpose()
        .map_err(|e| invalid(anyhow::anyhow!("--product: {e}")))?;
    let collateral = match (&args.vcek, &args.chain, &args.kds_url) {
        (Some(vcek), Some(chain), None) => {
            SnpCollateral::from_files(vcek, chain).map_err(|e| invalid(e.into()))?
        }
        (None, None, Some(url)) => {
            kds_collateral(url, report, product, !args.no_kds_crl, now).map_err(invalid)?
        }
        (_, _, Some(_)) => {
            return Err(invalid(anyhow::anyhow!(
                "{file}: --kds-url fetches the VCEK and chain; give it without --vcek and --chain"
            )))
        }
        _ => {
            return Err(invalid(anyhow::anyhow!(
                "{file}: an SEV-SNP report needs --vcek FILE and --chain FILE (ASK + ARK), or \
                 --kds-url URL to fetch them from AMD's KDS"
            )))
        }
    };
    let collateral = match &args.crl {
        Some(path) => collateral
            .with_crl_file(path)
            .map_err(|e| invalid(anyhow::Error::new(e).context("--crl")))?,
        None => collateral,
    };
    let mut roots = SnpRoots::amd();
    for ark in &args.snp_sim_ark {
        roots = roots
            .with_simulated_ark_file(ark)
            .map_err(|e| invalid(anyhow::Error::new(e).context("--snp-sim-ark")))?;
    }
    let verdict = SnpVerifier::new(roots, Arc::new(policy))
        .verify_report(report, &collateral, product, now)
        .with_context(|| format!("{file}"))
        .map_err(invalid)?;
    Ok((verdict.to_json(), verdict.is_accepted()))
}

/// A flag that does not apply to the evidence given: whether it was given, what it is
/// (`--crl is AMD's CRL`), and what to use instead.
type Inapplicable<'a> = (bool, &'a str, &'a str);

/// The first flag of `table` that was given, as an error naming it, what it applies to and what
/// `file` is: `FILE: WHAT for APPLIES_TO; this is THIS (INSTEAD)`. A flag that would be silently
/// ignored is refused instead.
fn refuse_inapplicable(
    file: &Path,
    table: &[Inapplicable<'_>],
    applies_to: &str,
    this: &str,
) -> Result<(), Invalid> {
    match table.iter().find(|(given, _, _)| *given) {
        Some((_, what, instead)) => Err(Invalid(anyhow::anyhow!(
            "{}: {what} for {applies_to}; this is {this} ({instead})",
            file.display()
        ))),
        None => Ok(()),
    }
}

/// Every file flag names a readable file: an error names the flag (`--crl adir: is a directory`),
/// not just the path, before any work is done.
fn check_input_files(args: &VerifyArgs) -> anyhow::Result<()> {
    let single = [
        ("--vcek", &args.vcek),
        ("--chain", &args.chain),
        ("--crl", &args.crl),
        ("--policy", &args.policy),
    ];
    let repeated = [
        ("--collateral", &args.collateral),
        ("--root", &args.root),
        ("--snp-sim-ark", &args.snp_sim_ark),
    ];
    let files = single
        .iter()
        .filter_map(|(flag, path)| path.as_ref().map(|p| (*flag, p)))
        .chain(
            repeated
                .iter()
                .flat_map(|(flag, paths)| paths.iter().map(move |p| (*flag, p))),
        );
    for (flag, path) in files {
        let meta = std::fs::metadata(path).with_context(|| format!("{flag} {}", path.display()))?;
        if meta.is_dir() {
            anyhow::bail!("{flag} {}: is a directory, expected a file", path.display());
        }
    }
    Ok(())
}

/// The VCEK, chain and (unless `crl` is off) CRL of `report` from the KDS at `url`, uncached.
fn kds_collateral(
    url: &str,
    report: &SnpReport,
    product: Option<SnpProduct>,
    crl: bool,
    now: SystemTime,
) -> anyhow::Result<SnpCollateral> {
    let client = KdsClient::new(&KdsConfig::new(url)).context("--kds-url")?;
    let source = KdsSource::new(client, KdsCache::in_memory()).with_product(product);
    let source = if crl { source } else { source.without_crl() };
    Ok(source.collateral(report, now)?)
}

fn build_policy(args: &VerifyArgs) -> anyhow::Result<Policy> {
    let mut policy = match &args.policy {
        Some(path) => Policy::from_any_file(path)?,
        None => Policy::default(),
    };
    if !args.accept_status.is_empty() {
        let statuses = args
            .accept_status
            .iter()
            .map(|s| s.trim().parse::<TcbStatus>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("--accept-status: {e}"))?;
        if statuses.contains(&TcbStatus::Revoked) {
            anyhow::bail!("--accept-status: Revoked is never accepted");
        }
        // Additive, as `initra server` / `get-secret`: the policy's statuses stay accepted.
        let mut accepted = policy.accepted_statuses().to_vec();
        for status in statuses {
            if !accepted.contains(&status) {
                accepted.push(status);
            }
        }
        policy = policy.with_accepted_statuses(accepted);
    }
    if args.allow_debug {
        policy = policy.with_allow_debug(true);
    }
    // The verifier enforces the policy's maximum age; the flag can only make it stricter.
    if let Some(max_age) = &args.max_collateral_age {
        policy = policy.with_max_collateral_age(initra_collateral::freshness::parse_duration(
            max_age,
            "--max-collateral-age",
        )?);
    }
    Ok(policy)
}

fn parse_time(at: &str) -> anyhow::Result<SystemTime> {
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--at {at:?}: expected RFC 3339, e.g. 2025-07-01T00:00:00Z"))?;
    let secs = u64::try_from(t.unix_timestamp())
        .map_err(|_| anyhow::anyhow!("--at {at:?}: before 1970"))?;
    Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

fn render_verdict(v: &Value) -> String {
    let mut out = String::new();
    if let Value::Object(map) = v {
        for (k, val) in map {
            let text = match val {
                Value::String(s) => s.clone(),
                Value::Null => "-".into(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            out.push_str(&format!("{k:<16} {text}\n"));
        }
    }
    out
}
