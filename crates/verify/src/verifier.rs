//! [`Verifier`]: trust roots + collateral source + policy, verifying quotes concurrently.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dcap_qvl::verify::QuoteVerifier;
use initra_evidence::snp::CertTable;
use initra_evidence::{Evidence, Quote};

use crate::claims::Claims;
use crate::collateral::{quote_fmspc, Collateral, CollateralSource};
use crate::freshness::FreshnessPolicy;
use crate::policy::{Policy, TcbStatus};
use crate::roots::{RootKind, TrustRoots};
use crate::snp::{SnpCollateral, SnpCollateralSource, SnpRoots, SnpVerifier};
use crate::verdict::{EvidenceVerdict, Verdict};
use crate::Error;

/// Verifies quotes cryptographically (dcap-qvl) and SEV-SNP reports against AMD's chain, and
/// decides with one policy. `&self` only: share it (`Arc<Verifier>`) between tasks.
#[derive(Clone)]
pub struct Verifier {
    roots: TrustRoots,
    collateral: Arc<dyn CollateralSource>,
    policy: Arc<Policy>,
    snp: SnpVerifier,
    snp_collateral: Option<Arc<dyn SnpCollateralSource>>,
    collateral_grace: Option<Duration>,
}

impl core::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Verifier")
            .field("roots", &self.roots)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier trusting `roots`, getting collateral from `collateral`, deciding with `policy`.
    pub fn new(
        roots: TrustRoots,
        collateral: Arc<dyn CollateralSource>,
        policy: Arc<Policy>,
    ) -> Self {
        let snp = SnpVerifier::new(SnpRoots::amd(), policy.clone());
        Self {
            roots,
            collateral,
            policy,
            snp,
            snp_collateral: None,
            collateral_grace: None,
        }
    }

    /// This verifier tolerating collateral up to `grace` past its earliest `nextUpdate`
    /// (`--collateral-grace`, explicit only): within it the quote is verified as of that
    /// `nextUpdate` (the last instant the collateral vouched for), the quote's PCK certificates
    /// must still be valid now, and every use is logged at warn (docs/collateral.md, "Grace").
    pub fn with_collateral_grace(mut self, grace: Duration) -> Self {
        self.collateral_grace = Some(grace);
        self
    }

    /// This verifier asking `source` for the VCEK and chain of SEV-SNP reports that come without
    /// a certificate table.
    pub fn with_snp_collateral(mut self, source: Arc<dyn SnpCollateralSource>) -> Self {
        self.snp_collateral = Some(source);
        self
    }

    /// This verifier trusting `roots` for SEV-SNP reports (AMD's ARKs by default).
    pub fn with_snp_roots(mut self, roots: SnpRoots) -> Self {
        self.snp = SnpVerifier::new(roots, self.policy.clone());
        self
    }

    /// The SEV-SNP side of this verifier (same policy).
    pub fn snp(&self) -> &SnpVerifier {
        &self.snp
    }

    /// Whether any root (Intel-shaped or SEV-SNP ARK) is a simulated one.
    pub fn trusts_simulated(&self) -> bool {
        self.trusts_simulated_dcap() || self.snp.roots().trusts_simulated()
    }

    /// Whether simulated evidence of this TEE (`"sgx"`, `"tdx"` or `"snp"`) would still verify:
    /// SGX / TDX need a simulated Intel-shaped root, SEV-SNP a simulated ARK.
    pub fn trusts_simulated_for(&self, tee: &str) -> bool {
        match tee {
            "snp" => self.snp.roots().trusts_simulated(),
            _ => self.trusts_simulated_dcap(),
        }
    }

    fn trusts_simulated_dcap(&self) -> bool {
        self.roots
            .roots()
            .iter()
            .any(|r| r.kind() == RootKind::Simulated)
    }

    /// Verifies evidence of any kind at `now`: a DCAP quote as [`Verifier::verify`] does, an
    /// SEV-SNP report with the certificate table `endorsements` (VCEK / VLEK, ASK, ARK; the
    /// RA-TLS endorsement extension or configfs-tsm `auxblob`) or, without one, the VCEK from the
    /// [`SnpCollateralSource`]; product from the VCEK.
    ///
    /// `Err` = invalid evidence (or an SNP report without endorsements); `Ok` = valid, with the
    /// policy's decision.
    pub fn verify_evidence(
        &self,
        raw: &[u8],
        endorsements: Option<&[u8]>,
        now: SystemTime,
    ) -> Result<EvidenceVerdict, Error> {
        match Evidence::parse(raw)? {
            Evidence::Quote(quote) => self.verify_quote(&quote, now).map(EvidenceVerdict::Dcap),
            Evidence::Snp(report) => {
                let collateral = match (endorsements, &self.snp_collateral) {
                    (Some(table), _) => {
                        SnpCollateral::from_cert_table(&CertTable::parse(table)?)?
                    }
                    (None, Some(source)) => source.snp_collateral_for(&report, now)?,
                    (None, None) => {
                        return Err(Error::Snp {
                            check: "collateral",
                            reason: "no VCEK: the SEV-SNP report comes without a certificate table \
                                     (RA-TLS endorsement extension 2.23.133.5.4.2 / configfs-tsm \
                                     auxblob) and no SEV-SNP collateral source is configured (AMD KDS: \
                                     `--kds-url` / `kds_url`)"
                                .into(),
                        })
                    }
                };
                self.snp
                    .verify_report(&report, &collateral, None, now)
                    .map(EvidenceVerdict::Snp)
            }
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The trust roots.
    pub fn roots(&self) -> &TrustRoots {
        &self.roots
    }

    /// Parses and verifies `raw` (binary quote, trailing zero padding allowed) at `now`.
    ///
    /// `Err` = the evidence or collateral is invalid (parse, signature, chain, CRL, expiry, TCB
    /// matching); `Ok(verdict)` = valid, with the policy's decision in `verdict.decision`.
    pub fn verify(&self, raw: &[u8], now: SystemTime) -> Result<Verdict, Error> {
        let quote = Quote::parse(raw)?;
        self.verify_quote(&quote, now)
    }

    /// Verifies an already parsed quote at `now`.
    ///
    /// Collateral older than the policy's `max_collateral_age` is invalid (`Err`, like expired
    /// collateral), not a policy rejection: it cannot vouch for the TCB status it reports.
    pub fn verify_quote(&self, quote: &Quote, now: SystemTime) -> Result<Verdict, Error> {
        let root = self.roots.root_for(quote)?;
        let collateral = self.collateral.collateral_for_at(quote, now)?;
        let now_secs = self.verification_instant(quote, &collateral, now)?;
        // Debug and service-TD decisions belong to our policy, where rejections explain themselves.
        let report = QuoteVerifier::new(root.der().to_vec())
            .allow_debug(true)
            .allow_service_td(true)
            .verify(quote.raw(), collateral.inner(), now_secs)
            .map_err(|e| Error::Verification {
                message: with_expiry(format!("{e:#}"), &collateral, now),
            })?;
        // Only the maximum age: dcap-qvl has checked every nextUpdate, and the collateral
        // sources' grace period never applies here. Unreadable dates fail closed.
        let freshness = FreshnessPolicy {
            max_age: self.policy.max_collateral_age(),
            grace: None,
        };
        if freshness.max_age.is_some() {
            freshness.check_max_age(collateral.item_dates()?, now)?;
        }
        let tcb_status = TcbStatus::from_reported(&report.status);
        let claims = Claims::from_quote(quote);
        let decision = self
            .policy
            .evaluate(&tcb_status, &report.advisory_ids, &claims);
        let simulated = root.kind() == RootKind::Simulated;
        let verdict = Verdict {
            tee: quote.tee(),
            tcb_status,
            advisory_ids: report.advisory_ids,
            simulated,
            root: root.kind(),
            fmspc: quote_fmspc(quote).ok(),
            claims,
            decision,
        };
        tracing::debug!(
            tee = %verdict.tee,
            tcb_status = %verdict.tcb_status,
            simulated,
            accepted = verdict.is_accepted(),
            reason = verdict.decision.reason().unwrap_or(""),
            identity = %verdict.claims.summary(),
            "quote verified"
        );
        Ok(verdict)
    }
}

impl Verifier {
    /// The instant dcap-qvl verifies at (Unix seconds): `now`, or, when the collateral is past its
    /// earliest `nextUpdate` but within the configured grace, that `nextUpdate` (then the quote's
    /// PCK certificates are checked against the real `now` here, since dcap-qvl will not).
    fn verification_instant(
        &self,
        quote: &Quote,
        collateral: &Collateral,
        now: SystemTime,
    ) -> Result<u64, Error> {
        let now_s = crate::freshness::unix(now);
        let real = u64::try_from(now_s).unwrap_or(0);
        let Some(grace) = self.collateral_grace else {
            return Ok(real);
        };
        let dates = collateral.item_dates()?;
        let earliest = dates
            .iter()
            .filter_map(|d| d.next_update)
            .filter(|n| now_s > *n)
            .min();
        let Some(next_update) = earliest else {
            return Ok(real);
        };
        // Past the grace: the freshness error names item, date and the exceeded grace.
        FreshnessPolicy {
            max_age: None,
            grace: Some(grace),
        }
        .check_expiry(dates, now)?;
        check_pck_chain_validity(quote, now_s)?;
        tracing::warn!(
            verified_as_of = %crate::freshness::fmt_unix(next_update),
            "collateral past nextUpdate: the quote is verified as of that nextUpdate, within the configured grace"
        );
        Ok(u64::try_from(next_update).unwrap_or(0))
    }
}

/// Every certificate of the quote's PCK chain (leaf, intermediate, root) is valid at `now_s`.
fn check_pck_chain_validity(quote: &Quote, now_s: i64) -> Result<(), Error> {
    let Some(pem) = quote.pck_chain_pem() else {
        return Ok(());
    };
    for item in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let pem = item.map_err(|e| Error::PckChain {
            reason: format!("PEM: {e}"),
        })?;
        let cert = pem.parse_x509().map_err(|e| Error::PckChain {
            reason: crate::describe_x509_error(&e),
        })?;
        let v = cert.validity();
        if now_s < v.not_before.timestamp() || now_s > v.not_after.timestamp() {
            return Err(Error::PckChain {
                reason: format!(
                    "{} valid notBefore {} .. notAfter {}, now {} is outside (collateral grace does not extend certificates)",
                    cert.subject(),
                    crate::freshness::fmt_unix(v.not_before.timestamp()),
                    crate::freshness::fmt_unix(v.not_after.timestamp()),
                    crate::freshness::fmt_unix(now_s)
                ),
            });
        }
    }
    Ok(())
}

/// dcap-qvl's failure `message`, followed by the expired item and its `nextUpdate` when the
/// collateral is past one at `now` (dcap-qvl names neither date: `QE Identity expired`).
fn with_expiry(message: String, collateral: &Collateral, now: SystemTime) -> String {
    let expired = collateral
        .item_dates()
        .and_then(|dates| FreshnessPolicy::default().check_expiry(dates, now));
    match expired {
        Err(e @ crate::FreshnessError::Expired { .. }) => format!("{message}; {e}"),
        _ => message,
    }
}
