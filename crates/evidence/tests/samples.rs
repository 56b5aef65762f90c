//! Every sample quote of testdata parses with the field values its README states.

// Test helpers may panic: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use initra_evidence::input::decode_evidence;
use initra_evidence::quote::{Quote, QuoteBody, Tee};
use initra_evidence::{EnclaveReport, Error, TdReport};

macro_rules! sample {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/", $p)
    };
}

fn load(path: &str) -> Quote {
    let bytes = std::fs::read(path).unwrap();
    Quote::parse(&decode_evidence(&bytes).unwrap()).unwrap()
}

fn sgx(q: &Quote) -> &EnclaveReport {
    match q.body() {
        QuoteBody::Sgx(r) => r,
        QuoteBody::Tdx(_) => panic!("expected SGX"),
    }
}

fn tdx(q: &Quote) -> &TdReport {
    match q.body() {
        QuoteBody::Tdx(r) => r,
        QuoteBody::Sgx(_) => panic!("expected TDX"),
    }
}

fn zeros(n: usize) -> String {
    "0".repeat(n * 2)
}

#[test]
fn dcapqvl_sgx_v3() {
    let q = load(sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin"));
    assert_eq!(q.tee(), Tee::Sgx);
    assert_eq!(q.raw().len(), 4600);
    let h = q.header();
    assert_eq!(
        (h.version, h.att_key_type, h.qe_svn, h.pce_svn),
        (3, 2, 10, 15)
    );
    let r = sgx(&q);
    assert_eq!(
        r.mr_enclave.to_string(),
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(
        r.mr_signer.to_string(),
        "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
    );
    assert_eq!((r.isv_prod_id, r.isv_svn), (0, 0));
    assert_eq!(r.attributes.to_string(), "0500000000000000e700000000000000");
    assert!(!r.is_debug() && !q.is_debug());
    assert_eq!(
        q.report_data().to_string(),
        format!("{}{}", hex::encode("Hello, world!"), zeros(64 - 13))
    );
    let qe = q.qe_report();
    assert_eq!(
        qe.mr_signer.to_string(),
        "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff"
    );
    assert_eq!((qe.isv_prod_id, qe.isv_svn), (1, 10));
    let pem = q.pck_chain_pem().unwrap();
    assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    assert!(!pem.ends_with('\0'));
    assert_eq!(q.certification_data().cert_type, 5);
    assert_eq!(q.signed_bytes().len(), 48 + 384);
}

#[test]
fn trustee_occlum_v3_debug_enclave() {
    let q = load(sample!("sgx/trustee-occlum-v3/occlum_quote.dat"));
    let h = q.header();
    assert_eq!(
        (h.version, h.att_key_type, h.qe_svn, h.pce_svn),
        (3, 2, 8, 13)
    );
    assert_eq!(
        hex::encode(h.qe_vendor_id),
        "939a7233f79c4ca9940a0db3957f0607"
    );
    assert_eq!(
        hex::encode(h.user_data),
        "dccde9b31ce8860548173bb4a2a57a1600000000"
    );
    let r = sgx(&q);
    assert_eq!(r.cpu_svn.to_string(), "06060c0cffff00000000000000000000");
    assert_eq!(r.misc_select, 1);
    assert_eq!(r.attributes.flags, 7);
    assert_eq!(r.attributes.xfrm, 0xe7);
    assert!(r.is_debug());
    assert_eq!(
        r.mr_enclave.to_string(),
        "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68"
    );
    assert_eq!(
        r.mr_signer.to_string(),
        "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"
    );
    assert_eq!((r.isv_prod_id, r.isv_svn, r.config_svn), (0, 0, 0));
    assert_eq!(
        q.report_data().to_string(),
        format!("74657374{}", zeros(60))
    );
}

#[test]
fn mobilecoin_v3() {
    let q = load(sample!("sgx/mobilecoin-v3/hw_quote.dat"));
    let r = sgx(&q);
    assert_eq!(
        r.mr_enclave.to_string(),
        "1dd0df84810e53e26b2b167dfe0f97cc4364085fe0bd41d5e18a759c21d5c189"
    );
    assert_eq!(
        r.mr_signer.to_string(),
        "d412a4f07ef83892a5915fb2ab584be31e186e5a4f95ab5f6950fd4eb8694d7b"
    );
    assert!(r.is_debug());
    assert!(q.report_data().is_zero());
}

#[test]
fn dcapqvl_tdx_v4_padded_70() {
    let bytes = std::fs::read(sample!("tdx/dcapqvl-tdx-v4/tdx_quote.bin")).unwrap();
    assert_eq!(bytes.len(), 5006);
    let q = Quote::parse(&bytes).unwrap();
    assert_eq!(q.raw().len(), 5006 - 70);
    assert_eq!(q.raw(), &bytes[..5006 - 70]);
    assert_eq!(q.tee(), Tee::Tdx);
    assert_eq!(q.version(), 4);
    let r = tdx(&q);
    assert_eq!(
        r.tee_tcb_svn.to_string(),
        "06010300000000000000000000000000"
    );
    assert_eq!(r.td_attributes.to_string(), "0000001000000000");
    assert!(!r.is_debug());
    assert_eq!(
        r.mr_td.to_string(),
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
    );
    assert_eq!(
        q.report_data().to_string(),
        "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"
    );
    assert!(r.tee_tcb_svn2.is_none() && r.mr_servicetd.is_none());
    assert_eq!(
        q.pck_chain_pem()
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        3
    );
}

#[test]
fn dcapqvl_tdx_hex_with_0x_prefix() {
    let q = load(sample!("tdx/dcapqvl-tdx-v4/tdx-quote.hex"));
    let r = tdx(&q);
    assert!(r.tee_tcb_svn.to_string().starts_with("05010200"));
    assert_eq!(
        r.mr_td.to_string(),
        "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29"
    );
    assert_eq!(
        r.rtmr0.to_string(),
        "4574c098915caf3e82057817dbd135c1ed0ee1b39ac300c921479e2f5ebf5726a13ee0c8745ac891b6aee7c4f9664610"
    );
    assert!(r.rtmr1.is_zero() && r.rtmr2.is_zero());
    assert_eq!(
        r.rtmr3.to_string(),
        "547fcba4630bfb981169a8a1903b79c244933413409dd0387acbd8e3b985bcc9164cf52735cd31f60bf2c5d1220c113f"
    );
    assert!(q.report_data().to_string().starts_with("7148f47e"));
    assert!(q.report_data().to_string().ends_with("fcd8a"));
}

#[test]
fn dcapqvl_near_hex() {
    let q = load(sample!("tdx/dcapqvl-near-v4/quote_hex.txt"));
    let r = tdx(&q);
    assert!(r.tee_tcb_svn.to_string().starts_with("06010400"));
    assert_eq!(
        r.mr_td.to_string(),
        "f06dfda6dce1cf904d4e2bab1dc370634cf95cefa2ceb2de2eee127c9382698090d7a4a13e14c536ec6c9c3c8fa87077"
    );
    let rd = "0001d579ba6e734a1046feb6112f852df5f4f1e44a4e7ce1755ce3b07bd6aaab04e89ca01fdf4956d2f609c2709731cb813a";
    assert_eq!(
        q.report_data().to_string(),
        format!("{rd}{}", "0".repeat(128 - rd.len()))
    );
}

#[test]
fn automata_8000_byte_buffer() {
    let bytes = std::fs::read(sample!("tdx/automata-solana-v4/quote_tdx.bin")).unwrap();
    assert_eq!(bytes.len(), 8000);
    let q = Quote::parse(&bytes).unwrap();
    assert_eq!(q.raw().len(), 8000 - 3065);
    let r = tdx(&q);
    assert!(r.tee_tcb_svn.to_string().starts_with("04010700"));
    assert_eq!(r.td_attributes.to_string(), "0000001000000000");
    assert_eq!(
        r.mr_td.to_string(),
        "935be7742dd89c6a4df6dba8353d89041ae0f052beef993b1e7f4524d3bc57650df20e5582158352e1240b3f1fed55d8"
    );
    assert!(q.report_data().is_zero());
    // The same quote as hex (with a different padding length) parses to the same bytes.
    let hexq = load(sample!("tdx/automata-evm-v4-extra/quotev4.hex"));
    assert_eq!(hexq.raw(), q.raw());
}

#[test]
fn gotdxguest_v5_td15() {
    let q = load(sample!("tdx/gotdxguest-v5/quote_v5_sample.dat"));
    assert_eq!(q.version(), 5);
    assert_eq!(q.body_type(), Some(3));
    assert_eq!(q.raw().len(), 5006);
    assert_eq!(q.signed_bytes().len(), 48 + 6 + 648);
    assert_eq!(q.qe_report().isv_svn, 7);
    let r = tdx(&q);
    assert!(r.tee_tcb_svn.to_string().starts_with("0b010400"));
    assert!(r.tee_tcb_svn2.unwrap().to_string().starts_with("0d010400"));
    assert!(r.mr_servicetd.unwrap().is_zero());
    assert_eq!(r.td_attributes.to_string(), "0000001000000000");
    assert_eq!(
        r.mr_td.to_string(),
        "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876"
    );
    assert_eq!(
        r.rtmr0.to_string(),
        "5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6aef3bdae8cbc614cec24619"
    );
    assert_eq!(
        r.rtmr1.to_string(),
        "463acaace1b6e97c76e92e41fe312aa66f3fd4dad60ec7acf169859db0343e3d1e591646795cdc80fbc0ca5f7041d253"
    );
    assert_eq!(
        r.rtmr2.to_string(),
        "6369b9c9a3b791ebcbdc5a0bb9536cfb57f50df2b393b33c8b29616d3568baa61f4b59dc6092e31ea8764bcbdfc69f20"
    );
    assert!(r.rtmr3.is_zero());
    assert_eq!(
        q.report_data().to_string(),
        "945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a"
    );
}

#[test]
fn trustee_v4_debug_td() {
    let q = load(sample!("tdx/trustee-v4/tdx_quote_4.dat"));
    assert_eq!(q.raw().len(), 4936);
    assert_eq!(q.qe_report().isv_svn, 4);
    let r = tdx(&q);
    assert_eq!(r.td_attributes.to_string(), "0100001000000000");
    assert!(r.is_debug() && q.is_debug());
    assert_eq!(
        r.mr_td.to_string(),
        "705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031"
    );
    assert_eq!(r.xfam.to_string(), "e742060000000000");
    assert!(r.rtmr0.to_string().starts_with("e940da7c"));
    assert!(r.rtmr1.to_string().starts_with("559cfcf4"));
    assert!(r.rtmr2.is_zero() && r.rtmr3.is_zero());
    assert!(r.tee_tcb_svn.to_string().starts_with("03000500"));
    assert!(q.report_data().to_string().starts_with("7c71fe2c"));
}

#[test]
fn trustee_azure() {
    let q = load(sample!("tdx/trustee-azure/az-tdx-td-quote.bin"));
    let r = tdx(&q);
    assert!(r.tee_tcb_svn.to_string().starts_with("02010600"));
    assert!(r.td_attributes.is_zero());
    assert!(r.rtmrs().iter().all(|m| m.is_zero()));
    assert_eq!(
        r.mr_td.to_string(),
        "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b"
    );
}

#[test]
fn serializes_claims_as_hex_and_numbers() {
    let q = load(sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin"));
    let v = serde_json::to_value(&q).unwrap();
    assert_eq!(v["tee"], "sgx");
    assert_eq!(v["header"]["qe_svn"], 10);
    assert_eq!(
        v["body"]["mr_enclave"],
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(v["body"]["isv_svn"], 0);
    assert_eq!(v["body"]["attributes"], "0500000000000000e700000000000000");
}

#[test]
fn padding_rules() {
    let bytes = std::fs::read(sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin")).unwrap();
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 100]);
    assert_eq!(Quote::parse(&padded).unwrap().raw(), &bytes[..]);
    padded[4650] = 1;
    assert_eq!(
        Quote::parse(&padded).unwrap_err(),
        Error::TrailingData {
            offset: 4650,
            quote_len: 4600
        }
    );
}

#[test]
fn bad_input_errors_name_the_field() {
    let bytes = std::fs::read(sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin")).unwrap();
    assert_eq!(Quote::parse(&[]).unwrap_err(), Error::Empty);
    for cut in [1, 47, 48, 100, 432, 436, 1000, 4599] {
        let err = Quote::parse(&bytes[..cut]).unwrap_err();
        assert!(matches!(err, Error::Truncated { .. }), "cut {cut}: {err}");
    }
    let err = Quote::parse(&bytes[..100]).unwrap_err().to_string();
    assert_eq!(err, "body: truncated: need 384 bytes, 52 available");
    let mut wrong = bytes.clone();
    wrong[0] = 7;
    let err = Quote::parse(&wrong).unwrap_err().to_string();
    assert_eq!(
        err,
        "unsupported quote: quote version 7 (expected 3, 4 or 5)"
    );
    let mut sgx_as_tdx = bytes;
    sgx_as_tdx[4] = 0x81;
    assert!(Quote::parse(&sgx_as_tdx).is_err());
    assert!(decode_evidence(b"0xnot hex at all").is_err());
    // Every prefix of every sample fails cleanly.
    for path in [
        sample!("tdx/gotdxguest-v5/quote_v5_sample.dat"),
        sample!("tdx/dcapqvl-tdx-v4/tdx_quote.bin"),
    ] {
        let b = std::fs::read(path).unwrap();
        let q = Quote::parse(&b).unwrap();
        for cut in 0..q.raw().len() {
            assert!(Quote::parse(&b[..cut]).is_err(), "{path} cut {cut}");
        }
    }
}

/// The DER extnValue OCTET STRING contents following an extension's OID in a certificate.
fn extension_value<'a>(der: &'a [u8], oid: &[u8]) -> &'a [u8] {
    let mut needle = vec![0x06, oid.len() as u8];
    needle.extend_from_slice(oid);
    let at = der
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap();
    let rest = &der[at + needle.len()..];
    assert_eq!(rest[0], 0x04, "OCTET STRING");
    let (len, skip) = match rest[1] {
        0x82 => (usize::from(rest[2]) << 8 | usize::from(rest[3]), 4),
        n => (usize::from(n), 2),
    };
    &rest[skip..skip + len]
}

fn pem_der(path: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64_decode(&b64)
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn ccc_certificates_dice_tagged_evidence() {
    use initra_evidence::ratls_ext::{
        decode_tagged_evidence, HashAlg, OID_GRAMINE_LEGACY_MALFORMED, OID_INTEL_SGX_SDK,
        OID_TCG_DICE_TAGGED_EVIDENCE,
    };
    let gramine = pem_der(sample!("ratls/ccc/gramine-cert.pem"));
    let t = decode_tagged_evidence(extension_value(&gramine, OID_TCG_DICE_TAGGED_EVIDENCE.der))
        .unwrap();
    let (alg, hash) = t.pubkey_hash.unwrap();
    assert_eq!(alg, HashAlg::Sha256);
    assert_eq!(
        hex::encode(hash),
        "5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851"
    );
    let q = Quote::parse(&t.evidence).unwrap();
    assert_eq!(
        sgx(&q).mr_enclave.to_string(),
        "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585"
    );
    assert!(q.is_debug());
    // The legacy (malformed-OID) extension holds the raw quote bound to SHA-256(SPKI).
    let legacy = Quote::parse(extension_value(&gramine, OID_GRAMINE_LEGACY_MALFORMED.der)).unwrap();
    assert_eq!(
        legacy.report_data().to_string(),
        format!(
            "5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851{}",
            zeros(32)
        )
    );

    let sdk = pem_der(sample!("ratls/ccc/intel-sgxsdk-cert.pem"));
    let t =
        decode_tagged_evidence(extension_value(&sdk, OID_TCG_DICE_TAGGED_EVIDENCE.der)).unwrap();
    let (_, hash) = t.pubkey_hash.unwrap();
    assert_eq!(
        hex::encode(hash),
        "f306ed602985371e3b485102db1fcdd4f4738329ce58b2f8d1c5d2cc79752026"
    );
    let raw = Quote::parse(extension_value(&sdk, OID_INTEL_SGX_SDK.der)).unwrap();
    assert_eq!(raw.raw(), t.evidence.as_slice());
    assert_eq!(
        sgx(&raw).mr_signer.to_string(),
        "e0c86c51e05ad8592673db348155bddf4bcad6131a5205ce4265c0d795803ba2"
    );
}
