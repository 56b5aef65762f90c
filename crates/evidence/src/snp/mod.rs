//! AMD SEV-SNP attestation reports (`docs/snp.md`).
//!
//! The report is the 1184-byte `ATTESTATION_REPORT` of the SEV-SNP Firmware ABI specification
//! (AMD 56860, "ATTESTATION_REPORT Structure"); all integers little-endian. It arrives from
//! configfs-tsm's `outblob` (provider `sev_guest`) or `/dev/sev-guest`, as binary or hex.

mod certs;
mod tcb;

use serde::Serialize;

pub use certs::{
    CertTable, CertTableEntry, GUID_ARK, GUID_ASK, GUID_VCEK, GUID_VLEK,
    MAX_ENTRIES as MAX_CERT_TABLE_ENTRIES,
};
pub use tcb::{TcbLayout, TcbParts, TcbVersion};

use crate::codec::Reader;
use crate::types::{ChipId, GuestId16, HostData, Measurement48, ReportData, ReportId};
use crate::Error;

/// Size of an attestation report.
pub const REPORT_LEN: usize = 0x4A0;
/// Offset of the signature: the signed bytes are `0..SIGNED_LEN`.
pub const SIGNED_LEN: usize = 0x2A0;
/// `signature_algo` 1: ECDSA P-384 with SHA-384, the only algorithm defined.
pub const SIG_ALGO_ECDSA_P384_SHA384: u32 = 1;
/// Report versions this parser knows (2: Milan/Genoa firmware, 3: adds CPUID, 5: adds mitigation
/// vectors; the fields read here are at the same offsets in all).
pub const KNOWN_VERSIONS: [u32; 3] = [2, 3, 5];

/// Guest policy bit 19: the guest may be debugged (the hypervisor can read its memory).
pub const POLICY_DEBUG: u64 = 1 << 19;
/// Guest policy bit 16: SMT allowed.
pub const POLICY_SMT: u64 = 1 << 16;
/// Guest policy bit 18: a migration agent may be associated.
pub const POLICY_MIGRATE_MA: u64 = 1 << 18;
/// Guest policy bit 20: single socket only.
pub const POLICY_SINGLE_SOCKET: u64 = 1 << 20;

/// Which key signed the report (`flags` bits 2..4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKey {
    /// The chip's Versioned Chip Endorsement Key.
    Vcek,
    /// A Versioned Loaded Endorsement Key (cloud provider).
    Vlek,
    /// No key (7): the report is unsigned.
    None,
    /// A value the spec reserves.
    Reserved(u8),
}

/// The CPUID family / model / stepping of the reporting chip (report version 3 and later).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CpuId {
    /// CPUID family (0x19 Milan / Genoa, 0x1A Turin).
    pub family: u8,
    /// CPUID model (0x01 Milan, 0x11 Genoa, 0x02 Turin).
    pub model: u8,
    /// CPUID stepping.
    pub stepping: u8,
}

/// A parsed SEV-SNP attestation report plus its exact bytes.
///
/// ```text
/// 0x000 version u32         0x004 guest_svn u32     0x008 policy u64      0x010 family_id[16]
/// 0x020 image_id[16]        0x030 vmpl u32          0x034 signature_algo u32
/// 0x038 current_tcb u64     0x040 platform_info u64 0x048 flags u32 (bit0 author_key_en,
///       bit1 mask_chip_key, bits2-4 signing_key)    0x04C reserved u32
/// 0x050 report_data[64]     0x090 measurement[48]   0x0C0 host_data[32]   0x0E0 id_key_digest[48]
/// 0x110 author_key_digest[48] 0x140 report_id[32]   0x160 report_id_ma[32] 0x180 reported_tcb u64
/// 0x188 cpuid fam,mod,step (v3+; v2 reserved) reserved[21]                0x1A0 chip_id[64]
/// 0x1E0 committed_tcb u64   0x1E8 current build,minor,major,rsvd  0x1EC committed build,minor,major,rsvd
/// 0x1F0 launch_tcb u64      0x1F8 reserved / mitigation vectors[168]
/// 0x2A0 signature: r[72] s[72] (little-endian, zero-extended) reserved[368]   = 0x4A0 bytes
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnpReport {
    /// Report format version.
    pub version: u32,
    /// Guest SVN (from the ID block).
    pub guest_svn: u32,
    /// Guest policy (bit 19 = debug; `docs/snp.md` §4).
    pub policy: u64,
    /// Family ID (ID block).
    pub family_id: GuestId16,
    /// Image ID (ID block).
    pub image_id: GuestId16,
    /// The VMPL the report was requested at.
    pub vmpl: u32,
    /// Signature algorithm (1 = ECDSA P-384 SHA-384).
    pub signature_algo: u32,
    /// Current TCB of the platform.
    pub current_tcb: TcbVersion,
    /// Platform information (bit 0 SMT enabled, bit 1 TSME enabled, ...).
    pub platform_info: u64,
    /// AUTHOR_KEY_EN: the author key digest is present.
    pub author_key_en: bool,
    /// MASK_CHIP_KEY: `chip_id` is zeroed.
    pub mask_chip_key: bool,
    /// The key that signed the report.
    pub signing_key: SigningKey,
    /// Report data chosen by the guest.
    pub report_data: ReportData,
    /// Launch measurement.
    pub measurement: Measurement48,
    /// Host data chosen at launch.
    pub host_data: HostData,
    /// SHA-384 of the ID key that signed the ID block.
    pub id_key_digest: Measurement48,
    /// SHA-384 of the author key that certified the ID key (when `author_key_en`).
    pub author_key_digest: Measurement48,
    /// Report ID of the guest.
    pub report_id: ReportId,
    /// Report ID of the migration agent.
    pub report_id_ma: ReportId,
    /// The TCB the VCEK that signs this report was derived from.
    pub reported_tcb: TcbVersion,
    /// CPUID family / model / stepping (version 3+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuid: Option<CpuId>,
    /// Chip identifier (the VCEK's hwID extension).
    pub chip_id: ChipId,
    /// Committed TCB.
    pub committed_tcb: TcbVersion,
    /// Current firmware version (major, minor, build).
    pub current_version: (u8, u8, u8),
    /// Committed firmware version (major, minor, build).
    pub committed_version: (u8, u8, u8),
    /// TCB at launch.
    pub launch_tcb: TcbVersion,
    /// Signature r (72 bytes, little-endian as in the report).
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub signature_r: [u8; 72],
    /// Signature s (72 bytes, little-endian as in the report).
    #[serde(serialize_with = "crate::quote::ser_hex")]
    pub signature_s: [u8; 72],
    #[serde(skip)]
    raw: Vec<u8>,
}

/// Whether `bytes` look like an SNP report rather than a DCAP quote: the first little-endian u32 is a
/// known report version (2, 3, 5). A DCAP quote's first u32 is `version | att_key_type << 16` with
/// `att_key_type` 2 or 3, so it never is. Length and `signature_algo` are left to
/// [`SnpReport::parse`], whose errors then name what is wrong with the report (a truncated report
/// is a truncated report, not "an unsupported quote version").
pub fn looks_like_snp_report(bytes: &[u8]) -> bool {
    bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .is_some_and(|v| KNOWN_VERSIONS.contains(&v))
}

impl SnpReport {
    /// Parses a report (§2). Trailing zero bytes after the 1184 bytes are padding; anything else
    /// after them is an error, as is an unknown version or signature algorithm.
    pub fn parse(bytes: &[u8]) -> Result<SnpReport, Error> {
        if bytes.is_empty() {
            return Err(Error::Empty);
        }
        let mut r = Reader::new(bytes);
        let version = r.u32_le("snp.version")?;
        if !KNOWN_VERSIONS.contains(&version) {
            return Err(Error::Unsupported {
                what: format!("SNP report version {version} (expected 2, 3 or 5)"),
            });
        }
        let guest_svn = r.u32_le("snp.guest_svn")?;
        let policy = r.u64_le("snp.policy")?;
        let family_id = GuestId16(r.take_array("snp.family_id")?);
        let image_id = GuestId16(r.take_array("snp.image_id")?);
        let vmpl = r.u32_le("snp.vmpl")?;
        let signature_algo = r.u32_le("snp.signature_algo")?;
        if signature_algo != SIG_ALGO_ECDSA_P384_SHA384 {
            return Err(Error::malformed(
                "snp.signature_algo",
                "1 (ECDSA P-384 SHA-384)",
                signature_algo.to_string(),
            ));
        }
        let current_tcb = TcbVersion(r.take_array("snp.current_tcb")?);
        let platform_info = r.u64_le("snp.platform_info")?;
        let flags = r.u32_le("snp.flags")?;
        r.take(4, "snp.reserved0")?;
        let report_data = ReportData(r.take_array("snp.report_data")?);
        let measurement = Measurement48(r.take_array("snp.measurement")?);
        let host_data = HostData(r.take_array("snp.host_data")?);
        let id_key_digest = Measurement48(r.take_array("snp.id_key_digest")?);
        let author_key_digest = Measurement48(r.take_array("snp.author_key_digest")?);
        let report_id = ReportId(r.take_array("snp.report_id")?);
        let report_id_ma = ReportId(r.take_array("snp.report_id_ma")?);
        let reported_tcb = TcbVersion(r.take_array("snp.reported_tcb")?);
        let [family, model, stepping] = r.take_array::<3>("snp.cpuid")?;
        let cpuid = (version >= 3).then_some(CpuId {
            family,
            model,
            stepping,
        });
        r.take(21, "snp.reserved1")?;
        let chip_id = ChipId(r.take_array("snp.chip_id")?);
        let committed_tcb = TcbVersion(r.take_array("snp.committed_tcb")?);
        let [cur_build, cur_minor, cur_major, _] = r.take_array::<4>("snp.current_version")?;
        let [com_build, com_minor, com_major, _] = r.take_array::<4>("snp.committed_version")?;
        let launch_tcb = TcbVersion(r.take_array("snp.launch_tcb")?);
        r.take(SIGNED_LEN - 0x1F8, "snp.reserved2")?;
        let signature_r = r.take_array("snp.signature.r")?;
        let signature_s = r.take_array("snp.signature.s")?;
        r.take(368, "snp.signature.reserved")?;
        let len = r.position();
        if let Some(off) = r.rest().iter().position(|b| *b != 0) {
            return Err(Error::TrailingData {
                offset: len + off,
                quote_len: len,
            });
        }
        let signing_key = match (flags >> 2) & 0b111 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            // INVARIANT: masked to three bits, so the cast is lossless.
            other => SigningKey::Reserved(other as u8),
        };
        Ok(SnpReport {
            version,
            guest_svn,
            policy,
            family_id,
            image_id,
            vmpl,
            signature_algo,
            current_tcb,
            platform_info,
            author_key_en: flags & 1 != 0,
            mask_chip_key: flags & 2 != 0,
            signing_key,
            report_data,
            measurement,
            host_data,
            id_key_digest,
            author_key_digest,
            report_id,
            report_id_ma,
            reported_tcb,
            cpuid,
            chip_id,
            committed_tcb,
            current_version: (cur_major, cur_minor, cur_build),
            committed_version: (com_major, com_minor, com_build),
            launch_tcb,
            signature_r,
            signature_s,
            raw: bytes.get(..len).unwrap_or_default().to_vec(),
        })
    }

    /// The exact report bytes (padding removed).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The bytes covered by the signature (`0x000..0x2A0`).
    pub fn signed_bytes(&self) -> &[u8] {
        self.raw.get(..SIGNED_LEN).unwrap_or_default()
    }

    /// The signature as `r || s`, each 48 bytes big-endian (what ECDSA P-384 verifiers take).
    /// `None` when a component does not fit in 48 bytes (its upper 24 bytes are not zero).
    pub fn signature_fixed_be(&self) -> Option<[u8; 96]> {
        let mut out = [0u8; 96];
        for (component, dst) in [&self.signature_r, &self.signature_s]
            .into_iter()
            .zip(out.chunks_exact_mut(48))
        {
            let (low, high) = component.split_at(48);
            if high.iter().any(|b| *b != 0) {
                return None;
            }
            for (d, s) in dst.iter_mut().zip(low.iter().rev()) {
                *d = *s;
            }
        }
        Some(out)
    }

    /// Whether the guest policy allows debugging (bit 19).
    pub fn is_debug(&self) -> bool {
        self.policy & POLICY_DEBUG != 0
    }
}
