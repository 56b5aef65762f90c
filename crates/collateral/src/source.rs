//! [`CollateralSource`] implementations: a cached PCCS ([`CachedSource`]), a bare PCCS
//! ([`PccsSource`]), an offline bundle ([`BundleSource`]) and an ordered chain of them
//! ([`SourceChain`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use initra_evidence::Quote;
use initra_verify::{Collateral, CollateralSource};

use crate::bundle::Bundle;
use crate::cache::CollateralCache;
use crate::entry::{CollateralEntry, ReadyEntry};
use crate::key::CollateralKey;
use crate::pccs::PccsClient;
use crate::validity::{fmt_duration, fmt_unix, secs, unix};
use crate::Error;

/// Default refresh margin: refetch when the earliest `nextUpdate` is this close.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(24 * 3600);

/// After a failed refresh (or one that returned collateral already due for refresh), the
/// cached copy is served without asking the PCCS again for this long.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(60);

/// Cache in front of an optional PCCS. Concurrent requests for one key share one fetch
/// (single-flight: a per-key lock; waiters find the fresh entry when they get it).
pub struct CachedSource {
    cache: CollateralCache,
    client: Option<PccsClient>,
    refresh_margin: Duration,
    retry_interval: Duration,
    flights: Mutex<HashMap<CollateralKey, Arc<Mutex<Flight>>>>,
}

/// Per-key fetch state.
#[derive(Default)]
struct Flight {
    /// When the last fetch failed or brought collateral already due for refresh.
    backoff_since: Option<Instant>,
}

impl CachedSource {
    /// `client: None` serves only what the cache holds (e.g. a persisted cache on a server
    /// without network).
    pub fn new(cache: CollateralCache, client: Option<PccsClient>) -> Self {
        Self {
            cache,
            client,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            retry_interval: DEFAULT_RETRY_INTERVAL,
            flights: Mutex::default(),
        }
    }

    /// Refetch when the earliest `nextUpdate` is within `margin` of the verification time.
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long a failed refresh is not retried while a valid cached copy serves.
    pub fn with_retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// The cache.
    pub fn cache(&self) -> &CollateralCache {
        &self.cache
    }

    /// The PCCS client, if any.
    pub fn client(&self) -> Option<&PccsClient> {
        self.client.as_ref()
    }

    fn needs_refresh(&self, e: &ReadyEntry, now: i64) -> bool {
        e.window
            .until
            .is_some_and(|(until, _)| now >= until.saturating_sub(secs(self.refresh_margin)))
    }

    /// Collateral for `key` to verify at `now`: the cached entry unless it is due for refresh,
    /// else a fresh fetch; an unreachable PCCS with a still-valid cached entry is a warning.
    pub fn get(&self, key: &CollateralKey, now: SystemTime) -> Result<Arc<ReadyEntry>, Error> {
        let now_s = unix(now);
        if let Some(e) = self.cache.get(key) {
            if !self.needs_refresh(&e, now_s) {
                return Ok(e);
            }
        }
        let flight = self.flight(key);
        let mut flight = flight.lock().unwrap_or_else(|p| p.into_inner());
        // Another caller may have refreshed while this one waited for the lock.
        let cached = self.cache.get(key);
        if let Some(e) = &cached {
            if !self.needs_refresh(e, now_s) {
                return Ok(Arc::clone(e));
            }
            let recently_failed = flight
                .backoff_since
                .is_some_and(|t| t.elapsed() < self.retry_interval);
            if recently_failed && e.valid_at(now_s) {
                return Ok(Arc::clone(e));
            }
        }
        let Some(client) = &self.client else {
            return match cached {
                Some(e) if e.valid_at(now_s) => Ok(e),
                Some(e) => Err(Error::NoCollateral {
                    key: key.id(),
                    tried: format!("cache: {} (no PCCS configured)", expired_text(&e)),
                }),
                None => Err(Error::NoCollateral {
                    key: key.id(),
                    tried: "cache: no entry (no PCCS configured)".into(),
                }),
            };
        };
        let fetched = client.fetch_blocking(key).and_then(|collateral| {
            self.cache.put(CollateralEntry {
                key: *key,
                source: client.url().to_owned(),
                fetched_at: unix(SystemTime::now()),
                collateral,
            })
        });
        match fetched {
            Ok(e) => {
                tracing::info!(key = %key, url = client.url(), valid_until = ?e.window.until.map(|(u, _)| fmt_unix(u)), "collateral fetched");
                flight.backoff_since = self.needs_refresh(&e, now_s).then(Instant::now);
                Ok(e)
            }
            Err(err) => {
                flight.backoff_since = Some(Instant::now());
                match cached {
                    Some(e) if e.valid_at(now_s) => {
                        tracing::warn!(
                            key = %key,
                            error = %err,
                            valid_until = ?e.window.until.map(|(u, _)| fmt_unix(u)),
                            retry_after = %fmt_duration(self.retry_interval),
                            "PCCS refresh failed; verifying with the cached collateral"
                        );
                        Ok(e)
                    }
                    Some(e) => Err(Error::NoCollateral {
                        key: key.id(),
                        tried: format!("{err}; cache: {}", expired_text(&e)),
                    }),
                    None => Err(err),
                }
            }
        }
    }

    fn flight(&self, key: &CollateralKey) -> Arc<Mutex<Flight>> {
        let mut map = self.lock_flights();
        Arc::clone(map.entry(*key).or_default())
    }

    fn lock_flights(&self) -> MutexGuard<'_, HashMap<CollateralKey, Arc<Mutex<Flight>>>> {
        self.flights.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn expired_text(e: &ReadyEntry) -> String {
    match e.window.until {
        Some((until, item)) => format!(
            "cached collateral expired ({item} nextUpdate {})",
            fmt_unix(until)
        ),
        None => "cached collateral expired".into(),
    }
}

fn key_of(quote: &Quote) -> Result<CollateralKey, initra_verify::Error> {
    CollateralKey::from_quote(quote).map_err(Error::into_verify_error)
}

fn verify_err(e: Error) -> initra_verify::Error {
    e.into_verify_error()
}

impl CollateralSource for CachedSource {
    collateral_for_now!();

    fn collateral_for_at(
        &self,
        quote: &Quote,
        now: SystemTime,
    ) -> Result<Arc<Collateral>, initra_verify::Error> {
        let key = key_of(quote)?;
        self.get(&key, now)
            .map(|e| Arc::clone(&e.collateral))
            .map_err(verify_err)
    }
}

/// A PCCS without cache: every call fetches (for one-shot CLI use).
pub struct PccsSource {
    client: PccsClient,
}

impl PccsSource {
    /// Wraps `client`.
    pub fn new(client: PccsClient) -> Self {
        Self { client }
    }

    /// Fetches the entry for `key`.
    pub fn fetch(&self, key: &CollateralKey) -> Result<CollateralEntry, Error> {
        Ok(CollateralEntry {
            key: *key,
            source: self.client.url().to_owned(),
            fetched_at: unix(SystemTime::now()),
            collateral: self.client.fetch_blocking(key)?,
        })
    }
}

impl CollateralSource for PccsSource {
    fn collateral_for(&self, quote: &Quote) -> Result<Arc<Collateral>, initra_verify::Error> {
        let key = key_of(quote)?;
        let entry = self.fetch(&key).map_err(verify_err)?;
        entry.to_verify(self.client.url()).map_err(verify_err)
    }
}

/// An offline bundle, loaded and validated once.
pub struct BundleSource {
    path: PathBuf,
    entries: HashMap<CollateralKey, Arc<ReadyEntry>>,
}

impl BundleSource {
    /// Reads `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bundle = Bundle::read(path)?;
        let entries = bundle
            .ready_entries(path)?
            .into_iter()
            .map(|e| (e.entry.key, Arc::new(e)))
            .collect();
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// The entry for `key`.
    pub fn get(&self, key: &CollateralKey) -> Result<Arc<ReadyEntry>, Error> {
        self.entries.get(key).cloned().ok_or_else(|| {
            let mut held: Vec<String> = self.entries.keys().map(|k| k.id()).collect();
            held.sort();
            Error::NoCollateral {
                key: key.id(),
                tried: format!(
                    "bundle {} holds {}",
                    self.path.display(),
                    if held.is_empty() {
                        "nothing".into()
                    } else {
                        held.join(", ")
                    }
                ),
            }
        })
    }
}

impl CollateralSource for BundleSource {
    fn collateral_for(&self, quote: &Quote) -> Result<Arc<Collateral>, initra_verify::Error> {
        let key = key_of(quote)?;
        self.get(&key)
            .map(|e| Arc::clone(&e.collateral))
            .map_err(verify_err)
    }
}

/// Sources tried in order; the first that has collateral wins.
#[derive(Default)]
pub struct SourceChain {
    sources: Vec<(String, Box<dyn CollateralSource>)>,
}

impl SourceChain {
    /// No source yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a source; `label` names it in errors (`cache+pccs https://pccs:8081`).
    pub fn push(&mut self, label: impl Into<String>, source: Box<dyn CollateralSource>) {
        self.sources.push((label.into(), source));
    }

    /// The labels, in order.
    pub fn labels(&self) -> Vec<&str> {
        self.sources.iter().map(|(l, _)| l.as_str()).collect()
    }

    /// True when no source is configured.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Appends every source of `other`, in its order.
    pub fn append(&mut self, other: SourceChain) {
        self.sources.extend(other.sources);
    }
}

impl CollateralSource for SourceChain {
    collateral_for_now!();

    fn collateral_for_at(
        &self,
        quote: &Quote,
        now: SystemTime,
    ) -> Result<Arc<Collateral>, initra_verify::Error> {
        let key = key_of(quote)?;
        let mut tried = Vec::new();
        for (label, source) in &self.sources {
            match source.collateral_for_at(quote, now) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(key = %key, source = %label, error = %e, "collateral source failed");
                    tried.push(format!("{label}: {e}"));
                }
            }
        }
        Err(verify_err(Error::NoCollateral {
            key: key.id(),
            tried: if tried.is_empty() {
                "no source configured".into()
            } else {
                tried.join("; ")
            },
        }))
    }
}
