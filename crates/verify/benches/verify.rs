//! Quote verification throughput: the real SGX sample (dcap-qvl sample quote + collateral) at a
//! pinned time inside its collateral window, through the full `Verifier` (parse, root selection,
//! dcap-qvl, policy), plus the parser alone.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use initra_evidence::Quote;
use initra_verify::{Policy, StaticCollateral, TcbStatus, TrustRoots, Verifier};

const QUOTE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/sgx/dcapqvl-sgx-v3/sgx_quote.bin"
);
const COLLATERAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/sgx/dcapqvl-sgx-v3/sgx_quote_collateral.json"
);
/// 2025-07-01T00:00:00Z, inside the sample's collateral window.
const PINNED: u64 = 1_751_328_000;

fn bench(c: &mut Criterion) {
    let quote = std::fs::read(QUOTE).unwrap();
    let policy = Policy::default().with_accepted_statuses(vec![
        TcbStatus::UpToDate,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
    ]);
    let verifier = Verifier::new(
        TrustRoots::intel(),
        Arc::new(StaticCollateral::from_files(&[COLLATERAL]).unwrap()),
        Arc::new(policy),
    );
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(PINNED);
    assert!(verifier.verify(&quote, now).unwrap().is_accepted());

    c.bench_function("verify_sgx_v3_sample", |b| {
        b.iter(|| verifier.verify(black_box(&quote), now).unwrap())
    });
    c.bench_function("parse_sgx_v3_sample", |b| {
        b.iter(|| Quote::parse(black_box(&quote)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
