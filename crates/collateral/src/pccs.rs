//! PCCS / Intel PCS v4 client: fetches the four collateral items for a [`CollateralKey`] and
//! assembles dcap-qvl's `QuoteCollateralV3`.
//!
//! Endpoints (Intel "Provisioning Certification Service for ECDSA Attestation" API v4):
//! `GET {base}/{sgx|tdx}/certification/v4/tcb?fmspc=F` (body `{"tcbInfo":{..},"signature":".."}`,
//! chain in `TCB-Info-Issuer-Chain`, or `SGX-TCB-Info-Issuer-Chain`),
//! `GET {base}/{sgx|tdx}/certification/v4/qe/identity` (body `{"enclaveIdentity":{..},"signature":".."}`,
//! chain in `SGX-Enclave-Identity-Issuer-Chain`),
//! `GET {base}/sgx/certification/v4/pckcrl?ca=processor|platform&encoding=der` (chain in
//! `SGX-PCK-CRL-Issuer-Chain`), and the root CA CRL from a PCCS at
//! `GET {base}/sgx/certification/v4/rootcacrl` (hex of DER) or, for Intel PCS, from the CRL
//! distribution point of the root certificate. Issuer chains are URL-encoded PEM.

use std::time::Duration;

use dcap_qvl::QuoteCollateralV3;
use initra_evidence::Tee;
use serde_json::value::RawValue;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::crl::crl_der;
use crate::http::{HttpClient, HttpLimits, Response, TlsTrust};
use crate::key::CollateralKey;
use crate::qcnl::ResolvedPccs;
use crate::Error;

/// Intel PCS; it has no `rootcacrl` endpoint.
pub const INTEL_PCS_URL: &str = "https://api.trustedservices.intel.com";

/// Client settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PccsConfig {
    /// Base URL (`https://pccs:8081`; a trailing `/sgx/certification/v4/` is accepted).
    pub url: String,
    /// How the PCCS's TLS certificate is checked.
    pub trust: TlsTrust,
    /// Where to fetch the root CA CRL instead of the PCCS `rootcacrl` endpoint / CRL distribution point.
    pub root_ca_crl_url: Option<String>,
    /// Timeouts and retries.
    pub limits: HttpLimits,
}

impl PccsConfig {
    /// Settings for `url` with system CA verification and default limits.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            trust: TlsTrust::System,
            root_ca_crl_url: None,
            limits: HttpLimits::default(),
        }
    }

    /// Settings from a resolved URL (`use_secure_cert: false` → [`TlsTrust::AcceptAny`]).
    pub fn from_resolved(r: &ResolvedPccs) -> Self {
        let mut c = Self::new(r.url.clone());
        if !r.use_secure_cert {
            c.trust = TlsTrust::AcceptAny;
        }
        c
    }
}

/// The client.
#[derive(Clone)]
pub struct PccsClient {
    base: String,
    root_ca_crl_url: Option<String>,
    http: HttpClient,
}

impl PccsClient {
    /// Builds the client (TLS configuration included).
    pub fn new(config: &PccsConfig) -> Result<Self, Error> {
        crate::http::check_url(config.url.trim()).map_err(|reason| Error::Config {
            origin: "PCCS URL".into(),
            reason,
        })?;
        let base = base_url(&config.url);
        if config.trust == TlsTrust::AcceptAny && base.starts_with("https:") {
            tracing::warn!(
                url = %base,
                "use_secure_cert is false: the PCCS TLS certificate is not verified (collateral signatures still are)"
            );
        }
        Ok(Self {
            http: HttpClient::new(config.limits, &config.trust)?,
            root_ca_crl_url: config.root_ca_crl_url.clone(),
            base,
        })
    }

    /// The base URL requests go to.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Request timeout × attempts plus backoff: the longest one fetch can take per request.
    pub fn worst_case(&self) -> Duration {
        let l = self.http.limits();
        let attempts = l.retries.saturating_add(1);
        let backoff = (0..l.retries).fold(Duration::ZERO, |acc, i| {
            acc.saturating_add(l.backoff.saturating_mul(1u32 << i.min(16)))
        });
        l.request_timeout
            .saturating_mul(attempts)
            .saturating_add(backoff)
    }

    /// The TCB info URL for `key`.
    pub fn tcb_url(&self, key: &CollateralKey) -> String {
        format!(
            "{}/{}/certification/v4/tcb?fmspc={}",
            self.base,
            key.tee,
            key.fmspc.to_string().to_uppercase()
        )
    }

    /// The QE identity URL for `tee`.
    pub fn qe_identity_url(&self, tee: Tee) -> String {
        format!("{}/{tee}/certification/v4/qe/identity", self.base)
    }

    /// The PCK CRL URL for `key`.
    pub fn pck_crl_url(&self, key: &CollateralKey) -> String {
        format!(
            "{}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
            self.base, key.ca
        )
    }

    /// Fetches the collateral for `key`.
    pub async fn fetch(&self, key: &CollateralKey) -> Result<QuoteCollateralV3, Error> {
        let (tcb_url, qe_url, crl_url) = (
            self.tcb_url(key),
            self.qe_identity_url(key.tee),
            self.pck_crl_url(key),
        );
        let (tcb, qe, pck) = tokio::try_join!(
            self.http.get(&tcb_url),
            self.http.get(&qe_url),
            self.http.get(&crl_url)
        )?;

        let tcb_info_issuer_chain = issuer_chain(
            &tcb_url,
            &tcb,
            &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"],
        )?;
        let (tcb_info, tcb_info_signature) = signed_json(&tcb_url, &tcb.body, "tcbInfo")?;
        check_tcb_info(&tcb_url, &tcb_info, key)?;

        let qe_identity_issuer_chain = issuer_chain(
            &qe_url,
            &qe,
            &[
                "SGX-Enclave-Identity-Issuer-Chain",
                "Enclave-Identity-Issuer-Chain",
            ],
        )?;
        let (qe_identity, qe_identity_signature) =
            signed_json(&qe_url, &qe.body, "enclaveIdentity")?;
        check_qe_identity(&qe_url, &qe_identity, key.tee)?;

        let pck_crl_issuer_chain = issuer_chain(&crl_url, &pck, &["SGX-PCK-CRL-Issuer-Chain"])?;
        let pck_crl = crl_der(&pck.body, "PCK CRL").map_err(|e| bad(&crl_url, e.to_string()))?;

        let root_ca_crl = self.root_ca_crl(&pck_crl_issuer_chain).await?;

        Ok(QuoteCollateralV3 {
            pck_crl_issuer_chain,
            root_ca_crl,
            pck_crl,
            tcb_info_issuer_chain,
            tcb_info,
            tcb_info_signature,
            qe_identity_issuer_chain,
            qe_identity,
            qe_identity_signature,
            pck_certificate_chain: None,
        })
    }

    /// [`PccsClient::fetch`] from synchronous code (a rustls verifier, a CLI): runs on a private
    /// single-threaded runtime in a scoped thread, so it works inside or outside a tokio runtime.
    pub fn fetch_blocking(&self, key: &CollateralKey) -> Result<QuoteCollateralV3, Error> {
        crate::http::block_on(&self.base, self.fetch(key))
    }

    async fn root_ca_crl(&self, pck_crl_chain: &str) -> Result<Vec<u8>, Error> {
        let url = if let Some(url) = &self.root_ca_crl_url {
            url.clone()
        } else if self.base.starts_with(INTEL_PCS_URL) {
            crl_distribution_point(pck_crl_chain).map_err(|reason| bad(&self.base, reason))?
        } else {
            let url = format!("{}/sgx/certification/v4/rootcacrl", self.base);
            match self.http.get(&url).await {
                Ok(resp) => {
                    return crl_der(&resp.body, "root CA CRL").map_err(|e| bad(&url, e.to_string()))
                }
                // Older PCCS versions lack the endpoint: use the root's distribution point.
                Err(Error::HttpStatus { status: 404, .. }) => {
                    crl_distribution_point(pck_crl_chain).map_err(|reason| bad(&url, reason))?
                }
                Err(e) => return Err(e),
            }
        };
        let resp = self.http.get(&url).await?;
        crl_der(&resp.body, "root CA CRL").map_err(|e| bad(&url, e.to_string()))
    }
}

fn bad(url: &str, reason: String) -> Error {
    Error::BadResponse {
        url: url.to_owned(),
        reason,
    }
}

/// `https://h/sgx/certification/v4/` → `https://h`.
fn base_url(url: &str) -> String {
    let mut s = url.trim().trim_end_matches('/');
    for suffix in [
        "/sgx/certification/v4",
        "/tdx/certification/v4",
        "/sgx/certification/v3",
    ] {
        s = s.strip_suffix(suffix).unwrap_or(s);
    }
    s.trim_end_matches('/').to_owned()
}

/// The first present header of `names`, URL-decoded, which must hold PEM certificates.
fn issuer_chain(url: &str, resp: &Response, names: &[&str]) -> Result<String, Error> {
    let raw = names
        .iter()
        .find_map(|n| resp.header(n))
        .ok_or_else(|| bad(url, format!("missing header {}", names.join(" / "))))?;
    let pem = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|e| {
            bad(
                url,
                format!("header {}: not URL-encoded UTF-8: {e}", names.join(" / ")),
            )
        })?
        .into_owned();
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad(
            url,
            format!("header {}: no PEM certificate", names.join(" / ")),
        ));
    }
    Ok(pem)
}

#[derive(serde::Deserialize)]
struct SignedBody<'a> {
    #[serde(borrow, rename = "tcbInfo")]
    tcb_info: Option<&'a RawValue>,
    #[serde(borrow, rename = "enclaveIdentity")]
    enclave_identity: Option<&'a RawValue>,
    signature: Option<String>,
}

/// The exact signed text of `field` (a substring of the body, as Intel signed it) and the
/// signature (hex of r || s, 64 bytes).
fn signed_json(url: &str, body: &[u8], field: &str) -> Result<(String, Vec<u8>), Error> {
    let text = std::str::from_utf8(body).map_err(|_| bad(url, "body: not UTF-8".into()))?;
    let parsed: SignedBody<'_> = serde_json::from_str(text).map_err(|e| {
        let excerpt = crate::http::body_excerpt(body);
        bad(url, format!("body: expected JSON {{\"{field}\":..,\"signature\":..}}: {e}; body starts \"{excerpt}\""))
    })?;
    let inner = match field {
        "tcbInfo" => parsed.tcb_info,
        _ => parsed.enclave_identity,
    }
    .ok_or_else(|| bad(url, format!("body: missing {field}")))?;
    let sig_hex = parsed
        .signature
        .ok_or_else(|| bad(url, "body: missing signature".into()))?;
    let sig = hex::decode(&sig_hex).map_err(|e| bad(url, format!("signature: not hex: {e}")))?;
    if sig.len() != 64 {
        return Err(bad(
            url,
            format!("signature: expected 64 bytes, got {}", sig.len()),
        ));
    }
    Ok((inner.get().to_owned(), sig))
}

#[derive(serde::Deserialize)]
struct IdAndFmspc {
    id: Option<String>,
    fmspc: Option<String>,
}

/// Catches a PCCS answering with another platform's or TEE's data.
fn check_tcb_info(url: &str, text: &str, key: &CollateralKey) -> Result<(), Error> {
    let v: IdAndFmspc =
        serde_json::from_str(text).map_err(|e| bad(url, format!("tcbInfo: {e}")))?;
    let fmspc = v.fmspc.unwrap_or_default().to_lowercase();
    if fmspc != key.fmspc.to_string() {
        return Err(bad(
            url,
            format!("tcbInfo.fmspc: expected {}, got {fmspc:?}", key.fmspc),
        ));
    }
    let expected = match key.tee {
        Tee::Sgx => "SGX",
        Tee::Tdx => "TDX",
    };
    match v.id.as_deref() {
        None if key.tee == Tee::Sgx => Ok(()),
        Some(id) if id == expected => Ok(()),
        other => Err(bad(
            url,
            format!("tcbInfo.id: expected {expected}, got {other:?}"),
        )),
    }
}

fn check_qe_identity(url: &str, text: &str, tee: Tee) -> Result<(), Error> {
    let v: IdAndFmspc =
        serde_json::from_str(text).map_err(|e| bad(url, format!("enclaveIdentity: {e}")))?;
    let expected = match tee {
        Tee::Sgx => "QE",
        Tee::Tdx => "TD_QE",
    };
    match v.id.as_deref() {
        Some(id) if id == expected => Ok(()),
        other => Err(bad(
            url,
            format!("enclaveIdentity.id: expected {expected}, got {other:?}"),
        )),
    }
}

/// The CRL distribution point URI of the last certificate (the root) of a PEM chain.
fn crl_distribution_point(chain_pem: &str) -> Result<String, String> {
    let root = x509_parser::pem::Pem::iter_from_buffer(chain_pem.as_bytes())
        .filter_map(Result::ok)
        .last()
        .ok_or("issuer chain: no certificate")?;
    let (_, cert) =
        X509Certificate::from_der(&root.contents).map_err(|e| format!("root certificate: {e}"))?;
    for ext in cert.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for p in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    for n in names {
                        if let GeneralName::URI(uri) = n {
                            return Ok((*uri).to_owned());
                        }
                    }
                }
            }
        }
    }
    Err("root certificate has no CRL distribution point; configure root_ca_crl_url".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_strips_api_path() {
        assert_eq!(
            base_url("https://localhost:8081/sgx/certification/v4/"),
            "https://localhost:8081"
        );
        assert_eq!(
            base_url("https://api.trustedservices.intel.com/tdx/certification/v4"),
            INTEL_PCS_URL
        );
        assert_eq!(base_url("http://h:1/"), "http://h:1");
    }

    #[test]
    fn signed_json_keeps_exact_text() {
        let body = br#"{"tcbInfo":{"b":1,  "a":"x"},"signature":"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"}"#;
        let (text, sig) = signed_json("u", body, "tcbInfo").unwrap();
        assert_eq!(text, r#"{"b":1,  "a":"x"}"#);
        assert_eq!(sig.len(), 64);
        let err = signed_json("http://x/tcb", b"<html>", "tcbInfo").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("PCCS http://x/tcb: bad response: body: expected JSON"),
            "{err}"
        );
    }
}
