//! Issue dates and `nextUpdate` of every collateral item: TCB info and QE identity (their signed
//! JSON's `issueDate` / `nextUpdate`), PCK CRL and root CA CRL (`thisUpdate` / `nextUpdate`).

use std::fmt;
use std::time::{Duration, SystemTime};

use dcap_qvl::QuoteCollateralV3;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::crl::crl_dates;
use crate::Error;

/// One item of a collateral set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// The PCK CRL of the issuing CA.
    PckCrl,
    /// The QE (SGX) / TD_QE (TDX) identity.
    QeIdentity,
    /// The Intel SGX Root CA CRL.
    RootCaCrl,
    /// The TCB info for the FMSPC.
    TcbInfo,
}

impl Item {
    /// Human name used in messages (`TCB info`).
    pub fn name(&self) -> &'static str {
        match self {
            Item::PckCrl => "PCK CRL",
            Item::QeIdentity => "QE identity",
            Item::RootCaCrl => "root CA CRL",
            Item::TcbInfo => "TCB info",
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An item's validity: when it was issued and when the next version is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemDates {
    /// Which item.
    pub item: Item,
    /// `issueDate` (JSON) or `thisUpdate` (CRL), Unix seconds.
    pub issued: i64,
    /// `nextUpdate`, Unix seconds; `None` only for a CRL without one.
    pub next_update: Option<i64>,
}

/// The dates of all four items, in the order TCB info, QE identity, PCK CRL, root CA CRL.
pub fn item_dates(c: &QuoteCollateralV3) -> Result<Vec<ItemDates>, Error> {
    let mut out = Vec::with_capacity(4);
    for (item, text) in [
        (Item::TcbInfo, &c.tcb_info),
        (Item::QeIdentity, &c.qe_identity),
    ] {
        let (issued, next_update) = json_dates(text, item)?;
        out.push(ItemDates {
            item,
            issued,
            next_update: Some(next_update),
        });
    }
    for (item, der) in [
        (Item::PckCrl, &c.pck_crl),
        (Item::RootCaCrl, &c.root_ca_crl),
    ] {
        let d = crl_dates(der, item.name())?;
        out.push(ItemDates {
            item,
            issued: d.this_update,
            next_update: d.next_update,
        });
    }
    Ok(out)
}

/// The window in which every item is valid: latest issue date .. earliest `nextUpdate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Latest issue date / `thisUpdate` (Unix seconds).
    pub from: i64,
    /// Earliest `nextUpdate` (Unix seconds), with the item it belongs to.
    pub until: Option<(i64, Item)>,
}

/// The common validity window of `dates`.
pub fn window(dates: &[ItemDates]) -> Window {
    let from = dates.iter().map(|d| d.issued).max().unwrap_or(i64::MIN);
    let until = dates
        .iter()
        .filter_map(|d| d.next_update.map(|n| (n, d.item)))
        .min_by_key(|(n, _)| *n);
    Window { from, until }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dates {
    issue_date: String,
    next_update: String,
}

fn json_dates(text: &str, item: Item) -> Result<(i64, i64), Error> {
    let bad = |reason: String| Error::Config {
        origin: item.name().to_owned(),
        reason,
    };
    let d: Dates = serde_json::from_str(text).map_err(|e| bad(format!("JSON: {e}")))?;
    let issued = parse_rfc3339(&d.issue_date).ok_or_else(|| {
        bad(format!(
            "issueDate: expected RFC 3339, got {:?}",
            d.issue_date
        ))
    })?;
    let next = parse_rfc3339(&d.next_update).ok_or_else(|| {
        bad(format!(
            "nextUpdate: expected RFC 3339, got {:?}",
            d.next_update
        ))
    })?;
    Ok((issued, next))
}

/// Parses an RFC 3339 date to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Formats Unix seconds as RFC 3339 (`2025-08-06T09:06:43Z`).
pub fn fmt_unix(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// `now` as Unix seconds (times before 1970 clamp to 0).
pub fn unix(now: SystemTime) -> i64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// Duration as whole seconds, saturating.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Human-readable duration (`7days`, `1h 30m`).
pub(crate) fn fmt_duration(d: Duration) -> String {
    // Sub-second precision only matters for short timeouts (`300ms`).
    let d = if d.as_secs() < 60 {
        Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    } else {
        Duration::from_secs(d.as_secs())
    };
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_the_solana_sample() {
        let c: QuoteCollateralV3 = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/testdata/tdx/automata-solana-v4/collateral.dcap-qvl.json"
        )))
        .unwrap();
        let dates = item_dates(&c).unwrap();
        assert_eq!(dates[0].item, Item::TcbInfo);
        assert_eq!(fmt_unix(dates[0].issued), "2025-07-07T09:06:43Z");
        assert_eq!(fmt_unix(dates[1].issued), "2025-07-07T09:20:26Z");
        assert_eq!(fmt_unix(dates[2].issued), "2025-07-07T09:15:57Z");
        let w = window(&dates);
        assert_eq!(fmt_unix(w.from), "2025-07-07T09:20:26Z");
        let (until, item) = w.until.unwrap();
        assert_eq!(
            (fmt_unix(until).as_str(), item),
            ("2025-08-06T09:06:43Z", Item::TcbInfo)
        );
    }
}
