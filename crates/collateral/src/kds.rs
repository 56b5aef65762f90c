//! AMD Key Distribution Service (KDS) client: the VCEK of one chip at one TCB, the product's
//! ASK + ARK chain and the product's CRL, for SEV-SNP reports that come without a certificate
//! table (`docs/collateral.md`, "SEV-SNP: AMD KDS").
//!
//! Endpoints (AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
//! Specification", pub. 57230, §3 "VCEK Certificate", §4 "Certificate Chain", §5 "CRL"):
//!
//! ```text
//! GET {base}/vcek/v1/{Milan|Genoa}/{hwid: 64 bytes hex}?blSPL=BL&teeSPL=TEE&snpSPL=SNP&ucodeSPL=UCODE  -> DER VCEK
//! GET {base}/vcek/v1/Turin/{hwid: 8 bytes hex}?fmcSPL=FMC&blSPL=BL&teeSPL=TEE&snpSPL=SNP&ucodeSPL=UCODE -> DER VCEK
//! GET {base}/vcek/v1/{product}/cert_chain                                                            -> PEM ASK, ARK
//! GET {base}/vcek/v1/{product}/crl                                                                   -> DER CRL
//! ```
//!
//! SPL values are decimal, two digits at least (`blSPL=03`), as AMD's tools send them. Every
//! answer is checked against what was asked (hwID and SPL extensions of the VCEK, the product
//! names of the chain and CRL) before it is cached: a wrong answer is an error naming the URL,
//! never a cache entry. Signatures are the verifier's job (`initra_verify::SnpVerifier`).

use core::fmt;

use initra_evidence::snp::{SigningKey, SnpReport, TcbParts, TcbVersion};
use initra_evidence::ChipId;
use initra_verify::SnpProduct;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::http::{body_excerpt, HttpClient, HttpLimits, Service, TlsTrust};
use crate::Error;

/// AMD's KDS.
pub const AMD_KDS_URL: &str = "https://kdsintf.amd.com";

/// Significant bytes of a Turin chip id: its KDS hwID (AMD 57230 §3).
pub const TURIN_HWID_LEN: usize = 8;

/// Bound on a VCEK or chain answer (AMD's are 1.3 KiB and 4.6 KiB).
pub const MAX_CERT_BODY: usize = 64 * 1024;

/// VCEK extension OIDs (AMD 57230 Table 8).
const OID_HWID: &str = "1.3.6.1.4.1.3704.1.4";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";

static KDS: Service = Service {
    name: "AMD KDS",
    status_hint: kds_status_hint,
    into_error: kds_error,
};

fn kds_status_hint(status: u16) -> &'static str {
    match status {
        400 => " (bad request: the KDS rejects this hwID or these SPL values)",
        404 => {
            " (not found: no VCEK for this chip id and TCB at this KDS, or the URL is not a KDS base)"
        }
        429 => {
            " (rate limited by the KDS: retry later; a cache_dir keeps each VCEK after one fetch)"
        }
        500..=599 => " (KDS server error)",
        _ => "",
    }
}

/// Which VCEK a report needs: the product, the chip and the reported TCB. Also the cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VcekKey {
    /// The EPYC generation (selects the KDS path, the TCB layout and the ARK).
    pub product: SnpProduct,
    /// The report's chip id.
    pub chip_id: ChipId,
    /// The report's `reported_tcb`.
    pub tcb: TcbVersion,
}

impl VcekKey {
    /// The key of `report`'s VCEK. The product comes from the report's CPUID fields (version 3+
    /// reports), else from `configured` (`snp_product`); when both are present they must agree.
    /// Fails for a report whose chip id is masked (`mask_chip_key`) or that is not VCEK-signed.
    pub fn from_report(report: &SnpReport, configured: Option<SnpProduct>) -> Result<Self, Error> {
        let key_err = |reason: String| Error::Key { reason };
        match report.signing_key {
            SigningKey::Vcek => {}
            SigningKey::Vlek => return Err(key_err(
                "SEV-SNP report signed by a VLEK: the KDS serves VCEKs only; the evidence must \
                     carry the VLEK in its certificate table"
                    .into(),
            )),
            other => {
                return Err(key_err(format!(
                    "SEV-SNP report signing_key: expected vcek, got {other:?}"
                )))
            }
        }
        if report.mask_chip_key || report.chip_id.is_zero() {
            return Err(key_err(
                "SEV-SNP report has no chip id (mask_chip_key is set): its VCEK cannot be fetched \
                 from the KDS; the evidence must carry the certificate table"
                    .into(),
            ));
        }
        let from_cpuid = match report.cpuid {
            None => None,
            Some(c) => Some(SnpProduct::from_cpuid(c.family, c.model).ok_or_else(|| {
                key_err(format!(
                    "SEV-SNP report cpuid: family {:#04x} model {:#04x} is no known product \
                     (milan 0x19/0x00-0x0f, genoa 0x19/0x10-0x1f or 0xa0-0xaf, turin 0x1a/0x00-0x1f)",
                    c.family, c.model
                ))
            })?),
        };
        let product = match (from_cpuid, configured) {
            (Some(p), Some(c)) if p != c => {
                return Err(key_err(format!(
                    "snp_product: configured {c}, but the report's CPUID says {p}"
                )))
            }
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => {
                return Err(key_err(format!(
                    "SEV-SNP report version {} has no CPUID fields: set snp_product (--product \
                     milan|genoa|turin) to fetch its VCEK",
                    report.version
                )))
            }
        };
        Ok(Self {
            product,
            chip_id: report.chip_id,
            tcb: report.reported_tcb,
        })
    }

    /// The KDS hwID: the chip id, or its first [`TURIN_HWID_LEN`] bytes on Turin.
    pub fn hwid(&self) -> &[u8] {
        let bytes = self.chip_id.as_bytes();
        match self.product {
            SnpProduct::Turin => bytes
                .first_chunk::<TURIN_HWID_LEN>()
                .map_or(bytes.as_slice(), |b| b.as_slice()),
            SnpProduct::Milan | SnpProduct::Genoa => bytes.as_slice(),
        }
    }

    /// The reported TCB's components under the product's layout.
    pub fn tcb_parts(&self) -> TcbParts {
        self.tcb.parts(self.product.tcb_layout())
    }

    /// `product-hwid-tcb` (lower-case hex), e.g. for cache file names.
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.product, hex::encode(self.hwid()), self.tcb)
    }

    /// The KDS query of the TCB: `blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115` (Turin: `fmcSPL`
    /// first).
    pub fn query(&self) -> String {
        let p = self.tcb_parts();
        let fmc = p.fmc.map(|f| format!("fmcSPL={f:02}&")).unwrap_or_default();
        format!(
            "{fmc}blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
            p.bootloader, p.tee, p.snp, p.microcode
        )
    }
}

impl fmt::Display for VcekKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// Client settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KdsConfig {
    /// Base URL (`https://kdsintf.amd.com`; a trailing `/vcek/v1` is accepted).
    pub url: String,
    /// How the KDS's TLS certificate is checked.
    pub trust: TlsTrust,
    /// Timeouts and retries (429 and 5xx are retried with backoff, then reported).
    pub limits: HttpLimits,
}

impl KdsConfig {
    /// Settings for `url` with system CA verification and default limits.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            trust: TlsTrust::System,
            limits: HttpLimits::default(),
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct KdsClient {
    base: String,
    http: HttpClient,
}

impl fmt::Debug for KdsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KdsClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl KdsClient {
    /// Builds the client (URL checked, TLS configuration built).
    pub fn new(config: &KdsConfig) -> Result<Self, Error> {
        crate::http::check_url(config.url.trim()).map_err(|reason| Error::Config {
            origin: "KDS URL".into(),
            reason,
        })?;
        Ok(Self {
            base: base_url(&config.url),
            http: HttpClient::new(config.limits, &config.trust)?.for_service(&KDS),
        })
    }

    /// The base URL requests go to.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The VCEK URL for `key`.
    pub fn vcek_url(&self, key: &VcekKey) -> String {
        format!(
            "{}/vcek/v1/{}/{}?{}",
            self.base,
            key.product.amd_name(),
            hex::encode(key.hwid()),
            key.query()
        )
    }

    /// The `cert_chain` URL of `product`.
    pub fn cert_chain_url(&self, product: SnpProduct) -> String {
        format!("{}/vcek/v1/{}/cert_chain", self.base, product.amd_name())
    }

    /// The CRL URL of `product`.
    pub fn crl_url(&self, product: SnpProduct) -> String {
        format!("{}/vcek/v1/{}/crl", self.base, product.amd_name())
    }

    /// The VCEK for `key` (DER), checked to certify `key`'s hwID and TCB.
    pub async fn vcek(&self, key: &VcekKey) -> Result<Vec<u8>, Error> {
        let url = self.vcek_url(key);
        let body = self.get(&url).await?;
        vcek_der(&body, key).map_err(|reason| bad(&url, reason))
    }

    /// The ASK and ARK of `product` (DER, in that order) and the PEM text as served.
    pub async fn cert_chain(&self, product: SnpProduct) -> Result<(Vec<Vec<u8>>, Vec<u8>), Error> {
        let url = self.cert_chain_url(product);
        let body = self.get(&url).await?;
        let chain = chain_ders(&body, product).map_err(|reason| bad(&url, reason))?;
        Ok((chain, body))
    }

    /// The CRL of `product` (DER), checked to be an X.509 CRL issued by the product's ARK name.
    pub async fn crl(&self, product: SnpProduct) -> Result<Vec<u8>, Error> {
        let url = self.crl_url(product);
        let body = self.get(&url).await?;
        crl_der(&body, product).map_err(|reason| bad(&url, reason))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, Error> {
        // The client's errors are already [`Error::Kds`] (`KDS.into_error`), in its retry
        // warnings too.
        let resp = self.http.get(url).await?;
        Ok(resp.body)
    }
}

/// The transport errors of [`HttpClient`] as [`Error::Kds`] (their own texts say PCCS); other
/// errors unchanged.
pub(crate) fn kds_error(e: Error) -> Error {
    match e {
        Error::HttpStatus { url, status, hint } => Error::Kds {
            url,
            status: Some(status),
            reason: format!("HTTP {status}{hint}"),
        },
        Error::Timeout { url, after } => Error::Kds {
            url,
            status: None,
            reason: format!("no response within {after}"),
        },
        Error::Unreachable { url, reason } => Error::Kds {
            url,
            status: None,
            reason: format!("unreachable: {reason}"),
        },
        other => other,
    }
}

fn bad(url: &str, reason: String) -> Error {
    Error::Kds {
        url: url.to_owned(),
        status: None,
        reason: format!("bad response: {reason}"),
    }
}

/// `https://h/vcek/v1/` → `https://h`.
fn base_url(url: &str) -> String {
    let s = url.trim().trim_end_matches('/');
    s.strip_suffix("/vcek/v1")
        .unwrap_or(s)
        .trim_end_matches('/')
        .to_owned()
}

/// Whether a body is PEM text (leading whitespace allowed).
fn is_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN ")
}

/// The certificates of a PEM text, or `bytes` as one DER certificate. An empty body is an error.
fn certificates(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>, String> {
    if bytes.len() > MAX_CERT_BODY {
        return Err(format!(
            "{what}: {} bytes exceeds the maximum {MAX_CERT_BODY}",
            bytes.len()
        ));
    }
    if bytes.trim_ascii().is_empty() {
        return Err(format!("{what}: empty body"));
    }
    if !is_pem(bytes) {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(bytes) {
        let pem = item.map_err(|e| format!("{what}: invalid PEM: {e}"))?;
        if pem.label == "CERTIFICATE" {
            out.push(pem.contents);
        }
    }
    Ok(out)
}

fn parse_cert<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>, String> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(format!(
            "{what}: {} bytes after the certificate",
            rest.len()
        )),
        Err(e) => Err(format!(
            "{what}: not a DER X.509 certificate ({}); body starts {}",
            initra_verify::describe_x509_error(&e),
            body_start(der)
        )),
    }
}

/// The start of a body that should have been DER: quoted text when it is text (an HTML error
/// page), else hex of its first 16 bytes.
fn body_start(body: &[u8]) -> String {
    let textual = body
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if textual {
        format!("\"{}\"", body_excerpt(body))
    } else {
        hex::encode(body.get(..16).unwrap_or(body))
    }
}

fn common_name(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The VCEK in a KDS answer (DER, or one PEM certificate), checked against `key`: subject
/// `SEV-VCEK`, hwID extension = the key's hwID, SPL extensions = the reported TCB.
pub(crate) fn vcek_der(body: &[u8], key: &VcekKey) -> Result<Vec<u8>, String> {
    let mut certs = certificates(body, "VCEK")?;
    let der = match (certs.pop(), certs.is_empty()) {
        (Some(der), true) => der,
        _ => return Err("VCEK: expected one certificate".into()),
    };
    let cert = parse_cert(&der, "VCEK")?;
    let cn = common_name(&cert);
    if cn != "SEV-VCEK" {
        return Err(format!("VCEK subject CN: expected SEV-VCEK, got {cn:?}"));
    }
    let ext = |oid: &str| {
        cert.extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == oid)
            .map(|e| e.value)
    };
    let hwid = ext(OID_HWID).ok_or("VCEK has no hwID extension")?;
    if hwid != key.hwid() {
        return Err(format!(
            "VCEK hwID: expected {}, got {}",
            hex::encode(key.hwid()),
            hex::encode(hwid)
        ));
    }
    let want = key.tcb_parts();
    let mut spls = vec![
        ("blSPL", OID_BL_SPL, want.bootloader),
        ("teeSPL", OID_TEE_SPL, want.tee),
        ("snpSPL", OID_SNP_SPL, want.snp),
        ("ucodeSPL", OID_UCODE_SPL, want.microcode),
    ];
    if let Some(fmc) = want.fmc {
        spls.push(("fmcSPL", OID_FMC_SPL, fmc));
    }
    for (name, oid, want) in spls {
        let v = ext(oid).ok_or_else(|| format!("VCEK has no {name} extension ({oid})"))?;
        match der_small_int(v) {
            Some(got) if got == want => {}
            Some(got) => return Err(format!("VCEK {name}: expected {want}, got {got}")),
            None => {
                return Err(format!(
                    "VCEK {name}: expected a DER INTEGER 0..=255, got {}",
                    hex::encode(v)
                ))
            }
        }
    }
    Ok(der)
}

/// The ASK and ARK of a `cert_chain` answer (PEM, ASK first), checked by subject CN
/// (`SEV-{Product}`, `ARK-{Product}`).
pub(crate) fn chain_ders(body: &[u8], product: SnpProduct) -> Result<Vec<Vec<u8>>, String> {
    // Unlike a VCEK, a chain is never DER: say so rather than count a non-PEM body as one
    // certificate.
    if body.trim_ascii().is_empty() {
        return Err("cert_chain: empty body, expected 2 PEM certificates (ASK, ARK)".into());
    }
    if !is_pem(body) {
        return Err(format!(
            "cert_chain: not PEM, expected 2 PEM certificates (ASK, ARK); body starts {}",
            body_start(body)
        ));
    }
    let certs = certificates(body, "cert_chain")?;
    if certs.len() != 2 {
        return Err(format!(
            "cert_chain: expected 2 PEM certificates (ASK, ARK), got {}",
            certs.len()
        ));
    }
    let name = product.amd_name();
    let expected = [
        ("ASK", format!("SEV-{name}")),
        ("ARK", format!("ARK-{name}")),
    ];
    for (der, (role, want)) in certs.iter().zip(expected) {
        let cn = common_name(&parse_cert(der, role)?);
        if cn != want {
            return Err(format!(
                "cert_chain {role} subject CN: expected {want}, got {cn:?}"
            ));
        }
    }
    Ok(certs)
}

/// The CRL of a `crl` answer (DER; PEM and hex accepted), checked to be issued by the product's
/// ARK name (`CN=ARK-{Product}`).
pub(crate) fn crl_der(body: &[u8], product: SnpProduct) -> Result<Vec<u8>, String> {
    if body.trim_ascii().is_empty() {
        return Err("CRL: empty body".into());
    }
    let der = crate::crl::crl_der(body, "CRL")
        .map_err(|e| format!("{e}; body starts {}", body_start(body)))?;
    let (_, crl) = CertificateRevocationList::from_der(&der)
        .map_err(|e| format!("CRL: not DER: {}", initra_verify::describe_x509_error(&e)))?;
    let cn = crl
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    let want = format!("ARK-{}", product.amd_name());
    if cn != want {
        return Err(format!("CRL issuer CN: expected {want}, got {cn:?}"));
    }
    Ok(der)
}

/// A DER INTEGER (short form) holding 0..=255.
fn der_small_int(v: &[u8]) -> Option<u8> {
    match v {
        [0x02, 1, b] if *b < 0x80 => Some(*b),
        [0x02, 2, 0, b] if *b >= 0x80 => Some(*b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(product: SnpProduct, tcb: [u8; 8]) -> VcekKey {
        let mut chip = [0u8; 64];
        for (i, b) in chip.iter_mut().enumerate() {
            *b = i as u8;
        }
        VcekKey {
            product,
            chip_id: ChipId(chip),
            tcb: TcbVersion(tcb),
        }
    }

    #[test]
    fn urls_follow_amd_57230() {
        let c = KdsClient::new(&KdsConfig::new("http://kds.test/vcek/v1/")).unwrap();
        assert_eq!(c.url(), "http://kds.test");
        let milan = key(SnpProduct::Milan, [3, 0, 0, 0, 0, 0, 8, 0x73]);
        let hwid: String = (0u8..64).map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            c.vcek_url(&milan),
            format!(
                "http://kds.test/vcek/v1/Milan/{hwid}?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115"
            )
        );
        // Turin: fmc, bl, tee, snp, reserved[3], ucode; hwID = the first 8 bytes.
        let turin = key(SnpProduct::Turin, [1, 2, 0, 4, 0, 0, 0, 0xd1]);
        assert_eq!(
            c.vcek_url(&turin),
            "http://kds.test/vcek/v1/Turin/0001020304050607?fmcSPL=01&blSPL=02&teeSPL=00&snpSPL=04&ucodeSPL=209"
        );
        assert_eq!(turin.id(), "turin-0001020304050607-01020004000000d1");
        assert_eq!(
            c.cert_chain_url(SnpProduct::Genoa),
            "http://kds.test/vcek/v1/Genoa/cert_chain"
        );
        assert_eq!(
            c.crl_url(SnpProduct::Turin),
            "http://kds.test/vcek/v1/Turin/crl"
        );
    }

    #[test]
    fn bad_urls_are_configuration_errors() {
        let e = KdsClient::new(&KdsConfig::new("kdsintf.amd.com")).unwrap_err();
        assert!(e.to_string().starts_with("KDS URL: "), "{e}");
    }

    #[test]
    fn transport_errors_name_the_kds() {
        let e = kds_error(Error::HttpStatus {
            url: "http://k/vcek/v1/Milan/crl".into(),
            status: 429,
            hint: kds_status_hint(429).into(),
        });
        assert!(
            e.to_string()
                .starts_with("AMD KDS http://k/vcek/v1/Milan/crl: HTTP 429 (rate limited"),
            "{e}"
        );
        assert!(matches!(
            e,
            Error::Kds {
                status: Some(429),
                ..
            }
        ));
    }
}
