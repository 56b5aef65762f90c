//! A simulated AMD SEV-SNP platform (docs/snp.md §8): signs real-format attestation reports with a
//! test VCEK whose chain ends in a test ARK (`testdata/sim-snp`, made by its `generate.sh`).
//!
//! Nothing trusts the test ARK by default: a verifier accepts these reports only when the operator
//! adds it (`SnpRoots::with_ark`), and such verdicts are labelled simulated.
//!
//! Report layout: AMD 56860 `ATTESTATION_REPORT`, as parsed by `initra_evidence::snp::SnpReport`:
//!
//! ```text
//! 0x000 version 3, guest_svn, policy (0x30000 | debug bit 19), family_id, image_id, vmpl,
//!       signature_algo 1, current_tcb, platform_info, flags (signing_key 0 = VCEK), reserved
//! 0x050 report_data, measurement, host_data, id_key_digest, author_key_digest, report_id,
//!       report_id_ma (all 0xff: no migration agent)
//! 0x180 reported_tcb, cpuid family / model / stepping, reserved[21], chip_id (= the VCEK's hwID)
//! 0x1E0 committed_tcb, current / committed version, launch_tcb, reserved
//! 0x2A0 signature r[72], s[72]: ECDSA P-384 SHA-384 over 0x000..0x2A0, little-endian, zero-extended
//! ```

use std::path::{Path, PathBuf};

use initra_evidence::codec::Reader;
use initra_evidence::snp::{
    CertTable, TcbLayout, TcbParts, TcbVersion, GUID_ARK, GUID_ASK, GUID_VCEK, POLICY_DEBUG,
    REPORT_LEN, SIGNED_LEN, SIG_ALGO_ECDSA_P384_SHA384,
};
use initra_evidence::{ChipId, HostData, Measurement48, ReportData};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P384_SHA384_FIXED_SIGNING};
use zeroize::Zeroizing;

use crate::{AttestedEvidence, Attester, Backend, Error};

/// File names inside a simulated SNP platform directory (`testdata/sim-snp`).
pub mod layout {
    /// The test ARK (DER): the root to give a verifier (`SnpRoots::with_ark`).
    pub const ARK_DER: &str = "ark.der";
    /// The test ASK (DER), issued by the ARK.
    pub const ASK_DER: &str = "ask.der";
    /// The test VCEK (DER, EC P-384), issued by the ASK, with AMD's VCEK extensions.
    pub const VCEK_DER: &str = "vcek.der";
    /// The VCEK's private key (PKCS#8 DER); signs reports.
    pub const VCEK_KEY: &str = "vcek.key";
}

/// Guest policy of simulated guests: ABI 0.0, bit 16 (SMT allowed) and bit 17 (reserved, must
/// be 1), as the virtee sample; debug (bit 19) only when [`SimSnpOptions::debug`].
pub const SIM_GUEST_POLICY: u64 = 0x30000;

/// Default launch measurement of a simulated guest: 48 bytes of 0x5a.
pub const SIM_MEASUREMENT: [u8; 48] = [0x5a; 48];

/// Bound on a certificate or key file of the platform (real ones are under 2 KiB).
const MAX_FILE: u64 = 64 * 1024;

/// Firmware version written as current and committed: build 4, minor 0x34, major 1 (1.52.4, as
/// the virtee sample).
const FW_VERSION: [u8; 4] = [4, 0x34, 1, 0];

/// `platform_info`: bit 0, SMT enabled.
const PLATFORM_INFO: u64 = 1;

/// CPUID stepping written into reports (family and model come from the product).
const CPUID_STEPPING: u8 = 0x01;

/// The guest-chosen and launch-time fields of simulated reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimSnpOptions {
    /// Launch measurement. Default [`SIM_MEASUREMENT`] (48 bytes of 0x5a).
    pub measurement: Measurement48,
    /// Host data chosen at launch. Default zero.
    pub host_data: HostData,
    /// SHA-384 of the ID key. Default zero.
    pub id_key_digest: Measurement48,
    /// SHA-384 of the author key; when non-zero, `author_key_en` is set. Default zero.
    pub author_key_digest: Measurement48,
    /// Guest SVN. Default 0.
    pub guest_svn: u32,
    /// VMPL the report is requested at. Default 0.
    pub vmpl: u32,
    /// Sets guest policy bit 19 (debugging allowed). Default false.
    pub debug: bool,
}

impl Default for SimSnpOptions {
    fn default() -> Self {
        Self {
            measurement: Measurement48(SIM_MEASUREMENT),
            host_data: HostData::default(),
            id_key_digest: Measurement48::default(),
            author_key_digest: Measurement48::default(),
            guest_svn: 0,
            vmpl: 0,
            debug: false,
        }
    }
}

/// A simulated SEV-SNP chip: the test VCEK key and chain, and the options of the guest it reports.
pub struct SimSnpPlatform {
    dir: PathBuf,
    vcek_key: EcdsaKeyPair,
    vcek_der: Vec<u8>,
    ask_der: Vec<u8>,
    ark_der: Vec<u8>,
    cert_table: Vec<u8>,
    tcb: TcbVersion,
    chip_id: ChipId,
    cpuid: (u8, u8),
    options: SimSnpOptions,
}

impl std::fmt::Debug for SimSnpPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSnpPlatform")
            .field("dir", &self.dir)
            .field("tcb", &self.tcb)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SimSnpPlatform {
    /// Loads `vcek.key`, `vcek.der`, `ask.der` and `ark.der` from `dir` (e.g. `testdata/sim-snp`)
    /// with default [`SimSnpOptions`]. The VCEK's extensions give the TCB and chip id of every
    /// report; its key must match `vcek.key`.
    pub fn load(dir: &Path) -> Result<SimSnpPlatform, Error> {
        let vcek_der = read(dir, layout::VCEK_DER, "VCEK certificate")?;
        let ask_der = read(dir, layout::ASK_DER, "ASK certificate")?;
        let ark_der = read(dir, layout::ARK_DER, "ARK certificate")?;
        let key_path = dir.join(layout::VCEK_KEY);
        let key = Zeroizing::new(read(dir, layout::VCEK_KEY, "VCEK private key")?);
        let vcek_key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &key, &SystemRandom::new())
                .map_err(|e| Error::InvalidFile {
                    path: key_path.clone(),
                    what: "VCEK private key",
                    reason: format!("expected a PKCS#8 DER EC P-384 private key: {e}"),
                })?;

        let vcek_path = dir.join(layout::VCEK_DER);
        let vcek = VcekFields::parse(&vcek_der).map_err(|reason| Error::InvalidFile {
            path: vcek_path.clone(),
            what: "VCEK certificate",
            reason,
        })?;
        if vcek.public_key != vcek_key.public_key().as_ref() {
            return Err(Error::InvalidFile {
                path: key_path,
                what: "VCEK private key",
                reason: format!("does not match the public key of {}", vcek_path.display()),
            });
        }
        let cert_table = CertTable::encode(&[
            (GUID_VCEK, &vcek_der),
            (GUID_ASK, &ask_der),
            (GUID_ARK, &ark_der),
        ])
        .map_err(|e| Error::InvalidValue {
            field: "certificate table",
            reason: e.to_string(),
        })?;
        Ok(SimSnpPlatform {
            dir: dir.to_path_buf(),
            vcek_key,
            vcek_der,
            ask_der,
            ark_der,
            cert_table,
            tcb: TcbVersion::from_parts(&vcek.tcb, TcbLayout::MilanGenoa),
            chip_id: vcek.chip_id,
            cpuid: vcek.cpuid,
            options: SimSnpOptions::default(),
        })
    }

    /// This platform reporting a guest with `options`.
    pub fn with_options(mut self, options: SimSnpOptions) -> Self {
        self.options = options;
        self
    }

    /// The guest options reports are made with.
    pub fn options(&self) -> &SimSnpOptions {
        &self.options
    }

    /// The certificate table (`auxblob` layout): VCEK, ASK, ARK.
    pub fn cert_table(&self) -> Vec<u8> {
        self.cert_table.clone()
    }

    /// The test ARK (DER): what a verifier must be given to accept these reports.
    pub fn ark_der(&self) -> &[u8] {
        &self.ark_der
    }

    /// The test ASK (DER).
    pub fn ask_der(&self) -> &[u8] {
        &self.ask_der
    }

    /// The test VCEK (DER).
    pub fn vcek_der(&self) -> &[u8] {
        &self.vcek_der
    }

    /// The TCB the VCEK certifies: reported, current, committed and launch TCB of every report.
    pub fn tcb(&self) -> TcbVersion {
        self.tcb
    }

    /// The chip id of every report (the VCEK's hwID).
    pub fn chip_id(&self) -> &ChipId {
        &self.chip_id
    }

    /// A signed 1184-byte version 3 report carrying `report_data` and the options.
    pub fn report(&self, report_data: &ReportData) -> Result<Vec<u8>, Error> {
        let o = &self.options;
        let policy = SIM_GUEST_POLICY | if o.debug { POLICY_DEBUG } else { 0 };
        // flags: bit 0 author_key_en, bit 1 mask_chip_key (0), bits 2..4 signing_key (0 = VCEK).
        let flags = u32::from(!o.author_key_digest.is_zero());
        let tcb = &self.tcb.0;
        let (family, model) = self.cpuid;

        let mut r = Vec::with_capacity(REPORT_LEN);
        r.extend_from_slice(&3u32.to_le_bytes()); // 0x000 version
        r.extend_from_slice(&o.guest_svn.to_le_bytes()); // 0x004
        r.extend_from_slice(&policy.to_le_bytes()); // 0x008
        r.extend_from_slice(&[0u8; 32]); // 0x010 family_id, 0x020 image_id
        r.extend_from_slice(&o.vmpl.to_le_bytes()); // 0x030
        r.extend_from_slice(&SIG_ALGO_ECDSA_P384_SHA384.to_le_bytes()); // 0x034
        r.extend_from_slice(tcb); // 0x038 current_tcb
        r.extend_from_slice(&PLATFORM_INFO.to_le_bytes()); // 0x040
        r.extend_from_slice(&flags.to_le_bytes()); // 0x048
        r.extend_from_slice(&[0u8; 4]); // 0x04C reserved
        r.extend_from_slice(&report_data.0); // 0x050
        r.extend_from_slice(&o.measurement.0); // 0x090
        r.extend_from_slice(&o.host_data.0); // 0x0C0
        r.extend_from_slice(&o.id_key_digest.0); // 0x0E0
        r.extend_from_slice(&o.author_key_digest.0); // 0x110
        r.extend_from_slice(&self.report_id()); // 0x140
        r.extend_from_slice(&[0xff; 32]); // 0x160 report_id_ma: no migration agent
        r.extend_from_slice(tcb); // 0x180 reported_tcb
        r.extend_from_slice(&[family, model, CPUID_STEPPING]); // 0x188
        r.extend_from_slice(&[0u8; 21]); // 0x18B reserved
        r.extend_from_slice(&self.chip_id.0); // 0x1A0
        r.extend_from_slice(tcb); // 0x1E0 committed_tcb
        r.extend_from_slice(&FW_VERSION); // 0x1E8 current build, minor, major
        r.extend_from_slice(&FW_VERSION); // 0x1EC committed
        r.extend_from_slice(tcb); // 0x1F0 launch_tcb
        r.resize(SIGNED_LEN, 0); // 0x1F8 reserved

        let sig = self
            .vcek_key
            .sign(&SystemRandom::new(), &r)
            .map_err(Error::crypto("signing the SNP report with the VCEK key"))?;
        let (big_r, big_s) = sig
            .as_ref()
            .split_at_checked(48)
            .filter(|(_, s)| s.len() == 48)
            .ok_or(Error::Crypto {
                operation: "signing the SNP report (unexpected signature length)",
            })?;
        // AMD stores r and s little-endian, zero-extended to 72 bytes each.
        for component in [big_r, big_s] {
            r.extend(component.iter().rev());
            r.extend_from_slice(&[0u8; 24]);
        }
        r.resize(REPORT_LEN, 0); // 0x330 reserved
        Ok(r)
    }

    /// A fixed report id per guest (real firmware picks one at launch): SHA-256 over a label, the
    /// measurement and the host data.
    fn report_id(&self) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"initra sim-snp report_id");
        ctx.update(&self.options.measurement.0);
        ctx.update(&self.options.host_data.0);
        let mut id = [0u8; 32];
        id.copy_from_slice(ctx.finish().as_ref());
        id
    }
}

impl Attester for SimSnpPlatform {
    fn backend(&self) -> Backend {
        Backend::SimSnp
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Error> {
        self.report(&ReportData(*report_data))
    }

    /// The report with the certificate table, as configfs-tsm hands out `outblob` and `auxblob`.
    fn evidence(&self, report_data: &[u8; 64]) -> Result<AttestedEvidence, Error> {
        Ok(AttestedEvidence {
            evidence: self.quote(report_data)?,
            endorsements: Some(self.cert_table()),
        })
    }
}

fn read(dir: &Path, name: &str, what: &'static str) -> Result<Vec<u8>, Error> {
    let path = dir.join(name);
    let missing = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile {
            path: path.clone(),
            made_by: "testdata/sim-snp/generate.sh (a simulated SEV-SNP platform)",
            what,
            dir: dir.to_path_buf(),
        },
        _ => Error::io(&path, e),
    };
    let len = std::fs::metadata(&path).map_err(missing)?.len();
    if len > MAX_FILE {
        return Err(Error::InvalidFile {
            path,
            what,
            reason: format!("{len} bytes exceeds the maximum {MAX_FILE}"),
        });
    }
    std::fs::read(&path).map_err(missing)
}

/// `1.3.6.1.4.1.3704.1` (AMD's SEV arc), DER content octets.
const AMD_ARC: [u8; 8] = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01];

/// What reports take from the VCEK: its public key, TCB, hwID and product.
struct VcekFields {
    /// The uncompressed EC point of the SubjectPublicKeyInfo.
    public_key: Vec<u8>,
    tcb: TcbParts,
    chip_id: ChipId,
    /// CPUID family and model of the productName's product.
    cpuid: (u8, u8),
}

impl VcekFields {
    /// Reads the SubjectPublicKeyInfo and AMD's extensions (AMD 57230, docs/snp.md §6) with a
    /// minimal DER walk: Certificate → tbsCertificate → [version, serial, signature, issuer,
    /// validity, subject, subjectPublicKeyInfo, ..., [3] extensions].
    fn parse(der: &[u8]) -> Result<Self, String> {
        let err = |e: initra_evidence::Error| e.to_string();
        let mut outer = Reader::new(der);
        let cert = expect_tlv(&mut outer, 0x30, "certificate")?;
        let mut tbs = Reader::new(expect_tlv(&mut Reader::new(cert), 0x30, "tbsCertificate")?);
        if peek(&tbs) == Some(0xa0) {
            der_tlv(&mut tbs).map_err(err)?;
        }
        for field in ["serial", "signature", "issuer", "validity", "subject"] {
            der_tlv(&mut tbs).map_err(|e| format!("{field}: {e}"))?;
        }
        let spki = expect_tlv(&mut tbs, 0x30, "subjectPublicKeyInfo")?;
        let mut spki = Reader::new(spki);
        expect_tlv(&mut spki, 0x30, "subjectPublicKeyInfo.algorithm")?;
        let bits = expect_tlv(&mut spki, 0x03, "subjectPublicKeyInfo.subjectPublicKey")?;
        let public_key = match bits {
            [0, point @ ..] => point.to_vec(),
            _ => return Err("subjectPublicKey: expected a BIT STRING without unused bits".into()),
        };

        let mut extensions = Vec::new();
        while !tbs.is_empty() {
            let (tag, value) = der_tlv(&mut tbs).map_err(err)?;
            if tag != 0xa3 {
                continue;
            }
            let mut list = Reader::new(expect_tlv(&mut Reader::new(value), 0x30, "extensions")?);
            while !list.is_empty() {
                let mut ext = Reader::new(expect_tlv(&mut list, 0x30, "extension")?);
                let oid = expect_tlv(&mut ext, 0x06, "extension.extnID")?;
                if peek(&ext) == Some(0x01) {
                    der_tlv(&mut ext).map_err(err)?; // critical
                }
                let value = expect_tlv(&mut ext, 0x04, "extension.extnValue")?;
                extensions.push((oid, value));
            }
        }
        let find = |suffix: &[u8]| {
            extensions
                .iter()
                .find(|(oid, _)| oid.strip_prefix(&AMD_ARC[..]) == Some(suffix))
                .map(|(_, value)| *value)
        };
        let spl = |suffix: &[u8], name: &str| match find(suffix) {
            Some([0x02, 1, v]) if *v < 0x80 => Ok(*v),
            Some([0x02, 2, 0, v]) if *v >= 0x80 => Ok(*v),
            Some(other) => Err(format!(
                "{name}: expected a DER INTEGER 0..=255, got {}",
                hex::encode(other)
            )),
            None => Err(format!("no {name} extension")),
        };
        let tcb = TcbParts {
            fmc: None,
            bootloader: spl(&[3, 1], "blSPL")?,
            tee: spl(&[3, 2], "teeSPL")?,
            snp: spl(&[3, 3], "snpSPL")?,
            microcode: spl(&[3, 8], "ucodeSPL")?,
        };
        let hwid = find(&[4]).ok_or("no hwID extension")?;
        let chip_id = ChipId(
            <[u8; 64]>::try_from(hwid)
                .map_err(|_| format!("hwID: expected 64 bytes, got {}", hwid.len()))?,
        );
        let cpuid = match find(&[2]) {
            Some([0x16, _, name @ ..]) if name.starts_with(b"Milan") => (0x19, 0x01),
            Some([0x16, _, name @ ..]) if name.starts_with(b"Genoa") => (0x19, 0x11),
            other => {
                return Err(format!(
                    "productName: expected IA5String Milan-* or Genoa-* (the simulated products), got {}",
                    other.map_or_else(|| "none".to_owned(), hex::encode)
                ))
            }
        };
        Ok(Self {
            public_key,
            tcb,
            chip_id,
            cpuid,
        })
    }
}

fn peek(r: &Reader<'_>) -> Option<u8> {
    r.clone().u8("der.tag").ok()
}

/// One DER TLV (definite length, up to four length bytes).
fn der_tlv<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), initra_evidence::Error> {
    let tag = r.u8("der.tag")?;
    let first = r.u8("der.length")?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(initra_evidence::Error::Unsupported {
                what: format!("DER length of {n} bytes"),
            });
        }
        r.take(n, "der.length")?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    Ok((tag, r.take(len, "der.value")?))
}

fn expect_tlv<'a>(r: &mut Reader<'a>, tag: u8, field: &str) -> Result<&'a [u8], String> {
    match der_tlv(r) {
        Ok((t, value)) if t == tag => Ok(value),
        Ok((t, _)) => Err(format!("{field}: expected tag {tag:#04x}, got {t:#04x}")),
        Err(e) => Err(format!("{field}: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed-size reports
mod tests {
    use initra_evidence::snp::{SigningKey, SnpReport};

    use super::*;

    fn fixture() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/sim-snp"
        ))
    }

    #[test]
    fn report_parses_and_carries_report_data_and_defaults() {
        let p = SimSnpPlatform::load(&fixture()).unwrap();
        assert_eq!(p.backend(), Backend::SimSnp);
        let data: [u8; 64] = core::array::from_fn(|i| i as u8);
        let raw = p.quote(&data).unwrap();
        assert_eq!(raw.len(), REPORT_LEN);
        let r = SnpReport::parse(&raw).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.report_data.0, data);
        assert_eq!(r.measurement.0, [0x5a; 48]);
        assert_eq!(r.policy, 0x30000);
        assert!(!r.is_debug());
        assert_eq!(r.vmpl, 0);
        assert_eq!(r.signature_algo, 1);
        assert_eq!(r.signing_key, SigningKey::Vcek);
        assert!(!r.author_key_en && !r.mask_chip_key);
        for tcb in [r.reported_tcb, r.current_tcb, r.committed_tcb, r.launch_tcb] {
            assert_eq!(tcb.to_string(), "0300000000000873");
        }
        let cpu = r.cpuid.unwrap();
        assert_eq!((cpu.family, cpu.model, cpu.stepping), (0x19, 0x01, 0x01));
        // chip_id = the hwID documented in testdata/sim-snp/README.md.
        assert_eq!(
            r.chip_id.to_hex(),
            "696e697472612d73696d2d736e702d6368697000000000000000000000000000\
             202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
        );
        assert_eq!(r.report_id_ma.0, [0xff; 32]);
        assert_eq!(r.current_version, (1, 0x34, 4));
        // r and s: 48 significant bytes each, upper 24 zero.
        assert!(r.signature_fixed_be().is_some());
        assert!(r.signature_r[48..].iter().all(|b| *b == 0));
    }

    #[test]
    fn options_are_reported() {
        let opts = SimSnpOptions {
            measurement: Measurement48([0x11; 48]),
            host_data: HostData([0x22; 32]),
            id_key_digest: Measurement48([0x33; 48]),
            author_key_digest: Measurement48([0x44; 48]),
            guest_svn: 7,
            vmpl: 2,
            debug: true,
        };
        let p = SimSnpPlatform::load(&fixture())
            .unwrap()
            .with_options(opts.clone());
        assert_eq!(p.options(), &opts);
        let r = SnpReport::parse(&p.report(&ReportData([9; 64])).unwrap()).unwrap();
        assert_eq!(r.measurement.0, [0x11; 48]);
        assert_eq!(r.host_data.0, [0x22; 32]);
        assert_eq!(r.id_key_digest.0, [0x33; 48]);
        assert_eq!(r.author_key_digest.0, [0x44; 48]);
        assert!(r.author_key_en);
        assert_eq!(r.guest_svn, 7);
        assert_eq!(r.vmpl, 2);
        assert_eq!(r.policy, 0x30000 | POLICY_DEBUG);
        assert!(r.is_debug());
    }

    #[test]
    fn signature_verifies_with_the_vcek_key_over_the_signed_bytes() {
        let p = SimSnpPlatform::load(&fixture()).unwrap();
        let raw = p.quote(&[7; 64]).unwrap();
        let r = SnpReport::parse(&raw).unwrap();
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P384_SHA384_FIXED,
            p.vcek_key.public_key().as_ref().to_vec(),
        );
        let sig = r.signature_fixed_be().unwrap();
        key.verify(r.signed_bytes(), &sig).unwrap();
        let mut bad = raw;
        bad[0x90] ^= 1; // measurement
        let bad = SnpReport::parse(&bad).unwrap();
        assert!(key.verify(bad.signed_bytes(), &sig).is_err());
    }

    #[test]
    fn evidence_carries_the_cert_table() {
        let p = SimSnpPlatform::load(&fixture()).unwrap();
        let e = p.evidence(&[5; 64]).unwrap();
        assert_eq!(e.endorsements, Some(p.cert_table()));
        let r = SnpReport::parse(&e.evidence).unwrap();
        assert_eq!(r.report_data.0, [5; 64]);
    }

    #[test]
    fn cert_table_holds_the_chain() {
        let p = SimSnpPlatform::load(&fixture()).unwrap();
        let table = CertTable::parse(&p.cert_table()).unwrap();
        assert_eq!(table.entries.len(), 3);
        assert_eq!(table.get(GUID_VCEK), Some(p.vcek_der()));
        assert_eq!(table.get(GUID_ASK), Some(p.ask_der()));
        assert_eq!(table.get(GUID_ARK), Some(p.ark_der()));
        let ark = std::fs::read(fixture().join("ark.der")).unwrap();
        assert_eq!(p.ark_der(), ark.as_slice());
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = SimSnpPlatform::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("vcek.der: missing (VCEK certificate)"), "{e}");

        for f in ["ark.der", "ask.der", "vcek.der", "vcek.key"] {
            std::fs::copy(fixture().join(f), dir.path().join(f)).unwrap();
        }
        // The ASK is RSA and has none of the VCEK's extensions.
        std::fs::copy(fixture().join("ask.der"), dir.path().join("vcek.der")).unwrap();
        let e = SimSnpPlatform::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("vcek.der: invalid VCEK certificate"), "{e}");

        std::fs::copy(fixture().join("vcek.der"), dir.path().join("vcek.der")).unwrap();
        std::fs::write(dir.path().join("vcek.key"), b"not a key").unwrap();
        let e = SimSnpPlatform::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("vcek.key: invalid VCEK private key: expected a PKCS#8"),
            "{e}"
        );

        // A P-384 key that is not the VCEK's.
        let other =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        std::fs::write(dir.path().join("vcek.key"), other.as_ref()).unwrap();
        let e = SimSnpPlatform::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("does not match the public key of"), "{e}");
    }
}
