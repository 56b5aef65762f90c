//! The CCC "Interoperable RA-TLS" certificates (testdata/ratls/ccc, values in its README).

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use initra_evidence::{Quote, QuoteBody};
use initra_ratls::{read_certificate_pem_or_der, BindingRule, EvidenceFormat};

const GRAMINE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/ratls/ccc/gramine-cert.pem"
);
const SGXSDK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/ratls/ccc/intel-sgxsdk-cert.pem"
);

fn sgx_fields(quote: &[u8]) -> (String, String, u16, u16, bool) {
    let quote = Quote::parse(quote).unwrap();
    let QuoteBody::Sgx(r) = quote.body() else {
        panic!("not an SGX quote")
    };
    (
        r.mr_enclave.to_hex(),
        r.mr_signer.to_hex(),
        r.isv_prod_id,
        r.isv_svn,
        quote.is_debug(),
    )
}

#[test]
fn gramine_cert_legacy_malformed_oid_and_dice_both_bind() {
    let ev = read_certificate_pem_or_der(&std::fs::read(GRAMINE).unwrap()).unwrap();
    assert!(ev.undecodable.is_empty(), "{:?}", ev.undecodable);
    assert_eq!(ev.key_algorithm, "1.2.840.10045.2.1"); // EC (P-384)
    assert_eq!(
        ev.spki_sha256,
        "5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851"
    );
    let formats: Vec<_> = ev.extensions.iter().map(|e| e.format).collect();
    assert_eq!(
        formats,
        [
            EvidenceFormat::GramineLegacyMalformedOid,
            EvidenceFormat::TcgDice
        ]
    );

    let legacy = &ev.extensions[0];
    assert_eq!(legacy.oid, "0.6.9.42.840.113741.1337.6");
    assert_eq!(legacy.binding.rule, BindingRule::SpkiSha256);
    assert!(legacy.binding.holds, "{:?}", legacy.binding);
    assert_eq!(legacy.binding.actual, ev.spki_sha256);
    assert_eq!(legacy.quote.len(), 4734);

    let dice = &ev.extensions[1];
    assert_eq!(dice.binding.rule, BindingRule::DiceClaims);
    assert!(dice.binding.holds, "{:?}", dice.binding);
    assert!(
        dice.binding.expected.starts_with("d8673446"),
        "{}",
        dice.binding.expected
    );
    assert!(
        dice.binding.expected.ends_with("2831"),
        "{}",
        dice.binding.expected
    );

    for ext in &ev.extensions {
        let (mre, mrs, prod, svn, debug) = sgx_fields(&ext.quote);
        assert_eq!(
            mre,
            "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585"
        );
        assert_eq!(
            mrs,
            "adc53501f21ced9b998e37a7a18e061c63e00315045fa57a49c18ef0a30d02ca"
        );
        assert_eq!((prod, svn, debug), (0, 0, true));
    }
    assert_eq!(ev.bound_quote().unwrap(), legacy.quote.as_slice());
}

#[test]
fn intel_sgx_sdk_cert_binds_through_the_dice_claims() {
    let ev = read_certificate_pem_or_der(&std::fs::read(SGXSDK).unwrap()).unwrap();
    assert!(ev.undecodable.is_empty(), "{:?}", ev.undecodable);
    assert!(
        ev.spki_sha256.starts_with("f306ed60") && ev.spki_sha256.ends_with("2026"),
        "{}",
        ev.spki_sha256
    );
    let formats: Vec<_> = ev.extensions.iter().map(|e| e.format).collect();
    assert!(
        formats.contains(&EvidenceFormat::IntelSgxSdk)
            && formats.contains(&EvidenceFormat::TcgDice),
        "{formats:?}"
    );
    for ext in &ev.extensions {
        assert_eq!(ext.binding.rule, BindingRule::DiceClaims);
        assert!(ext.binding.holds, "{}: {:?}", ext.format, ext.binding);
        assert!(
            ext.binding.expected.starts_with("e551b081") && ext.binding.expected.ends_with("74c9")
        );
        let (mre, mrs, _, _, debug) = sgx_fields(&ext.quote);
        assert_eq!(
            mre,
            "09e218a4be9dadbf7cdc82c45497d6d4f676d3b75445fc37a376f0b65b47de6a"
        );
        assert_eq!(
            mrs,
            "e0c86c51e05ad8592673db348155bddf4bcad6131a5205ce4265c0d795803ba2"
        );
        assert!(debug);
    }
    let sdk = ev
        .extensions
        .iter()
        .find(|e| e.format == EvidenceFormat::IntelSgxSdk)
        .unwrap();
    assert_eq!(sdk.quote.len(), 4600);
}

#[test]
fn der_and_pem_read_the_same() {
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(GRAMINE).unwrap();
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    let a = read_certificate_pem_or_der(&pem).unwrap();
    let b = initra_ratls::read_certificate(&der).unwrap();
    assert_eq!(a.spki_der, b.spki_der);
    assert_eq!(a.extensions.len(), b.extensions.len());
}

#[test]
fn garbage_is_a_certificate_error_not_a_panic() {
    for input in [
        &b""[..],
        b"\x30",
        b"\x30\x82\xff\xff",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"hello",
    ] {
        let err = read_certificate_pem_or_der(input).unwrap_err();
        assert!(err.to_string().starts_with("certificate: "), "{err}");
    }
}
