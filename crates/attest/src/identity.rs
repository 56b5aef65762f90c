//! The identity of a (simulated) enclave: the report fields a quote attests to.

use std::path::Path;

use initra_evidence::Measurement;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The enclave report fields that identify an enclave. `initra sim quote --identity FILE` reads it as
/// JSON (measurements as lower-case hex):
///
/// ```json
/// {"mr_enclave": "<64 hex>", "mr_signer": "<64 hex>", "isv_prod_id": 0, "isv_svn": 0,
///  "config_svn": 0, "debug": false}
/// ```
///
/// Only `mr_enclave` and `mr_signer` are required; the numbers default to 0 and `debug` to false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnclaveIdentity {
    /// MRENCLAVE: the measurement of the enclave's code and configuration.
    pub mr_enclave: Measurement,
    /// MRSIGNER: the hash of the enclave vendor's signing key.
    pub mr_signer: Measurement,
    /// ISVPRODID: the vendor's product id.
    #[serde(default)]
    pub isv_prod_id: u16,
    /// ISVSVN: the enclave's security version.
    #[serde(default)]
    pub isv_svn: u16,
    /// CONFIGSVN: the security version of the enclave's configuration.
    #[serde(default)]
    pub config_svn: u16,
    /// Whether the enclave runs in debug mode (ATTRIBUTES.DEBUG); its memory is then readable by the host.
    #[serde(default)]
    pub debug: bool,
}

impl EnclaveIdentity {
    /// An identity with the given measurements, product id and SVNs 0, not debug.
    pub fn new(mr_enclave: Measurement, mr_signer: Measurement) -> Self {
        Self {
            mr_enclave,
            mr_signer,
            isv_prod_id: 0,
            isv_svn: 0,
            config_svn: 0,
            debug: false,
        }
    }

    /// Reads an identity JSON file (see the type's documentation).
    pub fn from_json_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::InvalidFile {
            path: path.to_path_buf(),
            what: "enclave identity JSON",
            reason: e.to_string(),
        })
    }

    /// The identity as pretty JSON (the format [`EnclaveIdentity::from_json_file`] reads).
    pub fn to_json(&self) -> String {
        // Serialising plain strings and integers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_defaults() {
        let id = EnclaveIdentity::new(Measurement([0x11; 32]), Measurement([0x22; 32]));
        let back: EnclaveIdentity = serde_json::from_str(&id.to_json()).unwrap();
        assert_eq!(back, id);

        let minimal = format!(
            r#"{{"mr_enclave":"{}","mr_signer":"{}"}}"#,
            "ab".repeat(32),
            "cd".repeat(32)
        );
        let parsed: EnclaveIdentity = serde_json::from_str(&minimal).unwrap();
        assert_eq!(parsed.mr_enclave, Measurement([0xab; 32]));
        assert_eq!(
            (
                parsed.isv_prod_id,
                parsed.isv_svn,
                parsed.config_svn,
                parsed.debug
            ),
            (0, 0, 0, false)
        );
    }

    #[test]
    fn rejects_short_measurement_and_unknown_fields() {
        let short = format!(
            r#"{{"mr_enclave":"{}","mr_signer":"{}"}}"#,
            "ab".repeat(31),
            "cd".repeat(32)
        );
        let err = serde_json::from_str::<EnclaveIdentity>(&short)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 32"), "{err}");
        let unknown = format!(
            r#"{{"mr_enclave":"{0}","mr_signer":"{0}","mrenclave":"x"}}"#,
            "ab".repeat(32)
        );
        assert!(serde_json::from_str::<EnclaveIdentity>(&unknown).is_err());
    }
}
