//! Creating initra's RA-TLS certificate (docs/ratls.md, "What initra writes").

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use initra_attest::{Attester, Backend};
use initra_evidence::ratls_ext;
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair, SerialNumber};
use ring::rand::SecureRandom;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use crate::Error;

/// The Occlum / initra evidence OID 1.2.840.113741.1 as rcgen arcs.
const OCCLUM_OID_ARCS: [u64; 5] = [1, 2, 840, 113741, 1];
/// TCG DICE tagged evidence, 2.23.133.5.4.9: how initra carries TDX quotes and SNP reports.
const TCG_DICE_OID_ARCS: [u64; 6] = [2, 23, 133, 5, 4, 9];
/// TCG DICE endorsement manifest, 2.23.133.5.4.2: the SNP certificate table (docs/ratls.md).
const TCG_DICE_ENDORSEMENT_OID_ARCS: [u64; 6] = [2, 23, 133, 5, 4, 2];

/// Options of [`RaTlsIdentity::generate`].
#[derive(Clone, Debug)]
pub struct CertOptions {
    /// Subject common name. Default `initra RA-TLS`.
    pub common_name: String,
    /// How far notBefore lies before now, so peers with slow clocks accept the certificate. Default 1 h.
    pub backdate: Duration,
    /// notAfter - now. Default 24 h: the key lives in memory only, a restart makes a new one.
    pub lifetime: Duration,
    /// DNS names / IP addresses for the subjectAltName extension (none by default: attestation, not
    /// names, identifies an RA-TLS peer).
    pub subject_alt_names: Vec<String>,
    /// "Now"; `None` = the system clock.
    pub now: Option<SystemTime>,
}

impl Default for CertOptions {
    fn default() -> Self {
        Self {
            common_name: "initra RA-TLS".to_owned(),
            backdate: Duration::from_secs(3600),
            lifetime: Duration::from_secs(24 * 3600),
            subject_alt_names: Vec::new(),
            now: None,
        }
    }
}

/// A self-signed RA-TLS certificate and its private key.
pub struct RaTlsIdentity {
    cert_der: CertificateDer<'static>,
    key_der: Zeroizing<Vec<u8>>,
    quote: Vec<u8>,
    not_after: SystemTime,
    backend: Backend,
}

impl std::fmt::Debug for RaTlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaTlsIdentity")
            .field("backend", &self.backend)
            .field("cert_len", &self.cert_der.len())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl RaTlsIdentity {
    /// Generates a fresh ECDSA P-256 key, asks `attester` for a quote over
    /// `SHA-256(SPKI DER) || 0^32`, and self-signs a certificate carrying the quote in the
    /// non-critical extension 1.2.840.113741.1.
    pub fn generate(attester: &dyn Attester, opts: &CertOptions) -> Result<RaTlsIdentity, Error> {
        let gen_err = |what: &'static str| {
            move |e: rcgen::Error| Error::Generate {
                what,
                reason: e.to_string(),
            }
        };
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .map_err(|_| Error::Generate {
            what: "key generation",
            reason: "ring failed".to_owned(),
        })?;
        let key_der = Zeroizing::new(pkcs8.as_ref().to_vec());
        let key = KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(key_der.as_slice()),
            &rcgen::PKCS_ECDSA_P256_SHA256,
        )
        .map_err(gen_err("key loading"))?;

        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let spki_hash = ring::digest::digest(&ring::digest::SHA256, &spki);
        // SGX keeps Occlum's format (raw quote, report data = SHA-256(SPKI)); TDX quotes and SNP reports go
        // into TCG DICE tagged evidence, whose report data binds SHA-256 of the claims naming the key
        // (docs/ratls.md).
        let dice_claims = match attester.backend() {
            Backend::Tdx | Backend::Snp | Backend::SimSnp => {
                Some(ratls_ext::encode_pubkey_hash_claims(
                    ratls_ext::HashAlg::Sha256,
                    spki_hash.as_ref(),
                ))
            }
            _ => None,
        };
        let bound = match &dice_claims {
            Some(claims) => ring::digest::digest(&ring::digest::SHA256, claims),
            None => spki_hash,
        };
        let mut report_data = [0u8; 64];
        report_data[..32].copy_from_slice(bound.as_ref());
        let attested = attester.evidence(&report_data)?;
        let quote = attested.evidence;

        let now = opts.now.unwrap_or_else(SystemTime::now);
        let not_before = now.checked_sub(opts.backdate).unwrap_or(now);
        let not_after = now.checked_add(opts.lifetime).unwrap_or(now);
        let mut params = CertificateParams::new(opts.subject_alt_names.clone())
            .map_err(gen_err("subjectAltName"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, opts.common_name.as_str());
        params.distinguished_name = dn;
        params.not_before = time::OffsetDateTime::from(not_before);
        params.not_after = time::OffsetDateTime::from(not_after);
        params.serial_number = Some(random_serial(&rng)?);
        let mut ext = match &dice_claims {
            Some(claims) => CustomExtension::from_oid_content(
                &TCG_DICE_OID_ARCS,
                ratls_ext::encode_tagged_evidence(&quote, claims),
            ),
            None => CustomExtension::from_oid_content(&OCCLUM_OID_ARCS, quote.clone()),
        };
        ext.set_criticality(false);
        params.custom_extensions.push(ext);
        if let Some(table) = &attested.endorsements {
            let mut ext = CustomExtension::from_oid_content(
                &TCG_DICE_ENDORSEMENT_OID_ARCS,
                ratls_ext::encode_snp_endorsement(table),
            );
            ext.set_criticality(false);
            params.custom_extensions.push(ext);
        }
        let cert = params.self_signed(&key).map_err(gen_err("self-signing"))?;

        Ok(RaTlsIdentity {
            cert_der: cert.der().clone(),
            key_der,
            quote,
            not_after,
            backend: attester.backend(),
        })
    }

    /// The certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The private key (PKCS#8 DER). Secret: zeroized when the identity is dropped.
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The evidence (quote or SEV-SNP report) embedded in the certificate.
    pub fn quote(&self) -> &[u8] {
        &self.quote
    }

    /// When the certificate expires.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Which backend made the quote.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The certificate chain to present (just this certificate).
    pub fn cert_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert_der.clone()]
    }

    /// A copy of the private key for rustls (rustls zeroizes its own copies).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.to_vec()))
    }

    /// The certificate and a signing key loaded by `provider`, for custom rustls certificate resolvers.
    pub fn certified_key(&self, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, Error> {
        let signing_key = provider.key_provider.load_private_key(self.private_key())?;
        Ok(Arc::new(CertifiedKey::new(self.cert_chain(), signing_key)))
    }
}

/// 16 random bytes, positive.
fn random_serial(rng: &ring::rand::SystemRandom) -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes).map_err(|_| Error::Generate {
        what: "serial number",
        reason: "ring RNG failed".to_owned(),
    })?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}
