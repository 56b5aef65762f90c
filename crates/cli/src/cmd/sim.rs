//! `initra sim` and `initra measure`: the simulated SGX platform (docs/simulated-platform.md) and
//! reports of the simulated SEV-SNP platform (docs/snp.md §8).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use initra_attest::sim::snp::{SimSnpOptions, SimSnpPlatform};
use initra_attest::sim::{layout, SimAttester, SimOptions, SimPlatform};
use initra_attest::{measure, Attester, EnclaveIdentity};
use initra_evidence::Measurement;
use serde_json::json;

use crate::output::print_stdout;

/// `initra sim ...`
#[derive(clap::Subcommand)]
pub(crate) enum SimCmd {
    /// Create a simulated SGX platform in DIR: PKI shaped like Intel's, signed collateral
    /// (collateral.json), and the trust root to give verifiers (root-ca.der). Nothing trusts it by default.
    Init(InitArgs),
    /// Write a simulated DCAP v3 quote over the given report data.
    Quote(QuoteArgs),
    /// Re-sign the collateral of DIR for a new validity window (keys and certificates unchanged).
    Renew(RenewArgs),
    /// Write a simulated SEV-SNP report signed by the test VCEK of a simulated SNP platform
    /// (e.g. testdata/sim-snp; docs/snp.md §8), to try `initra quote verify --snp-sim-ark`.
    SnpReport(SnpReportArgs),
}

/// `initra sim snp-report DIR --report-data HEX -o FILE`
#[derive(clap::Args)]
pub(crate) struct SnpReportArgs {
    /// The simulated SNP platform directory (vcek.key, vcek.der, ask.der, ark.der).
    dir: PathBuf,
    /// Report data, hex (optional 0x), at most 64 bytes; shorter values are padded with zero bytes.
    #[arg(long, value_name = "HEX")]
    report_data: String,
    /// Launch measurement, 48 bytes hex. Default: 48 bytes of 0x5a.
    #[arg(long, value_name = "HEX")]
    measurement: Option<String>,
    /// Host data, 32 bytes hex. Default: zero.
    #[arg(long, value_name = "HEX")]
    host_data: Option<String>,
    /// Set guest policy bit 19 (debugging allowed).
    #[arg(long)]
    debug: bool,
    /// Where to write the binary report.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: PathBuf,
}

/// `initra sim init DIR`
#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// The platform directory (created if missing).
    dir: PathBuf,
    /// Days until the collateral (TCB info, QE identity, CRLs) expires.
    #[arg(long, default_value_t = 30, value_name = "N")]
    validity_days: u32,
}

/// `initra sim renew DIR`
#[derive(clap::Args)]
pub(crate) struct RenewArgs {
    /// An existing platform directory (made by `initra sim init`).
    dir: PathBuf,
    /// Days until the renewed collateral (TCB info, QE identity, CRLs) expires.
    #[arg(long, default_value_t = 30, value_name = "N")]
    validity_days: u32,
}

/// `initra sim quote DIR --report-data HEX -o FILE`
#[derive(clap::Args)]
pub(crate) struct QuoteArgs {
    /// The platform directory.
    dir: PathBuf,
    /// Report data, hex (optional 0x), at most 64 bytes; shorter values are padded with zero bytes.
    #[arg(long, value_name = "HEX")]
    report_data: String,
    /// Enclave identity JSON (`initra measure --json` writes it). Default: MRENCLAVE all zero,
    /// MRSIGNER of the platform's signer.pem, ISVPRODID / SVNs 0, not debug.
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// Where to write the binary quote.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: PathBuf,
}

/// `initra measure ...`
#[derive(clap::Args)]
pub(crate) struct MeasureArgs {
    /// The executable that runs in the (simulated) enclave, e.g. the init binary.
    #[arg(long, value_name = "FILE")]
    exe: PathBuf,
    /// A configuration file measured with it, in order; repeatable.
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,
    /// Simulated platform whose signer.pem gives MRSIGNER.
    #[arg(long, value_name = "DIR")]
    sim: Option<PathBuf>,
    /// Enclave signing key (PEM public key, certificate or PKCS#8 private key) giving MRSIGNER;
    /// overrides --sim.
    #[arg(long, value_name = "FILE")]
    signer: Option<PathBuf>,
    /// ISVPRODID to print in the identity.
    #[arg(long, default_value_t = 0, value_name = "N")]
    isv_prod_id: u16,
    /// ISVSVN to print in the identity.
    #[arg(long, default_value_t = 0, value_name = "N")]
    isv_svn: u16,
    /// Print the identity as JSON (the format `initra sim quote --identity` reads).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: SimCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        SimCmd::Init(args) => init(&args),
        SimCmd::Quote(args) => quote(&args),
        SimCmd::Renew(args) => renew(&args),
        SimCmd::SnpReport(args) => snp_report(&args),
    }
}

fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let opts = SimOptions {
        validity_days: args.validity_days,
        now: None,
    };
    let platform = SimPlatform::create(&args.dir, &opts)?;
    print_stdout(&describe(&platform, "created"))?;
    Ok(ExitCode::SUCCESS)
}

fn renew(args: &RenewArgs) -> anyhow::Result<ExitCode> {
    let mut platform = SimPlatform::load(&args.dir)?;
    platform.renew_collateral(&SimOptions {
        validity_days: args.validity_days,
        now: None,
    })?;
    print_stdout(&describe(&platform, "renewed collateral of"))?;
    Ok(ExitCode::SUCCESS)
}

fn describe(platform: &SimPlatform, verb: &str) -> String {
    let (issue, next) = platform.collateral_window();
    format!(
        "{verb} SIMULATED SGX platform in {dir} (not hardware-backed; trusted by nothing unless given its root)\n\
         {:<12} {}  (give to verifiers as the simulated root, e.g. --root)\n\
         {:<12} {}  (valid {issue} .. {next})\n\
         {:<12} {}\n\
         {:<12} {}\n",
        "trust root",
        platform.root_ca_path().display(),
        "collateral",
        platform.collateral_path().display(),
        "mr_signer",
        platform.mr_signer(),
        "fmspc",
        hex::encode(platform.fmspc()),
        dir = platform.dir().display(),
    )
}

fn parse_report_data(text: &str) -> anyhow::Result<[u8; 64]> {
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(text).context("--report-data: not hex")?;
    anyhow::ensure!(
        bytes.len() <= 64,
        "--report-data: {} bytes, at most 64 allowed",
        bytes.len()
    );
    let mut out = [0u8; 64];
    out.iter_mut().zip(&bytes).for_each(|(o, b)| *o = *b);
    Ok(out)
}

fn quote(args: &QuoteArgs) -> anyhow::Result<ExitCode> {
    let report_data = parse_report_data(&args.report_data)?;
    let platform = SimPlatform::load(&args.dir)?;
    let identity = match &args.identity {
        Some(path) => EnclaveIdentity::from_json_file(path)?,
        None => EnclaveIdentity::new(Measurement::default(), platform.mr_signer()),
    };
    let attester = SimAttester::new(platform, identity)?;
    let quote = attester.quote(&report_data)?;
    std::fs::write(&args.output, &quote)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let id = attester.identity();
    print_stdout(&format!(
        "wrote {} ({} bytes): SIMULATED SGX quote, mr_enclave {}, mr_signer {}, report_data {}\n",
        args.output.display(),
        quote.len(),
        id.mr_enclave,
        id.mr_signer,
        hex::encode(report_data),
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn snp_report(args: &SnpReportArgs) -> anyhow::Result<ExitCode> {
    let report_data = parse_report_data(&args.report_data)?;
    let mut options = SimSnpOptions {
        debug: args.debug,
        ..SimSnpOptions::default()
    };
    if let Some(hex) = &args.measurement {
        options.measurement = hex
            .parse()
            .context("--measurement: expected 48 bytes of hex")?;
    }
    if let Some(hex) = &args.host_data {
        options.host_data = hex
            .parse()
            .context("--host-data: expected 32 bytes of hex")?;
    }
    let platform = SimSnpPlatform::load(&args.dir)
        .with_context(|| format!("simulated SNP platform {}", args.dir.display()))?
        .with_options(options);
    let report = platform.report(&initra_evidence::ReportData(report_data))?;
    std::fs::write(&args.output, &report)
        .with_context(|| format!("writing {}", args.output.display()))?;
    print_stdout(&format!(
        "wrote {} ({} bytes): SIMULATED SEV-SNP report (test VCEK; verify with --vcek {dir}/vcek.der \
         --chain {dir}/cert_chain.pem --snp-sim-ark {dir}/ark.der), measurement {}, report_data {}\n",
        args.output.display(),
        report.len(),
        platform.options().measurement,
        hex::encode(report_data),
        dir = args.dir.display(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn measure(args: MeasureArgs) -> anyhow::Result<ExitCode> {
    let configs: Vec<&Path> = args.configs.iter().map(PathBuf::as_path).collect();
    let mr_enclave = measure::measure_enclave(&args.exe, &configs)?;
    let mr_signer = match (&args.signer, &args.sim) {
        (Some(signer), _) => Some(measure::mr_signer_from_pem_file(signer)?),
        (None, Some(dir)) => Some(
            measure::mr_signer_from_pem_file(&dir.join(layout::SIGNER_PEM)).with_context(|| {
                format!(
                    "{} is not a simulated platform (initra sim init)",
                    dir.display()
                )
            })?,
        ),
        (None, None) => None,
    };
    if args.json {
        let value = match mr_signer {
            Some(mr_signer) => {
                let mut id = EnclaveIdentity::new(mr_enclave, mr_signer);
                id.isv_prod_id = args.isv_prod_id;
                id.isv_svn = args.isv_svn;
                serde_json::to_value(&id)?
            }
            None => json!({
                "mr_enclave": mr_enclave,
                "mr_signer": null,
                "isv_prod_id": args.isv_prod_id,
                "isv_svn": args.isv_svn,
            }),
        };
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
    } else {
        let signer = mr_signer.map_or_else(
            || "(unknown: give --sim DIR or --signer FILE)".to_owned(),
            |m| m.to_hex(),
        );
        print_stdout(&format!(
            "mr_enclave   {mr_enclave}\nmr_signer    {signer}\nisv_prod_id  {}\nisv_svn      {}\n",
            args.isv_prod_id, args.isv_svn
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_data_is_hex_up_to_64_bytes_zero_padded() {
        let rd = parse_report_data("0x0102").unwrap();
        assert_eq!(&rd[..3], &[1, 2, 0]);
        assert!(parse_report_data(&"00".repeat(65)).is_err());
        assert!(parse_report_data("zz").is_err());
    }
}
