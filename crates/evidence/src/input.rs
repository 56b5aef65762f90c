//! Evidence as it arrives in files: binary, or hex text (see `docs/quote-formats.md` §1).

use crate::Error;

/// Largest evidence accepted (binary bytes). Real quotes are ~5 KiB; padded buffers ~16 KiB.
pub const MAX_EVIDENCE_LEN: usize = 1 << 20;

/// Returns the evidence bytes of `bytes`: binary input is returned as is; text input (only printable
/// ASCII and whitespace) must be hex, optionally prefixed `0x`, with whitespace / newlines anywhere.
///
/// Quotes are never text (they start `03 00` or `04 00`), so text input is unambiguous.
pub fn decode_evidence(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    let is_text = bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if !is_text {
        if bytes.len() > MAX_EVIDENCE_LEN {
            return Err(Error::LengthLimit {
                field: "evidence",
                actual: bytes.len(),
                max: MAX_EVIDENCE_LEN,
            });
        }
        return Ok(bytes.to_vec());
    }
    let digits: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let digits = match digits.as_slice() {
        [b'0', b'x' | b'X', rest @ ..] => rest,
        all => all,
    };
    if digits.is_empty() {
        return Err(Error::Empty);
    }
    if digits.len() / 2 > MAX_EVIDENCE_LEN {
        return Err(Error::LengthLimit {
            field: "evidence",
            actual: digits.len() / 2,
            max: MAX_EVIDENCE_LEN,
        });
    }
    if let Some(pos) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        let ch = digits.get(pos).copied().unwrap_or(b'?');
        return Err(Error::InvalidHex {
            reason: format!(
                "text input is not hex: character {:?} at hex digit {pos}",
                char::from(ch)
            ),
        });
    }
    if digits.len() % 2 != 0 {
        return Err(Error::InvalidHex {
            reason: format!("odd number of hex digits ({})", digits.len()),
        });
    }
    hex::decode(digits).map_err(|e| Error::InvalidHex {
        reason: e.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    #[test]
    fn binary_passes_through() {
        assert_eq!(decode_evidence(&[3, 0, 2, 0]).unwrap(), vec![3, 0, 2, 0]);
    }

    #[test]
    fn hex_with_prefix_and_whitespace() {
        assert_eq!(
            decode_evidence(b"0x0300 02\n00\r\n").unwrap(),
            vec![3, 0, 2, 0]
        );
        assert_eq!(decode_evidence(b"  AbCd\n").unwrap(), vec![0xab, 0xcd]);
    }

    #[test]
    fn bad_text() {
        assert_eq!(decode_evidence(b"").unwrap_err(), Error::Empty);
        assert_eq!(decode_evidence(b" \n").unwrap_err(), Error::Empty);
        assert_eq!(decode_evidence(b"0x").unwrap_err(), Error::Empty);
        let e = decode_evidence(b"hello world").unwrap_err().to_string();
        assert!(e.contains("'h'"), "{e}");
        let e = decode_evidence(b"abc").unwrap_err().to_string();
        assert!(e.contains("odd"), "{e}");
    }
}
