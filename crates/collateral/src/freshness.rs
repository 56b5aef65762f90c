//! Freshness policy: reject collateral past `nextUpdate` (naming the item and date), optionally
//! reject items issued longer ago than a maximum age (a stale PCCS keeps serving old but validly
//! signed data), and optionally tolerate an explicit, logged grace period past `nextUpdate`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dcap_qvl::QuoteCollateralV3;
use initra_evidence::Quote;
use initra_verify::{Collateral, CollateralSource};

use crate::validity::{fmt_duration, fmt_unix, item_dates, secs, unix, Item};

/// Why collateral is not fresh enough at `now`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FreshnessError {
    /// An item's `nextUpdate` (plus grace, if any) is before `now`.
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
        /// Which item (or the whole set).
        item: String,
        /// What failed.
        reason: String,
    },
}

/// The freshness settings (`max_collateral_age`, `collateral_grace` in configs,
/// `--max-collateral-age` on the command line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreshnessPolicy {
    /// Maximum age of the TCB info, QE identity and PCK CRL issue dates (not the root CA CRL,
    /// which Intel re-issues yearly). `None`: no limit.
    pub max_age: Option<Duration>,
    /// Tolerance past `nextUpdate`, logged at warn on every use. `None`: none (default).
    pub grace: Option<Duration>,
}

impl FreshnessPolicy {
    /// Parses the settings from human-readable durations (`7d`, `12h`), as in configs and flags.
    pub fn from_strs(max_age: Option<&str>, grace: Option<&str>) -> Result<Self, crate::Error> {
        Ok(Self {
            max_age: max_age
                .map(|s| parse_duration(s, "max collateral age"))
                .transpose()?,
            grace: grace
                .map(|s| parse_duration(s, "collateral grace"))
                .transpose()?,
        })
    }

    /// Checks every item of `collateral` at `now`.
    pub fn check(
        &self,
        collateral: &QuoteCollateralV3,
        now: SystemTime,
    ) -> Result<(), FreshnessError> {
        let dates = item_dates(collateral).map_err(|e| FreshnessError::Unreadable {
            item: "set".into(),
            reason: e.to_string(),
        })?;
        let now_s = unix(now);
        let grace = self.grace.map(secs).unwrap_or(0);
        // The earliest expiry is the one to report: it is the item to refresh first.
        let expired = dates
            .iter()
            .filter_map(|d| d.next_update.map(|n| (n, d.item)))
            .filter(|(n, _)| now_s > *n)
            .min_by_key(|(n, _)| *n);
        if let Some((next, item)) = expired {
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
        }
        if let Some(max_age) = self.max_age {
            // The oldest item is reported; the root CA CRL is exempt (re-issued yearly).
            let oldest = dates
                .iter()
                .filter(|d| matches!(d.item, Item::TcbInfo | Item::QeIdentity | Item::PckCrl))
                .filter(|d| now_s.saturating_sub(d.issued) > secs(max_age))
                .min_by_key(|d| d.issued);
            if let Some(d) = oldest {
                let age = u64::try_from(now_s.saturating_sub(d.issued)).unwrap_or(0);
                return Err(FreshnessError::TooOld {
                    item: d.item,
                    issued: fmt_unix(d.issued),
                    age: fmt_duration(Duration::from_secs(age)),
                    now: fmt_unix(now_s),
                    max_age: fmt_duration(max_age),
                });
            }
        }
        Ok(())
    }
}

/// Parses `7d`, `36h`, `1week 2days` (humantime).
pub fn parse_duration(s: &str, what: &str) -> Result<Duration, crate::Error> {
    humantime::parse_duration(s.trim()).map_err(|e| crate::Error::Config {
        origin: what.to_owned(),
        reason: format!("expected a duration like 7d or 12h, got {s:?}: {e}"),
    })
}

/// A source whose collateral must also pass a [`FreshnessPolicy`] at the verification time.
pub struct FreshnessChecked<S> {
    inner: S,
    policy: FreshnessPolicy,
}

impl<S: CollateralSource> FreshnessChecked<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, policy: FreshnessPolicy) -> Self {
        Self { inner, policy }
    }

    /// The policy applied.
    pub fn policy(&self) -> FreshnessPolicy {
        self.policy
    }
}

impl<S: CollateralSource> CollateralSource for FreshnessChecked<S> {
    collateral_for_now!();

    fn collateral_for_at(
        &self,
        quote: &Quote,
        now: SystemTime,
    ) -> Result<Arc<Collateral>, initra_verify::Error> {
        let c = self.inner.collateral_for_at(quote, now)?;
        self.policy
            .check(c.inner(), now)
            .map_err(|e| crate::Error::from(e).into_verify_error())?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        let t = crate::validity::parse_rfc3339(s).unwrap();
        SystemTime::UNIX_EPOCH + Duration::from_secs(t as u64)
    }

    fn june() -> QuoteCollateralV3 {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/testdata/tdx/automata-evm-v4-extra/collateral_v4_0625.dcap-qvl.json"
        )))
        .unwrap()
    }

    #[test]
    fn max_age_accepts_june_set_on_june_5_rejects_on_june_20() {
        let policy = FreshnessPolicy::from_strs(Some("7d"), None).unwrap();
        policy.check(&june(), at("2025-06-05T00:00:00Z")).unwrap();
        let err = policy
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
}
