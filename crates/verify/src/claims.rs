//! The attested identity taken from a verified quote: what policy and per-secret access control
//! decide on.

use initra_evidence::quote::QuoteBody;
use initra_evidence::{
    Attributes, CpuSvn, Measurement, Measurement48, Quote, ReportData, TdAttributes, Tee,
    TeeTcbSvn, Xfam,
};
use serde::Serialize;

use crate::snp::SnpClaims;

/// SGX enclave identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SgxClaims {
    /// MRENCLAVE.
    pub mr_enclave: Measurement,
    /// MRSIGNER.
    pub mr_signer: Measurement,
    /// ISV product id.
    pub isv_prod_id: u16,
    /// ISV SVN.
    pub isv_svn: u16,
    /// CONFIGSVN.
    pub config_svn: u16,
    /// Debug enclave (ATTRIBUTES.FLAGS bit 1).
    pub debug: bool,
    /// Report data.
    pub report_data: ReportData,
    /// ATTRIBUTES.
    pub attributes: Attributes,
    /// CPU SVN.
    pub cpu_svn: CpuSvn,
    /// MISCSELECT.
    pub misc_select: u32,
}

/// TDX TD identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TdxClaims {
    /// MRTD.
    pub mr_td: Measurement48,
    /// RTMR0.
    pub rtmr0: Measurement48,
    /// RTMR1.
    pub rtmr1: Measurement48,
    /// RTMR2.
    pub rtmr2: Measurement48,
    /// RTMR3.
    pub rtmr3: Measurement48,
    /// MRCONFIGID.
    pub mr_config_id: Measurement48,
    /// MROWNER.
    pub mr_owner: Measurement48,
    /// MROWNERCONFIG.
    pub mr_owner_config: Measurement48,
    /// TD attributes.
    pub td_attributes: TdAttributes,
    /// XFAM.
    pub xfam: Xfam,
    /// MRSERVICETD (TD 1.5 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mr_servicetd: Option<Measurement48>,
    /// Debug TD (TUD.DEBUG).
    pub debug: bool,
    /// Report data.
    pub report_data: ReportData,
    /// MRSEAM.
    pub mr_seam: Measurement48,
    /// TEE TCB SVN.
    pub tee_tcb_svn: TeeTcbSvn,
}

/// The typed report fields of a verified quote. Serializes flat (the `--json` field names).
// Plain variants keep matching simple for callers; values are few and short-lived.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Claims {
    /// An SGX enclave.
    Sgx(SgxClaims),
    /// A TDX TD.
    Tdx(TdxClaims),
    /// An SEV-SNP guest.
    Snp(SnpClaims),
}

impl Claims {
    /// The claims of a parsed quote.
    pub fn from_quote(quote: &Quote) -> Self {
        match quote.body() {
            QuoteBody::Sgx(r) => Claims::Sgx(SgxClaims {
                mr_enclave: r.mr_enclave,
                mr_signer: r.mr_signer,
                isv_prod_id: r.isv_prod_id,
                isv_svn: r.isv_svn,
                config_svn: r.config_svn,
                debug: r.is_debug(),
                report_data: r.report_data,
                attributes: r.attributes,
                cpu_svn: r.cpu_svn,
                misc_select: r.misc_select,
            }),
            QuoteBody::Tdx(r) => Claims::Tdx(TdxClaims {
                mr_td: r.mr_td,
                rtmr0: r.rtmr0,
                rtmr1: r.rtmr1,
                rtmr2: r.rtmr2,
                rtmr3: r.rtmr3,
                mr_config_id: r.mr_config_id,
                mr_owner: r.mr_owner,
                mr_owner_config: r.mr_owner_config,
                td_attributes: r.td_attributes,
                xfam: r.xfam,
                mr_servicetd: r.mr_servicetd,
                debug: r.is_debug(),
                report_data: r.report_data,
                mr_seam: r.mr_seam,
                tee_tcb_svn: r.tee_tcb_svn,
            }),
        }
    }

    /// `"sgx"`, `"tdx"` or `"snp"`.
    pub fn tee_name(&self) -> &'static str {
        match self {
            Claims::Sgx(_) => Tee::Sgx.as_str(),
            Claims::Tdx(_) => Tee::Tdx.as_str(),
            Claims::Snp(_) => "snp",
        }
    }

    /// Whether the enclave / TD / guest is debuggable.
    pub fn debug(&self) -> bool {
        match self {
            Claims::Sgx(c) => c.debug,
            Claims::Tdx(c) => c.debug,
            Claims::Snp(c) => c.debug,
        }
    }

    /// The report data.
    pub fn report_data(&self) -> &ReportData {
        match self {
            Claims::Sgx(c) => &c.report_data,
            Claims::Tdx(c) => &c.report_data,
            Claims::Snp(c) => &c.report_data,
        }
    }

    /// A short identity for logs: `sgx mr_enclave=.. mr_signer=..` / `tdx mr_td=..`.
    pub fn summary(&self) -> String {
        match self {
            Claims::Sgx(c) => format!(
                "sgx mr_enclave={} mr_signer={} isv_prod_id={} isv_svn={}",
                c.mr_enclave, c.mr_signer, c.isv_prod_id, c.isv_svn
            ),
            Claims::Tdx(c) => format!("tdx mr_td={}", c.mr_td),
            Claims::Snp(c) => c.summary(),
        }
    }
}
