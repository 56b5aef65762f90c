//! RA-TLS certificates made with the simulated platform: creation, binding, verification, tampering,
//! and mutual RA-TLS handshakes over in-memory rustls connections.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use initra_attest::sim::{SimAttester, SimOptions, SimPlatform};
use initra_attest::{Attester, EnclaveIdentity};
use initra_evidence::Measurement;
use initra_ratls::verifier::{
    peer_quote, ratls_error, AttestedClientVerifier, AttestedServerVerifier, ServerTrust,
};
use initra_ratls::{read_certificate, tls, CertOptions, Error, EvidenceFormat, RaTlsIdentity};
use initra_verify::{Collateral, Policy, RootKind, StaticCollateral, TrustRoots, Verifier};
use rustls::{ClientConnection, ServerConnection};
use rustls_pki_types::ServerName;

struct Sim {
    _dir: tempfile::TempDir,
    platform: Arc<SimPlatform>,
    collateral: Arc<StaticCollateral>,
}

fn sim() -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let platform =
        Arc::new(SimPlatform::create(&dir.path().join("sim"), &SimOptions::default()).unwrap());
    let collateral = Arc::new(StaticCollateral::single(
        Collateral::from_json_file(platform.collateral_path()).unwrap(),
    ));
    Sim {
        _dir: dir,
        platform,
        collateral,
    }
}

impl Sim {
    fn attester(&self, mr_enclave: u8, debug: bool) -> SimAttester {
        let mut id = EnclaveIdentity::new(Measurement([mr_enclave; 32]), self.platform.mr_signer());
        id.debug = debug;
        SimAttester::new(self.platform.clone(), id).unwrap()
    }

    fn verifier(&self, sim_root: bool) -> Arc<Verifier> {
        let mut roots = TrustRoots::intel();
        if sim_root {
            roots = roots
                .with_root(self.platform.root_ca_der().to_vec(), RootKind::Simulated)
                .unwrap();
        }
        Arc::new(Verifier::new(
            roots,
            self.collateral.clone(),
            Arc::new(Policy::default()),
        ))
    }
}

#[test]
fn generated_certificate_carries_a_bound_quote_that_verifies() {
    let s = sim();
    let attester = s.attester(0x11, false);
    let now = SystemTime::now();
    let id = RaTlsIdentity::generate(
        &attester,
        &CertOptions {
            now: Some(now),
            ..Default::default()
        },
    )
    .unwrap();
    let ev = read_certificate(id.cert_der()).unwrap();
    assert_eq!(ev.subject, "CN=initra RA-TLS");
    assert_eq!(ev.key_algorithm, "1.2.840.10045.2.1");
    assert_eq!(ev.extensions.len(), 1);
    let ext = &ev.extensions[0];
    assert_eq!(
        (ext.format, ext.oid, ext.critical),
        (EvidenceFormat::Occlum, "1.2.840.113741.1", false)
    );
    assert!(ext.binding.holds, "{:?}", ext.binding);
    assert_eq!(ext.quote, id.quote());
    let now_s = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(ev.not_before, now_s - 3600);
    assert_eq!(ev.not_after, now_s + 24 * 3600);

    // report_data = SHA-256(SPKI) || 0^32.
    let quote = initra_evidence::Quote::parse(id.quote()).unwrap();
    let rd = quote.report_data().as_bytes();
    assert_eq!(hex::encode(&rd[..32]), ev.spki_sha256);
    assert_eq!(rd[32..], [0u8; 32]);

    let verdict = s
        .verifier(true)
        .verify(ev.bound_quote().unwrap(), now)
        .unwrap();
    assert!(verdict.is_accepted() && verdict.simulated, "{verdict:?}");

    // Fresh key and random serial every time.
    let other = RaTlsIdentity::generate(&attester, &CertOptions::default()).unwrap();
    assert_ne!(
        read_certificate(other.cert_der()).unwrap().spki_der,
        ev.spki_der
    );
    assert_ne!(other.cert_der(), id.cert_der());
}

/// A certificate whose key is not the one the quote's report data commits to: take the quote of
/// one identity and put it into a certificate for another key.
#[test]
fn quote_moved_to_a_certificate_with_another_key_is_rejected() {
    let s = sim();
    let victim =
        RaTlsIdentity::generate(&s.attester(0x11, false), &CertOptions::default()).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 2, 840, 113741, 1],
            victim.quote().to_vec(),
        ));
    let forged = params.self_signed(&key).unwrap();
    let ev = read_certificate(forged.der()).unwrap();
    let err = ev.bound_quote().unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::BindingFailed { .. }), "{msg}");
    assert!(
        msg.contains("report_data[0..32]") && msg.contains("!= SHA-256(SPKI)"),
        "{msg}"
    );
    assert!(msg.contains(&ev.spki_sha256), "{msg}");
}

#[test]
fn certificate_without_evidence_is_no_evidence() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let err = read_certificate(cert.der())
        .unwrap()
        .bound_quote()
        .unwrap_err();
    assert!(matches!(err, Error::NoEvidence), "{err}");
}

/// Flips every byte of the certificate's SubjectPublicKeyInfo: the certificate no longer parses or
/// the binding no longer holds.
#[test]
fn tamper_sweep_every_byte_of_the_certificate_public_key() {
    let s = sim();
    let id = RaTlsIdentity::generate(&s.attester(0x11, false), &CertOptions::default()).unwrap();
    let der = id.cert_der().to_vec();
    let spki = read_certificate(&der).unwrap().spki_der;
    let start = der
        .windows(spki.len())
        .position(|w| w == spki.as_slice())
        .unwrap();
    for offset in start..start + spki.len() {
        let mut tampered = der.clone();
        tampered[offset] ^= 0x01;
        let bound = read_certificate(&tampered).and_then(|ev| ev.bound_quote().map(<[u8]>::to_vec));
        assert!(
            bound.is_err(),
            "flip at SPKI byte {} still bound",
            offset - start
        );
    }
}

/// Runs a handshake between two in-memory connections; returns the first error.
fn handshake(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
) -> Result<(), rustls::Error> {
    for _ in 0..20 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).unwrap();
            server.process_new_packets()?;
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
            client.process_new_packets()?;
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

fn connect(
    server_config: &Arc<rustls::ServerConfig>,
    client_config: &Arc<rustls::ClientConfig>,
) -> (
    Result<(), rustls::Error>,
    ClientConnection,
    ServerConnection,
) {
    let name = ServerName::try_from("secrets.example").unwrap();
    let mut client = ClientConnection::new(client_config.clone(), name).unwrap();
    let mut server = ServerConnection::new(server_config.clone()).unwrap();
    let result = handshake(&mut client, &mut server);
    (result, client, server)
}

#[test]
fn mutual_ra_tls_handshake_verifies_both_sides_and_caches_the_server_verdict() {
    let s = sim();
    let server_id =
        RaTlsIdentity::generate(&s.attester(0x51, false), &CertOptions::default()).unwrap();
    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let server_config =
        Arc::new(tls::server_config(&server_id, Arc::new(AttestedClientVerifier::new())).unwrap());
    let server_verifier =
        Arc::new(AttestedServerVerifier::new(ServerTrust::Attested(s.verifier(true))).unwrap());
    let client_config = Arc::new(tls::client_config(&client_id, server_verifier.clone()).unwrap());

    let (result, client, server) = connect(&server_config, &client_config);
    result.unwrap();
    assert_eq!(client.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(
        client.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    // The server verifies the client's quote after the handshake.
    let quote = peer_quote(server.peer_certificates().unwrap()).unwrap();
    let verdict = s.verifier(true).verify(&quote, SystemTime::now()).unwrap();
    assert!(verdict.is_accepted());
    assert_eq!(verdict.claims.to_owned_json_mr_enclave(), "c1".repeat(32));
    let cached = server_verifier.verdict_for(server_id.cert_der()).unwrap();
    assert!(cached.simulated());
    assert_eq!(server_verifier.verifications(), 1);

    // Reconnecting to the same server does not verify its quote again.
    let (result, _, _) = connect(&server_config, &client_config);
    result.unwrap();
    assert_eq!(server_verifier.verifications(), 1);

    // An hour on (the certificate is still valid), the verdict is not reused: verified afresh.
    use rustls::client::danger::ServerCertVerifier as _;
    let later = SystemTime::now() + std::time::Duration::from_secs(3601);
    let later = rustls_pki_types::UnixTime::since_unix_epoch(
        later.duration_since(SystemTime::UNIX_EPOCH).unwrap(),
    );
    let name = ServerName::try_from("localhost").unwrap();
    let cert = rustls_pki_types::CertificateDer::from(server_id.cert_der().to_vec());
    server_verifier
        .verify_server_cert(&cert, &[], &name, &[], later)
        .unwrap();
    assert_eq!(server_verifier.verifications(), 2);
}

trait MrEnclave {
    fn to_owned_json_mr_enclave(&self) -> String;
}
impl MrEnclave for initra_verify::Claims {
    fn to_owned_json_mr_enclave(&self) -> String {
        serde_json::to_value(self).unwrap()["mr_enclave"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[test]
fn tls12_handshake_works_too() {
    let s = sim();
    let server_id =
        RaTlsIdentity::generate(&s.attester(0x51, false), &CertOptions::default()).unwrap();
    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let server_config =
        Arc::new(tls::server_config(&server_id, Arc::new(AttestedClientVerifier::new())).unwrap());
    let verifier =
        Arc::new(AttestedServerVerifier::new(ServerTrust::Attested(s.verifier(true))).unwrap());
    let client_config = Arc::new(
        rustls::ClientConfig::builder_with_provider(initra_ratls::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(client_id.cert_chain(), client_id.private_key())
            .unwrap(),
    );
    let (result, client, _) = connect(&server_config, &client_config);
    result.unwrap();
    assert_eq!(
        client.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[test]
fn server_rejected_by_policy_fails_the_handshake_with_the_verdict_reason() {
    let s = sim();
    let server_id =
        RaTlsIdentity::generate(&s.attester(0x51, true), &CertOptions::default()).unwrap();
    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let server_config =
        Arc::new(tls::server_config(&server_id, Arc::new(AttestedClientVerifier::new())).unwrap());
    let verifier =
        Arc::new(AttestedServerVerifier::new(ServerTrust::Attested(s.verifier(true))).unwrap());
    let client_config = Arc::new(tls::client_config(&client_id, verifier.clone()).unwrap());
    let (result, _, _) = connect(&server_config, &client_config);
    let err = result.unwrap_err();
    let inner = ratls_error(&err).unwrap();
    let Error::Rejected { verdict } = inner else {
        panic!("{err:?}")
    };
    assert!(verdict.simulated());
    assert!(
        verdict.decision().reason().unwrap().contains("debug"),
        "{:?}",
        verdict.decision()
    );
    let msg = inner.to_string();
    assert!(
        msg.starts_with("attested peer rejected: debug") && msg.ends_with("(simulated evidence)"),
        "{msg}"
    );
    assert!(verifier.verdict_for(server_id.cert_der()).is_none());
}

#[test]
fn server_under_an_untrusted_root_fails_the_handshake() {
    let s = sim();
    let server_id =
        RaTlsIdentity::generate(&s.attester(0x51, false), &CertOptions::default()).unwrap();
    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let server_config =
        Arc::new(tls::server_config(&server_id, Arc::new(AttestedClientVerifier::new())).unwrap());
    let verifier =
        Arc::new(AttestedServerVerifier::new(ServerTrust::Attested(s.verifier(false))).unwrap());
    let client_config = Arc::new(tls::client_config(&client_id, verifier).unwrap());
    let (result, _, _) = connect(&server_config, &client_config);
    let err = result.unwrap_err();
    let inner = ratls_error(&err).unwrap();
    assert!(matches!(inner, Error::Verify(_)), "{inner}");
    assert!(inner.to_string().contains("untrusted root"), "{inner}");
}

#[test]
fn expired_server_certificate_fails_the_handshake() {
    let s = sim();
    let old = SystemTime::now() - Duration::from_secs(2 * 86_400);
    let server_id = RaTlsIdentity::generate(
        &s.attester(0x51, false),
        &CertOptions {
            now: Some(old),
            ..Default::default()
        },
    )
    .unwrap();
    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let server_config =
        Arc::new(tls::server_config(&server_id, Arc::new(AttestedClientVerifier::new())).unwrap());
    let verifier =
        Arc::new(AttestedServerVerifier::new(ServerTrust::Attested(s.verifier(true))).unwrap());
    let client_config = Arc::new(tls::client_config(&client_id, verifier).unwrap());
    let (result, _, _) = connect(&server_config, &client_config);
    let err = result.unwrap_err();
    assert!(
        matches!(ratls_error(&err), Some(Error::Expired { .. })),
        "{err}"
    );
}

#[test]
fn server_refuses_clients_without_bound_evidence() {
    let s = sim();
    let server_id =
        RaTlsIdentity::generate(&s.attester(0x51, false), &CertOptions::default()).unwrap();
    let server_config =
        Arc::new(tls::server_config(&server_id, Arc::new(AttestedClientVerifier::new())).unwrap());
    let verifier =
        Arc::new(AttestedServerVerifier::new(ServerTrust::Attested(s.verifier(true))).unwrap());

    // A plain self-signed client certificate.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let plain = Arc::new(
        rustls::ClientConfig::builder_with_provider(initra_ratls::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_auth_cert(
                vec![cert.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap(),
    );
    let name = ServerName::try_from("secrets.example").unwrap();
    let mut client = ClientConnection::new(plain, name.clone()).unwrap();
    let mut server = ServerConnection::new(server_config.clone()).unwrap();
    let err = handshake(&mut client, &mut server).unwrap_err();
    assert!(
        matches!(ratls_error(&err), Some(Error::NoEvidence)),
        "{err}"
    );

    // No client certificate at all.
    let anonymous = Arc::new(
        rustls::ClientConfig::builder_with_provider(initra_ratls::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    );
    let mut client = ClientConnection::new(anonymous, name).unwrap();
    let mut server = ServerConnection::new(server_config).unwrap();
    let err = handshake(&mut client, &mut server).unwrap_err();
    assert!(
        matches!(err, rustls::Error::NoCertificatesPresented),
        "{err:?}"
    );
}

#[test]
fn pinned_ca_mode_accepts_a_conventional_server_certificate() {
    let s = sim();
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["secrets.example".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let server_config = Arc::new(
        tls::server_config_with_cert(
            vec![leaf.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            Arc::new(AttestedClientVerifier::new()),
        )
        .unwrap(),
    );
    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let verifier = Arc::new(
        AttestedServerVerifier::new(ServerTrust::PinnedCa(ca_cert.der().clone())).unwrap(),
    );
    let client_config = Arc::new(tls::client_config(&client_id, verifier).unwrap());
    let (result, _, _) = connect(&server_config, &client_config);
    result.unwrap();

    // A different CA is refused.
    let other_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let other_ca = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&other_key)
        .unwrap();
    let verifier = Arc::new(
        AttestedServerVerifier::new(ServerTrust::PinnedCa(other_ca.der().clone())).unwrap(),
    );
    let client_config = Arc::new(tls::client_config(&client_id, verifier).unwrap());
    let (result, _, _) = connect(&server_config, &client_config);
    assert!(result.is_err());
}

#[test]
fn certified_key_and_quote_accessors() {
    let s = sim();
    let attester = s.attester(0x11, false);
    let id = RaTlsIdentity::generate(&attester, &CertOptions::default()).unwrap();
    let ck = id.certified_key(&initra_ratls::crypto_provider()).unwrap();
    assert_eq!(ck.cert[0], *id.cert_der());
    assert_eq!(id.backend(), attester.backend());
    assert!(!id.key_der().is_empty());
    assert!(!format!("{id:?}").contains(&hex::encode(id.key_der())));
}

/// Occlum generates RSA-2048 keys: an RSA RA-TLS certificate binds the same way (SHA-256 of its
/// SPKI) and an RSA server completes the attested handshake.
#[test]
fn rsa_ra_tls_certificate_binds_and_handshakes() {
    let s = sim();
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rsa2048-test-key.pem"
    ))
    .unwrap();
    let key = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &spki).as_ref());
    let quote = s.attester(0x51, false).quote(&report_data).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 2, 840, 113741, 1],
            quote,
        ));
    let cert = params.self_signed(&key).unwrap();

    let ev = read_certificate(cert.der()).unwrap();
    assert_eq!(ev.key_algorithm, "1.2.840.113549.1.1.1");
    assert!(ev.bound().unwrap().binding.holds);

    let server_config = Arc::new(
        tls::server_config_with_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            Arc::new(AttestedClientVerifier::new()),
        )
        .unwrap(),
    );
    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let verifier =
        Arc::new(AttestedServerVerifier::new(ServerTrust::Attested(s.verifier(true))).unwrap());
    let client_config = Arc::new(tls::client_config(&client_id, verifier.clone()).unwrap());
    let (result, _, _) = connect(&server_config, &client_config);
    result.unwrap();
    assert!(verifier.verdict_for(cert.der()).unwrap().is_accepted());
}

/// An SEV-SNP server (the simulated SNP platform): its certificate carries the report as DICE tagged
/// evidence and the certificate table as endorsements, and a client verifies it inside the
/// handshake, but only when it trusts the simulated ARK.
#[test]
fn snp_server_is_verified_in_the_handshake_through_its_endorsements() {
    use initra_attest::sim::snp::SimSnpPlatform;
    use initra_verify::SnpRoots;
    let s = sim();
    let sim_snp = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sim-snp");
    let snp = SimSnpPlatform::load(std::path::Path::new(sim_snp)).unwrap();
    let server_id = RaTlsIdentity::generate(&snp, &CertOptions::default()).unwrap();
    let cert = read_certificate(server_id.cert_der()).unwrap();
    assert_eq!(cert.bound().unwrap().format, EvidenceFormat::TcgDice);
    assert!(cert.endorsements().unwrap().is_some());

    let client_id =
        RaTlsIdentity::generate(&s.attester(0xc1, false), &CertOptions::default()).unwrap();
    let server_config =
        Arc::new(tls::server_config(&server_id, Arc::new(AttestedClientVerifier::new())).unwrap());
    let client_with = |roots: SnpRoots| {
        let verifier = Verifier::new(
            TrustRoots::intel(),
            s.collateral.clone(),
            Arc::new(Policy::default()),
        )
        .with_snp_roots(roots);
        let v = Arc::new(
            AttestedServerVerifier::new(ServerTrust::Attested(Arc::new(verifier))).unwrap(),
        );
        (
            Arc::new(tls::client_config(&client_id, v.clone()).unwrap()),
            v,
        )
    };

    let (config, v) = client_with(
        SnpRoots::amd()
            .with_simulated_ark(snp.ark_der().to_vec())
            .unwrap(),
    );
    let (result, _, _) = connect(&server_config, &config);
    result.unwrap();
    let verdict = v.verdict_for(server_id.cert_der()).unwrap();
    assert_eq!(verdict.tee_name(), "snp");
    assert!(verdict.simulated());

    let (config, _) = client_with(SnpRoots::amd());
    let (result, _, _) = connect(&server_config, &config);
    let err = result.unwrap_err();
    let inner = ratls_error(&err).unwrap().to_string();
    assert!(inner.contains("none of the trusted ARKs"), "{inner}");
}
