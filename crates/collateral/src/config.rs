//! The `collateral` section of initra's configuration (server policy, CLI flags): which sources,
//! in which order, and the freshness policy. `docs/collateral.md` documents every field.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::cache::CollateralCache;
use crate::freshness::{from_strs, parse_duration, FreshnessChecked, FreshnessPolicy};
use crate::http::{HttpLimits, TlsTrust};
use crate::pccs::{PccsClient, PccsConfig};
use crate::qcnl::{resolve_pccs, ResolvedPccs, DEFAULT_QCNL_CONF, PCCS_URL_ENV};
use crate::source::{BundleSource, CachedSource, SourceChain};
use crate::Error;

/// A source kind in [`CollateralSettings::sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Offline bundles (`bundles`), in the order given.
    Bundle,
    /// The on-disk cache (`cache_dir`); with `pccs` it caches the PCCS.
    Cache,
    /// The PCCS / Intel PCS.
    Pccs,
}

/// Collateral settings. Every field is optional; durations are human-readable (`7d`, `30s`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CollateralSettings {
    /// Order of the sources. Default: `["cache", "pccs", "bundle"]`, keeping only the
    /// configured ones (a PCCS if a URL resolves, a cache if `cache_dir` is set, bundles if any).
    pub sources: Option<Vec<SourceKind>>,
    /// PCCS / Intel PCS base URL; else `PCCS_URL`, else `pccs_url` of the QCNL file.
    pub pccs_url: Option<String>,
    /// Verify the PCCS TLS certificate (overrides the QCNL file's `use_secure_cert`).
    pub use_secure_cert: Option<bool>,
    /// CA certificates (PEM) for the PCCS instead of the system bundle.
    pub pccs_ca_file: Option<PathBuf>,
    /// Where to get the root CA CRL instead of `{pccs}/sgx/certification/v4/rootcacrl`.
    pub root_ca_crl_url: Option<String>,
    /// The QCNL file (default `/etc/sgx_default_qcnl.conf`).
    pub qcnl_conf: Option<PathBuf>,
    /// Persisted cache directory.
    pub cache_dir: Option<PathBuf>,
    /// Offline bundle files.
    #[serde(default)]
    pub bundles: Vec<PathBuf>,
    /// TCP connect + TLS handshake timeout (default 5s).
    pub connect_timeout: Option<String>,
    /// Per-request timeout (default 20s).
    pub request_timeout: Option<String>,
    /// Retries after a transient failure (default 2).
    pub retries: Option<u32>,
    /// Refetch when the earliest `nextUpdate` is this close (default 1d).
    pub refresh_margin: Option<String>,
    /// Maximum age of TCB info / QE identity / PCK CRL (`--max-collateral-age`), e.g. `7d`.
    pub max_collateral_age: Option<String>,
    /// Grace period past `nextUpdate`; explicit and logged at warn on each use.
    pub collateral_grace: Option<String>,
}

impl CollateralSettings {
    /// The freshness policy these settings ask for.
    pub fn freshness(&self) -> Result<FreshnessPolicy, Error> {
        from_strs(
            self.max_collateral_age.as_deref(),
            self.collateral_grace.as_deref(),
        )
    }

    /// The PCCS to use, resolved from these settings, `PCCS_URL` and the QCNL file.
    pub fn resolve_pccs(&self) -> Result<Option<ResolvedPccs>, Error> {
        let qcnl = self
            .qcnl_conf
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_QCNL_CONF));
        resolve_pccs(
            self.pccs_url.as_deref(),
            std::env::var(PCCS_URL_ENV).ok(),
            &qcnl,
            self.use_secure_cert,
        )
    }

    /// The PCCS client settings, if a URL resolves.
    pub fn pccs_config(&self) -> Result<Option<PccsConfig>, Error> {
        let Some(resolved) = self.resolve_pccs()? else {
            return Ok(None);
        };
        tracing::debug!(url = %resolved.url, origin = %resolved.origin, "PCCS URL resolved");
        let mut cfg = PccsConfig::from_resolved(&resolved);
        if let Some(ca) = &self.pccs_ca_file {
            cfg.trust = TlsTrust::CaFile(ca.clone());
        }
        cfg.root_ca_crl_url = self.root_ca_crl_url.clone();
        let d = HttpLimits::default();
        cfg.limits = HttpLimits {
            connect_timeout: opt_duration(self.connect_timeout.as_deref(), "connect_timeout")?
                .unwrap_or(d.connect_timeout),
            request_timeout: opt_duration(self.request_timeout.as_deref(), "request_timeout")?
                .unwrap_or(d.request_timeout),
            retries: self.retries.unwrap_or(d.retries),
            backoff: d.backoff,
        };
        Ok(Some(cfg))
    }

    /// Builds the source chain, wrapped in the freshness policy.
    pub fn build(&self) -> Result<FreshnessChecked<SourceChain>, Error> {
        Ok(FreshnessChecked::new(
            self.build_chain()?,
            self.freshness()?,
        ))
    }

    /// Builds the source chain without the freshness policy (for callers that add sources of
    /// their own and apply one policy to all, e.g. [`crate::VerifierSettings`]).
    pub fn build_chain(&self) -> Result<SourceChain, Error> {
        let pccs = self.pccs_config()?;
        let explicit = self.sources.is_some();
        let order = self
            .sources
            .clone()
            .unwrap_or_else(|| vec![SourceKind::Cache, SourceKind::Pccs, SourceKind::Bundle]);
        let wants = |k| order.contains(&k);
        let mut chain = SourceChain::new();
        let mut cached_added = false;
        for kind in &order {
            match kind {
                SourceKind::Cache | SourceKind::Pccs => {
                    if cached_added {
                        continue;
                    }
                    cached_added = true;
                    let client = match (&pccs, wants(SourceKind::Pccs)) {
                        (Some(cfg), true) => Some(PccsClient::new(cfg)?),
                        (None, true) if explicit => {
                            return Err(Error::Config {
                                origin: "collateral.sources".into(),
                                reason: format!(
                                    "pccs is listed but no PCCS URL is configured (pccs_url, {PCCS_URL_ENV}, or pccs_url in {})",
                                    self.qcnl_conf
                                        .as_deref()
                                        .unwrap_or(std::path::Path::new(DEFAULT_QCNL_CONF))
                                        .display()
                                ),
                            })
                        }
                        _ => None,
                    };
                    let cache = match (&self.cache_dir, wants(SourceKind::Cache)) {
                        (Some(dir), true) => Some(CollateralCache::persistent(dir)?),
                        (None, true) if explicit && client.is_none() => {
                            return Err(Error::Config {
                                origin: "collateral.sources".into(),
                                reason: "cache is listed but cache_dir is not set".into(),
                            })
                        }
                        _ => None,
                    };
                    if client.is_none() && cache.is_none() {
                        continue;
                    }
                    let label = match (&client, &cache) {
                        (Some(c), Some(_)) => format!("cache+pccs {}", c.url()),
                        (Some(c), None) => format!("pccs {}", c.url()),
                        _ => "cache".to_owned(),
                    };
                    let mut source =
                        CachedSource::new(cache.unwrap_or_else(CollateralCache::in_memory), client);
                    if let Some(m) = opt_duration(self.refresh_margin.as_deref(), "refresh_margin")?
                    {
                        source = source.with_refresh_margin(m);
                    }
                    chain.push(label, Box::new(source));
                }
                SourceKind::Bundle => {
                    for path in &self.bundles {
                        chain.push(
                            format!("bundle {}", path.display()),
                            Box::new(BundleSource::open(path)?),
                        );
                    }
                }
            }
        }
        Ok(chain)
    }
}

fn opt_duration(s: Option<&str>, what: &str) -> Result<Option<Duration>, Error> {
    s.map(|s| parse_duration(s, what)).transpose()
}
