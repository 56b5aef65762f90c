//! The simulated SGX platform (docs/simulated-platform.md).
//!
//! `SimPlatform::create` generates, in one directory, a PKI shaped like Intel's, signed collateral
//! in dcap-qvl's JSON layout, and the keys of a simulated quoting enclave. [`SimAttester`] then
//! writes real-format DCAP v3 quotes that verify through the same dcap-qvl path as hardware quotes
//! — but only for a verifier explicitly given `root-ca.der` as a simulated root. Nothing trusts it
//! by default, and every verdict on such a quote is labelled `simulated`.

mod collateral;
mod der;
mod files;
mod pki;
mod quote;
pub mod snp;

use std::path::{Path, PathBuf};

use initra_evidence::Measurement;
use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use quote::{SimAttester, INTEL_QE_VENDOR_ID};

use crate::{measure, EnclaveIdentity, Error};

/// File names inside a simulated platform directory.
pub mod layout {
    /// The manifest (JSON): platform parameters, file list, creation time.
    pub const MANIFEST: &str = "platform.json";
    /// The trust root to hand to verifiers (DER).
    pub const ROOT_CA_DER: &str = "root-ca.der";
    /// The same root certificate, PEM.
    pub const ROOT_CA_PEM: &str = "root-ca.pem";
    /// The PCK Platform CA certificate (PEM).
    pub const PCK_CA_PEM: &str = "pck-ca.pem";
    /// The TCB signing certificate (PEM).
    pub const TCB_SIGNING_PEM: &str = "tcb-signing.pem";
    /// The PCK certificate chain as embedded in quotes: leaf, PCK CA, root (PEM).
    pub const PCK_CHAIN_PEM: &str = "pck-chain.pem";
    /// Collateral in dcap-qvl's `QuoteCollateralV3` JSON layout.
    pub const COLLATERAL: &str = "collateral.json";
    /// The simulated enclave-signing public key; MRSIGNER = SHA-256 of its DER SubjectPublicKeyInfo.
    pub const SIGNER_PEM: &str = "signer.pem";
    /// Private keys (PKCS#8 PEM, mode 0600).
    pub const ROOT_CA_KEY: &str = "root-ca.key";
    /// PCK CA private key.
    pub const PCK_CA_KEY: &str = "pck-ca.key";
    /// TCB signing private key.
    pub const TCB_SIGNING_KEY: &str = "tcb-signing.key";
    /// PCK private key (signs QE reports).
    pub const PCK_KEY: &str = "pck.key";
    /// Attestation private key (signs quotes).
    pub const ATTESTATION_KEY: &str = "attestation.key";
    /// Enclave-signing private key (kept so a vendor identity can be reused; nothing signs with it).
    pub const SIGNER_KEY: &str = "signer.key";
}

/// Options of [`SimPlatform::create`].
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Days from now until the collateral (TCB info, QE identity, CRLs) expires. Default 30.
    pub validity_days: u32,
    /// "Now"; `None` = the system clock. Certificates and collateral start one day before it so
    /// that peers with slightly slow clocks accept them.
    pub now: Option<OffsetDateTime>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            validity_days: 30,
            now: None,
        }
    }
}

/// Platform TCB as written into the PCK certificate's SGX extension and matched by TCB info.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PlatformTcb {
    #[serde(with = "hex_bytes")]
    pub(crate) fmspc: [u8; 6],
    #[serde(with = "hex_bytes")]
    pub(crate) pce_id: [u8; 2],
    /// CPUSVN; byte i is TCB component i+1.
    #[serde(with = "hex_bytes")]
    pub(crate) cpu_svn: [u8; 16],
    pub(crate) pce_svn: u16,
    pub(crate) sgx_type: u8,
    #[serde(with = "hex_bytes")]
    pub(crate) ppid: [u8; 16],
    #[serde(with = "hex_bytes")]
    pub(crate) platform_instance_id: [u8; 16],
    pub(crate) tcb_evaluation_data_number: u32,
}

/// The simulated quoting enclave's identity, published in the QE identity collateral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QeParams {
    #[serde(with = "hex_bytes")]
    pub(crate) mr_enclave: [u8; 32],
    #[serde(with = "hex_bytes")]
    pub(crate) mr_signer: [u8; 32],
    pub(crate) isv_prod_id: u16,
    pub(crate) isv_svn: u16,
    #[serde(with = "hex_bytes")]
    pub(crate) attributes: [u8; 16],
    pub(crate) misc_select: u32,
}

/// `platform.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    simulated: bool,
    warning: String,
    created: String,
    collateral_issue_date: String,
    collateral_next_update: String,
    /// SHA-256 of `root-ca.der`, to recognise the root in logs.
    root_ca_sha256: String,
    /// MRSIGNER of enclaves signed by `signer.pem`.
    mr_signer: Measurement,
    tcb: PlatformTcb,
    qe: QeParams,
}

const MANIFEST_FORMAT: &str = "initra-sim-platform";
const MANIFEST_VERSION: u32 = 1;
const WARNING: &str = "SIMULATED SGX platform: no hardware protects anything here. Give root-ca.der to a \
                       verifier only for development and tests; its verdicts are labelled simulated.";

/// The fixed FMSPC of simulated platforms: bytes 00 'S' 'I' 'M' 00 00, no real CPU has it.
pub const SIM_FMSPC: [u8; 6] = [0x00, 0x53, 0x49, 0x4d, 0x00, 0x00];

/// Signing keys held in memory while the platform is loaded.
struct Keys {
    attestation: EcdsaKeyPair,
    pck: EcdsaKeyPair,
}

/// A simulated SGX platform loaded from its directory.
pub struct SimPlatform {
    dir: PathBuf,
    manifest: Manifest,
    root_der: Vec<u8>,
    pck_chain_pem: String,
    signer_spki: Vec<u8>,
    tcb: PlatformTcb,
    qe: QeParams,
    keys: Keys,
}

impl std::fmt::Debug for SimPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPlatform")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SimPlatform {
    /// Creates a new simulated platform in `dir` (created if missing; refused if it already holds
    /// one) and loads it.
    pub fn create(dir: &Path, opts: &SimOptions) -> Result<SimPlatform, Error> {
        let manifest_path = dir.join(layout::MANIFEST);
        if manifest_path.exists() {
            return Err(Error::AlreadyExists {
                path: manifest_path,
            });
        }
        if opts.validity_days == 0 {
            return Err(Error::InvalidValue {
                field: "validity_days",
                reason: "must be at least 1".to_owned(),
            });
        }
        files::create_dir(dir)?;

        let now = opts.now.unwrap_or_else(OffsetDateTime::now_utc);
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let not_before = now - time::Duration::days(1);
        let next_update = now + time::Duration::days(i64::from(opts.validity_days));

        let tcb = PlatformTcb {
            fmspc: SIM_FMSPC,
            pce_id: [0, 0],
            cpu_svn: [4, 4, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            pce_svn: 13,
            sgx_type: 0,
            ppid: random_bytes()?,
            platform_instance_id: random_bytes()?,
            tcb_evaluation_data_number: 1,
        };
        let qe = QeParams {
            mr_enclave: sha256(b"initra SIMULATED quoting enclave"),
            mr_signer: sha256(b"initra SIMULATED quoting enclave signer"),
            isv_prod_id: 1,
            isv_svn: 8,
            attributes: {
                let mut a = [0u8; 16];
                a[0] = 0x11; // INIT | PROVISIONKEY, as Intel's QE
                a[8] = 0xe7;
                a
            },
            misc_select: 0,
        };

        let root_key = pki::new_key()?;
        let pck_ca_key = pki::new_key()?;
        let tcb_key = pki::new_key()?;
        let pck_key = pki::new_key()?;
        let attestation_key = pki::new_key()?;
        let signer_key = pki::new_key()?;

        let root = pki::issue(pki::Role::Root, &root_key, None, not_before, &tcb)?;
        let root_issuer = pki::Role::Root.issuer(&root_key);
        let pck_ca = pki::issue(
            pki::Role::PckCa,
            &pck_ca_key,
            Some(&root_issuer),
            not_before,
            &tcb,
        )?;
        let tcb_signing = pki::issue(
            pki::Role::TcbSigning,
            &tcb_key,
            Some(&root_issuer),
            not_before,
            &tcb,
        )?;
        let pck_ca_issuer = pki::Role::PckCa.issuer(&pck_ca_key);
        let pck_leaf = pki::issue(
            pki::Role::PckLeaf,
            &pck_key,
            Some(&pck_ca_issuer),
            not_before,
            &tcb,
        )?;

        let signers = collateral::CollateralSigners {
            root_key: &root_key,
            pck_ca_key: &pck_ca_key,
            tcb_signing_key: &tcb_key,
            root_pem: &root.pem(),
            pck_ca_pem: &pck_ca.pem(),
            tcb_signing_pem: &tcb_signing.pem(),
        };
        let collateral = collateral::build(&signers, &tcb, &qe, not_before, next_update)?;

        let signer_spki = rcgen::PublicKeyData::subject_public_key_info(&signer_key);
        let manifest = Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            version: MANIFEST_VERSION,
            simulated: true,
            warning: WARNING.to_owned(),
            created: rfc3339(now)?,
            collateral_issue_date: rfc3339(not_before)?,
            collateral_next_update: rfc3339(next_update)?,
            root_ca_sha256: hex::encode(sha256(root.der())),
            mr_signer: measure::mr_signer_of(&signer_spki),
            tcb,
            qe,
        };

        // Keys first: a directory with certificates but no keys is useless, the reverse is harmless.
        for (name, key) in [
            (layout::ROOT_CA_KEY, &root_key),
            (layout::PCK_CA_KEY, &pck_ca_key),
            (layout::TCB_SIGNING_KEY, &tcb_key),
            (layout::PCK_KEY, &pck_key),
            (layout::ATTESTATION_KEY, &attestation_key),
            (layout::SIGNER_KEY, &signer_key),
        ] {
            files::write_secret(
                &dir.join(name),
                zeroize::Zeroizing::new(key.serialize_pem()).as_bytes(),
            )?;
        }
        files::write_public(&dir.join(layout::ROOT_CA_DER), root.der())?;
        files::write_public(&dir.join(layout::ROOT_CA_PEM), root.pem().as_bytes())?;
        files::write_public(&dir.join(layout::PCK_CA_PEM), pck_ca.pem().as_bytes())?;
        files::write_public(
            &dir.join(layout::TCB_SIGNING_PEM),
            tcb_signing.pem().as_bytes(),
        )?;
        let chain = format!("{}{}{}", pck_leaf.pem(), pck_ca.pem(), root.pem());
        files::write_public(&dir.join(layout::PCK_CHAIN_PEM), chain.as_bytes())?;
        files::write_public(
            &dir.join(layout::SIGNER_PEM),
            signer_key.public_key_pem().as_bytes(),
        )?;
        files::write_json(&dir.join(layout::COLLATERAL), &collateral)?;
        files::write_json(&manifest_path, &manifest)?;
        tracing::info!(dir = %dir.display(), "created simulated SGX platform");
        Self::load(dir)
    }

    /// Loads a platform made by [`SimPlatform::create`]. Errors name the missing or invalid file.
    pub fn load(dir: &Path) -> Result<SimPlatform, Error> {
        let manifest_path = dir.join(layout::MANIFEST);
        let manifest: Manifest = files::read_json(dir, &manifest_path, "platform manifest")?;
        if manifest.format != MANIFEST_FORMAT || manifest.version != MANIFEST_VERSION {
            return Err(Error::InvalidFile {
                path: manifest_path,
                what: "platform manifest",
                reason: format!(
                    "format {:?} version {}, expected {MANIFEST_FORMAT:?} version {MANIFEST_VERSION}",
                    manifest.format, manifest.version
                ),
            });
        }
        let root_der = files::read(
            dir,
            &dir.join(layout::ROOT_CA_DER),
            "simulated root CA certificate",
        )?;
        let pck_chain_pem = files::read_text(
            dir,
            &dir.join(layout::PCK_CHAIN_PEM),
            "PCK certificate chain",
        )?;
        let signer_path = dir.join(layout::SIGNER_PEM);
        let signer_pem = files::read(dir, &signer_path, "enclave signing public key")?;
        let signer_spki =
            measure::signer_spki_from_pem(&signer_pem).map_err(|reason| Error::InvalidFile {
                path: signer_path,
                what: "enclave signing public key",
                reason,
            })?;
        let keys = Keys {
            attestation: collateral::ring_key(&files::read_key(
                dir,
                &dir.join(layout::ATTESTATION_KEY),
                "attestation key",
            )?)?,
            pck: collateral::ring_key(&files::read_key(
                dir,
                &dir.join(layout::PCK_KEY),
                "PCK key",
            )?)?,
        };
        Ok(SimPlatform {
            dir: dir.to_path_buf(),
            tcb: manifest.tcb.clone(),
            qe: manifest.qe.clone(),
            manifest,
            root_der,
            pck_chain_pem,
            signer_spki,
            keys,
        })
    }

    /// Re-signs the collateral (CRLs, TCB info, QE identity) with the stored CA keys for a new window
    /// starting one day before `opts.now`, and rewrites `collateral.json` and the manifest dates.
    pub fn renew_collateral(&mut self, opts: &SimOptions) -> Result<(), Error> {
        let dir = self.dir.clone();
        let now = opts.now.unwrap_or_else(OffsetDateTime::now_utc);
        let issue = now - time::Duration::days(1);
        let next_update = now + time::Duration::days(i64::from(opts.validity_days.max(1)));
        let root_key = files::read_key(&dir, &dir.join(layout::ROOT_CA_KEY), "root CA key")?;
        let pck_ca_key = files::read_key(&dir, &dir.join(layout::PCK_CA_KEY), "PCK CA key")?;
        let tcb_key = files::read_key(&dir, &dir.join(layout::TCB_SIGNING_KEY), "TCB signing key")?;
        let root_pem =
            files::read_text(&dir, &dir.join(layout::ROOT_CA_PEM), "root CA certificate")?;
        let pck_ca_pem =
            files::read_text(&dir, &dir.join(layout::PCK_CA_PEM), "PCK CA certificate")?;
        let tcb_pem = files::read_text(
            &dir,
            &dir.join(layout::TCB_SIGNING_PEM),
            "TCB signing certificate",
        )?;
        let signers = collateral::CollateralSigners {
            root_key: &root_key,
            pck_ca_key: &pck_ca_key,
            tcb_signing_key: &tcb_key,
            root_pem: &root_pem,
            pck_ca_pem: &pck_ca_pem,
            tcb_signing_pem: &tcb_pem,
        };
        let collateral = collateral::build(&signers, &self.tcb, &self.qe, issue, next_update)?;
        files::replace_json(&dir.join(layout::COLLATERAL), &collateral)?;
        self.manifest.collateral_issue_date = rfc3339(issue)?;
        self.manifest.collateral_next_update = rfc3339(next_update)?;
        files::replace_json(&dir.join(layout::MANIFEST), &self.manifest)
    }

    /// The platform directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The simulated root CA certificate (DER): the trust root to give verifiers, as `Simulated`.
    pub fn root_ca_der(&self) -> &[u8] {
        &self.root_der
    }

    /// Path of `root-ca.der`.
    pub fn root_ca_path(&self) -> PathBuf {
        self.dir.join(layout::ROOT_CA_DER)
    }

    /// Path of `collateral.json` (dcap-qvl `QuoteCollateralV3` JSON).
    pub fn collateral_path(&self) -> PathBuf {
        self.dir.join(layout::COLLATERAL)
    }

    /// The PCK chain embedded in quotes (PEM: leaf, PCK CA, root).
    pub fn pck_chain_pem(&self) -> &str {
        &self.pck_chain_pem
    }

    /// MRSIGNER of enclaves signed by this platform's simulated signing key (`signer.pem`).
    pub fn mr_signer(&self) -> Measurement {
        measure::mr_signer_of(&self.signer_spki)
    }

    /// The FMSPC written in the PCK certificate and TCB info.
    pub fn fmspc(&self) -> [u8; 6] {
        self.tcb.fmspc
    }

    /// Collateral window written at creation or last renewal (RFC 3339): issue date, next update.
    pub fn collateral_window(&self) -> (&str, &str) {
        (
            &self.manifest.collateral_issue_date,
            &self.manifest.collateral_next_update,
        )
    }

    /// The identity of an enclave made of `exe` and `configs` and signed by this platform's signing
    /// key (ISVPRODID, SVNs 0, not debug).
    pub fn measure(&self, exe: &Path, configs: &[&Path]) -> Result<EnclaveIdentity, Error> {
        Ok(EnclaveIdentity::new(
            measure::measure_enclave(exe, configs)?,
            self.mr_signer(),
        ))
    }
}

/// RFC 3339 in UTC with whole seconds, as Intel's collateral writes dates (`2025-06-19T10:56:11Z`).
pub(crate) fn rfc3339(t: OffsetDateTime) -> Result<String, Error> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .map_err(|e| Error::InvalidValue {
            field: "date",
            reason: e.to_string(),
        })
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .map_err(Error::crypto("random bytes"))?;
    Ok(out)
}

/// Serde for fixed byte arrays as lower-case hex.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer, const N: usize>(
        v: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let len = bytes.len();
        <[u8; N]>::try_from(bytes)
            .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes of hex, got {len}")))
    }
}
