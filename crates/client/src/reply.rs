//! Decoding Occlum's `SecretReply.secret` (DESIGN.md, "Compatibility contract with Occlum's Init-RA").
//!
//! Occlum's server sends the base64 text as a JSON string literal (`"dGVzdA=="`); other servers may send
//! the bare base64 text. Both decode to the exact secret bytes (no trailing NUL, no lost last byte).

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::Error;

/// Decodes either reply form of secret `name` to its exact bytes.
pub fn decode_occlum_reply(name: &str, secret: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let text = secret.trim();
    let b64: Zeroizing<String> = if text.starts_with('"') {
        Zeroizing::new(serde_json::from_str::<String>(text).map_err(|e| {
            Error::Protocol(format!(
                "secret {name:?}: reply is not a valid JSON string literal: {e}"
            ))
        })?)
    } else {
        Zeroizing::new(text.to_owned())
    };
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map(Zeroizing::new)
        .map_err(|e| Error::Protocol(format!("secret {name:?}: reply is not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_give_exact_bytes() {
        for form in [
            "\"dGVzdCBzYW1wbGUga2V5Cg==\"",
            "dGVzdCBzYW1wbGUga2V5Cg==",
            "\"dGVzdCBzYW1wbGUga2V5Cg==\"\n",
        ] {
            assert_eq!(
                &*decode_occlum_reply("key", form).unwrap(),
                b"test sample key\n",
                "{form}"
            );
        }
        // No padding, and binary bytes.
        assert_eq!(
            &*decode_occlum_reply("b", "\"AP8K\"").unwrap(),
            &[0, 255, 10]
        );
        assert_eq!(&*decode_occlum_reply("e", "\"\"").unwrap(), b"");
    }

    #[test]
    fn malformed_replies_name_the_secret() {
        let err = decode_occlum_reply("key", "\"unterminated")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"key\"") && err.contains("JSON string"),
            "{err}"
        );
        let err = decode_occlum_reply("key", "not base64!")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"key\"") && err.contains("base64"), "{err}");
    }
}
