//! Offline bundles: collateral fetched on a connected machine (`initra collateral fetch`) for
//! servers without network access. One JSON file, versioned, entries keyed like the cache.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::entry::{write_atomic, CollateralEntry, EntryJson, ReadyEntry};
use crate::key::CollateralKey;
use crate::validity::{fmt_unix, parse_rfc3339, window, Item};
use crate::Error;

/// The `format` field of every bundle.
pub const BUNDLE_FORMAT: &str = "initra-collateral-bundle";

/// The bundle layout version written (and the only one read).
pub const BUNDLE_VERSION: u32 = 1;

/// Bound on a bundle file's size.
pub const MAX_BUNDLE_LEN: u64 = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleJson {
    format: String,
    version: u32,
    created: String,
    entries: BTreeMap<String, EntryJson>,
}

/// A set of entries, at most one per key.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// When it was written (Unix seconds).
    pub created: i64,
    entries: BTreeMap<CollateralKey, CollateralEntry>,
}

impl Bundle {
    /// An empty bundle created at `created` (Unix seconds).
    pub fn new(created: i64) -> Self {
        Self {
            created,
            entries: BTreeMap::new(),
        }
    }

    /// Adds or replaces the entry for its key.
    pub fn insert(&mut self, entry: CollateralEntry) {
        self.entries.insert(entry.key, entry);
    }

    /// The entries, ordered by key.
    pub fn entries(&self) -> impl Iterator<Item = &CollateralEntry> {
        self.entries.values()
    }

    /// The entry for `key`.
    pub fn get(&self, key: &CollateralKey) -> Option<&CollateralEntry> {
        self.entries.get(key)
    }

    /// Reads and validates a bundle file (format, version, keys match their TCB info).
    pub fn read(path: &Path) -> Result<Self, Error> {
        let err = |reason: String| Error::Bundle {
            path: path.to_owned(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(crate::error::io_err(path))?;
        if meta.len() > MAX_BUNDLE_LEN {
            return Err(err(format!(
                "size: expected at most {MAX_BUNDLE_LEN} bytes, got {}",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(crate::error::io_err(path))?;
        let text =
            String::from_utf8(bytes).map_err(|_| err("not JSON text (invalid UTF-8)".into()))?;
        let json: BundleJson = serde_json::from_str(&text).map_err(|e| {
            // A dcap-qvl collateral file is the likeliest wrong file here: say so.
            let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let is_collateral = value.as_ref().and_then(|v| v.as_object()).is_some_and(|o| {
                !o.contains_key("format") && o.contains_key("tcb_info") && o.contains_key("qe_identity")
            });
            if is_collateral {
                err("this is a collateral file, not a bundle (make one with `initra collateral fetch`)"
                    .into())
            } else {
                err(format!("JSON: {e}"))
            }
        })?;
        if json.format != BUNDLE_FORMAT {
            return Err(err(format!(
                "format: expected {BUNDLE_FORMAT}, got {:?}",
                json.format
            )));
        }
        if json.version != BUNDLE_VERSION {
            return Err(err(format!(
                "version: expected {BUNDLE_VERSION}, got {} (written by a newer initra?)",
                json.version
            )));
        }
        let created = parse_rfc3339(&json.created).ok_or_else(|| {
            err(format!(
                "created: expected RFC 3339, got {:?}",
                json.created
            ))
        })?;
        let mut bundle = Self::new(created);
        for (name, e) in json.entries {
            let entry =
                CollateralEntry::from_json(e).map_err(|e| err(format!("entry {name}: {e}")))?;
            if entry.key.id() != name {
                return Err(err(format!("entry {name}: key fields say {}", entry.key)));
            }
            bundle.insert(entry);
        }
        Ok(bundle)
    }

    /// Writes the bundle atomically.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let json = BundleJson {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            created: fmt_unix(self.created),
            entries: self
                .entries
                .values()
                .map(|e| (e.key.id(), e.to_json()))
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&json).map_err(|e| Error::Bundle {
            path: path.to_owned(),
            reason: format!("JSON: {e}"),
        })?;
        write_atomic(path, &bytes)
    }

    /// Validated entries ready for verification; `path` names them in errors.
    pub fn ready_entries(&self, path: &Path) -> Result<Vec<ReadyEntry>, Error> {
        self.entries
            .values()
            .map(|e| {
                ReadyEntry::new(e.clone(), &format!("{} entry {}", path.display(), e.key)).map_err(
                    |err| Error::Bundle {
                        path: path.to_owned(),
                        reason: err.to_string(),
                    },
                )
            })
            .collect()
    }

    /// What `initra collateral show` prints.
    pub fn summary(&self) -> Result<BundleSummary, Error> {
        let entries = self
            .entries
            .values()
            .map(|e| {
                let dates = e.dates()?;
                let w = window(&dates);
                Ok(EntrySummary {
                    key: e.key.id(),
                    tee: e.key.tee.to_string(),
                    fmspc: e.key.fmspc.to_string(),
                    ca: e.key.ca.to_string(),
                    source: e.source.clone(),
                    fetched_at: fmt_unix(e.fetched_at),
                    items: dates
                        .iter()
                        .map(|d| ItemSummary {
                            item: d.item,
                            name: d.item.name(),
                            issued: fmt_unix(d.issued),
                            next_update: d.next_update.map(fmt_unix),
                        })
                        .collect(),
                    valid_from: fmt_unix(w.from),
                    valid_until: w.until.map(|(u, _)| fmt_unix(u)),
                    first_expiring: w.until.map(|(_, i)| i),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(BundleSummary {
            format: BUNDLE_FORMAT,
            version: BUNDLE_VERSION,
            created: fmt_unix(self.created),
            entries,
        })
    }
}

/// `initra collateral show --json` (docs/collateral.md).
#[derive(Debug, Serialize)]
pub struct BundleSummary {
    /// Always [`BUNDLE_FORMAT`].
    pub format: &'static str,
    /// The layout version.
    pub version: u32,
    /// When the bundle was written.
    pub created: String,
    /// One per key.
    pub entries: Vec<EntrySummary>,
}

/// One entry of a [`BundleSummary`].
#[derive(Debug, Serialize)]
pub struct EntrySummary {
    /// `tee-fmspc-ca`.
    pub key: String,
    /// `sgx` / `tdx`.
    pub tee: String,
    /// FMSPC, lower-case hex.
    pub fmspc: String,
    /// `platform` / `processor`.
    pub ca: String,
    /// Where it was fetched from.
    pub source: String,
    /// When.
    pub fetched_at: String,
    /// TCB info, QE identity, PCK CRL, root CA CRL.
    pub items: Vec<ItemSummary>,
    /// Latest issue date of all items.
    pub valid_from: String,
    /// Earliest `nextUpdate` of all items.
    pub valid_until: Option<String>,
    /// The item whose `nextUpdate` is `valid_until`.
    pub first_expiring: Option<Item>,
}

/// One item of an [`EntrySummary`].
#[derive(Debug, Serialize)]
pub struct ItemSummary {
    /// Machine name (`tcb_info`).
    pub item: Item,
    /// Human name (`TCB info`).
    pub name: &'static str,
    /// Issue date / `thisUpdate`.
    pub issued: String,
    /// `nextUpdate`.
    pub next_update: Option<String>,
}

#[cfg(test)]
mod wrong_file_tests {
    use super::*;

    #[test]
    fn collateral_file_and_binary_file_are_named_for_what_they_are() {
        let collateral = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/sgx/dcapqvl-sgx-v3/sgx_quote_collateral.json"
        ));
        let err = Bundle::read(collateral).unwrap_err().to_string();
        assert!(
            err.contains("this is a collateral file, not a bundle")
                && err.contains("initra collateral fetch"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("img.png");
        std::fs::write(&png, [0x89u8, b'P', b'N', b'G', 0xff, 0xfe]).unwrap();
        let err = Bundle::read(&png).unwrap_err().to_string();
        assert!(
            err.ends_with("img.png: not JSON text (invalid UTF-8)"),
            "{err}"
        );
    }
}
