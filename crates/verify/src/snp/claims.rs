//! The attested identity of a verified SNP report: what policy and access control decide on.

use initra_evidence::snp::{SnpReport, TcbParts, TcbVersion};
use initra_evidence::{ChipId, GuestId16, HostData, Measurement48, ReportData};
use serde::{Serialize, Serializer};

use super::SnpProduct;

/// SEV-SNP guest identity (the `--json` field names of `docs/cli-json.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnpClaims {
    /// The product the report was verified for.
    pub product: SnpProduct,
    /// Launch measurement.
    pub measurement: Measurement48,
    /// Host data.
    pub host_data: HostData,
    /// ID key digest.
    pub id_key_digest: Measurement48,
    /// Author key digest.
    pub author_key_digest: Measurement48,
    /// Family ID.
    pub family_id: GuestId16,
    /// Image ID.
    pub image_id: GuestId16,
    /// Guest SVN.
    pub guest_svn: u32,
    /// Guest policy (`0x..` hex in JSON).
    #[serde(serialize_with = "ser_hex_u64")]
    pub policy: u64,
    /// VMPL the report was requested at.
    pub vmpl: u32,
    /// Debug allowed by the guest policy (bit 19).
    pub debug: bool,
    /// Report data.
    pub report_data: ReportData,
    /// Reported TCB (hex of the 8 report bytes).
    pub reported_tcb: TcbVersion,
    /// Reported TCB components under the product's layout.
    pub reported_tcb_parts: TcbParts,
    /// Chip id.
    pub chip_id: ChipId,
    /// Platform info (`0x..` hex in JSON).
    #[serde(serialize_with = "ser_hex_u64")]
    pub platform_info: u64,
}

fn ser_hex_u64<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

impl SnpClaims {
    /// The claims of a report verified for `product`.
    pub fn from_report(report: &SnpReport, product: SnpProduct) -> Self {
        Self {
            product,
            measurement: report.measurement,
            host_data: report.host_data,
            id_key_digest: report.id_key_digest,
            author_key_digest: report.author_key_digest,
            family_id: report.family_id,
            image_id: report.image_id,
            guest_svn: report.guest_svn,
            policy: report.policy,
            vmpl: report.vmpl,
            debug: report.is_debug(),
            report_data: report.report_data,
            reported_tcb: report.reported_tcb,
            reported_tcb_parts: report.reported_tcb.parts(product.tcb_layout()),
            chip_id: report.chip_id,
            platform_info: report.platform_info,
        }
    }

    /// A short identity for logs: `snp product=milan measurement=.. host_data=.. vmpl=0
    /// reported_tcb=.. chip_id=..`.
    pub fn summary(&self) -> String {
        format!(
            "snp product={} measurement={} host_data={} vmpl={} policy={:#x} reported_tcb={} chip_id={}",
            self.product,
            self.measurement,
            self.host_data,
            self.vmpl,
            self.policy,
            self.reported_tcb,
            self.chip_id
        )
    }
}
