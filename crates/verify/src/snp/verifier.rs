//! [`SnpVerifier`]: pinned ARKs + policy, verifying SNP reports.

use std::sync::Arc;
use std::time::SystemTime;

use initra_evidence::snp::{SigningKey, SnpReport};
use ring::signature::{UnparsedPublicKey, ECDSA_P384_SHA384_FIXED};

use super::certs::{AmdCert, VcekInfo};
use super::crl;
use super::{SnpClaims, SnpCollateral, SnpProduct, SnpRoots, SnpVerdict};
use crate::policy::Policy;
use crate::{Error, RootKind};

fn snp_err(check: &'static str, reason: impl Into<String>) -> Error {
    Error::Snp {
        check,
        reason: reason.into(),
    }
}

/// Verifies SEV-SNP reports against AMD's certificate chain and decides with a policy.
#[derive(Clone, Debug)]
pub struct SnpVerifier {
    roots: SnpRoots,
    policy: Arc<Policy>,
}

impl SnpVerifier {
    /// A verifier trusting `roots` (normally [`SnpRoots::amd`]) and deciding with `policy`.
    pub fn new(roots: SnpRoots, policy: Arc<Policy>) -> Self {
        Self { roots, policy }
    }

    /// The policy.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The trusted ARKs.
    pub fn roots(&self) -> &SnpRoots {
        &self.roots
    }

    /// Parses and verifies `raw` (a binary report, zero padding allowed) with `collateral` at `now`.
    ///
    /// `product`: the expected product; `None` takes it from the VCEK's productName (or the
    /// issuer's name for a VLEK) — the ARK is pinned per product either way.
    /// `Err` = invalid (chain, signature, validity, TCB / chip / product disagreement);
    /// `Ok(verdict)` = valid, with the policy's decision.
    pub fn verify(
        &self,
        raw: &[u8],
        collateral: &SnpCollateral,
        product: Option<SnpProduct>,
        now: SystemTime,
    ) -> Result<SnpVerdict, Error> {
        let report = SnpReport::parse(raw)?;
        self.verify_report(&report, collateral, product, now)
    }

    /// Verifies an already parsed report (see [`SnpVerifier::verify`]).
    pub fn verify_report(
        &self,
        report: &SnpReport,
        collateral: &SnpCollateral,
        product: Option<SnpProduct>,
        now: SystemTime,
    ) -> Result<SnpVerdict, Error> {
        let mut vcek = AmdCert::parse("VCEK", &collateral.vcek)?;
        let is_vlek = vcek.common_name() == "SEV-VLEK";
        if is_vlek {
            vcek.role = "VLEK";
        }
        let (ark_in_chain, intermediate) = split_chain(&collateral.chain, is_vlek)?;
        let product = resolve_product(&vcek, &intermediate, product)?;

        let (ark, root) = self.pinned_ark(product, ark_in_chain, &intermediate)?;
        ark.verify_issued_by(&ark)?;
        intermediate.verify_issued_by(&ark)?;
        vcek.verify_issued_by(&intermediate)?;
        for cert in [&ark, &intermediate, &vcek] {
            cert.check_validity(now)?;
        }
        // Revocation: only when a CRL is given (docs/snp.md §9).
        // Both the collateral's CRL (e.g. fetched with the VCEK) and the operator's apply: a
        // revocation listed in either one rejects.
        for crl in [
            collateral.crl.as_deref(),
            self.roots.crl(ark.cert.subject().as_raw()),
        ]
        .into_iter()
        .flatten()
        {
            crl::check(crl, &ark, &[&intermediate, &vcek], now)?;
        }

        verify_signature(report, &vcek)?;
        let expected_key = if is_vlek {
            SigningKey::Vlek
        } else {
            SigningKey::Vcek
        };
        if report.signing_key != expected_key {
            return Err(snp_err(
                "signing_key",
                format!(
                    "report says {:?}, certificate is a {}",
                    report.signing_key, vcek.role
                ),
            ));
        }
        let info = VcekInfo::from_cert(&vcek, product.tcb_layout())?;
        check_tcb(report, &info, product)?;
        if !is_vlek {
            check_chip_id(report, &info)?;
        }
        check_cpuid(report, product)?;

        let claims = SnpClaims::from_report(report, product);
        let decision = self.policy.evaluate_snp(&claims);
        let verdict = SnpVerdict {
            claims,
            vcek: info,
            signing_key: report.signing_key,
            root,
            simulated: root == RootKind::Simulated,
            decision,
        };
        tracing::debug!(
            tee = "snp",
            %product,
            simulated = verdict.simulated,
            accepted = verdict.is_accepted(),
            reason = verdict.decision.reason().unwrap_or(""),
            identity = %verdict.claims.summary(),
            "SNP report verified"
        );
        Ok(verdict)
    }
}

impl SnpVerifier {
    /// The trusted ARK of `product` this chain ends in: the one equal to the chain's own ARK, else
    /// the one named as the intermediate's issuer (then its signature decides). Pinned: a chain's
    /// ARK that is none of the trusted ones is invalid.
    fn pinned_ark(
        &self,
        product: SnpProduct,
        ark_in_chain: Option<&[u8]>,
        intermediate: &AmdCert<'_>,
    ) -> Result<(AmdCert<'_>, RootKind), Error> {
        let trusted = self
            .roots
            .arks(product)
            .map(|(der, kind)| AmdCert::parse("ARK", der).map(|c| (c, kind)))
            .collect::<Result<Vec<_>, Error>>()?;
        if trusted.is_empty() {
            return Err(snp_err("ark", format!("no trusted ARK for {product}")));
        }
        let names = || {
            trusted
                .iter()
                .map(|(c, kind)| format!("{} ({kind:?})", c.cert.subject()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found = match ark_in_chain {
            Some(der) => {
                let given = AmdCert::parse("ARK", der)?;
                let pos = trusted.iter().position(|(c, _)| c.spki() == given.spki());
                pos.ok_or_else(|| {
                    snp_err(
                        "ark",
                        format!(
                            "the chain's ARK ({}) is none of the trusted ARKs for {product}: {}; a simulated platform's ARK is trusted only when given (--snp-sim-ark)",
                            given.cert.subject(),
                            names()
                        ),
                    )
                })?
            }
            None => trusted
                .iter()
                .position(|(c, _)| c.cert.subject().as_raw() == intermediate.cert.issuer().as_raw())
                .unwrap_or(0),
        };
        trusted
            .into_iter()
            .nth(found)
            .ok_or_else(|| snp_err("ark", format!("no trusted ARK for {product}")))
    }
}

/// Splits the chain into the optional self-issued ARK and the ASK / ASVK.
fn split_chain(chain: &[Vec<u8>], vlek: bool) -> Result<(Option<&[u8]>, AmdCert<'_>), Error> {
    let role = if vlek { "ASVK" } else { "ASK" };
    let mut ark = None;
    let mut intermediate = None;
    for der in chain {
        let cert = AmdCert::parse(role, der)?;
        if cert.cert.subject().as_raw() == cert.cert.issuer().as_raw() {
            ark = Some(der.as_slice());
        } else if intermediate.is_none() {
            intermediate = Some(cert);
        } else {
            return Err(snp_err(
                "chain",
                "more than one intermediate certificate (expected ASK or ASVK, then ARK)",
            ));
        }
    }
    let intermediate = intermediate
        .ok_or_else(|| snp_err("chain", format!("no {role} certificate in the chain")))?;
    Ok((ark, intermediate))
}

/// The product from the VCEK's productName (or the intermediate's `SEV[-VLEK]-<Product>` name),
/// checked against the expected one.
fn resolve_product(
    vcek: &AmdCert<'_>,
    intermediate: &AmdCert<'_>,
    expected: Option<SnpProduct>,
) -> Result<SnpProduct, Error> {
    let info_name = vcek.product_name()?;
    let issuer_cn = intermediate.common_name();
    let from_cert = info_name
        .as_deref()
        .and_then(SnpProduct::from_product_name)
        .map(|p| {
            (
                p,
                format!(
                    "{} productName {}",
                    vcek.role,
                    info_name.as_deref().unwrap_or("")
                ),
            )
        })
        .or_else(|| {
            let line = issuer_cn.rsplit('-').next().unwrap_or_default();
            SnpProduct::from_product_name(line)
                .map(|p| (p, format!("{} name {issuer_cn}", intermediate.role)))
        });
    match (from_cert, expected) {
        (Some((found, why)), Some(want)) if found != want => Err(snp_err(
            "product",
            format!("expected {want}, got {found} ({why})"),
        )),
        (Some((found, _)), _) => Ok(found),
        (None, Some(want)) => Ok(want),
        (None, None) => Err(snp_err(
            "product",
            format!(
                "cannot tell the product from the {} or {issuer_cn:?}; give it explicitly",
                vcek.role
            ),
        )),
    }
}

/// ECDSA P-384 SHA-384 over bytes `0..0x2A0` with the VCEK's key.
fn verify_signature(report: &SnpReport, vcek: &AmdCert<'_>) -> Result<(), Error> {
    let sig = report.signature_fixed_be().ok_or_else(|| {
        snp_err(
            "signature",
            "r or s does not fit in 48 bytes (upper 24 bytes not zero)",
        )
    })?;
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, vcek.key_bits())
        .verify(report.signed_bytes(), &sig)
        .map_err(|_| {
            snp_err(
                "signature",
                format!(
                    "report signature does not verify with the {} key (ECDSA P-384 SHA-384)",
                    vcek.role
                ),
            )
        })
}

/// The reported TCB must be the TCB the VCEK was derived for, component by component.
fn check_tcb(report: &SnpReport, info: &VcekInfo, product: SnpProduct) -> Result<(), Error> {
    let got = report.reported_tcb.parts(product.tcb_layout());
    let want = &info.tcb;
    let pairs = [
        ("fmc", got.fmc, want.fmc),
        ("bootloader", Some(got.bootloader), Some(want.bootloader)),
        ("tee", Some(got.tee), Some(want.tee)),
        ("snp", Some(got.snp), Some(want.snp)),
        ("microcode", Some(got.microcode), Some(want.microcode)),
    ];
    for (name, got, want) in pairs {
        if got != want {
            return Err(snp_err(
                "reported_tcb",
                format!(
                    "{name}: VCEK certifies {}, report has {}",
                    want.map_or("-".into(), |v| v.to_string()),
                    got.map_or("-".into(), |v| v.to_string())
                ),
            ));
        }
    }
    Ok(())
}

/// The VCEK's hwID must be the report's chip_id (a shorter hwID, Turin's 8 bytes, is a prefix
/// and the rest of chip_id is zero). Skipped when the guest masked its chip id.
fn check_chip_id(report: &SnpReport, info: &VcekInfo) -> Result<(), Error> {
    if report.mask_chip_key {
        return Ok(());
    }
    let hwid = info
        .hwid
        .as_deref()
        .ok_or_else(|| snp_err("chip_id", "the VCEK has no hwID extension"))?;
    let chip = report.chip_id.as_bytes();
    let ok = chip
        .get(..hwid.len())
        .zip(chip.get(hwid.len()..))
        .is_some_and(|(head, tail)| head == hwid && tail.iter().all(|b| *b == 0));
    if !ok {
        return Err(snp_err(
            "chip_id",
            format!(
                "VCEK hwID {} does not match the report's chip_id {}",
                hex::encode(hwid),
                report.chip_id
            ),
        ));
    }
    Ok(())
}

/// Version 3+ reports name the CPU: it must be the product's family and model.
fn check_cpuid(report: &SnpReport, product: SnpProduct) -> Result<(), Error> {
    let Some(cpu) = report.cpuid else {
        return Ok(());
    };
    let found = SnpProduct::from_cpuid(cpu.family, cpu.model);
    if found != Some(product) {
        return Err(snp_err(
            "cpuid",
            format!(
                "expected a {product} CPU, got family {:#04x} model {:#04x} stepping {} ({})",
                cpu.family,
                cpu.model,
                cpu.stepping,
                found.map_or_else(|| "no known product".to_owned(), |p| p.to_string())
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn tests_check_tcb(report: &SnpReport, info: &VcekInfo) -> Result<(), Error> {
    check_tcb(report, info, SnpProduct::Milan)
}
