//! Freshness of collateral sources: the settings (`max_collateral_age`, `collateral_grace`) parsed
//! from configs and flags, and [`FreshnessChecked`], which applies them to a source at the
//! verification time. The check itself is [`initra_verify::FreshnessPolicy`] (re-exported here),
//! the one the [`initra_verify::Verifier`] runs for the policy's `max_collateral_age`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use initra_evidence::Quote;
use initra_verify::{Collateral, CollateralSource};
pub use initra_verify::{FreshnessError, FreshnessPolicy};

/// The freshness policy from human-readable durations (`7d`, `12h`), as in configs and flags.
pub fn from_strs(
    max_age: Option<&str>,
    grace: Option<&str>,
) -> Result<FreshnessPolicy, crate::Error> {
    Ok(FreshnessPolicy {
        max_age: max_age
            .map(|s| parse_duration(s, "max collateral age"))
            .transpose()?,
        grace: grace
            .map(|s| parse_duration(s, "collateral grace"))
            .transpose()?,
    })
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
        self.policy.check_dates(c.item_dates()?, now)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_parsed_and_bad_ones_named() {
        let p = from_strs(Some("7d"), Some("12h")).unwrap();
        assert_eq!(p.max_age, Some(Duration::from_secs(7 * 86400)));
        assert_eq!(p.grace, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(from_strs(None, None).unwrap(), FreshnessPolicy::default());
        let err = from_strs(None, Some("soon")).unwrap_err().to_string();
        assert!(
            err.starts_with("collateral grace: expected a duration like 7d or 12h, got \"soon\""),
            "{err}"
        );
    }
}
