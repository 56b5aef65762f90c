//! `init_ra_conf.json`: Occlum's Init-RA client configuration, read as-is, plus initra's optional `initra` object.
//!
//! Occlum fields (docs/init-config.md §1): `kms_server` ("host:port"), `kms_keys` (list of `{key, path}`),
//! `ra_config` (the verify config describing the trusted server). `OCCLUM_INIT_RA_KMS_SERVER` overrides
//! `kms_server`. initra's extensions live under `initra` (docs/init-config.md §2) so Occlum tooling that
//! reads the file ignores them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use initra_collateral::{CollateralSettings, VerifierSettings};
use serde::Deserialize;

use crate::Error;

/// Environment variable that overrides `kms_server`, as in Occlum.
pub const KMS_SERVER_ENV: &str = "OCCLUM_INIT_RA_KMS_SERVER";

/// The secret name under which the image key is served (Occlum convention).
pub const IMAGE_KEY_SECRET: &str = "image_key";

/// The evidence backends `initra.attester` and `--tee` accept.
pub const ATTESTER_NAMES: [&str; 7] = ["auto", "sim", "sim-snp", "occlum", "gramine", "tdx", "snp"];

/// The top-level keys this reader knows; others are ignored (Occlum's reader ignores them too).
const KNOWN_KEYS: [&str; 4] = ["kms_server", "kms_keys", "ra_config", "initra"];

/// A parsed and validated `init_ra_conf.json`.
#[derive(Debug, Clone)]
pub struct InitConfig {
    /// Where the file was read from (its directory anchors relative paths).
    pub source: PathBuf,
    /// The secret server, after applying [`KMS_SERVER_ENV`].
    pub kms_server: String,
    /// Secrets to fetch and the absolute paths to write them to.
    pub kms_keys: Vec<KmsKey>,
    /// The verify config for the server (Occlum `ra_config` format), kept as JSON for the policy reader.
    pub ra_config: serde_json::Value,
    /// initra's own settings (defaults when the `initra` object is absent).
    pub initra: InitraSection,
    /// Problems that do not stop the launch (ignored unknown keys, nothing to deliver), each naming
    /// the file; the launcher prints them as `initra: warning: ...`.
    pub warnings: Vec<String>,
}

/// One `kms_keys` entry: fetch secret `key`, write it to `path`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KmsKey {
    /// Secret name on the server.
    pub key: String,
    /// Absolute path where the application expects the secret.
    pub path: PathBuf,
}

/// initra's optional extensions to `init_ra_conf.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitraSection {
    /// Which TEE backend produces evidence: `auto` (default), `sim`, `sim-snp`, `occlum`, `gramine`,
    /// `tdx`, `snp`.
    #[serde(default)]
    pub attester: Option<String>,
    /// Simulated platform directory (required when `attester` is `sim`: `initra sim init` output;
    /// or `sim-snp`: a simulated SEV-SNP platform such as testdata/sim-snp).
    #[serde(default)]
    pub sim_dir: Option<PathBuf>,
    /// Trust root files for the server's evidence (default: Intel's production root only).
    #[serde(default)]
    pub trust_roots: Vec<PathBuf>,
    /// A simulated platform root to trust for the server's evidence. Simulated evidence is accepted only
    /// when this is set, and every decision on it is labelled simulated.
    #[serde(default)]
    pub simulated_root: Option<PathBuf>,
    /// Collateral files (dcap-qvl JSON layout) used to verify the server's quote.
    #[serde(default)]
    pub collateral: Vec<PathBuf>,
    /// TCB statuses accepted for the server besides `UpToDate`.
    #[serde(default)]
    pub accept_tcb_status: Vec<String>,
    /// PCCS / Intel PCS base URL for the server's collateral; default: `PCCS_URL`, else `pccs_url`
    /// of `/etc/sgx_default_qcnl.conf` (none: only files and bundles).
    #[serde(default)]
    pub pccs_url: Option<String>,
    /// CA certificates (PEM) for the PCCS's TLS certificate.
    #[serde(default)]
    pub pccs_ca: Option<PathBuf>,
    /// AMD KDS base URL: the VCEK of an SEV-SNP server whose certificate carries no certificate
    /// table is fetched there (none: such a server is refused).
    #[serde(default)]
    pub kds_url: Option<String>,
    /// AMD CRLs (DER or PEM) checked for an SEV-SNP server's chain (docs/snp.md §9).
    #[serde(default)]
    pub snp_crls: Vec<PathBuf>,
    /// Offline collateral bundles (`initra collateral fetch`).
    #[serde(default)]
    pub collateral_bundles: Vec<PathBuf>,
    /// Directory caching fetched collateral across launches.
    #[serde(default)]
    pub collateral_cache: Option<PathBuf>,
    /// Maximum age of the server's TCB info, QE identity and PCK CRL (`"7d"`).
    #[serde(default)]
    pub max_collateral_age: Option<String>,
    /// Tolerance past `nextUpdate` (explicit, logged at warn).
    #[serde(default)]
    pub collateral_grace: Option<String>,
    /// A CA certificate to pin instead of attesting the server (server with a conventional certificate).
    #[serde(default)]
    pub server_ca: Option<PathBuf>,
    /// The root filesystem image to unlock.
    #[serde(default)]
    pub image: Option<ImageSection>,
    /// The application to exec (overridden by `-- COMMAND ARGS...` on the command line).
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment variables for the application, set from secrets: variable name -> secret name.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where unlocked data goes: `auto` (default), `private` or `host`.
    #[serde(default)]
    pub placement: Option<String>,
    /// Overall deadline for reaching the server, in seconds (default 30).
    #[serde(default)]
    pub connect_deadline_secs: Option<u64>,
}

/// The `initra.image` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    /// The sealed image file.
    pub path: PathBuf,
    /// `encrypted` (key fetched as secret `image_key`) or `integrity-only` (root hash pinned here).
    #[serde(rename = "type")]
    pub kind: ImageKind,
    /// Pinned root hash (hex); required for `integrity-only`.
    #[serde(default)]
    pub root_hash: Option<String>,
    /// Absolute directory where the unlocked tree appears.
    pub mount: PathBuf,
}

/// Occlum's `image_type` values.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum ImageKind {
    /// Authenticated encryption; the key is the `image_key` secret.
    #[serde(rename = "encrypted")]
    Encrypted,
    /// Authenticated but not encrypted; the root hash is pinned in this file.
    #[serde(rename = "integrity-only")]
    IntegrityOnly,
}

/// Unknown top-level keys are tolerated (Occlum's own reader ignores them); the `initra` section is strict.
#[derive(Deserialize)]
struct RawConfig {
    kms_server: String,
    #[serde(default)]
    kms_keys: Vec<KmsKey>,
    ra_config: serde_json::Value,
    #[serde(default)]
    initra: Option<InitraSection>,
}

impl InitConfig {
    /// Reads and validates `path`; `env_server` is the value of [`KMS_SERVER_ENV`], if set.
    pub fn from_file(path: &Path, env_server: Option<String>) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::ParseConfig {
            path: path.to_owned(),
            message: "init configuration: not JSON text (invalid UTF-8)".into(),
        })?;
        Self::from_str(path, &text, env_server)
    }

    /// Parses configuration text read from `source`.
    pub fn from_str(source: &Path, text: &str, env_server: Option<String>) -> Result<Self, Error> {
        let parse_err = |message: String| Error::ParseConfig {
            path: source.to_owned(),
            message,
        };
        let invalid = |field: &str, message: String| Error::InvalidConfig {
            path: source.to_owned(),
            field: field.to_owned(),
            message,
        };
        // Strict first pass: a key given twice anywhere (ra_config included) is an error, not
        // silently the last one.
        let value = initra_verify::parse_strict_json(text).map_err(parse_err)?;
        let mut warnings = Vec::new();
        if let Some(map) = value.as_object() {
            for key in map.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())) {
                // A near miss of a known key is a typo that would silently drop what it configures.
                if let Some(known) = KNOWN_KEYS.iter().find(|k| edit_distance(key, k) <= 2) {
                    return Err(invalid(
                        key,
                        format!("unknown field; did you mean `{known}`?"),
                    ));
                }
                warnings.push(format!(
                    "{}: unknown field {key:?} ignored",
                    source.display()
                ));
            }
        }
        // Typed pass over the text itself, so errors carry both the field path and the line.
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            if path == "." || path.is_empty() {
                parse_err(e.into_inner().to_string())
            } else {
                parse_err(format!("field `{path}`: {}", e.into_inner()))
            }
        })?;
        let kms_server = match env_server.filter(|s| !s.trim().is_empty()) {
            Some(from_env) => {
                check_server(&from_env).map_err(|message| Error::InvalidEnv {
                    var: KMS_SERVER_ENV,
                    message,
                })?;
                from_env
            }
            None => {
                check_server(&raw.kms_server).map_err(|m| invalid("kms_server", m))?;
                raw.kms_server
            }
        };
        let mut seen_paths = std::collections::BTreeSet::new();
        for (i, k) in raw.kms_keys.iter().enumerate() {
            if k.key.is_empty() {
                return Err(invalid(
                    &format!("kms_keys[{i}].key"),
                    "empty secret name".into(),
                ));
            }
            check_absolute(&k.path).map_err(|m| invalid(&format!("kms_keys[{i}].path"), m))?;
            if !seen_paths.insert(k.path.clone()) {
                return Err(invalid(
                    &format!("kms_keys[{i}].path"),
                    format!("{} is used by two entries", k.path.display()),
                ));
            }
        }
        let base = source.parent().unwrap_or(Path::new("."));
        let mut initra = raw.initra.unwrap_or_default();
        initra.resolve_relative(base);
        if let Some(image) = &initra.image {
            check_absolute(&image.mount).map_err(|m| invalid("initra.image.mount", m))?;
            match (image.kind, &image.root_hash) {
                (ImageKind::IntegrityOnly, None) => {
                    return Err(invalid(
                        "initra.image.root_hash",
                        "required for an integrity-only image (pin the hash printed by `initra image seal --integrity-only`)".into(),
                    ))
                }
                (_, Some(h)) if h.len() != 64 || hex::decode(h).is_err() => {
                    return Err(invalid(
                        "initra.image.root_hash",
                        format!("expected 64 hex digits, got {h:?}"),
                    ))
                }
                _ => {}
            }
        }
        if let Some(url) = initra.pccs_url.as_deref() {
            initra_collateral::http::check_url(url.trim())
                .map_err(|m| invalid("initra.pccs_url", m))?;
        }
        if let Some(url) = initra.kds_url.as_deref() {
            initra_collateral::http::check_url(url.trim())
                .map_err(|m| invalid("initra.kds_url", m))?;
        }
        if let Some(a) = initra.attester.as_deref() {
            if !ATTESTER_NAMES.contains(&a) {
                return Err(invalid(
                    "initra.attester",
                    format!("expected one of {}, got {a:?}", ATTESTER_NAMES.join(", ")),
                ));
            }
        }
        if let Some(p) = initra.placement.as_deref() {
            if !matches!(p, "auto" | "private" | "host") {
                return Err(invalid(
                    "initra.placement",
                    format!("expected \"auto\", \"private\" or \"host\", got {p:?}"),
                ));
            }
        }
        for (i, status) in initra.accept_tcb_status.iter().enumerate() {
            status
                .parse::<initra_verify::TcbStatus>()
                .map_err(|m| invalid(&format!("initra.accept_tcb_status[{i}]"), m))?;
        }
        for (field, value) in [
            ("initra.max_collateral_age", &initra.max_collateral_age),
            ("initra.collateral_grace", &initra.collateral_grace),
        ] {
            if let Some(v) = value {
                initra_collateral::freshness::parse_duration(v, field)
                    .map_err(|e| invalid(field, e.to_string()))?;
            }
        }
        for (var, secret) in &initra.env {
            if var.is_empty() || var.contains('=') || var.contains('\0') {
                return Err(invalid(
                    &format!("initra.env.{var}"),
                    "not a valid variable name".into(),
                ));
            }
            if secret.is_empty() {
                return Err(invalid(
                    &format!("initra.env.{var}"),
                    "empty secret name".into(),
                ));
            }
        }
        let encrypted_image = matches!(&initra.image, Some(i) if i.kind == ImageKind::Encrypted);
        if raw.kms_keys.is_empty() && initra.env.is_empty() && !encrypted_image {
            warnings.push(format!(
                "{}: nothing to deliver: no kms_keys, no encrypted image and no initra.env; \
                 the application starts without secrets",
                source.display()
            ));
        }
        Ok(Self {
            source: source.to_owned(),
            kms_server,
            kms_keys: raw.kms_keys,
            ra_config: raw.ra_config,
            initra,
            warnings,
        })
    }

    /// Every secret name to fetch in the one session: `image_key` for an encrypted image, the `kms_keys`
    /// entries and the `env` sources, without duplicates, in a stable order.
    pub fn secret_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut push = |n: &str| {
            if !names.iter().any(|x: &String| x == n) {
                names.push(n.to_owned());
            }
        };
        if matches!(&self.initra.image, Some(i) if i.kind == ImageKind::Encrypted) {
            push(IMAGE_KEY_SECRET);
        }
        for k in &self.kms_keys {
            push(&k.key);
        }
        for s in self.initra.env.values() {
            push(s);
        }
        names
    }
}

impl InitraSection {
    /// How the server's evidence is verified: the shared verifier set-up of `initra server` and
    /// `initra get-secret`, from this section's fields (paths already resolved).
    pub fn verifier_settings(&self) -> VerifierSettings {
        VerifierSettings {
            trust_roots: self.trust_roots.clone(),
            simulated_roots: self.simulated_root.iter().cloned().collect(),
            // An SEV-SNP server is verified under AMD's ARKs; the simulated SNP platform is a
            // test fixture for workloads, not for servers.
            snp_simulated_arks: Vec::new(),
            snp_crls: self.snp_crls.clone(),
            collateral_files: self.collateral.clone(),
            accept_tcb_status: self.accept_tcb_status.clone(),
            collateral: CollateralSettings {
                pccs_url: self.pccs_url.clone(),
                pccs_ca_file: self.pccs_ca.clone(),
                cache_dir: self.collateral_cache.clone(),
                bundles: self.collateral_bundles.clone(),
                max_collateral_age: self.max_collateral_age.clone(),
                collateral_grace: self.collateral_grace.clone(),
                ..CollateralSettings::default()
            },
            kds_url: self.kds_url.clone(),
            snp_product: None,
        }
    }

    fn resolve_relative(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        self.sim_dir.iter_mut().for_each(fix);
        self.trust_roots.iter_mut().for_each(fix);
        self.simulated_root.iter_mut().for_each(fix);
        self.collateral.iter_mut().for_each(fix);
        self.collateral_bundles.iter_mut().for_each(fix);
        self.collateral_cache.iter_mut().for_each(fix);
        self.pccs_ca.iter_mut().for_each(fix);
        self.snp_crls.iter_mut().for_each(fix);
        self.server_ca.iter_mut().for_each(fix);
        if let Some(image) = &mut self.image {
            fix(&mut image.path);
        }
    }
}

/// `host:port` with a numeric port.
fn check_server(server: &str) -> Result<(), String> {
    match server.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("expected \"host:port\", got {server:?}")),
    }
}

/// Levenshtein distance (keys are short ASCII; fine to be quadratic).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// Target paths must be absolute and free of `..` so placement cannot be steered elsewhere.
fn check_absolute(p: &Path) -> Result<(), String> {
    if !p.is_absolute() {
        return Err(format!("expected an absolute path, got {}", p.display()));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("path {} contains `..`", p.display()));
    }
    if p.parent().is_none() || p == Path::new("/") {
        return Err("the root directory cannot be a target".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OCCLUM_TEMPLATE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/occlum-config/init_ra_conf.grpc_ratls.template.json"
    ));

    #[test]
    fn reads_occlum_template_as_is() {
        let c = InitConfig::from_str(Path::new("/cfg/init_ra_conf.json"), OCCLUM_TEMPLATE, None)
            .unwrap();
        assert_eq!(c.kms_server, "localhost:50051");
        assert_eq!(
            c.kms_keys,
            vec![KmsKey {
                key: "demo_key".into(),
                path: "/etc/demo_key".into()
            }]
        );
        assert_eq!(c.ra_config["verify_mr_enclave"], "off");
        assert!(c.initra.image.is_none());
        assert_eq!(c.secret_names(), vec!["demo_key".to_owned()]);
    }

    #[test]
    fn a_key_given_twice_is_an_error_even_inside_ra_config() {
        let text = r#"{"kms_server":"h:1","kms_keys":[],
            "ra_config":{"sgx_mrs":[{"mr_enclave":"aa"}],"sgx_mrs":[]}}"#;
        let e = InitConfig::from_str(Path::new("init.json"), text, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("init.json"), "{e}");
        assert!(e.contains("duplicate key \"sgx_mrs\""), "{e}");
    }

    #[test]
    fn env_overrides_server() {
        let c = InitConfig::from_str(
            Path::new("x.json"),
            OCCLUM_TEMPLATE,
            Some("10.0.0.1:7000".into()),
        )
        .unwrap();
        assert_eq!(c.kms_server, "10.0.0.1:7000");
    }

    #[test]
    fn encrypted_image_adds_image_key_first_and_resolves_paths() {
        let text = r#"{"kms_server":"h:1","kms_keys":[{"key":"a","path":"/etc/a"},{"key":"image_key","path":"/etc/k"}],
            "ra_config":{},"initra":{"image":{"path":"img.bin","type":"encrypted","mount":"/srv/app"},
            "env":{"TOKEN":"tok"}}}"#;
        let c = InitConfig::from_str(Path::new("/conf/dir/init.json"), text, None).unwrap();
        assert_eq!(c.secret_names(), vec!["image_key", "a", "tok"]);
        assert_eq!(
            c.initra.image.unwrap().path,
            PathBuf::from("/conf/dir/img.bin")
        );
    }

    #[test]
    fn rejects_relative_target_and_names_field() {
        let text = r#"{"kms_server":"h:1","kms_keys":[{"key":"a","path":"etc/a"}],"ra_config":{}}"#;
        let err = InitConfig::from_str(Path::new("c.json"), text, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("kms_keys[0].path"), "{err}");
        assert!(err.contains("absolute"), "{err}");
    }

    #[test]
    fn rejects_dotdot_duplicate_and_unknown_fields() {
        let dotdot =
            r#"{"kms_server":"h:1","kms_keys":[{"key":"a","path":"/etc/../x"}],"ra_config":{}}"#;
        assert!(InitConfig::from_str(Path::new("c"), dotdot, None)
            .unwrap_err()
            .to_string()
            .contains(".."));
        let dup = r#"{"kms_server":"h:1","kms_keys":[{"key":"a","path":"/x"},{"key":"b","path":"/x"}],"ra_config":{}}"#;
        assert!(InitConfig::from_str(Path::new("c"), dup, None)
            .unwrap_err()
            .to_string()
            .contains("two entries"));
        let unknown = r#"{"kms_server":"h:1","ra_config":{},"comment":"ok","initra":{"imgae":{}}}"#;
        let err = InitConfig::from_str(Path::new("c"), unknown, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("imgae"), "{err}");
    }

    #[test]
    fn integrity_only_needs_root_hash() {
        let text = r#"{"kms_server":"h:1","ra_config":{},"initra":{"image":{"path":"i","type":"integrity-only","mount":"/srv/a"}}}"#;
        let err = InitConfig::from_str(Path::new("c"), text, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("initra.image.root_hash"), "{err}");
    }

    #[test]
    fn collateral_fields_map_to_verifier_settings_and_are_checked() {
        let text = r#"{"kms_server":"h:1","ra_config":{},"initra":{"simulated_root":"sim/root-ca.der",
            "collateral":["c.json"],"pccs_url":"https://pccs:8081","collateral_bundles":["b.json"],
            "collateral_cache":"/var/cache/initra","max_collateral_age":"7d",
            "kds_url":"https://kdsintf.amd.com","snp_crls":["milan.crl"],
            "accept_tcb_status":["SWHardeningNeeded"]}}"#;
        let c = InitConfig::from_str(Path::new("/conf/init.json"), text, None).unwrap();
        let v = c.initra.verifier_settings();
        assert_eq!(v.simulated_roots, [PathBuf::from("/conf/sim/root-ca.der")]);
        assert_eq!(v.collateral_files, [PathBuf::from("/conf/c.json")]);
        assert_eq!(v.collateral.bundles, [PathBuf::from("/conf/b.json")]);
        assert_eq!(
            v.collateral.cache_dir,
            Some(PathBuf::from("/var/cache/initra"))
        );
        assert_eq!(v.collateral.pccs_url.as_deref(), Some("https://pccs:8081"));
        assert_eq!(v.collateral.max_collateral_age.as_deref(), Some("7d"));
        assert_eq!(v.accept_tcb_status, ["SWHardeningNeeded"]);
        assert_eq!(v.kds_url.as_deref(), Some("https://kdsintf.amd.com"));
        assert_eq!(v.snp_crls, [PathBuf::from("/conf/milan.crl")]);
        let bad_kds =
            r#"{"kms_server":"h:1","ra_config":{},"initra":{"kds_url":"kdsintf.amd.com"}}"#;
        let err = InitConfig::from_str(Path::new("c"), bad_kds, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("initra.kds_url"), "{err}");

        let bad_age =
            r#"{"kms_server":"h:1","ra_config":{},"initra":{"max_collateral_age":"soon"}}"#;
        let err = InitConfig::from_str(Path::new("c"), bad_age, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("initra.max_collateral_age") && err.contains("soon"),
            "{err}"
        );
        let bad_status = r#"{"kms_server":"h:1","ra_config":{},"initra":{"accept_tcb_status":["UpToDate","uptodate"]}}"#;
        let err = InitConfig::from_str(Path::new("c"), bad_status, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("initra.accept_tcb_status[1]") && err.contains("\"uptodate\""),
            "{err}"
        );
    }

    #[test]
    fn server_without_port_is_rejected() {
        let text = r#"{"kms_server":"localhost","ra_config":{}}"#;
        let err = InitConfig::from_str(Path::new("c"), text, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("host:port"), "{err}");
    }

    #[test]
    fn near_miss_of_a_known_key_is_an_error_others_warn() {
        let typo = r#"{"kms_server":"h:1","kms_key":[{"key":"a","path":"/etc/a"}],"ra_config":{}}"#;
        let err = InitConfig::from_str(Path::new("c.json"), typo, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.json") && err.contains("`kms_key`") && err.contains("`kms_keys`"),
            "{err}"
        );
        let typo = r#"{"kms_server":"h:1","ra_config":{},"intira":{}}"#;
        let err = InitConfig::from_str(Path::new("c.json"), typo, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `initra`"), "{err}");

        let other = r#"{"kms_server":"h:1","ra_config":{},"comment":"x",
            "kms_keys":[{"key":"a","path":"/etc/a"}]}"#;
        let c = InitConfig::from_str(Path::new("c.json"), other, None).unwrap();
        assert_eq!(c.warnings, ["c.json: unknown field \"comment\" ignored"]);
    }

    #[test]
    fn nothing_to_deliver_warns() {
        let text = r#"{"kms_server":"h:1","ra_config":{}}"#;
        let c = InitConfig::from_str(Path::new("c.json"), text, None).unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("nothing to deliver"),
            "{:?}",
            c.warnings
        );
        let c = InitConfig::from_str(Path::new("c"), OCCLUM_TEMPLATE, None).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn bad_server_from_environment_names_the_variable() {
        let err =
            InitConfig::from_str(Path::new("c.json"), OCCLUM_TEMPLATE, Some("garbage".into()))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains(KMS_SERVER_ENV) && err.contains("garbage"),
            "{err}"
        );
        assert!(!err.contains("kms_server`"), "{err}");
    }

    #[test]
    fn unknown_attester_lists_every_value() {
        let text = r#"{"kms_server":"h:1","ra_config":{},"initra":{"attester":"sgx"}}"#;
        let err = InitConfig::from_str(Path::new("c"), text, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("initra.attester") && err.contains("\"sgx\""),
            "{err}"
        );
        for v in ATTESTER_NAMES {
            assert!(err.contains(v), "{v} not listed: {err}");
        }
    }

    #[test]
    fn type_errors_name_the_field_path() {
        for (text, path) in [
            (
                r#"{"kms_server":"h:1","ra_config":{},"initra":{"env":{"TOKEN":5}}}"#,
                "initra.env.TOKEN",
            ),
            (
                r#"{"kms_server":"h:1","ra_config":{},"initra":{"connect_deadline_secs":"30"}}"#,
                "initra.connect_deadline_secs",
            ),
            (
                r#"{"kms_server":"h:1","ra_config":{},"kms_keys":[{"key":"a"}]}"#,
                "kms_keys[0]",
            ),
        ] {
            let err = InitConfig::from_str(Path::new("c.json"), text, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("field `{path}`")), "{path}: {err}");
            assert!(err.contains("line 1"), "{err}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kms_key", "kms_keys"), 1);
        assert_eq!(edit_distance("ra_conf", "ra_config"), 2);
        assert_eq!(edit_distance("comment", "kms_keys"), 7);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
