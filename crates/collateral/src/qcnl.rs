//! Which PCCS to ask: initra's own setting, else the `PCCS_URL` environment variable, else
//! `pccs_url` in Intel's QCNL configuration (`/etc/sgx_default_qcnl.conf`), whose
//! `use_secure_cert` is honoured.
//!
//! The QCNL file is JSON since DCAP 1.13 and Intel ships it with `//` comments; older versions
//! used `KEY=VALUE` lines (`PCCS_URL=...`, `USE_SECURE_CERT=FALSE`). Both are read.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

/// Intel's QCNL configuration file.
pub const DEFAULT_QCNL_CONF: &str = "/etc/sgx_default_qcnl.conf";

/// The environment variable Intel's tools read.
pub const PCCS_URL_ENV: &str = "PCCS_URL";

/// Where the PCCS URL came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlOrigin {
    /// initra's configuration / command line.
    Config,
    /// The `PCCS_URL` environment variable.
    Env,
    /// A QCNL configuration file.
    Qcnl(PathBuf),
}

impl fmt::Display for UrlOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlOrigin::Config => f.write_str("initra configuration"),
            UrlOrigin::Env => f.write_str(PCCS_URL_ENV),
            UrlOrigin::Qcnl(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The PCCS to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedPccs {
    /// Base URL as given (trailing `/sgx/certification/v4/` is accepted and stripped later).
    pub url: String,
    /// Verify the PCCS's TLS certificate.
    pub use_secure_cert: bool,
    /// Where `url` came from.
    pub origin: UrlOrigin,
}

/// Resolves the PCCS URL. `configured` is initra's setting; `env` the value of `PCCS_URL`
/// (pass `std::env::var(PCCS_URL_ENV).ok()`); `qcnl` the QCNL file (a missing file is not an
/// error). `use_secure_cert` from initra's config overrides the QCNL value; the default is true.
/// `Ok(None)`: no PCCS configured anywhere.
pub fn resolve_pccs(
    configured: Option<&str>,
    env: Option<String>,
    qcnl: &Path,
    use_secure_cert: Option<bool>,
) -> Result<Option<ResolvedPccs>, Error> {
    let non_empty = |s: &str| !s.trim().is_empty();
    if let Some(url) = configured.filter(|s| non_empty(s)) {
        return Ok(Some(ResolvedPccs {
            url: url.trim().to_owned(),
            use_secure_cert: use_secure_cert.unwrap_or(true),
            origin: UrlOrigin::Config,
        }));
    }
    if let Some(url) = env.filter(|s| non_empty(s)) {
        return Ok(Some(ResolvedPccs {
            url: url.trim().to_owned(),
            use_secure_cert: use_secure_cert.unwrap_or(true),
            origin: UrlOrigin::Env,
        }));
    }
    let text = match std::fs::read_to_string(qcnl) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: qcnl.to_owned(),
                source,
            })
        }
    };
    let settings = parse_qcnl(&text).map_err(|reason| Error::Config {
        origin: qcnl.display().to_string(),
        reason,
    })?;
    Ok(settings.url.map(|url| ResolvedPccs {
        url,
        use_secure_cert: use_secure_cert.or(settings.use_secure_cert).unwrap_or(true),
        origin: UrlOrigin::Qcnl(qcnl.to_owned()),
    }))
}

#[derive(Debug, Default, PartialEq, Eq)]
struct QcnlSettings {
    url: Option<String>,
    use_secure_cert: Option<bool>,
}

fn parse_qcnl(text: &str) -> Result<QcnlSettings, String> {
    let json = strip_comments(text);
    if json.trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| format!("JSON (comments removed): {e}"))?;
        let url = match v.get("pccs_url") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => {
                Some(s.trim().to_owned()).filter(|s| !s.is_empty())
            }
            Some(other) => return Err(format!("pccs_url: expected a string, got {other}")),
        };
        let use_secure_cert = match v.get("use_secure_cert") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Bool(b)) => Some(*b),
            Some(other) => {
                return Err(format!(
                    "use_secure_cert: expected true or false, got {other}"
                ))
            }
        };
        return Ok(QcnlSettings {
            url,
            use_secure_cert,
        });
    }
    // Legacy `KEY=VALUE` format (DCAP < 1.13).
    let mut out = QcnlSettings::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_uppercase().as_str() {
            "PCCS_URL" => out.url = Some(v.trim().to_owned()).filter(|s| !s.is_empty()),
            "USE_SECURE_CERT" => {
                out.use_secure_cert = match v.trim().to_ascii_uppercase().as_str() {
                    "TRUE" => Some(true),
                    "FALSE" => Some(false),
                    other => {
                        return Err(format!(
                            "USE_SECURE_CERT: expected TRUE or FALSE, got {other}"
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Removes `//` line comments and `/* */` block comments outside JSON strings.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTEL_STYLE: &str = r#"{
  // *** ATTENTION : This file is in JSON format so the keys are case sensitive. Don't change them.
  //PCCS server address
  "pccs_url": "https://localhost:8081/sgx/certification/v4/",
  /* To accept insecure HTTPS certificate, set this option to false */
  "use_secure_cert": false,
  "collateral_service": "https://api.trustedservices.intel.com/sgx/certification/v4/",
  "retry_times": 6
}"#;

    #[test]
    fn order_config_env_qcnl() {
        let dir = tempfile::tempdir().unwrap();
        let qcnl = dir.path().join("qcnl.conf");
        std::fs::write(&qcnl, INTEL_STYLE).unwrap();
        let r = resolve_pccs(
            Some("https://cfg:1"),
            Some("https://env:2".into()),
            &qcnl,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.url.as_str(), r.origin, r.use_secure_cert),
            ("https://cfg:1", UrlOrigin::Config, true)
        );
        let r = resolve_pccs(None, Some("https://env:2".into()), &qcnl, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.url.as_str(), r.origin),
            ("https://env:2", UrlOrigin::Env)
        );
        let r = resolve_pccs(None, None, &qcnl, None).unwrap().unwrap();
        assert_eq!(r.url, "https://localhost:8081/sgx/certification/v4/");
        assert!(!r.use_secure_cert);
        assert_eq!(r.origin, UrlOrigin::Qcnl(qcnl.clone()));
        // initra's own use_secure_cert wins over the file's.
        assert!(
            resolve_pccs(None, None, &qcnl, Some(true))
                .unwrap()
                .unwrap()
                .use_secure_cert
        );
        assert_eq!(
            resolve_pccs(None, None, &dir.path().join("missing"), None).unwrap(),
            None
        );
    }

    #[test]
    fn legacy_and_broken_files() {
        let s = parse_qcnl(
            "# old\nPCCS_URL=https://pccs:8081/sgx/certification/v3/\nUSE_SECURE_CERT=FALSE\n",
        )
        .unwrap();
        assert_eq!(
            s.url.as_deref(),
            Some("https://pccs:8081/sgx/certification/v3/")
        );
        assert_eq!(s.use_secure_cert, Some(false));
        let dir = tempfile::tempdir().unwrap();
        let qcnl = dir.path().join("qcnl.conf");
        std::fs::write(&qcnl, "{ \"pccs_url\": 5 }").unwrap();
        let err = resolve_pccs(None, None, &qcnl, None).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("qcnl.conf: pccs_url: expected a string, got 5"),
            "{err}"
        );
        // A "//" inside a string is not a comment.
        let s = parse_qcnl("{\"pccs_url\": \"http://h:1//x\"}").unwrap();
        assert_eq!(s.url.as_deref(), Some("http://h:1//x"));
    }
}
