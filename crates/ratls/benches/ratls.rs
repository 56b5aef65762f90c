//! RA-TLS certificate creation with the simulated attester: P-256 key generation, quote (one ECDSA
//! signature by the attestation key), self-signed certificate. Also reading a certificate back.

// A benchmark harness: setup failures should abort loudly, and criterion's macros generate
// undocumented items.
#![allow(clippy::unwrap_used, missing_docs)]
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use initra_attest::sim::{SimAttester, SimOptions, SimPlatform};
use initra_attest::EnclaveIdentity;
use initra_evidence::Measurement;
use initra_ratls::{read_certificate, CertOptions, RaTlsIdentity};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let platform =
        Arc::new(SimPlatform::create(&dir.path().join("sim"), &SimOptions::default()).unwrap());
    let identity = EnclaveIdentity::new(Measurement([0x11; 32]), platform.mr_signer());
    let attester = SimAttester::new(platform, identity).unwrap();
    let opts = CertOptions::default();

    c.bench_function("ratls_cert_create_sim", |b| {
        b.iter(|| RaTlsIdentity::generate(&attester, &opts).unwrap())
    });
    let id = RaTlsIdentity::generate(&attester, &opts).unwrap();
    c.bench_function("ratls_cert_read_and_bind", |b| {
        b.iter(|| {
            read_certificate(id.cert_der())
                .unwrap()
                .bound_quote()
                .unwrap()
                .len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
