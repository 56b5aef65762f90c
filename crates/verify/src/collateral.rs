//! Collateral (TCB info, QE identity, CRLs, issuer chains) in dcap-qvl's `QuoteCollateralV3` JSON
//! layout, and where a verifier gets it from.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use dcap_qvl::QuoteCollateralV3;
use initra_evidence::{Quote, Tee};

use crate::freshness::{item_dates, parse_rfc3339, FreshnessError, ItemDates};
use crate::Error;

/// Collateral for one platform (TEE type + FMSPC), parsed once.
#[derive(Clone, Debug)]
pub struct Collateral {
    inner: QuoteCollateralV3,
    origin: String,
    tee: Tee,
    fmspc: String,
    issue_date: Option<i64>,
    next_update: Option<i64>,
    /// Every item's dates, read once for the freshness checks of every verification.
    dates: Result<Vec<ItemDates>, FreshnessError>,
}

/// The few TCB info fields needed to choose collateral.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TcbInfoSummary {
    id: Option<String>,
    fmspc: String,
    issue_date: String,
    next_update: String,
}

impl Collateral {
    /// Reads the JSON file at `path`.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Collateral {
            origin: format!("file {}", path.display()),
            reason: "not JSON text (invalid UTF-8)".into(),
        })?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Parses collateral JSON; `origin` (a file name) is used in error messages.
    pub fn from_json_str(json: &str, origin: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::Collateral {
            origin: origin.to_owned(),
            reason,
        };
        let inner: QuoteCollateralV3 =
            serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
        Self::from_collateral(inner, origin)
    }

    /// Wraps collateral already in dcap-qvl's type (e.g. produced by the simulated platform).
    pub fn from_collateral(inner: QuoteCollateralV3, origin: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::Collateral {
            origin: origin.to_owned(),
            reason,
        };
        let summary: TcbInfoSummary =
            serde_json::from_str(&inner.tcb_info).map_err(|e| err(format!("tcb_info: {e}")))?;
        let tee = match summary.id.as_deref() {
            None | Some("SGX") => Tee::Sgx,
            Some("TDX") => Tee::Tdx,
            Some(other) => {
                return Err(err(format!(
                    "tcb_info.id: expected SGX or TDX, got {other}"
                )))
            }
        };
        Ok(Self {
            tee,
            fmspc: summary.fmspc.to_lowercase(),
            issue_date: parse_rfc3339(&summary.issue_date),
            next_update: parse_rfc3339(&summary.next_update),
            dates: item_dates(&inner),
            inner,
            origin: origin.to_owned(),
        })
    }

    /// The dcap-qvl collateral.
    pub fn inner(&self) -> &QuoteCollateralV3 {
        &self.inner
    }

    /// Where it was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The TEE type its TCB info is for.
    pub fn tee(&self) -> Tee {
        self.tee
    }

    /// The FMSPC its TCB info is for (lower-case hex).
    pub fn fmspc(&self) -> &str {
        &self.fmspc
    }

    /// TCB info `issueDate` (Unix seconds), if parseable.
    pub fn issue_date(&self) -> Option<i64> {
        self.issue_date
    }

    /// TCB info `nextUpdate` (Unix seconds), if parseable.
    pub fn next_update(&self) -> Option<i64> {
        self.next_update
    }

    /// Issue date and `nextUpdate` of each item (TCB info, QE identity, PCK CRL, root CA CRL),
    /// or why they are unreadable; the freshness checks need them, dcap-qvl does not.
    pub fn item_dates(&self) -> Result<&[ItemDates], FreshnessError> {
        self.dates.as_deref().map_err(Clone::clone)
    }

    fn covers(&self, now: i64) -> bool {
        self.issue_date.is_none_or(|i| i <= now) && self.next_update.is_none_or(|n| now <= n)
    }
}

/// Where a verifier gets collateral for a quote. The collateral issue adds PCCS, cache and
/// bundles behind this trait.
pub trait CollateralSource: Send + Sync {
    /// Collateral for `quote`.
    fn collateral_for(&self, quote: &Quote) -> Result<Arc<Collateral>, Error>;

    /// Collateral for `quote` to be used at time `now`; sources holding several versions prefer
    /// one valid at `now`. Defaults to [`CollateralSource::collateral_for`].
    fn collateral_for_at(&self, quote: &Quote, now: SystemTime) -> Result<Arc<Collateral>, Error> {
        let _ = now;
        self.collateral_for(quote)
    }
}

/// Collateral loaded from files up front.
#[derive(Clone, Debug, Default)]
pub struct StaticCollateral {
    items: Vec<Arc<Collateral>>,
}

impl StaticCollateral {
    /// Nothing loaded yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One collateral.
    pub fn single(collateral: Collateral) -> Self {
        Self {
            items: vec![Arc::new(collateral)],
        }
    }

    /// Loads every file (dcap-qvl JSON layout).
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<Self, Error> {
        let items = paths
            .iter()
            .map(|p| Collateral::from_json_file(p).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(Self { items })
    }

    /// Adds a collateral.
    pub fn push(&mut self, collateral: Collateral) {
        self.items.push(Arc::new(collateral));
    }

    /// What is loaded.
    pub fn items(&self) -> &[Arc<Collateral>] {
        &self.items
    }

    fn select(&self, quote: &Quote, now: Option<i64>) -> Result<Arc<Collateral>, Error> {
        // One file: use it even when valid at another time (dcap-qvl then names the expired
        // item), but not for another platform: dcap-qvl would only say "Fmspc mismatch".
        if let [only] = self.items.as_slice() {
            let fits =
                quote_fmspc(quote).map_or(true, |f| only.tee == quote.tee() && only.fmspc == f);
            if fits {
                return Ok(Arc::clone(only));
            }
        }
        let fmspc = quote_fmspc(quote)?;
        let mut matching: Vec<&Arc<Collateral>> = self
            .items
            .iter()
            .filter(|c| c.tee == quote.tee() && c.fmspc == fmspc)
            .collect();
        // Prefer collateral valid at `now`, then the most recently issued.
        matching.sort_by_key(|c| {
            (
                now.is_some_and(|n| c.covers(n)),
                c.issue_date.unwrap_or(i64::MIN),
            )
        });
        matching
            .last()
            .map(|c| Arc::clone(c))
            .ok_or_else(|| Error::NoCollateral {
                tee: quote.tee().to_string(),
                fmspc,
                loaded: self
                    .items
                    .iter()
                    .map(|c| format!("{} {} ({})", c.tee, c.fmspc, c.origin))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl CollateralSource for StaticCollateral {
    fn collateral_for(&self, quote: &Quote) -> Result<Arc<Collateral>, Error> {
        self.select(quote, None)
    }

    fn collateral_for_at(&self, quote: &Quote, now: SystemTime) -> Result<Arc<Collateral>, Error> {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        self.select(quote, now)
    }
}

/// The FMSPC (lower-case hex) from the SGX extension (OID 1.2.840.113741.1.13.1.4) of the quote's
/// PCK leaf certificate.
pub fn quote_fmspc(quote: &Quote) -> Result<String, Error> {
    let pem = quote.pck_chain_pem().ok_or(Error::NoPckChain {
        cert_type: quote.certification_data().cert_type,
    })?;
    let ext = dcap_qvl::intel::parse_pck_extension_from_pem(pem.as_bytes()).map_err(|e| {
        Error::PckChain {
            reason: format!("PCK leaf SGX extension: {e:#}"),
        }
    })?;
    Ok(hex::encode(ext.fmspc))
}
