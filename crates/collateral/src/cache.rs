//! The collateral cache: in memory, and persisted as one JSON file per key
//! (`<dir>/<tee>-<fmspc>-<ca>.json`, written atomically) so a restarted server verifies
//! without waiting for the network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::entry::{write_atomic, CollateralEntry, EntryJson, ReadyEntry};
use crate::key::CollateralKey;
use crate::Error;

/// Version of the cache file layout.
pub const CACHE_FILE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    #[serde(flatten)]
    entry: EntryJson,
}

/// In-memory map backed by an optional directory.
#[derive(Debug, Default)]
pub struct CollateralCache {
    dir: Option<PathBuf>,
    mem: Mutex<HashMap<CollateralKey, Arc<ReadyEntry>>>,
}

impl CollateralCache {
    /// A cache that lives only as long as the process.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A cache persisted in `dir` (created, mode 0700, if missing).
    pub fn persistent(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        create_private_dir(&dir)?;
        Ok(Self {
            dir: Some(dir),
            mem: Mutex::default(),
        })
    }

    /// The directory, if persisted.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The file holding `key`'s entry, if persisted.
    pub fn path_for(&self, key: &CollateralKey) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}.json", key.id())))
    }

    /// The entry for `key`: from memory, else from its file (loaded into memory). An unreadable
    /// file is logged and treated as a miss: it will be replaced by the next fetch.
    pub fn get(&self, key: &CollateralKey) -> Option<Arc<ReadyEntry>> {
        if let Some(e) = self.lock().get(key) {
            return Some(Arc::clone(e));
        }
        let path = self.path_for(key)?;
        if !path.exists() {
            return None;
        }
        match read_file(&path, key) {
            Ok(ready) => {
                let ready = Arc::new(ready);
                self.lock().insert(*key, Arc::clone(&ready));
                tracing::debug!(key = %key, path = %path.display(), "collateral loaded from the persisted cache");
                Some(ready)
            }
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "ignoring unreadable collateral cache file");
                None
            }
        }
    }

    /// Stores `entry` in memory and, if persisted, on disk. A failed disk write is logged (the
    /// in-memory copy still serves); an entry that does not validate is an error.
    pub fn put(&self, entry: CollateralEntry) -> Result<Arc<ReadyEntry>, Error> {
        let key = entry.key;
        let origin = self
            .path_for(&key)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("cache entry {key}"));
        let ready = Arc::new(ReadyEntry::new(entry, &origin)?);
        if let Some(path) = self.path_for(&key) {
            if let Err(e) = write_file(&path, &ready.entry) {
                tracing::warn!(key = %key, error = %e, "collateral cache not persisted");
            }
        }
        self.lock().insert(key, Arc::clone(&ready));
        Ok(ready)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<CollateralKey, Arc<ReadyEntry>>> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts).
        self.mem.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn read_file(path: &Path, key: &CollateralKey) -> Result<ReadyEntry, Error> {
    let err = |reason: String| Error::Cache {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let file: CacheFile = serde_json::from_str(&text).map_err(|e| err(format!("JSON: {e}")))?;
    if file.version != CACHE_FILE_VERSION {
        return Err(err(format!(
            "version: expected {CACHE_FILE_VERSION}, got {}",
            file.version
        )));
    }
    let entry = CollateralEntry::from_json(file.entry)?;
    if entry.key != *key {
        return Err(err(format!("key: expected {key}, got {}", entry.key)));
    }
    ReadyEntry::new(entry, &path.display().to_string())
}

fn write_file(path: &Path, entry: &CollateralEntry) -> Result<(), Error> {
    let file = CacheFile {
        version: CACHE_FILE_VERSION,
        entry: entry.to_json(),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| Error::Cache {
        path: path.to_owned(),
        reason: format!("JSON: {e}"),
    })?;
    write_atomic(path, &json)
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::Cache {
        path: dir.to_owned(),
        reason: format!("cannot create directory: {e}"),
    })
}
