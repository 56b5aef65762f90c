//! Report bodies: the SGX enclave report (§3) and the TDX TD report 1.0 / 1.5 (§4).

use serde::Serialize;

use crate::codec::Reader;
use crate::types::{
    Attributes, ConfigId, CpuSvn, IsvExtProdId, IsvFamilyId, Measurement, Measurement48,
    ReportData, SeamAttributes, TdAttributes, TeeTcbSvn, Xfam,
};
use crate::Error;

/// The SGX enclave report (ISV enclave report in an SGX quote, and the QE report).
///
/// ```text
/// cpu_svn[16] misc_select u32 reserved[12] isv_ext_prod_id[16] attributes[16] mr_enclave[32]
/// reserved[32] mr_signer[32] reserved[32] config_id[64] isv_prod_id u16 isv_svn u16 config_svn u16
/// reserved[42] isv_family_id[16] report_data[64] — 384 bytes (§3).
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnclaveReport {
    /// CPU security version.
    pub cpu_svn: CpuSvn,
    /// MISCSELECT.
    pub misc_select: u32,
    /// Extended product id.
    pub isv_ext_prod_id: IsvExtProdId,
    /// ATTRIBUTES (flags, xfrm); `attributes.is_debug()` is the DEBUG flag.
    pub attributes: Attributes,
    /// MRENCLAVE.
    pub mr_enclave: Measurement,
    /// MRSIGNER.
    pub mr_signer: Measurement,
    /// CONFIGID.
    pub config_id: ConfigId,
    /// ISV product id.
    pub isv_prod_id: u16,
    /// ISV security version.
    pub isv_svn: u16,
    /// CONFIGSVN.
    pub config_svn: u16,
    /// ISV family id.
    pub isv_family_id: IsvFamilyId,
    /// Report data.
    pub report_data: ReportData,
}

impl EnclaveReport {
    /// Size in bytes.
    pub const LEN: usize = 384;

    /// Parses a 384-byte enclave report (§3).
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let cpu_svn = CpuSvn(r.take_array("report.cpu_svn")?);
        let misc_select = r.u32_le("report.misc_select")?;
        r.take(12, "report.reserved1")?;
        let isv_ext_prod_id = IsvExtProdId(r.take_array("report.isv_ext_prod_id")?);
        let attributes = Attributes::from(r.take_array::<16>("report.attributes")?);
        let mr_enclave = Measurement(r.take_array("report.mr_enclave")?);
        r.take(32, "report.reserved2")?;
        let mr_signer = Measurement(r.take_array("report.mr_signer")?);
        r.take(32, "report.reserved3")?;
        let config_id = ConfigId(r.take_array("report.config_id")?);
        let isv_prod_id = r.u16_le("report.isv_prod_id")?;
        let isv_svn = r.u16_le("report.isv_svn")?;
        let config_svn = r.u16_le("report.config_svn")?;
        r.take(42, "report.reserved4")?;
        let isv_family_id = IsvFamilyId(r.take_array("report.isv_family_id")?);
        let report_data = ReportData(r.take_array("report.report_data")?);
        Ok(Self {
            cpu_svn,
            misc_select,
            isv_ext_prod_id,
            attributes,
            mr_enclave,
            mr_signer,
            config_id,
            isv_prod_id,
            isv_svn,
            config_svn,
            isv_family_id,
            report_data,
        })
    }

    /// Whether the enclave is a debug enclave (ATTRIBUTES.FLAGS bit 1).
    pub fn is_debug(&self) -> bool {
        self.attributes.is_debug()
    }
}

/// The TDX TD report body: TD 1.0 (584 bytes) or TD 1.5 (648 bytes, adds `tee_tcb_svn2` and
/// `mr_servicetd`).
///
/// ```text
/// tee_tcb_svn[16] mr_seam[48] mr_signer_seam[48] seam_attributes[8] td_attributes[8] xfam[8]
/// mr_td[48] mr_config_id[48] mr_owner[48] mr_owner_config[48] rtmr0..3[4×48] report_data[64]
/// (TD 1.5: + tee_tcb_svn2[16] mr_servicetd[48]) (§4).
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TdReport {
    /// TEE TCB SVN (TDX module version and SVNs).
    pub tee_tcb_svn: TeeTcbSvn,
    /// Measurement of the TDX module.
    pub mr_seam: Measurement48,
    /// Signer of the TDX module (zero for Intel's).
    pub mr_signer_seam: Measurement48,
    /// TDX module attributes.
    pub seam_attributes: SeamAttributes,
    /// TD attributes; `td_attributes.is_debug()` is TUD.DEBUG (bit 0).
    pub td_attributes: TdAttributes,
    /// XFAM.
    pub xfam: Xfam,
    /// MRTD: the initial TD measurement.
    pub mr_td: Measurement48,
    /// MRCONFIGID.
    pub mr_config_id: Measurement48,
    /// MROWNER.
    pub mr_owner: Measurement48,
    /// MROWNERCONFIG.
    pub mr_owner_config: Measurement48,
    /// RTMR0.
    pub rtmr0: Measurement48,
    /// RTMR1.
    pub rtmr1: Measurement48,
    /// RTMR2.
    pub rtmr2: Measurement48,
    /// RTMR3.
    pub rtmr3: Measurement48,
    /// Report data.
    pub report_data: ReportData,
    /// TD 1.5 only: TEE TCB SVN 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tee_tcb_svn2: Option<TeeTcbSvn>,
    /// TD 1.5 only: MRSERVICETD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mr_servicetd: Option<Measurement48>,
}

impl TdReport {
    /// Size of a TD 1.0 body.
    pub const LEN_10: usize = 584;
    /// Size of a TD 1.5 body.
    pub const LEN_15: usize = 648;

    /// Parses a TD 1.0 body, or a TD 1.5 body when `td15` (§4).
    pub fn parse(r: &mut Reader<'_>, td15: bool) -> Result<Self, Error> {
        let m48 = |r: &mut Reader<'_>, f: &'static str| -> Result<Measurement48, Error> {
            Ok(Measurement48(r.take_array(f)?))
        };
        let tee_tcb_svn = TeeTcbSvn(r.take_array("td_report.tee_tcb_svn")?);
        let mr_seam = m48(r, "td_report.mr_seam")?;
        let mr_signer_seam = m48(r, "td_report.mr_signer_seam")?;
        let seam_attributes = SeamAttributes(r.take_array("td_report.seam_attributes")?);
        let td_attributes = TdAttributes(r.take_array("td_report.td_attributes")?);
        let xfam = Xfam(r.take_array("td_report.xfam")?);
        let mr_td = m48(r, "td_report.mr_td")?;
        let mr_config_id = m48(r, "td_report.mr_config_id")?;
        let mr_owner = m48(r, "td_report.mr_owner")?;
        let mr_owner_config = m48(r, "td_report.mr_owner_config")?;
        let rtmr0 = m48(r, "td_report.rtmr0")?;
        let rtmr1 = m48(r, "td_report.rtmr1")?;
        let rtmr2 = m48(r, "td_report.rtmr2")?;
        let rtmr3 = m48(r, "td_report.rtmr3")?;
        let report_data = ReportData(r.take_array("td_report.report_data")?);
        let (tee_tcb_svn2, mr_servicetd) = if td15 {
            (
                Some(TeeTcbSvn(r.take_array("td_report.tee_tcb_svn2")?)),
                Some(m48(r, "td_report.mr_servicetd")?),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            tee_tcb_svn,
            mr_seam,
            mr_signer_seam,
            seam_attributes,
            td_attributes,
            xfam,
            mr_td,
            mr_config_id,
            mr_owner,
            mr_owner_config,
            rtmr0,
            rtmr1,
            rtmr2,
            rtmr3,
            report_data,
            tee_tcb_svn2,
            mr_servicetd,
        })
    }

    /// Whether the TD is debuggable (TUD.DEBUG).
    pub fn is_debug(&self) -> bool {
        self.td_attributes.is_debug()
    }

    /// The four RTMRs in order.
    pub fn rtmrs(&self) -> [&Measurement48; 4] {
        [&self.rtmr0, &self.rtmr1, &self.rtmr2, &self.rtmr3]
    }
}
