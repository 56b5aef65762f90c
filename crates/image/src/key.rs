//! Image keys in Occlum's text format (docs/image-format.md §1).

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsutil;

/// Largest key file read (a 256-bit key is 96 bytes; the rest is slack for whitespace).
const MAX_KEY_FILE: u64 = 4096;

/// The size of an image key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySize {
    /// 16 bytes: Occlum's `gen-image-key` format.
    Bits128,
    /// 32 bytes (initra extension, same text form).
    Bits256,
}

impl KeySize {
    /// Key length in bytes.
    pub fn bytes(self) -> usize {
        match self {
            KeySize::Bits128 => 16,
            KeySize::Bits256 => 32,
        }
    }

    /// Key length in bits.
    pub fn bits(self) -> u16 {
        match self {
            KeySize::Bits128 => 128,
            KeySize::Bits256 => 256,
        }
    }

    /// The size with `bits` bits, if supported.
    pub fn from_bits(bits: u16) -> Option<KeySize> {
        match bits {
            128 => Some(KeySize::Bits128),
            256 => Some(KeySize::Bits256),
            _ => None,
        }
    }
}

impl fmt::Display for KeySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-bit", self.bits())
    }
}

/// A secret image key. Zeroized on drop; `Debug` never shows the bytes.
pub struct ImageKey {
    bytes: Zeroizing<[u8; 32]>,
    size: KeySize,
}

impl ImageKey {
    /// A fresh random key from the system RNG.
    pub fn generate(size: KeySize) -> Result<ImageKey> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        let slot = bytes.get_mut(..size.bytes()).ok_or(Error::Random)?;
        SystemRandom::new().fill(slot).map_err(|_| Error::Random)?;
        Ok(ImageKey { bytes, size })
    }

    /// A key from its raw 16 or 32 bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<ImageKey> {
        let size = match raw.len() {
            16 => KeySize::Bits128,
            32 => KeySize::Bits256,
            actual => return Err(Error::KeyLength { actual }),
        };
        let mut bytes = Zeroizing::new([0u8; 32]);
        if let Some(slot) = bytes.get_mut(..raw.len()) {
            slot.copy_from_slice(raw);
        }
        Ok(ImageKey { bytes, size })
    }

    /// Parses the text form (§1.1): `xx-xx-...-xx`, 16 or 32 bytes, surrounding whitespace ignored,
    /// hex digits of either case.
    pub fn parse(text: &str) -> Result<ImageKey> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        // At most 32 bytes; the decoded bytes live in a zeroized buffer from the start.
        let mut out = Zeroizing::new([0u8; 32]);
        let mut count = 0usize;
        let mut high: u8 = 0;
        let mut len = 0usize;
        for (i, c) in text.chars().enumerate() {
            let position = i + 1;
            len = position;
            match i % 3 {
                2 => {
                    if c != '-' {
                        return Err(Error::KeyFormat {
                            position,
                            expected: "'-' between bytes",
                        });
                    }
                }
                phase => {
                    let nibble = c.to_digit(16).and_then(|d| u8::try_from(d).ok()).ok_or(
                        Error::KeyFormat {
                            position,
                            expected: "a hex digit (0-9, a-f)",
                        },
                    )?;
                    if phase == 0 {
                        high = nibble;
                    } else {
                        // Bytes past 32 are counted for the error message, not stored.
                        if let Some(slot) = out.get_mut(count) {
                            *slot = (high << 4) | nibble;
                        }
                        count += 1;
                    }
                }
            }
        }
        if len == 0 {
            return Err(Error::KeyLength { actual: 0 });
        }
        if len % 3 != 2 {
            return Err(Error::KeyFormat {
                position: len + 1,
                expected: "a hex digit (the text ends inside a byte or after a '-')",
            });
        }
        let raw = out.get(..count).ok_or(Error::KeyLength { actual: count })?;
        ImageKey::from_bytes(raw)
    }

    /// Parses the text form from raw secret bytes (as delivered by a secret server).
    pub fn parse_bytes(raw: &[u8]) -> Result<ImageKey> {
        let text = std::str::from_utf8(raw).map_err(|e| Error::KeyFormat {
            position: e.valid_up_to() + 1,
            expected: "ASCII text",
        })?;
        ImageKey::parse(text)
    }

    /// Reads and parses a key file.
    pub fn from_file(path: &Path) -> Result<ImageKey> {
        let file = fs::File::open(path).map_err(Error::io(path, "open key file"))?;
        // Capacity for the largest accepted file: no reallocation leaves key copies behind.
        let mut text = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE as usize + 1));
        file.take(MAX_KEY_FILE + 1)
            .read_to_end(&mut text)
            .map_err(Error::io(path, "read key file"))?;
        if text.len() as u64 > MAX_KEY_FILE {
            return Err(Error::KeyLength { actual: text.len() });
        }
        ImageKey::parse_bytes(&text)
    }

    /// The key's size.
    pub fn size(&self) -> KeySize {
        self.size
    }

    /// The text form, lower-case hex joined by `-`, with a trailing newline (Occlum's format).
    pub fn to_occlum_text(&self) -> Zeroizing<String> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = Zeroizing::new(String::with_capacity(self.size.bytes() * 3));
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                s.push('-');
            }
            for nibble in [b >> 4, b & 0x0f] {
                if let Some(&c) = HEX.get(usize::from(nibble)) {
                    s.push(char::from(c));
                }
            }
        }
        s.push('\n');
        s
    }

    /// Writes the text form to `path` with mode 0600, atomically (temporary file, then link or
    /// rename). Refuses to replace an existing file unless `overwrite`.
    pub fn write_file(&self, path: &Path, overwrite: bool) -> Result<()> {
        let text = self.to_occlum_text();
        let tmp = fsutil::sibling_temp(path, ".tmp")?;
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(Error::io(&tmp, "create"))?;
            // The umask can only remove bits; make the mode exact anyway.
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(Error::io(&tmp, "chmod"))?;
            f.write_all(text.as_bytes())
                .map_err(Error::io(&tmp, "write"))?;
            f.sync_all().map_err(Error::io(&tmp, "fsync"))?;
            if overwrite {
                fs::rename(&tmp, path).map_err(Error::io(path, "rename"))?;
            } else {
                // link(2) fails if `path` exists: no check-then-create race.
                match fs::hard_link(&tmp, path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Err(Error::KeyFileExists {
                            path: path.to_path_buf(),
                        })
                    }
                    // Filesystems without hard links: check, then rename.
                    Err(_) if fs::symlink_metadata(path).is_ok() => {
                        return Err(Error::KeyFileExists {
                            path: path.to_path_buf(),
                        })
                    }
                    Err(_) => fs::rename(&tmp, path).map_err(Error::io(path, "rename"))?,
                }
            }
            fsutil::sync_parent(path)
        })();
        // Gone already after a rename; otherwise the link (or nothing) holds the key now.
        let _ = fs::remove_file(&tmp);
        result
    }

    /// The raw key bytes (16 or 32).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.size.bytes()).unwrap_or(&[])
    }
}

impl fmt::Debug for ImageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageKey")
            .field("size", &self.size)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key exactly as `occlum gen-image-key` writes it.
    const OCCLUM_KEY: &str = "c7-32-b3-ed-44-df-ec-7b-25-2d-9a-32-38-8d-58-61\n";

    #[test]
    fn parses_occlum_text() {
        let key = ImageKey::parse(OCCLUM_KEY).unwrap();
        assert_eq!(key.size(), KeySize::Bits128);
        assert_eq!(
            key.as_bytes(),
            [
                0xc7, 0x32, 0xb3, 0xed, 0x44, 0xdf, 0xec, 0x7b, 0x25, 0x2d, 0x9a, 0x32, 0x38, 0x8d,
                0x58, 0x61
            ]
        );
        assert_eq!(key.to_occlum_text().as_str(), OCCLUM_KEY);
    }

    #[test]
    fn tolerates_surrounding_whitespace_and_upper_case() {
        let key =
            ImageKey::parse("  \r\nC7-32-B3-ED-44-DF-EC-7B-25-2D-9A-32-38-8D-58-61\r\n\t").unwrap();
        assert_eq!(key.to_occlum_text().as_str(), OCCLUM_KEY);
        let key = ImageKey::parse_bytes(OCCLUM_KEY.trim_end().as_bytes()).unwrap();
        assert_eq!(key.to_occlum_text().as_str(), OCCLUM_KEY);
    }

    #[test]
    fn parses_256_bit_form() {
        let text = (0..32u8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join("-");
        let key = ImageKey::parse(&text).unwrap();
        assert_eq!(key.size(), KeySize::Bits256);
        assert_eq!(key.as_bytes(), (0..32u8).collect::<Vec<_>>());
        assert_eq!(key.to_occlum_text().as_str(), format!("{text}\n"));
    }

    #[test]
    fn rejects_bad_characters_with_position() {
        let err = ImageKey::parse("c7-32-b3-ed-44-df-ec-7b-25-2d-9a-32-38-8d-58-6g").unwrap_err();
        assert!(
            matches!(err, Error::KeyFormat { position: 47, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "image key: character 47: expected a hex digit (0-9, a-f)"
        );
        let err = ImageKey::parse("c7:32-b3-ed-44-df-ec-7b-25-2d-9a-32-38-8d-58-61").unwrap_err();
        assert_eq!(
            err.to_string(),
            "image key: character 3: expected '-' between bytes"
        );
        let err = ImageKey::parse("c7-32-b3-ed-44-df-ec-7b-25-2d-9a-32-38-8d-58-61-").unwrap_err();
        assert!(
            matches!(err, Error::KeyFormat { position: 49, .. }),
            "{err}"
        );
        let err = ImageKey::parse("c7 32").unwrap_err();
        assert!(matches!(err, Error::KeyFormat { position: 3, .. }), "{err}");
        // Non-ASCII: positions count characters, and the message never echoes them.
        let err = ImageKey::parse("c7-é2").unwrap_err();
        assert!(matches!(err, Error::KeyFormat { position: 4, .. }), "{err}");
        assert!(!err.to_string().contains('é'));
    }

    #[test]
    fn rejects_wrong_lengths() {
        for (text, actual) in [
            ("", 0),
            ("c7-32-b3-ed-44-df-ec-7b-25-2d-9a-32-38-8d-58", 15),
            ("c7-32-b3-ed-44-df-ec-7b-25-2d-9a-32-38-8d-58-61-00", 17),
        ] {
            let err = ImageKey::parse(text).unwrap_err();
            assert!(
                matches!(err, Error::KeyLength { actual: a } if a == actual),
                "{text:?}: {err}"
            );
        }
        let long = vec!["ab"; 40].join("-");
        assert!(matches!(
            ImageKey::parse(&long).unwrap_err(),
            Error::KeyLength { actual: 40 }
        ));
    }

    #[test]
    fn generate_round_trips_and_debug_redacts() {
        for size in [KeySize::Bits128, KeySize::Bits256] {
            let key = ImageKey::generate(size).unwrap();
            assert_eq!(key.size(), size);
            let again = ImageKey::parse(&key.to_occlum_text()).unwrap();
            assert_eq!(again.as_bytes(), key.as_bytes());
            let text = key.to_occlum_text();
            assert_eq!(text.len(), size.bytes() * 3);
            let debug = format!("{key:?}");
            assert!(debug.contains("redacted"));
            assert!(!debug.contains(&text[..5]));
        }
        let a = ImageKey::generate(KeySize::Bits128).unwrap();
        let b = ImageKey::generate(KeySize::Bits128).unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn write_file_is_0600_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image_key");
        let key = ImageKey::generate(KeySize::Bits128).unwrap();
        key.write_file(&path, false).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), *key.to_occlum_text());
        let other = ImageKey::generate(KeySize::Bits256).unwrap();
        let err = other.write_file(&path, false).unwrap_err();
        assert!(matches!(err, Error::KeyFileExists { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), *key.to_occlum_text());
        other.write_file(&path, true).unwrap();
        assert_eq!(
            ImageKey::from_file(&path).unwrap().as_bytes(),
            other.as_bytes()
        );
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
