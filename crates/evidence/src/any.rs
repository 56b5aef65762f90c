//! [`Evidence`]: a DCAP quote (SGX, TDX) or an SEV-SNP report, told apart by their bytes.

use crate::quote::Quote;
use crate::snp::{looks_like_snp_report, SnpReport};
use crate::types::ReportData;
use crate::Error;

/// Attestation evidence of any kind initra verifies.
// Plain variants keep matching simple for callers; values are parsed once and short-lived.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// An SGX or TDX DCAP quote.
    Quote(Quote),
    /// An AMD SEV-SNP attestation report.
    Snp(SnpReport),
}

impl Evidence {
    /// Parses `bytes` as an SNP report when they look like one (`docs/snp.md` §2), else as a DCAP
    /// quote (`docs/quote-formats.md`). Trailing zero padding is allowed in both.
    pub fn parse(bytes: &[u8]) -> Result<Evidence, Error> {
        if looks_like_snp_report(bytes) {
            SnpReport::parse(bytes).map(Evidence::Snp)
        } else {
            Quote::parse(bytes).map(Evidence::Quote)
        }
    }

    /// The 64 bytes of report data the evidence carries.
    pub fn report_data(&self) -> &ReportData {
        match self {
            Evidence::Quote(q) => q.report_data(),
            Evidence::Snp(r) => &r.report_data,
        }
    }

    /// The exact evidence bytes (padding removed).
    pub fn raw(&self) -> &[u8] {
        match self {
            Evidence::Quote(q) => q.raw(),
            Evidence::Snp(r) => r.raw(),
        }
    }

    /// `"sgx"`, `"tdx"` or `"snp"`.
    pub fn tee_name(&self) -> &'static str {
        match self {
            Evidence::Quote(q) => q.tee().as_str(),
            Evidence::Snp(_) => "snp",
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    fn sample(path: &str) -> Vec<u8> {
        let p = format!("{}/../../testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        crate::input::decode_evidence(&std::fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn tells_quotes_and_snp_reports_apart() {
        let snp = Evidence::parse(&sample("snp/virtee/report_milan.hex")).unwrap();
        assert_eq!(snp.tee_name(), "snp");
        assert_eq!(snp.raw().len(), crate::snp::REPORT_LEN);
        let sgx = Evidence::parse(&sample("sgx/trustee-occlum-v3/occlum_quote.dat")).unwrap();
        assert_eq!(sgx.tee_name(), "sgx");
        let tdx = Evidence::parse(&sample("tdx/trustee-v4/tdx_quote_4.dat")).unwrap();
        assert_eq!(tdx.tee_name(), "tdx");
        assert!(Evidence::parse(b"junk").is_err());
        // A broken SNP report is reported as one, naming what is wrong.
        let raw = sample("snp/virtee/report_milan.hex");
        let short = Evidence::parse(&raw[..1183]).unwrap_err().to_string();
        assert!(short.contains("snp."), "{short}");
        let mut algo = raw;
        algo[0x34] = 2;
        let e = Evidence::parse(&algo).unwrap_err().to_string();
        assert!(e.contains("signature") || e.contains("algo"), "{e}");
        assert!(matches!(Evidence::parse(&[]), Err(Error::Empty)));
    }
}
