//! Quote verification throughput: the real SGX sample (dcap-qvl sample quote + collateral) at a
//! pinned time inside its collateral window, through the full `Verifier` (parse, root selection,
//! dcap-qvl, policy), plus the parser alone; the TDX v4 sample likewise; and the SEV-SNP sample (virtee Milan report with its
//! VCEK and AMD chain) through `verify_evidence` with the certificate table, as the server gets it
//! from an RA-TLS certificate.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use initra_evidence::snp::{CertTable, GUID_ARK, GUID_ASK, GUID_VCEK};
use initra_evidence::Quote;
use initra_verify::{Policy, SnpCollateral, StaticCollateral, TcbStatus, TrustRoots, Verifier};

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
const TDX_QUOTE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/tdx/dcapqvl-tdx-v4/tdx_quote.bin"
);
const TDX_COLLATERAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/tdx/dcapqvl-tdx-v4/tdx_quote_collateral.json"
);
const SNP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/snp/virtee");
/// 2025-06-01T00:00:00Z, inside the SNP sample certificates' validity.
const SNP_PINNED: u64 = 1_748_736_000;

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

    // TDX v4 (UpToDate at the same pinned time), with a policy that pins its MRTD.
    let tdx_quote = std::fs::read(TDX_QUOTE).unwrap();
    let mr_td = match initra_verify::Claims::from_quote(&Quote::parse(&tdx_quote).unwrap()) {
        initra_verify::Claims::Tdx(c) => c.mr_td.to_string(),
        _ => panic!("the TDX sample is not a TDX quote"),
    };
    let tdx_policy = Policy::from_bytes(
        format!(r#"{{"identities": [{{"tee": "tdx", "mr_td": "{mr_td}"}}]}}"#).as_bytes(),
        "bench",
    )
    .unwrap();
    let tdx_verifier = Verifier::new(
        TrustRoots::intel(),
        Arc::new(StaticCollateral::from_files(&[TDX_COLLATERAL]).unwrap()),
        Arc::new(tdx_policy),
    );
    assert!(tdx_verifier.verify(&tdx_quote, now).unwrap().is_accepted());
    c.bench_function("verify_tdx_v4_sample", |b| {
        b.iter(|| tdx_verifier.verify(black_box(&tdx_quote), now).unwrap())
    });

    let report = initra_evidence::input::decode_evidence(
        &std::fs::read(format!("{SNP_DIR}/report_milan.hex")).unwrap(),
    )
    .unwrap();
    let chain = SnpCollateral::from_files(
        format!("{SNP_DIR}/vcek_milan.der").as_ref(),
        format!("{SNP_DIR}/cert_chain_milan.pem").as_ref(),
    )
    .unwrap();
    let table = CertTable::encode(&[
        (GUID_VCEK, chain.vcek.as_slice()),
        (GUID_ASK, chain.chain[0].as_slice()),
        (GUID_ARK, chain.chain[1].as_slice()),
    ])
    .unwrap();
    let snp_now = SystemTime::UNIX_EPOCH + Duration::from_secs(SNP_PINNED);
    assert!(verifier
        .verify_evidence(&report, Some(&table), snp_now)
        .unwrap()
        .is_accepted());
    c.bench_function("verify_snp_milan_sample_with_cert_table", |b| {
        b.iter(|| {
            verifier
                .verify_evidence(black_box(&report), Some(&table), snp_now)
                .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
