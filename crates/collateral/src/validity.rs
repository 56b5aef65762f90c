//! Issue dates and `nextUpdate` of every collateral item: TCB info and QE identity (their signed
//! JSON's `issueDate` / `nextUpdate`), PCK CRL and root CA CRL (`thisUpdate` / `nextUpdate`), read by
//! [`initra_verify::freshness`] (re-exported here), and the window in which a set is valid.

// The dates and their formatting live with the freshness check in `initra_verify::freshness`.
pub(crate) use initra_verify::freshness::{fmt_duration, secs};
pub use initra_verify::freshness::{fmt_unix, item_dates, parse_rfc3339, unix, Item, ItemDates};

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

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use dcap_qvl::QuoteCollateralV3;

    use super::*;

    #[test]
    fn dates_of_the_solana_sample() {
        let c: QuoteCollateralV3 = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/tdx/automata-solana-v4/collateral.dcap-qvl.json"
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
