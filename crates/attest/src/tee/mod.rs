//! Real TEE backends (docs/tee-backends.md): Occlum's `/dev/sgx` ioctls, Gramine's
//! `/dev/attestation` pseudo-files and Linux configfs-tsm (TDX quotes, SEV-SNP reports).
//!
//! [`select`] picks a backend by name (`auto`, `occlum`, `gramine`, `tdx`, `snp`); `auto` runs
//! [`detect`], which never picks the simulated platform. Every device path comes from
//! [`DeviceRoots`], so tests point the backends at a fake device tree. Each backend checks what the
//! device returned: it must parse as the expected evidence, be complete, and carry the requested
//! report data.

mod gramine;
#[allow(unsafe_code)] // the ioctls of Occlum's /dev/sgx: the crate's only unsafe code
mod ioctl;
mod occlum;
mod tsm;

use std::path::{Path, PathBuf};

pub use gramine::GramineAttester;
pub use occlum::{OcclumAttester, SgxDevice};
pub use tsm::{RealTsmFs, TsmAttester, TsmFs, TsmProvider, TsmReport};

use initra_evidence::quote::{Quote, Tee};
use initra_evidence::snp::SnpReport;

use crate::{Attester, Error};

/// Largest quote / report / certificate table read from a device (real ones are a few KiB).
pub const MAX_EVIDENCE_LEN: usize = initra_evidence::input::MAX_EVIDENCE_LEN;

/// Backend names [`select`] accepts.
pub const TEE_NAMES: [&str; 5] = ["auto", "occlum", "gramine", "tdx", "snp"];

/// Where each backend's device lives. `Default` = the real paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRoots {
    /// Occlum's SGX device (`/dev/sgx`).
    pub sgx_device: PathBuf,
    /// Gramine's attestation pseudo-file directory (`/dev/attestation`).
    pub attestation_dir: PathBuf,
    /// configfs-tsm report directory (`/sys/kernel/config/tsm/report`).
    pub tsm_report_dir: PathBuf,
}

impl Default for DeviceRoots {
    fn default() -> Self {
        Self::under("/")
    }
}

impl DeviceRoots {
    /// The same paths below `dir` (`<dir>/dev/sgx`, `<dir>/dev/attestation`,
    /// `<dir>/sys/kernel/config/tsm/report`): a fake device tree.
    pub fn under(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        Self {
            sgx_device: dir.join("dev/sgx"),
            attestation_dir: dir.join("dev/attestation"),
            tsm_report_dir: dir.join("sys/kernel/config/tsm/report"),
        }
    }
}

/// The backend named `name` (`auto` | `occlum` | `gramine` | `tdx` | `snp`), opened and probed.
/// `auto` = [`detect`]. The simulated platform is not selectable here: it needs a platform
/// directory (`sim::SimAttester`).
pub fn select(name: &str, roots: &DeviceRoots) -> Result<Box<dyn Attester>, Error> {
    match name.trim().to_ascii_lowercase().as_str() {
        "auto" => detect(roots),
        "occlum" => Ok(Box::new(OcclumAttester::open(&roots.sgx_device)?)),
        "gramine" => Ok(Box::new(GramineAttester::open(&roots.attestation_dir)?)),
        "tdx" => Ok(Box::new(TsmAttester::open(
            &roots.tsm_report_dir,
            TsmProvider::Tdx,
        )?)),
        "snp" => Ok(Box::new(TsmAttester::open(
            &roots.tsm_report_dir,
            TsmProvider::Snp,
        )?)),
        "sim" | "sim-snp" => Err(Error::InvalidValue {
            field: "tee",
            reason: format!(
                "{:?} is the simulated platform, not a hardware backend: give its directory instead \
                 (--sim DIR for the SGX simulator; `initra init` takes \"attester\": \"sim\" or \"sim-snp\" \
                 with \"sim_dir\"); expected one of {}",
                name.trim(),
                TEE_NAMES.join(", ")
            ),
        }),
        other => Err(Error::InvalidValue {
            field: "tee",
            reason: format!("expected one of {}, got {other:?}", TEE_NAMES.join(", ")),
        }),
    }
}

/// Finds the TEE this process runs in: Occlum (`/dev/sgx` answering the quote-size ioctl), then
/// Gramine (`/dev/attestation/attestation_type`), then configfs-tsm (provider `tdx_guest` or
/// `sev_guest`). Never the simulated platform. The error lists every path probed and why it
/// did not qualify.
pub fn detect(roots: &DeviceRoots) -> Result<Box<dyn Attester>, Error> {
    let mut probed = Vec::new();
    match probe_path(&roots.sgx_device) {
        Ok(()) => match OcclumAttester::open(&roots.sgx_device) {
            Ok(a) => return Ok(Box::new(a)),
            Err(e) => probed.push(format!("occlum: {e}")),
        },
        Err(why) => probed.push(format!("occlum: {}: {why}", roots.sgx_device.display())),
    }
    let type_file = roots.attestation_dir.join("attestation_type");
    match probe_path(&type_file) {
        Ok(()) => match GramineAttester::open(&roots.attestation_dir) {
            Ok(a) => return Ok(Box::new(a)),
            Err(e) => probed.push(format!("gramine: {e}")),
        },
        Err(why) => probed.push(format!("gramine: {}: {why}", type_file.display())),
    }
    match probe_path(&roots.tsm_report_dir) {
        Ok(()) => match TsmAttester::open_any(&roots.tsm_report_dir) {
            Ok(a) => return Ok(Box::new(a)),
            Err(e) => probed.push(format!("configfs-tsm: {e}")),
        },
        Err(why) => probed.push(format!(
            "configfs-tsm: {}: {why}",
            roots.tsm_report_dir.display()
        )),
    }
    Err(Error::InvalidValue {
        field: "tee",
        reason: format!(
            "no TEE found (the simulated platform is only used when selected); probed: {}",
            probed.join("; ")
        ),
    })
}

fn probe_path(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("not found".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// What a device is expected to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A DCAP quote for this TEE.
    Quote(Tee),
    /// An SEV-SNP attestation report.
    SnpReport,
}

/// Checks device output: it parses as the expected evidence (a truncated buffer is a short read),
/// and its report data is `report_data`. Returns the evidence without trailing padding.
pub(crate) fn check_evidence(
    bytes: &[u8],
    expect: Expect,
    report_data: &[u8; 64],
    source: &Path,
) -> Result<Vec<u8>, Error> {
    let bad = |reason: String| Error::InvalidFile {
        path: source.to_owned(),
        what: match expect {
            Expect::Quote(Tee::Sgx) => "SGX DCAP quote",
            Expect::Quote(Tee::Tdx) => "TDX quote",
            Expect::SnpReport => "SEV-SNP report",
        },
        reason,
    };
    let describe = |e: initra_evidence::Error| match e {
        initra_evidence::Error::Truncated { .. } => format!(
            "short read: the device returned {} bytes, the evidence is longer ({e})",
            bytes.len()
        ),
        other => other.to_string(),
    };
    let (raw, got_rd) = match expect {
        Expect::Quote(tee) => {
            let q = Quote::parse(bytes).map_err(|e| bad(describe(e)))?;
            if q.tee() != tee {
                return Err(bad(format!(
                    "expected {} quote, got {} quote",
                    tee.with_article(),
                    q.tee().with_article()
                )));
            }
            (q.raw().to_vec(), q.report_data().0)
        }
        Expect::SnpReport => {
            let r = SnpReport::parse(bytes).map_err(|e| bad(describe(e)))?;
            (r.raw().to_vec(), r.report_data.0)
        }
    };
    if &got_rd != report_data {
        return Err(bad(format!(
            "report_data: expected {}, got {} (stale evidence or another writer)",
            hex::encode(report_data),
            hex::encode(got_rd)
        )));
    }
    Ok(raw)
}

/// Reads at most [`MAX_EVIDENCE_LEN`] bytes of `path`.
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    file.take(MAX_EVIDENCE_LEN as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    if out.len() > MAX_EVIDENCE_LEN {
        return Err(Error::InvalidFile {
            path: path.to_owned(),
            what: "evidence",
            reason: format!("larger than {MAX_EVIDENCE_LEN} bytes"),
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests;
