//! One collateral set with where and when it was fetched: the unit stored in cache files and
//! bundle entries (JSON layout in `docs/collateral.md`).

use std::path::Path;
use std::sync::Arc;

use dcap_qvl::QuoteCollateralV3;
use initra_evidence::Tee;
use initra_verify::Collateral;
use serde::{Deserialize, Serialize};

use crate::key::CollateralKey;
use crate::validity::{fmt_unix, item_dates, parse_rfc3339, window, ItemDates, Window};
use crate::Error;

/// A collateral set for one key.
#[derive(Clone, Debug)]
pub struct CollateralEntry {
    /// What it is for.
    pub key: CollateralKey,
    /// Where it came from (PCCS base URL, file).
    pub source: String,
    /// When it was fetched (Unix seconds).
    pub fetched_at: i64,
    /// The collateral, in dcap-qvl's layout.
    pub collateral: QuoteCollateralV3,
}

/// The JSON form of an entry.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryJson {
    pub(crate) tee: Tee,
    pub(crate) fmspc: String,
    pub(crate) ca: String,
    pub(crate) source: String,
    pub(crate) fetched_at: String,
    pub(crate) collateral: QuoteCollateralV3,
}

impl CollateralEntry {
    /// The dates of its four items.
    pub fn dates(&self) -> Result<Vec<ItemDates>, Error> {
        Ok(item_dates(&self.collateral)?)
    }

    /// Checks that the TCB info is for this key's TEE and FMSPC, and wraps the collateral for
    /// the verifier. `origin` names the entry in errors.
    pub fn to_verify(&self, origin: &str) -> Result<Arc<Collateral>, Error> {
        let c = Collateral::from_collateral(self.collateral.clone(), origin)?;
        if c.tee() != self.key.tee || c.fmspc() != self.key.fmspc.to_string() {
            return Err(Error::Key {
                reason: format!(
                    "{origin}: entry {} holds TCB info for {}-{}",
                    self.key,
                    c.tee(),
                    c.fmspc()
                ),
            });
        }
        Ok(Arc::new(c))
    }

    pub(crate) fn to_json(&self) -> EntryJson {
        EntryJson {
            tee: self.key.tee,
            fmspc: self.key.fmspc.to_string(),
            ca: self.key.ca.to_string(),
            source: self.source.clone(),
            fetched_at: fmt_unix(self.fetched_at),
            collateral: self.collateral.clone(),
        }
    }

    pub(crate) fn from_json(j: EntryJson) -> Result<Self, Error> {
        let key = CollateralKey {
            tee: j.tee,
            fmspc: j.fmspc.parse()?,
            ca: j.ca.parse()?,
        };
        let fetched_at = parse_rfc3339(&j.fetched_at).ok_or_else(|| Error::Key {
            reason: format!("fetched_at: expected RFC 3339, got {:?}", j.fetched_at),
        })?;
        Ok(Self {
            key,
            source: j.source,
            fetched_at,
            collateral: j.collateral,
        })
    }
}

/// An entry ready for verification, with its common validity window.
#[derive(Debug)]
pub struct ReadyEntry {
    /// The entry.
    pub entry: CollateralEntry,
    /// The collateral as the verifier takes it.
    pub collateral: Arc<Collateral>,
    /// Latest issue date .. earliest `nextUpdate` over its items.
    pub window: Window,
}

impl ReadyEntry {
    /// Validates `entry` (dates readable, TCB info matches the key).
    pub fn new(entry: CollateralEntry, origin: &str) -> Result<Self, Error> {
        let collateral = entry.to_verify(origin)?;
        let window = window(&entry.dates()?);
        Ok(Self {
            entry,
            collateral,
            window,
        })
    }

    /// True when no item is past its `nextUpdate` at `now` (Unix seconds).
    pub fn valid_at(&self, now: i64) -> bool {
        self.window.until.is_none_or(|(until, _)| now <= until)
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path`. Readers see the old or the new file, never a partial one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_as(path, bytes, false)
}

/// [`write_atomic`] with the file readable and writable by its owner only (0600), from its
/// creation on: the file is part of a verifier's own state.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_as(path, bytes, true)
}

fn write_atomic_as(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Io {
            path: path.to_owned(),
            source,
        });
    }
    Ok(())
}
