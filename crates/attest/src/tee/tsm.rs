//! Linux configfs-tsm (kernel >= 6.7): TDX quotes and SEV-SNP reports from
//! `/sys/kernel/config/tsm/report` (docs/tee-backends.md §4).
//!
//! Protocol (Documentation/ABI/testing/configfs-tsm): `mkdir report/NAME`; read `provider`; read
//! `generation`; write 64 bytes to `inblob`; read `outblob` (and, for SNP, `auxblob`: the
//! certificate table); read `generation` again: it must be exactly one more than before, else
//! another writer changed the entry under us; `rmdir report/NAME`, always.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use initra_evidence::quote::Tee;

use super::{check_evidence, read_bounded, Expect};
use crate::{AttestedEvidence, Attester, Backend, Error};

/// The filesystem operations the protocol needs; a seam so tests can emulate configfs (whose
/// `mkdir` creates attribute files and whose `inblob` write produces `outblob`).
pub trait TsmFs: Send + Sync {
    /// Creates a report entry.
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// Removes a report entry.
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// Reads an attribute (bounded by `MAX_EVIDENCE_LEN`).
    fn read(&self, path: &Path) -> Result<Vec<u8>, Error>;
    /// Writes an attribute in one `write`.
    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()>;
}

/// The real configfs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealTsmFs;

impl TsmFs for RealTsmFs {
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>, Error> {
        read_bounded(path)
    }

    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        let n = f.write(data)?;
        if n != data.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {} bytes", data.len()),
            ));
        }
        Ok(())
    }
}

/// The TSM provider an attester expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TsmProvider {
    /// `sev_guest`: SEV-SNP attestation reports.
    Snp,
    /// `tdx_guest`: TDX quotes.
    Tdx,
}

impl TsmProvider {
    /// The kernel's provider name.
    pub fn name(self) -> &'static str {
        match self {
            TsmProvider::Snp => "sev_guest",
            TsmProvider::Tdx => "tdx_guest",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [TsmProvider::Snp, TsmProvider::Tdx]
            .into_iter()
            .find(|p| p.name() == name)
    }

    fn backend(self) -> Backend {
        match self {
            TsmProvider::Snp => Backend::Snp,
            TsmProvider::Tdx => Backend::Tdx,
        }
    }

    fn expect(self) -> Expect {
        match self {
            TsmProvider::Snp => Expect::SnpReport,
            TsmProvider::Tdx => Expect::Quote(Tee::Tdx),
        }
    }
}

/// One report obtained through configfs-tsm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsmReport {
    /// The provider that produced it.
    pub provider: TsmProvider,
    /// The TDX quote or SNP report (padding removed), checked to carry the requested report data.
    pub outblob: Vec<u8>,
    /// SNP: the certificate table (VCEK, ASK, ARK) when the host provides one.
    pub auxblob: Option<Vec<u8>>,
    /// `generation` after the report was produced.
    pub generation: u64,
}

/// TDX quotes or SEV-SNP reports through configfs-tsm.
pub struct TsmAttester {
    fs: Arc<dyn TsmFs>,
    dir: PathBuf,
    provider: TsmProvider,
}

impl core::fmt::Debug for TsmAttester {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TsmAttester")
            .field("dir", &self.dir)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// Unique entry names within this process (the pid separates processes).
static ENTRY_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TsmAttester {
    /// Opens the real configfs-tsm report directory `dir` and checks that its provider is
    /// `provider` (one probe entry is created and removed).
    pub fn open(dir: &Path, provider: TsmProvider) -> Result<Self, Error> {
        Self::with_fs(Arc::new(RealTsmFs), dir, Some(provider))
    }

    /// Opens `dir` with whichever provider it has (`tdx_guest` or `sev_guest`).
    pub fn open_any(dir: &Path) -> Result<Self, Error> {
        Self::with_fs(Arc::new(RealTsmFs), dir, None)
    }

    /// Over any [`TsmFs`]; `provider` = `None` accepts either known provider.
    pub fn with_fs(
        fs: Arc<dyn TsmFs>,
        dir: &Path,
        provider: Option<TsmProvider>,
    ) -> Result<Self, Error> {
        let entry = Entry::create(
            fs.as_ref(),
            dir,
            provider.map_or(Backend::Tdx, TsmProvider::backend),
        )?;
        let found = entry.provider(provider)?;
        drop(entry);
        Ok(Self {
            fs,
            dir: dir.to_owned(),
            provider: found,
        })
    }

    /// The provider of this machine.
    pub fn provider(&self) -> TsmProvider {
        self.provider
    }

    /// Runs the configfs-tsm protocol once (module docs).
    pub fn report(&self, report_data: &[u8; 64]) -> Result<TsmReport, Error> {
        let entry = Entry::create(self.fs.as_ref(), &self.dir, self.provider.backend())?;
        entry.provider(Some(self.provider))?;
        let before = entry.generation()?;
        let inblob = entry.path.join("inblob");
        self.fs
            .write(&inblob, report_data)
            .map_err(|e| Error::io(&inblob, e))?;
        let outblob_path = entry.path.join("outblob");
        let outblob = self.fs.read(&outblob_path)?;
        let auxblob = match self.provider {
            TsmProvider::Snp => entry.optional("auxblob")?,
            TsmProvider::Tdx => None,
        };
        let after = entry.generation()?;
        let expected = before.checked_add(1);
        if Some(after) != expected {
            return Err(Error::InvalidValue {
                field: "generation",
                reason: format!(
                    "{}: expected {} after writing inblob, got {after}: another writer used this report entry; retry",
                    entry.path.join("generation").display(),
                    before.saturating_add(1)
                ),
            });
        }
        let outblob = check_evidence(&outblob, self.provider.expect(), report_data, &outblob_path)?;
        Ok(TsmReport {
            provider: self.provider,
            outblob,
            auxblob,
            generation: after,
        })
    }
}

impl Attester for TsmAttester {
    fn backend(&self) -> Backend {
        self.provider.backend()
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Error> {
        Ok(self.report(report_data)?.outblob)
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<AttestedEvidence, Error> {
        let report = self.report(report_data)?;
        Ok(AttestedEvidence {
            evidence: report.outblob,
            endorsements: report.auxblob,
        })
    }
}

/// A report entry, removed when dropped (on every path, errors included).
struct Entry<'a> {
    fs: &'a dyn TsmFs,
    path: PathBuf,
}

impl<'a> Entry<'a> {
    fn create(fs: &'a dyn TsmFs, dir: &Path, backend: Backend) -> Result<Self, Error> {
        let n = ENTRY_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("initra-{}-{n}", std::process::id()));
        fs.mkdir(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::Unsupported {
                    backend,
                    reason: format!(
                        "{}: not found (configfs-tsm needs Linux >= 6.7 and configfs mounted)",
                        dir.display()
                    ),
                }
            } else {
                Error::io(&path, e)
            }
        })?;
        Ok(Self { fs, path })
    }

    fn text(&self, name: &str) -> Result<String, Error> {
        let path = self.path.join(name);
        let bytes = self.fs.read(&path)?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
    }

    /// Reads `provider`; it must be a known one (and `want`, if given).
    fn provider(&self, want: Option<TsmProvider>) -> Result<TsmProvider, Error> {
        let name = self.text("provider")?;
        let path = self.path.join("provider");
        match (TsmProvider::from_name(&name), want) {
            (Some(found), None) => Ok(found),
            (Some(found), Some(want)) if found == want => Ok(found),
            (_, want) => Err(Error::InvalidValue {
                field: "provider",
                reason: format!(
                    "{}: expected {}, got {name:?}",
                    path.display(),
                    want.map_or("tdx_guest or sev_guest", TsmProvider::name)
                ),
            }),
        }
    }

    fn generation(&self) -> Result<u64, Error> {
        let text = self.text("generation")?;
        text.parse().map_err(|_| Error::InvalidValue {
            field: "generation",
            reason: format!(
                "{}: expected a decimal number, got {text:?}",
                self.path.join("generation").display()
            ),
        })
    }

    /// An attribute that may be absent or empty (SNP `auxblob` without host certificates).
    fn optional(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        match self.fs.read(&self.path.join(name)) {
            Ok(bytes) if bytes.is_empty() => Ok(None),
            Ok(bytes) => Ok(Some(bytes)),
            Err(Error::Io { source, .. })
                if matches!(source.kind(), io::ErrorKind::NotFound)
                    || source.raw_os_error() == Some(nix::libc::ENOENT) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.fs.rmdir(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove configfs-tsm report entry");
        }
    }
}
