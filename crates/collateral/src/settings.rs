//! One verifier set-up for every place that verifies evidence (`initra server`,
//! `initra get-secret`, `initra init`): trust roots, collateral (files, cache, PCCS, bundles)
//! under one freshness policy, and the TCB statuses accepted on top of the policy
//! (`docs/collateral.md`, "Verifier settings").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use initra_evidence::Quote;
use initra_verify::{
    quote_fmspc, Collateral, CollateralSource, Policy, RootKind, SnpProduct, SnpRoots,
    StaticCollateral, TcbStatus, TrustRoots, Verifier,
};
use serde::Deserialize;

use crate::config::CollateralSettings;
use crate::freshness::{FreshnessChecked, FreshnessPolicy};
use crate::kds::{KdsClient, KdsConfig};
use crate::kds_cache::KdsCache;
use crate::kds_source::KdsSource;
use crate::source::SourceChain;
use crate::Error;

/// What a verifier is built from. Every field is optional; the defaults trust Intel's root only,
/// accept what the policy accepts, and find collateral wherever [`CollateralSettings`] says
/// (a PCCS from `PCCS_URL` or the QCNL file, if any).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VerifierSettings {
    /// Trust roots (DER or PEM) besides Intel's. A root whose subject says `SIMULATED` is
    /// marked simulated anyway (`--root`).
    #[serde(default)]
    pub trust_roots: Vec<PathBuf>,
    /// Simulated platform roots (`--sim-root`): evidence under them is labelled simulated.
    #[serde(default)]
    pub simulated_roots: Vec<PathBuf>,
    /// The simulated SEV-SNP platform's ARKs (`--snp-sim-ark`, `CN=ARK-<Product>`): SNP reports
    /// under them are accepted and labelled simulated; without one only AMD's ARKs are trusted.
    #[serde(default)]
    pub snp_simulated_arks: Vec<PathBuf>,
    /// AMD CRLs (`--snp-crl`, DER or PEM), each filed under the product whose trusted ARK issued
    /// it and checked for every SEV-SNP report of that product (docs/snp.md §9).
    #[serde(default)]
    pub snp_crls: Vec<PathBuf>,
    /// Collateral files (dcap-qvl JSON layout, `--collateral`), asked before the other sources.
    #[serde(default)]
    pub collateral_files: Vec<PathBuf>,
    /// TCB statuses accepted besides the policy's (`--accept-status`), Intel's spelling.
    #[serde(default)]
    pub accept_tcb_status: Vec<String>,
    /// PCCS, cache, bundles and the freshness policy.
    #[serde(default)]
    pub collateral: CollateralSettings,
    /// AMD KDS base URL (`--kds-url`, e.g. `https://kdsintf.amd.com`): SEV-SNP reports without a
    /// certificate table get their VCEK, chain and CRL from it (cached under
    /// `collateral.cache_dir`/kds). Unset: no network, and such reports are refused.
    #[serde(default)]
    pub kds_url: Option<String>,
    /// The SEV-SNP product (`milan`, `genoa`, `turin`) of reports that do not name it (version 2
    /// reports have no CPUID fields), to fetch their VCEK from the KDS.
    #[serde(default)]
    pub snp_product: Option<String>,
}

impl VerifierSettings {
    /// The verifier: these roots and collateral sources, `policy` with the extra statuses.
    /// These settings' `max_collateral_age` joins the policy's (the stricter wins), so the
    /// [`Verifier`] enforces one maximum age on TCB info, QE identity and PCK CRL of every source;
    /// the sources and the verifier share the grace period (docs/collateral.md, "Grace").
    pub fn build(&self, policy: Policy) -> Result<Verifier, Error> {
        let roots = self.trust_roots()?;
        let mut policy = self.accepting(policy)?;
        let freshness = self.collateral.freshness()?;
        if let Some(max_age) = freshness.max_age {
            policy = policy.with_max_collateral_age(max_age);
        }
        let collateral = self.checked_source(FreshnessPolicy {
            max_age: None,
            grace: freshness.grace,
        })?;
        let mut verifier =
            Verifier::new(roots, collateral, Arc::new(policy)).with_snp_roots(self.snp_roots()?);
        if let Some(grace) = freshness.grace {
            verifier = verifier.with_collateral_grace(grace);
        }
        Ok(match self.kds_source()? {
            Some(kds) => verifier.with_snp_collateral(Arc::new(kds)),
            None => verifier,
        })
    }

    /// The KDS source of [`VerifierSettings::kds_url`] (cached in `collateral.cache_dir`/kds when
    /// set), `None` without a URL.
    pub fn kds_source(&self) -> Result<Option<KdsSource>, Error> {
        let product = self
            .snp_product
            .as_deref()
            .map(str::parse::<SnpProduct>)
            .transpose()
            .map_err(|reason| Error::Config {
                origin: "snp_product".into(),
                reason,
            })?;
        let Some(url) = &self.kds_url else {
            return Ok(None);
        };
        let client = KdsClient::new(&KdsConfig::new(url.trim())).map_err(|e| match e {
            Error::Config { reason, .. } => Error::Config {
                origin: "kds_url".into(),
                reason,
            },
            other => other,
        })?;
        let cache = match &self.collateral.cache_dir {
            Some(dir) => KdsCache::persistent(dir.join("kds"))?,
            None => KdsCache::in_memory(),
        };
        Ok(Some(KdsSource::new(client, cache).with_product(product)))
    }

    /// AMD's ARKs plus the configured simulated ones, with the configured CRLs.
    pub fn snp_roots(&self) -> Result<SnpRoots, Error> {
        let mut roots = SnpRoots::amd();
        for path in &self.snp_simulated_arks {
            roots = roots.with_simulated_ark_file(path)?;
        }
        for path in &self.snp_crls {
            roots = roots.with_crl_file(path)?;
        }
        // An expired CRL would refuse every SNP peer: say so at start, not per connection.
        roots.check_crls_current(SystemTime::now())?;
        Ok(roots)
    }

    /// Intel's root plus the configured ones.
    pub fn trust_roots(&self) -> Result<TrustRoots, Error> {
        let mut roots = TrustRoots::intel();
        for path in &self.trust_roots {
            roots = roots.with_root_file_auto(path)?;
        }
        for path in &self.simulated_roots {
            roots = roots.with_root_file(path, RootKind::Simulated)?;
        }
        Ok(roots)
    }

    /// `policy` also accepting [`VerifierSettings::accept_tcb_status`].
    pub fn accepting(&self, policy: Policy) -> Result<Policy, Error> {
        if self.accept_tcb_status.is_empty() {
            return Ok(policy);
        }
        let mut statuses = policy.accepted_statuses().to_vec();
        for name in &self.accept_tcb_status {
            let status: TcbStatus = name.parse().map_err(|reason| Error::Config {
                origin: "accept_tcb_status".into(),
                reason,
            })?;
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        Ok(policy.with_accepted_statuses(statuses))
    }

    /// The freshness policy: these settings' with `policy_max_age` (the stricter maximum age wins).
    pub fn freshness(&self, policy_max_age: Option<Duration>) -> Result<FreshnessPolicy, Error> {
        let mut freshness = self.collateral.freshness()?;
        freshness.max_age = match (freshness.max_age, policy_max_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(freshness)
    }

    /// The collateral files, then the configured sources, under one freshness policy (these
    /// settings' with `policy_max_age`), for a caller that builds its own verifier.
    pub fn collateral_source(
        &self,
        policy_max_age: Option<Duration>,
    ) -> Result<Arc<dyn CollateralSource>, Error> {
        self.checked_source(self.freshness(policy_max_age)?)
    }

    /// The collateral files, then the configured sources, under `freshness`.
    fn checked_source(
        &self,
        freshness: FreshnessPolicy,
    ) -> Result<Arc<dyn CollateralSource>, Error> {
        let others = self.collateral.build_chain()?;
        if self.collateral_files.is_empty() {
            return Ok(Arc::new(FreshnessChecked::new(others, freshness)));
        }
        let files = StaticCollateral::from_files(&self.collateral_files)?;
        if others.is_empty() {
            // Alone, the files answer for themselves (a single file is used as is: dcap-qvl names
            // any mismatch precisely), without keying the quote first.
            return Ok(Arc::new(FreshnessChecked::new(
                FileCollateral {
                    inner: files,
                    strict: false,
                },
                freshness,
            )));
        }
        let names: Vec<String> = self
            .collateral_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut chain = SourceChain::new();
        // In front of other sources a file must match the quote, so the next source gets its turn.
        chain.push(
            format!("collateral files {}", names.join(", ")),
            Box::new(FileCollateral {
                inner: files,
                strict: true,
            }),
        );
        chain.append(others);
        Ok(Arc::new(FreshnessChecked::new(chain, freshness)))
    }
}

/// The policy from initra's policy file and / or an Occlum verify config (`dynamic_config.json`,
/// or an `init_ra_conf.json` holding one): with both, the policy file's rules and the verify
/// config's identities. `None` when neither is given.
pub fn load_policy(
    policy_file: Option<&Path>,
    ra_config: Option<&Path>,
) -> Result<Option<Policy>, Error> {
    Ok(match (policy_file, ra_config) {
        (Some(p), Some(ra)) => {
            Some(Policy::from_file(p)?.with_identities_from(&Policy::from_occlum_config_file(ra)?))
        }
        (Some(p), None) => Some(Policy::from_file(p)?),
        (None, Some(ra)) => Some(Policy::from_occlum_config_file(ra)?),
        (None, None) => None,
    })
}

/// Collateral files; `strict` answers only for the quote's own TEE and FMSPC.
struct FileCollateral {
    inner: StaticCollateral,
    strict: bool,
}

impl CollateralSource for FileCollateral {
    collateral_for_now!();

    fn collateral_for_at(
        &self,
        quote: &Quote,
        now: SystemTime,
    ) -> Result<Arc<Collateral>, initra_verify::Error> {
        let c = self.inner.collateral_for_at(quote, now)?;
        if self.strict {
            let fmspc = quote_fmspc(quote)?;
            if c.tee() != quote.tee() || c.fmspc() != fmspc {
                return Err(initra_verify::Error::NoCollateral {
                    tee: quote.tee().to_string(),
                    fmspc,
                    loaded: format!("{} {} ({})", c.tee(), c.fmspc(), c.origin()),
                });
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `collateral_grace` reaches both the sources and the verifier: a quote whose collateral
    /// expired within the grace verifies; beyond it the error names the grace.
    #[test]
    fn grace_reaches_the_verifier() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/sgx/dcapqvl-sgx-v3"
        );
        let quote = std::fs::read(format!("{dir}/sgx_quote.bin")).unwrap();
        let settings = VerifierSettings {
            collateral_files: vec![format!("{dir}/sgx_quote_collateral.json").into()],
            accept_tcb_status: vec!["ConfigurationAndSWHardeningNeeded".into()],
            collateral: CollateralSettings {
                collateral_grace: Some("1d".into()),
                ..CollateralSettings::default()
            },
            ..VerifierSettings::default()
        };
        let verifier = settings.build(Policy::default()).unwrap();
        // 2025-07-20T09:00:00Z: QE identity (nextUpdate 2025-07-19T10:01:18Z) expired 23 h ago.
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let v = verifier.verify(&quote, at(1_753_002_000)).unwrap();
        assert!(v.is_accepted(), "{:?}", v.decision);
        // 2025-07-21T00:00:00Z: beyond the grace.
        let e = verifier
            .verify(&quote, at(1_753_056_000))
            .unwrap_err()
            .to_string();
        assert!(e.contains("grace 1day exceeded"), "{e}");
    }

    #[test]
    fn deserializes_every_field_and_rejects_unknown_ones() {
        let s: VerifierSettings = serde_json::from_str(
            r#"{"trust_roots":["r.pem"],"simulated_roots":["sim/root-ca.der"],
                "collateral_files":["c.json"],"accept_tcb_status":["SWHardeningNeeded"],
                "collateral":{"bundles":["b.json"],"max_collateral_age":"7d"}}"#,
        )
        .unwrap();
        assert_eq!(s.simulated_roots, [PathBuf::from("sim/root-ca.der")]);
        assert_eq!(s.collateral.bundles, [PathBuf::from("b.json")]);
        let err = serde_json::from_str::<VerifierSettings>(r#"{"pccs":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `pccs`"), "{err}");
    }

    #[test]
    fn stricter_max_age_wins_between_settings_and_policy() {
        let day = Duration::from_secs(86400);
        let mut s = VerifierSettings::default();
        assert_eq!(s.freshness(None).unwrap().max_age, None);
        assert_eq!(s.freshness(Some(day)).unwrap().max_age, Some(day));
        s.collateral.max_collateral_age = Some("7d".into());
        assert_eq!(s.freshness(None).unwrap().max_age, Some(7 * day));
        assert_eq!(s.freshness(Some(day)).unwrap().max_age, Some(day));
        assert_eq!(s.freshness(Some(30 * day)).unwrap().max_age, Some(7 * day));
    }

    #[test]
    fn settings_max_age_joins_the_policy_the_verifier_enforces() {
        let day = Duration::from_secs(86400);
        let mut s = VerifierSettings::default();
        s.collateral.sources = Some(Vec::new());
        s.collateral.max_collateral_age = Some("7d".into());
        let loose = Policy::default().with_max_collateral_age(30 * day);
        assert_eq!(
            s.build(loose).unwrap().policy().max_collateral_age(),
            Some(7 * day)
        );
        let strict = Policy::default().with_max_collateral_age(day);
        assert_eq!(
            s.build(strict).unwrap().policy().max_collateral_age(),
            Some(day)
        );
        s.collateral.max_collateral_age = None;
        assert_eq!(
            s.build(Policy::default())
                .unwrap()
                .policy()
                .max_collateral_age(),
            None
        );
    }

    #[test]
    fn extra_statuses_are_added_once_and_unknown_ones_named() {
        let s = VerifierSettings {
            accept_tcb_status: vec!["SWHardeningNeeded".into(), "UpToDate".into()],
            ..VerifierSettings::default()
        };
        let p = s.accepting(Policy::default()).unwrap();
        assert_eq!(
            p.accepted_statuses(),
            [TcbStatus::UpToDate, TcbStatus::SWHardeningNeeded]
        );
        let bad = VerifierSettings {
            accept_tcb_status: vec!["uptodate".into()],
            ..VerifierSettings::default()
        };
        let err = bad.accepting(Policy::default()).unwrap_err().to_string();
        assert!(
            err.starts_with("accept_tcb_status: unknown TCB status \"uptodate\""),
            "{err}"
        );
    }
}
