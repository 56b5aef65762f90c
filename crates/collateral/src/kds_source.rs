//! [`KdsSource`]: the [`SnpCollateralSource`] that fetches the VCEK, chain and CRL of SEV-SNP
//! reports without a certificate table from AMD's KDS, through a [`KdsCache`]
//! (`docs/collateral.md`, "SEV-SNP: AMD KDS").
//!
//! - VCEK: one per (product, hwID, reported TCB); kept while valid (notAfter) at the
//!   verification time.
//! - Chain: one per product; kept while both certificates are valid.
//! - CRL: one per product; refetched once `nextUpdate` is within the refresh margin; a failed
//!   refresh serves the cached CRL (warn) until its `nextUpdate`.
//! - Single flight: one lock per item; concurrent verifications wait for one fetch.
//! - A failed fetch is not repeated for [`DEFAULT_RETRY_INTERVAL`] (the KDS rate-limits: asking
//!   again on every handshake would prolong a 429); callers get the same error meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use initra_evidence::snp::SnpReport;
use initra_verify::{SnpCollateral, SnpCollateralSource, SnpProduct};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::http::block_on;
use crate::kds::{kds_error, KdsClient, VcekKey};
use crate::kds_cache::{CachedCrl, KdsCache};
use crate::validity::{fmt_duration, fmt_unix, secs, unix};
use crate::Error;

/// Refetch a CRL when its `nextUpdate` is this close to the verification time.
pub const DEFAULT_CRL_REFRESH_MARGIN: Duration = Duration::from_secs(24 * 3600);

/// A failed fetch of one item is not repeated for this long.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(60);

/// VCEK, chain and CRL from the KDS, cached.
pub struct KdsSource {
    client: KdsClient,
    cache: KdsCache,
    product: Option<SnpProduct>,
    crl: bool,
    crl_refresh_margin: Duration,
    retry_interval: Duration,
    flights: Mutex<HashMap<String, Arc<Mutex<Flight>>>>,
}

/// Per-item fetch state: the last failure, answered again until the retry interval passes.
#[derive(Default)]
struct Flight {
    failed: Option<(Instant, Failure)>,
}

#[derive(Clone)]
struct Failure {
    url: String,
    status: Option<u16>,
    reason: String,
}

impl KdsSource {
    /// `client` behind `cache`, fetching the CRL too, the product from each report's CPUID.
    pub fn new(client: KdsClient, cache: KdsCache) -> Self {
        Self {
            client,
            cache,
            product: None,
            crl: true,
            crl_refresh_margin: DEFAULT_CRL_REFRESH_MARGIN,
            retry_interval: DEFAULT_RETRY_INTERVAL,
            flights: Mutex::default(),
        }
    }

    /// The product of reports whose CPUID does not say (version 2 reports); a report that says
    /// otherwise is refused.
    pub fn with_product(mut self, product: Option<SnpProduct>) -> Self {
        self.product = product;
        self
    }

    /// Without AMD's CRL: revocation of the ASK and VCEK is not checked.
    pub fn without_crl(mut self) -> Self {
        self.crl = false;
        self
    }

    /// Refetch a CRL when its `nextUpdate` is within `margin` of the verification time.
    pub fn with_crl_refresh_margin(mut self, margin: Duration) -> Self {
        self.crl_refresh_margin = margin;
        self
    }

    /// How long a failed fetch is answered with its error instead of asking again.
    pub fn with_retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// The client.
    pub fn client(&self) -> &KdsClient {
        &self.client
    }

    /// The cache.
    pub fn cache(&self) -> &KdsCache {
        &self.cache
    }

    /// The VCEK, chain and (unless [`KdsSource::without_crl`]) CRL for `report`, to verify at `now`.
    pub fn collateral(&self, report: &SnpReport, now: SystemTime) -> Result<SnpCollateral, Error> {
        let key = VcekKey::from_report(report, self.product)?;
        let vcek = self.vcek(&key, now)?;
        let chain = self.chain(key.product, now)?;
        let collateral = SnpCollateral::new(vcek.as_ref().clone(), chain.as_ref().clone());
        if !self.crl {
            return Ok(collateral);
        }
        let crl = self.crl(key.product, now)?;
        Ok(collateral.with_crl(crl.der.clone()))
    }

    fn vcek(&self, key: &VcekKey, now: SystemTime) -> Result<Arc<Vec<u8>>, Error> {
        let url = self.client.vcek_url(key);
        let cached = || self.cache.vcek(key).filter(|der| !expired(der, now));
        self.single_flight(&url, cached, || {
            let der = fetch(&url, self.client.vcek(key))?;
            tracing::info!(key = %key, url, "VCEK fetched from the KDS");
            Ok(self.cache.put_vcek(key, der))
        })
    }

    fn chain(&self, product: SnpProduct, now: SystemTime) -> Result<Arc<Vec<Vec<u8>>>, Error> {
        let url = self.client.cert_chain_url(product);
        let cached = || {
            self.cache
                .chain(product)
                .filter(|c| !c.iter().any(|der| expired(der, now)))
        };
        self.single_flight(&url, cached, || {
            let (chain, pem) = fetch(&url, self.client.cert_chain(product))?;
            tracing::info!(%product, url, "ASK / ARK chain fetched from the KDS");
            Ok(self.cache.put_chain(product, chain, &pem))
        })
    }

    fn crl(&self, product: SnpProduct, now: SystemTime) -> Result<Arc<CachedCrl>, Error> {
        let url = self.client.crl_url(product);
        let now_s = unix(now);
        let margin = secs(self.crl_refresh_margin);
        let fresh = || {
            self.cache.crl(product).filter(|c| {
                c.next_update
                    .is_none_or(|n| now_s < n.saturating_sub(margin))
            })
        };
        let fetched = self.single_flight(&url, fresh, || {
            let der = fetch(&url, self.client.crl(product))?;
            let crl = self.cache.put_crl(product, der)?;
            tracing::info!(%product, url, next_update = ?crl.next_update.map(fmt_unix), "AMD CRL fetched from the KDS");
            Ok(crl)
        });
        match (fetched, self.cache.crl(product)) {
            (Ok(crl), _) => Ok(crl),
            (Err(err), Some(cached)) if cached.valid_at(now_s) => {
                tracing::warn!(
                    %product,
                    error = %err,
                    next_update = ?cached.next_update.map(fmt_unix),
                    "KDS CRL refresh failed; verifying with the cached CRL"
                );
                Ok(cached)
            }
            (Err(err), _) => Err(err),
        }
    }

    /// `cached()` if it has the item; else one fetch for all concurrent callers of `url`, unless
    /// the last one failed less than the retry interval ago (then its error).
    fn single_flight<T>(
        &self,
        url: &str,
        cached: impl Fn() -> Option<T>,
        fetch: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        if let Some(v) = cached() {
            return Ok(v);
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(flights.entry(url.to_owned()).or_default())
        };
        let mut flight = flight.lock().unwrap_or_else(|p| p.into_inner());
        // Another caller may have fetched while this one waited.
        if let Some(v) = cached() {
            return Ok(v);
        }
        if let Some((at, f)) = &flight.failed {
            let since = at.elapsed();
            if since < self.retry_interval {
                return Err(Error::Kds {
                    url: f.url.clone(),
                    status: f.status,
                    reason: format!(
                        "{} (failed {} ago; not asked again before {} have passed)",
                        f.reason,
                        fmt_duration(since),
                        fmt_duration(self.retry_interval)
                    ),
                });
            }
        }
        match fetch() {
            Ok(v) => {
                flight.failed = None;
                Ok(v)
            }
            Err(e) => {
                let failure = match &e {
                    Error::Kds {
                        url,
                        status,
                        reason,
                    } => Failure {
                        url: url.clone(),
                        status: *status,
                        reason: reason.clone(),
                    },
                    other => Failure {
                        url: url.to_owned(),
                        status: None,
                        reason: other.to_string(),
                    },
                };
                flight.failed = Some((Instant::now(), failure));
                Err(e)
            }
        }
    }
}

impl SnpCollateralSource for KdsSource {
    fn snp_collateral_for(
        &self,
        report: &SnpReport,
        now: SystemTime,
    ) -> Result<SnpCollateral, initra_verify::Error> {
        self.collateral(report, now)
            .map_err(Error::into_verify_error)
    }
}

/// Runs one KDS request from synchronous code; the runner's own failures name the KDS too.
fn fetch<T: Send>(
    url: &str,
    request: impl std::future::Future<Output = Result<T, Error>> + Send,
) -> Result<T, Error> {
    block_on(url, request).map_err(kds_error)
}

/// Whether the certificate is past its notAfter at `now` (then a fetch may bring a renewed one);
/// an unparsable certificate counts as expired.
fn expired(der: &[u8], now: SystemTime) -> bool {
    X509Certificate::from_der(der)
        .map(|(_, c)| c.validity().not_after.timestamp() < unix(now))
        .unwrap_or(true)
}
