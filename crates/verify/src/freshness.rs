//! Collateral freshness (`docs/collateral.md`, "Freshness"), the one implementation behind the
//! policy's `max_collateral_age`, `--max-collateral-age` and the collateral sources' grace period.
//!
//! Every item of a collateral set has an issue date and a `nextUpdate`: TCB info and QE identity
//! in their signed JSON (`issueDate` / `nextUpdate`), the PCK CRL and the root CA CRL in the CRL
//! (`thisUpdate` / `nextUpdate`, RFC 5280 §5.1.2.4-5). [`FreshnessPolicy::check`] rejects a set
//! past an item's `nextUpdate` (optionally tolerating an explicit, logged grace period) and one
//! whose items were issued longer ago than a maximum age: a stale PCCS keeps serving old but
//! validly signed data, which signature checks alone cannot tell apart from fresh data.

use std::fmt;
use std::time::{Duration, SystemTime};

use dcap_qvl::QuoteCollateralV3;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::prelude::{CertificateRevocationList, FromDer};

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

    /// Whether the maximum age applies: not to the root CA CRL, which Intel re-issues yearly.
    fn ages(&self) -> bool {
        !matches!(self, Item::RootCaCrl)
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

/// `thisUpdate` / `nextUpdate` of a CRL (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlDates {
    /// `thisUpdate`.
    pub this_update: i64,
    /// `nextUpdate`, when present.
    pub next_update: Option<i64>,
}

/// Why collateral is not fresh enough at the time checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FreshnessError {
    /// An item's `nextUpdate` (plus grace, if any) is before the time checked.
    #[error("collateral {item} expired: nextUpdate {next_update} is before now {now}{grace}")]
    Expired {
        /// Which item.
        item: Item,
        /// Its `nextUpdate` (RFC 3339).
        next_update: String,
        /// The time checked (RFC 3339).
        now: String,
        /// `" (grace 2days exceeded)"` when a grace period is configured, else empty.
        grace: String,
    },
    /// An item was issued before `now - max_age`.
    #[error(
        "collateral {item} too old: issued {issued}, {age} before now {now}; max age {max_age}"
    )]
    TooOld {
        /// Which item.
        item: Item,
        /// Its issue date / `thisUpdate` (RFC 3339).
        issued: String,
        /// How long ago (human-readable).
        age: String,
        /// The time checked (RFC 3339).
        now: String,
        /// The configured maximum age.
        max_age: String,
    },
    /// An item's dates could not be read.
    #[error("collateral {item}: dates unreadable: {reason}")]
    Unreadable {
        /// Which item (`TCB info`, `PCK CRL`, ...).
        item: String,
        /// What failed, naming the field.
        reason: String,
    },
}

/// The freshness settings: `max_collateral_age` of the policy file and collateral configs,
/// `--max-collateral-age`, and the collateral sources' `collateral_grace`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreshnessPolicy {
    /// Maximum age of the TCB info, QE identity and PCK CRL issue dates (not the root CA CRL,
    /// which Intel re-issues yearly). `None`: no limit.
    pub max_age: Option<Duration>,
    /// Tolerance past `nextUpdate`, logged at warn on every use. `None`: none (default). A
    /// collateral-source setting: the [`crate::Verifier`] itself never uses one.
    pub grace: Option<Duration>,
}

impl FreshnessPolicy {
    /// Checks every item of `collateral` at `now`: expiry first, then the maximum age.
    pub fn check(
        &self,
        collateral: &QuoteCollateralV3,
        now: SystemTime,
    ) -> Result<(), FreshnessError> {
        self.check_dates(&item_dates(collateral)?, now)
    }

    /// [`FreshnessPolicy::check`] on dates already read ([`crate::Collateral::item_dates`]).
    pub fn check_dates(&self, dates: &[ItemDates], now: SystemTime) -> Result<(), FreshnessError> {
        self.check_expiry(dates, now)?;
        self.check_max_age(dates, now)
    }

    /// Rejects the earliest `nextUpdate` before `now` (plus grace): it is the item to refresh
    /// first. Within the grace period the use is logged at warn.
    pub fn check_expiry(&self, dates: &[ItemDates], now: SystemTime) -> Result<(), FreshnessError> {
        let now_s = unix(now);
        let expired = dates
            .iter()
            .filter_map(|d| d.next_update.map(|n| (n, d.item)))
            .filter(|(n, _)| now_s > *n)
            .min_by_key(|(n, _)| *n);
        let Some((next, item)) = expired else {
            return Ok(());
        };
        let grace = self.grace.map(secs).unwrap_or(0);
        if now_s > next.saturating_add(grace) {
            return Err(FreshnessError::Expired {
                item,
                next_update: fmt_unix(next),
                now: fmt_unix(now_s),
                grace: self
                    .grace
                    .map(|g| format!(" (grace {} exceeded)", fmt_duration(g)))
                    .unwrap_or_default(),
            });
        }
        tracing::warn!(
            item = %item,
            next_update = %fmt_unix(next),
            now = %fmt_unix(now_s),
            "collateral past nextUpdate accepted within the configured grace period"
        );
        Ok(())
    }

    /// Rejects the oldest TCB info / QE identity / PCK CRL issued more than `max_age` before
    /// `now`; nothing to check without a maximum age.
    pub fn check_max_age(
        &self,
        dates: &[ItemDates],
        now: SystemTime,
    ) -> Result<(), FreshnessError> {
        let Some(max_age) = self.max_age else {
            return Ok(());
        };
        let now_s = unix(now);
        let oldest = dates
            .iter()
            .filter(|d| d.item.ages())
            .filter(|d| now_s.saturating_sub(d.issued) > secs(max_age))
            .min_by_key(|d| d.issued);
        match oldest {
            None => Ok(()),
            Some(d) => Err(FreshnessError::TooOld {
                item: d.item,
                issued: fmt_unix(d.issued),
                age: fmt_duration(Duration::from_secs(
                    u64::try_from(now_s.saturating_sub(d.issued)).unwrap_or(0),
                )),
                now: fmt_unix(now_s),
                max_age: fmt_duration(max_age),
            }),
        }
    }
}

/// The dates of all four items, in the order TCB info, QE identity, PCK CRL, root CA CRL.
pub fn item_dates(c: &QuoteCollateralV3) -> Result<Vec<ItemDates>, FreshnessError> {
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

/// Parses a DER CRL (nothing may follow it) and returns its dates; `item` names it in errors.
pub fn crl_dates(der: &[u8], item: &str) -> Result<CrlDates, FreshnessError> {
    let unreadable = |reason: String| FreshnessError::Unreadable {
        item: item.to_owned(),
        reason,
    };
    let (rest, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| unreadable(format!("not an X.509 CRL: {e}")))?;
    if !rest.is_empty() {
        return Err(unreadable(format!(
            "{} trailing bytes after the CRL",
            rest.len()
        )));
    }
    Ok(CrlDates {
        this_update: crl.last_update().timestamp(),
        next_update: crl.next_update().map(|t| t.timestamp()),
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonDates {
    issue_date: String,
    next_update: String,
}

fn json_dates(text: &str, item: Item) -> Result<(i64, i64), FreshnessError> {
    let unreadable = |reason: String| FreshnessError::Unreadable {
        item: item.name().to_owned(),
        reason,
    };
    let d: JsonDates = serde_json::from_str(text).map_err(|e| unreadable(format!("JSON: {e}")))?;
    let date = |field: &str, value: &str| {
        parse_rfc3339(value)
            .ok_or_else(|| unreadable(format!("{field}: expected RFC 3339, got {value:?}")))
    };
    Ok((
        date("issueDate", &d.issue_date)?,
        date("nextUpdate", &d.next_update)?,
    ))
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
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Human-readable duration (`7days`, `1h 30m`, `300ms`).
pub fn fmt_duration(d: Duration) -> String {
    // Sub-second precision only matters for short timeouts (`300ms`).
    let d = if d.as_secs() < 60 {
        Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    } else {
        Duration::from_secs(d.as_secs())
    };
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // tests of fixed samples
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(parse_rfc3339(s).unwrap() as u64)
    }

    fn june() -> QuoteCollateralV3 {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/tdx/automata-evm-v4-extra/collateral_v4_0625.dcap-qvl.json"
        )))
        .unwrap()
    }

    fn max_age_7d() -> FreshnessPolicy {
        FreshnessPolicy {
            max_age: Some(Duration::from_secs(7 * 86400)),
            grace: None,
        }
    }

    /// Issue 7: the June 2025 set passes a 7-day maximum age on 2025-06-05, not on 2025-06-20.
    #[test]
    fn max_age_accepts_june_set_on_june_5_rejects_on_june_20() {
        max_age_7d()
            .check(&june(), at("2025-06-05T00:00:00Z"))
            .unwrap();
        let err = max_age_7d()
            .check(&june(), at("2025-06-20T00:00:00Z"))
            .unwrap_err();
        assert!(
            matches!(
                err,
                FreshnessError::TooOld {
                    item: Item::PckCrl,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "collateral PCK CRL too old: issued 2025-06-04T09:19:31Z, 15days 14h 40m 29s before now \
             2025-06-20T00:00:00Z; max age 7days"
        );
        // Without a max age the same set is still inside its window.
        FreshnessPolicy::default()
            .check(&june(), at("2025-06-20T00:00:00Z"))
            .unwrap();
    }

    #[test]
    fn expiry_names_item_and_date_and_grace_is_explicit() {
        let now = at("2025-07-05T00:00:00Z");
        let err = FreshnessPolicy::default().check(&june(), now).unwrap_err();
        let FreshnessError::Expired {
            item, next_update, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(*item, Item::PckCrl);
        assert_eq!(next_update, "2025-07-04T09:19:31Z");
        let graced = FreshnessPolicy {
            max_age: None,
            grace: Some(Duration::from_secs(86400)),
        };
        graced.check(&june(), now).unwrap();
        let err = graced
            .check(&june(), at("2025-07-06T00:00:00Z"))
            .unwrap_err();
        assert!(err.to_string().ends_with("(grace 1day exceeded)"), "{err}");
    }

    #[test]
    fn max_age_is_inclusive_and_spares_the_root_ca_crl() {
        let dates = [
            ItemDates {
                item: Item::TcbInfo,
                issued: 0,
                next_update: None,
            },
            ItemDates {
                item: Item::RootCaCrl,
                issued: -400 * 86400,
                next_update: None,
            },
        ];
        let week = 7 * 86400;
        let at_secs = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        max_age_7d().check_dates(&dates, at_secs(week)).unwrap();
        let err = max_age_7d()
            .check_dates(&dates, at_secs(week + 86400))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "collateral TCB info too old: issued 1970-01-01T00:00:00Z, 8days before now \
             1970-01-09T00:00:00Z; max age 7days"
        );
    }

    #[test]
    fn dates_of_every_item_in_order() {
        let dates = item_dates(&june()).unwrap();
        let items: Vec<Item> = dates.iter().map(|d| d.item).collect();
        assert_eq!(
            items,
            [
                Item::TcbInfo,
                Item::QeIdentity,
                Item::PckCrl,
                Item::RootCaCrl
            ]
        );
        let pck_crl = dates[2];
        assert_eq!(fmt_unix(pck_crl.issued), "2025-06-04T09:19:31Z");
        assert_eq!(
            pck_crl.next_update.map(fmt_unix).as_deref(),
            Some("2025-07-04T09:19:31Z")
        );
        assert!(dates.iter().all(|d| d.next_update > Some(d.issued)));
    }

    #[test]
    fn unreadable_dates_name_item_and_field() {
        let mut c = june();
        c.tcb_info = r#"{"issueDate":"yesterday","nextUpdate":"2025-07-04T09:19:31Z"}"#.into();
        let err = item_dates(&c).unwrap_err();
        assert_eq!(
            err.to_string(),
            "collateral TCB info: dates unreadable: issueDate: expected RFC 3339, got \"yesterday\""
        );
        let err = crl_dates(&[0x30, 0x03, 1, 2, 3], "PCK CRL").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("collateral PCK CRL: dates unreadable: not an X.509 CRL"),
            "{err}"
        );
    }
}
