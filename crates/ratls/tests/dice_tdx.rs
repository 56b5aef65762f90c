//! A TDX workload's RA-TLS certificate carries its quote as TCG DICE tagged evidence (docs/ratls.md): the
//! quote's report data binds SHA-256 of the claims, and the claims name SHA-256 of the certificate key.

use initra_attest::{Attester, Backend, Error};
use initra_ratls::{read_certificate, CertOptions, EvidenceFormat, RaTlsIdentity};

/// Offset of report_data in a TDX v4 quote: 48-byte header + 520 bytes into the TD 1.0 report body.
const TDX_V4_REPORT_DATA: usize = 48 + 520;

/// Stands in for configfs-tsm: a real TDX v4 quote whose report data is replaced by what is asked for
/// (its signature no longer verifies, which the binding check does not look at).
struct FakeTdx(Vec<u8>);

impl Attester for FakeTdx {
    fn backend(&self) -> Backend {
        Backend::Tdx
    }
    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Error> {
        let mut q = self.0.clone();
        q[TDX_V4_REPORT_DATA..TDX_V4_REPORT_DATA + 64].copy_from_slice(report_data);
        Ok(q)
    }
}

#[test]
fn tdx_evidence_goes_into_dice_tagged_evidence_and_binds() {
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/tdx/dcapqvl-tdx-v4/tdx_quote.bin"
    ))
    .unwrap();
    let quote_len = sample.len() - 70; // the sample carries 70 bytes of zero padding
    let attester = FakeTdx(sample[..quote_len].to_vec());
    let id = RaTlsIdentity::generate(&attester, &CertOptions::default()).unwrap();
    let ev = read_certificate(id.cert_der()).unwrap();
    let bound = ev.bound().unwrap();
    assert_eq!(bound.format, EvidenceFormat::TcgDice);
    assert!(bound.binding.holds, "{:?}", bound.binding);
    assert_eq!(ev.bound_quote().unwrap(), id.quote());
    // The quote's report data is not the SPKI hash (that is the SGX/Occlum rule) but the claims hash.
    let spki_hash = &bound.binding.expected;
    assert_eq!(bound.binding.actual, *spki_hash);
    assert_ne!(
        &id.quote()[TDX_V4_REPORT_DATA..TDX_V4_REPORT_DATA + 32],
        &[0u8; 32][..]
    );
}
