//! The secret store: Occlum's `secret_config.json` (a JSON object, secret name -> base64 of the bytes).
//!
//! Values live in zeroizing memory and have no `Debug` output; names are public (they appear in logs).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::Error;

/// Largest accepted `secret_config.json` (it holds certificates and keys, not images).
pub const MAX_SECRETS_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One secret: its exact bytes and the base64 text from the configuration file.
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
    base64: Zeroizing<String>,
}

impl Secret {
    /// The exact secret bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The base64 text as written in the configuration (what Occlum's server sends, quoted).
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// Occlum's `SecretReply.secret`: the base64 text as a JSON string literal (`"dGVzdA=="`).
    ///
    /// Base64 text has no character JSON must escape, so the literal is the text between two quotes.
    pub fn occlum_reply(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(self.base64.len() + 2));
        out.push('"');
        out.push_str(&self.base64);
        out.push('"');
        out
    }
}

/// The entries of a JSON object in file order, refusing empty and duplicate names (serde_json's maps
/// would keep the last duplicate silently).
struct UniqueEntries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for UniqueEntries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueEntries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object name -> base64 string")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UniqueEntries, A::Error> {
                let mut seen = std::collections::BTreeSet::new();
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if name.is_empty() {
                        return Err(serde::de::Error::custom("secret \"\": empty secret name"));
                    }
                    if !seen.insert(name.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "secret {name:?}: duplicate secret name"
                        )));
                    }
                    let value = map.next_value::<serde_json::Value>()?;
                    out.push((name, value));
                }
                Ok(UniqueEntries(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// A base64 error with the offending character shown (`'!' at offset 4`), not its code point.
pub fn base64_reason(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(offset, byte) => {
            format!(
                "invalid character {:?} at offset {offset}",
                char::from(*byte)
            )
        }
        base64::DecodeError::InvalidLastSymbol(offset, byte) => format!(
            "invalid last character {:?} at offset {offset}",
            char::from(*byte)
        ),
        other => other.to_string(),
    }
}

/// All secrets, by name.
#[derive(Default)]
pub struct SecretStore {
    secrets: BTreeMap<String, Secret>,
}

impl SecretStore {
    /// Reads Occlum's `secret_config.json`.
    pub fn from_occlum_file(path: &Path) -> Result<Self, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.len() > MAX_SECRETS_FILE_BYTES {
            return Err(Error::InvalidFile {
                path: path.to_path_buf(),
                what: "secret_config.json",
                reason: format!(
                    "size: {} bytes > maximum {MAX_SECRETS_FILE_BYTES}",
                    meta.len()
                ),
            });
        }
        let text = Zeroizing::new(std::fs::read(path).map_err(|e| Error::io(path, e))?);
        Self::from_occlum_json(&text).map_err(|reason| Error::InvalidFile {
            path: path.to_path_buf(),
            what: "secret_config.json",
            reason,
        })
    }

    /// Parses the JSON text of a `secret_config.json`. The error names the offending key.
    pub fn from_occlum_json(text: &[u8]) -> Result<Self, String> {
        let UniqueEntries(entries) = serde_json::from_slice(text).map_err(|e| {
            if e.is_data() && e.to_string().starts_with("secret ") {
                e.to_string()
            } else {
                format!("expected a JSON object name -> base64 string: {e}")
            }
        })?;
        let mut secrets = BTreeMap::new();
        // Each string is moved (not copied) into zeroizing memory.
        for (name, value) in entries {
            let b64 = match value {
                serde_json::Value::String(b64) => Zeroizing::new(b64),
                other => {
                    return Err(format!(
                        "secret {name:?}: expected a base64 string, got {}",
                        json_kind(&other)
                    ))
                }
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("secret {name:?}: invalid base64: {}", base64_reason(&e)))?;
            secrets.insert(
                name,
                Secret {
                    bytes: Zeroizing::new(bytes),
                    base64: b64,
                },
            );
        }
        Ok(Self { secrets })
    }

    /// Builds a store from raw bytes (library users and tests).
    pub fn from_bytes<N: Into<String>>(entries: impl IntoIterator<Item = (N, Vec<u8>)>) -> Self {
        let secrets = entries
            .into_iter()
            .map(|(name, bytes)| {
                let base64 =
                    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&bytes));
                (
                    name.into(),
                    Secret {
                        bytes: Zeroizing::new(bytes),
                        base64,
                    },
                )
            })
            .collect();
        Self { secrets }
    }

    /// The secret called `name`.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }

    /// All secret names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
    }

    /// Number of secrets.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// True when there is no secret.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/occlum-config/secret_config.json"
    );

    #[test]
    fn loads_occlum_sample_with_exact_bytes() {
        let store = SecretStore::from_occlum_file(Path::new(SAMPLE)).unwrap();
        assert_eq!(store.names().collect::<Vec<_>>(), ["cert", "key"]);
        let cert = store.get("cert").unwrap();
        assert_eq!(cert.bytes(), b"test sample certificates\n");
        assert_eq!(cert.base64(), "dGVzdCBzYW1wbGUgY2VydGlmaWNhdGVzCg==");
        assert_eq!(
            &*cert.occlum_reply(),
            "\"dGVzdCBzYW1wbGUgY2VydGlmaWNhdGVzCg==\""
        );
        assert_eq!(store.get("key").unwrap().bytes(), b"test sample key\n");
        assert!(store.get("nope").is_none());
    }

    #[test]
    fn invalid_base64_names_the_key() {
        let err = SecretStore::from_occlum_json(br#"{"good":"dGVzdA==","bad_one":"not base64!"}"#)
            .err()
            .unwrap();
        assert!(
            err.contains("\"bad_one\"") && err.contains("invalid base64"),
            "{err}"
        );
        let err = SecretStore::from_occlum_json(br#"{"n":5}"#).err().unwrap();
        assert!(err.contains("\"n\"") && err.contains("a number"), "{err}");
        assert!(SecretStore::from_occlum_json(b"[1]").is_err());
        let err = SecretStore::from_occlum_json(br#"{"k":"ab!d"}"#)
            .err()
            .unwrap();
        assert!(err.contains("'!' at offset 2"), "{err}");
    }

    #[test]
    fn empty_and_duplicate_names_are_refused() {
        let err = SecretStore::from_occlum_json(br#"{"a":"YQ==","a":"Yg=="}"#)
            .err()
            .unwrap();
        assert!(
            err.contains("\"a\"") && err.contains("duplicate secret name"),
            "{err}"
        );
        let err = SecretStore::from_occlum_json(br#"{"":"YQ=="}"#)
            .err()
            .unwrap();
        assert!(err.contains("empty secret name"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret_config.json");
        std::fs::write(&path, br#"{"x":"YQ==","x":"YQ=="}"#).unwrap();
        let err = SecretStore::from_occlum_file(&path)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("secret_config.json") && err.contains("\"x\""),
            "{err}"
        );
    }

    #[test]
    fn from_bytes_round_trips_binary() {
        let store = SecretStore::from_bytes([("bin", vec![0u8, 255, 10])]);
        let s = store.get("bin").unwrap();
        assert_eq!(s.bytes(), [0, 255, 10]);
        assert_eq!(s.base64(), "AP8K");
    }
}
