//! What the KDS answered, in memory and, with a directory, on disk so a restarted verifier does
//! not ask again (`docs/collateral.md`, "SEV-SNP: AMD KDS"). Files, written atomically with mode
//! 0600 in a 0700 directory, hold the bytes as served:
//!
//! ```text
//! vcek-{product}-{hwid}-{reported_tcb}.der   one per chip and TCB (never changes)
//! cert_chain-{product}.pem                   ASK, ARK
//! crl-{product}.der                          replaced when refreshed
//! ```
//!
//! A file is checked like a fresh answer when it is loaded ([`crate::kds`]); one that fails is
//! logged and ignored, and the next fetch replaces it.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use initra_verify::SnpProduct;

use crate::cache::create_private_dir;
use crate::entry::write_private;
use crate::kds::{chain_ders, crl_der, vcek_der, VcekKey};
use crate::Error;

/// Bound on a cache file (certificates are a few KiB, AMD's CRLs tens of KiB).
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// A product's CRL and its `nextUpdate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedCrl {
    /// DER.
    pub der: Vec<u8>,
    /// `thisUpdate`, Unix seconds.
    pub this_update: i64,
    /// `nextUpdate`, Unix seconds, when present.
    pub next_update: Option<i64>,
}

impl CachedCrl {
    fn new(der: Vec<u8>) -> Result<Self, Error> {
        let dates = crate::crl::crl_dates(&der, "AMD CRL")?;
        Ok(Self {
            der,
            this_update: dates.this_update,
            next_update: dates.next_update,
        })
    }

    /// Whether `now` (Unix seconds) is not past `nextUpdate`.
    pub fn valid_at(&self, now: i64) -> bool {
        self.next_update.is_none_or(|n| now <= n)
    }
}

/// The KDS cache.
#[derive(Debug, Default)]
pub struct KdsCache {
    dir: Option<PathBuf>,
    vceks: Mutex<HashMap<VcekKey, Arc<Vec<u8>>>>,
    chains: Mutex<HashMap<SnpProduct, Arc<Vec<Vec<u8>>>>>,
    crls: Mutex<HashMap<SnpProduct, Arc<CachedCrl>>>,
}

impl KdsCache {
    /// A cache that lives as long as the process.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A cache persisted in `dir` (created, mode 0700, if missing).
    pub fn persistent(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        create_private_dir(&dir)?;
        Ok(Self {
            dir: Some(dir),
            ..Self::default()
        })
    }

    /// The directory, if persisted.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The file of `key`'s VCEK, if persisted.
    pub fn vcek_path(&self, key: &VcekKey) -> Option<PathBuf> {
        self.file(&format!("vcek-{}.der", key.id()))
    }

    /// The file of `product`'s chain, if persisted.
    pub fn chain_path(&self, product: SnpProduct) -> Option<PathBuf> {
        self.file(&format!("cert_chain-{product}.pem"))
    }

    /// The file of `product`'s CRL, if persisted.
    pub fn crl_path(&self, product: SnpProduct) -> Option<PathBuf> {
        self.file(&format!("crl-{product}.der"))
    }

    /// `key`'s VCEK (DER): from memory, else from its file.
    pub fn vcek(&self, key: &VcekKey) -> Option<Arc<Vec<u8>>> {
        lookup(&self.vceks, key, self.vcek_path(key), |b| vcek_der(b, key))
    }

    /// `product`'s ASK and ARK (DER): from memory, else from its file.
    pub fn chain(&self, product: SnpProduct) -> Option<Arc<Vec<Vec<u8>>>> {
        lookup(&self.chains, &product, self.chain_path(product), |b| {
            chain_ders(b, product)
        })
    }

    /// `product`'s CRL: from memory, else from its file.
    pub fn crl(&self, product: SnpProduct) -> Option<Arc<CachedCrl>> {
        lookup(&self.crls, &product, self.crl_path(product), |b| {
            crl_der(b, product).and_then(|der| CachedCrl::new(der).map_err(|e| e.to_string()))
        })
    }

    /// Stores `key`'s VCEK (checked DER).
    pub fn put_vcek(&self, key: &VcekKey, der: Vec<u8>) -> Arc<Vec<u8>> {
        store(&self.vceks, *key, self.vcek_path(key), &der.clone(), der)
    }

    /// Stores `product`'s chain: the checked certificates and the PEM text as served.
    pub fn put_chain(
        &self,
        product: SnpProduct,
        chain: Vec<Vec<u8>>,
        pem: &[u8],
    ) -> Arc<Vec<Vec<u8>>> {
        store(&self.chains, product, self.chain_path(product), pem, chain)
    }

    /// Stores `product`'s CRL (checked DER).
    pub fn put_crl(&self, product: SnpProduct, der: Vec<u8>) -> Result<Arc<CachedCrl>, Error> {
        let crl = CachedCrl::new(der)?;
        let bytes = crl.der.clone();
        Ok(store(
            &self.crls,
            product,
            self.crl_path(product),
            &bytes,
            crl,
        ))
    }

    fn file(&self, name: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(name))
    }
}

fn lock<K, V>(m: &Mutex<HashMap<K, V>>) -> MutexGuard<'_, HashMap<K, V>> {
    // Single inserts: a panic elsewhere cannot leave the map half-updated.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The entry for `key`: from memory, else from `path` checked by `parse` (then kept in memory).
fn lookup<K: Eq + Hash + Clone, V>(
    map: &Mutex<HashMap<K, Arc<V>>>,
    key: &K,
    path: Option<PathBuf>,
    parse: impl FnOnce(&[u8]) -> Result<V, String>,
) -> Option<Arc<V>> {
    if let Some(v) = lock(map).get(key) {
        return Some(Arc::clone(v));
    }
    let path = path?;
    let bytes = match read_bounded(&path) {
        Ok(Some(b)) => b,
        Ok(None) => return None,
        Err(reason) => {
            tracing::warn!(path = %path.display(), %reason, "ignoring unreadable KDS cache file");
            return None;
        }
    };
    match parse(&bytes) {
        Ok(v) => {
            let v = Arc::new(v);
            lock(map).insert(key.clone(), Arc::clone(&v));
            tracing::debug!(path = %path.display(), "loaded from the persisted KDS cache");
            Some(v)
        }
        Err(reason) => {
            tracing::warn!(path = %path.display(), %reason, "ignoring invalid KDS cache file");
            None
        }
    }
}

/// Keeps `value` in memory and writes `bytes` to `path`; a failed write is logged (the memory
/// copy still serves).
fn store<K: Eq + Hash, V>(
    map: &Mutex<HashMap<K, Arc<V>>>,
    key: K,
    path: Option<PathBuf>,
    bytes: &[u8],
    value: V,
) -> Arc<V> {
    if let Some(path) = path {
        if let Err(e) = write_private(&path, bytes) {
            tracing::warn!(error = %e, "KDS answer not persisted");
        }
    }
    let value = Arc::new(value);
    lock(map).insert(key, Arc::clone(&value));
    value
}

/// The file's bytes, `None` when it does not exist.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(m) if m.len() > MAX_FILE => {
            return Err(format!("{} bytes exceeds the maximum {MAX_FILE}", m.len()))
        }
        Ok(_) => {}
    }
    std::fs::read(path).map(Some).map_err(|e| e.to_string())
}
