//! The 192-byte image header (docs/image-format.md §2).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ring::digest;

use crate::error::{Error, Result};

/// Header length in bytes (§2).
pub const HEADER_LEN: usize = 192;
/// `magic` (§2).
pub(crate) const MAGIC: [u8; 8] = *b"INITRAIM";
/// The format version this crate writes and reads (§2.1).
pub const VERSION: u16 = 1;
/// Smallest allowed `chunk_size` (one tar block, §2.1).
pub const MIN_CHUNK_SIZE: u32 = 512;
/// Largest allowed `chunk_size` (§2.1).
pub const MAX_CHUNK_SIZE: u32 = 16 << 20;
/// Default `chunk_size` for sealing (§2.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 20;

/// Offsets of the fields that other modules authenticate (§2).
pub(crate) const MAC_INPUT_LEN: usize = 96;
const CHECKSUM_INPUT_LEN: usize = 160;

/// How an image protects its payload (§2 `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Confidential and authenticated with the image key (§3).
    Encrypted,
    /// Plain, authenticated by a pinned root hash (§4).
    IntegrityOnly,
}

impl Mode {
    fn code(self) -> u8 {
        match self {
            Mode::Encrypted => 1,
            Mode::IntegrityOnly => 2,
        }
    }

    /// Bytes that follow each chunk's payload: the GCM tag or the next chunk's hash (§3.4, §4.1).
    pub(crate) fn trailer_len(self) -> usize {
        match self {
            Mode::Encrypted => 16,
            Mode::IntegrityOnly => 32,
        }
    }
}

impl fmt::Display for Mode {
    /// The spelling of Occlum's `image_config.json` `image_type`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Encrypted => "encrypted",
            Mode::IntegrityOnly => "integrity-only",
        })
    }
}

/// The SHA-256 root hash that pins an integrity-only image (§4.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RootHash([u8; 32]);

impl RootHash {
    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `SHA-256(H)` of an encoded header.
    pub(crate) fn of_header(bytes: &[u8; HEADER_LEN]) -> RootHash {
        RootHash(sha256(bytes))
    }
}

impl From<[u8; 32]> for RootHash {
    fn from(b: [u8; 32]) -> RootHash {
        RootHash(b)
    }
}

impl FromStr for RootHash {
    type Err = Error;

    /// 64 hex digits (either case), surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<RootHash> {
        let s = s.trim();
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| Error::RootHashFormat {
            actual: format!("{} characters ({e})", s.chars().count()),
        })?;
        Ok(RootHash(out))
    }
}

impl fmt::Display for RootHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RootHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootHash({self})")
    }
}

impl serde::Serialize for RootHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A decoded header (§2). Fields that are zero for a mode are zero here too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) mode: Mode,
    pub(crate) chunk_size: u32,
    pub(crate) key_bits: u16,
    pub(crate) salt: [u8; 32],
    pub(crate) nonce_prefix: [u8; 7],
    pub(crate) key_check: [u8; 32],
    pub(crate) header_mac: [u8; 32],
    pub(crate) first_chunk_hash: [u8; 32],
}

impl Header {
    /// Encodes the header, computing `checksum` (§2).
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer {
            buf: &mut out,
            pos: 0,
        };
        w.put(&MAGIC);
        w.put(&VERSION.to_le_bytes());
        w.put(&[self.mode.code(), 1]);
        w.put(&self.chunk_size.to_le_bytes());
        w.put(&self.key_bits.to_le_bytes());
        w.put(&[0u8; 6]);
        w.put(&self.salt);
        w.put(&self.nonce_prefix);
        w.put(&[0u8]);
        w.put(&self.key_check);
        w.put(&self.header_mac);
        w.put(&self.first_chunk_hash);
        let sum = sha256(out.get(..CHECKSUM_INPUT_LEN).unwrap_or(&[]));
        if let Some(slot) = out.get_mut(CHECKSUM_INPUT_LEN..) {
            slot.copy_from_slice(&sum);
        }
        out
    }

    /// The bytes `header_mac` covers: `H[0..96]` (§3.3).
    pub(crate) fn mac_input(&self) -> [u8; MAC_INPUT_LEN] {
        let full = self.encode();
        let mut out = [0u8; MAC_INPUT_LEN];
        if let Some((head, _)) = full.split_first_chunk::<MAC_INPUT_LEN>() {
            out = *head;
        }
        out
    }

    /// Decodes and checks a header (§2.1): magic, then checksum, then every field rule.
    pub(crate) fn parse(bytes: &[u8; HEADER_LEN], path: &Path) -> Result<Header> {
        let mut r = Fields { rest: bytes };
        let magic: [u8; 8] = r.array();
        if magic != MAGIC {
            return Err(Error::NotAnImage {
                path: path.to_path_buf(),
                actual: hex::encode(magic),
            });
        }
        let (covered, stored) = bytes.split_at(CHECKSUM_INPUT_LEN);
        if sha256(covered) != stored {
            return Err(Error::HeaderCorrupted {
                path: path.to_path_buf(),
            });
        }
        let field = |field: &'static str, expected: &str, actual: String| Error::HeaderField {
            path: path.to_path_buf(),
            field,
            expected: expected.to_owned(),
            actual,
        };
        let version = u16::from_le_bytes(r.array());
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                version,
            });
        }
        let [mode, suite] = r.array();
        let mode = match mode {
            1 => Mode::Encrypted,
            2 => Mode::IntegrityOnly,
            other => return Err(field("mode", "1 or 2", other.to_string())),
        };
        if suite != 1 {
            return Err(field("suite", "1", suite.to_string()));
        }
        let chunk_size = u32::from_le_bytes(r.array());
        if check_chunk_size(u64::from(chunk_size)).is_err() {
            return Err(field(
                "chunk_size",
                "a power of two from 512 to 16777216",
                chunk_size.to_string(),
            ));
        }
        let key_bits = u16::from_le_bytes(r.array());
        let reserved: [u8; 6] = r.array();
        if reserved != [0; 6] {
            return Err(field("reserved", "zero", hex::encode(reserved)));
        }
        let salt: [u8; 32] = r.array();
        let nonce_prefix: [u8; 7] = r.array();
        let [nonce_pad] = r.array();
        let key_check: [u8; 32] = r.array();
        let header_mac: [u8; 32] = r.array();
        let first_chunk_hash: [u8; 32] = r.array();
        let zero = |name: &'static str, v: &[u8]| -> Result<()> {
            if v.iter().all(|&b| b == 0) {
                Ok(())
            } else {
                Err(field(name, "zero", hex::encode(v)))
            }
        };
        zero("nonce_prefix[7]", &[nonce_pad])?;
        match mode {
            Mode::Encrypted => {
                if key_bits != 128 && key_bits != 256 {
                    return Err(field("key_bits", "128 or 256", key_bits.to_string()));
                }
                zero("first_chunk_hash", &first_chunk_hash)?;
            }
            Mode::IntegrityOnly => {
                if key_bits != 0 {
                    return Err(field("key_bits", "0", key_bits.to_string()));
                }
                zero("salt", &salt)?;
                zero("nonce_prefix", &nonce_prefix)?;
                zero("key_check", &key_check)?;
                zero("header_mac", &header_mac)?;
            }
        }
        Ok(Header {
            mode,
            chunk_size,
            key_bits,
            salt,
            nonce_prefix,
            key_check,
            header_mac,
            first_chunk_hash,
        })
    }
}

/// Checks a chunk size against §2.1.
pub(crate) fn check_chunk_size(size: u64) -> Result<()> {
    if size.is_power_of_two()
        && (u64::from(MIN_CHUNK_SIZE)..=u64::from(MAX_CHUNK_SIZE)).contains(&size)
    {
        Ok(())
    } else {
        Err(Error::ChunkSize { actual: size })
    }
}

/// SHA-256 as an array.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Sequential reads of fixed-size fields from the fixed-size header.
struct Fields<'a> {
    rest: &'a [u8],
}

impl Fields<'_> {
    /// The next `N` bytes. The header layout is a compile-time constant that sums to
    /// `HEADER_LEN`, so running out is impossible; zeros would be returned rather than panic.
    fn array<const N: usize>(&mut self) -> [u8; N] {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                *head
            }
            None => [0u8; N],
        }
    }
}

/// Sequential writes into the header buffer.
struct Writer<'a> {
    buf: &'a mut [u8; HEADER_LEN],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(slot) = self.buf.get_mut(self.pos..self.pos + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            mode: Mode::Encrypted,
            chunk_size: 4096,
            key_bits: 128,
            salt: [7; 32],
            nonce_prefix: [9; 7],
            key_check: [1; 32],
            header_mac: [2; 32],
            first_chunk_hash: [0; 32],
        }
    }

    #[test]
    fn layout_matches_spec_table() {
        let h = sample();
        let b = h.encode();
        assert_eq!(&b[0..8], b"INITRAIM");
        assert_eq!(&b[8..10], &[1, 0]);
        assert_eq!(b[10], 1);
        assert_eq!(b[11], 1);
        assert_eq!(&b[12..16], &4096u32.to_le_bytes());
        assert_eq!(&b[16..18], &128u16.to_le_bytes());
        assert_eq!(&b[18..24], &[0; 6]);
        assert_eq!(&b[24..56], &[7; 32]);
        assert_eq!(&b[56..63], &[9; 7]);
        assert_eq!(b[63], 0);
        assert_eq!(&b[64..96], &[1; 32]);
        assert_eq!(&b[96..128], &[2; 32]);
        assert_eq!(&b[128..160], &[0; 32]);
        assert_eq!(&b[160..192], &sha256(&b[..160]));
        assert_eq!(&h.mac_input()[..], &b[..96]);
        assert_eq!(Header::parse(&b, Path::new("x")).unwrap(), h);
    }

    #[test]
    fn field_rules() {
        let p = Path::new("img");
        let mut h = sample();
        h.chunk_size = 1000;
        let err = Header::parse(&h.encode(), p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "img: header field chunk_size: expected a power of two from 512 to 16777216, got 1000"
        );
        let mut h = sample();
        h.key_bits = 192;
        assert!(matches!(
            Header::parse(&h.encode(), p).unwrap_err(),
            Error::HeaderField {
                field: "key_bits",
                ..
            }
        ));
        let mut h = sample();
        h.mode = Mode::IntegrityOnly;
        h.key_bits = 0;
        assert!(matches!(
            Header::parse(&h.encode(), p).unwrap_err(),
            Error::HeaderField { field: "salt", .. }
        ));
        let mut b = sample().encode();
        b[8] = 2;
        let sum = sha256(&b[..160]);
        b[160..].copy_from_slice(&sum);
        assert!(matches!(
            Header::parse(&b, p).unwrap_err(),
            Error::UnsupportedVersion { version: 2, .. }
        ));
        let mut b = sample().encode();
        b[100] ^= 1;
        assert!(matches!(
            Header::parse(&b, p).unwrap_err(),
            Error::HeaderCorrupted { .. }
        ));
        let mut b = sample().encode();
        b[0] = b'X';
        assert!(matches!(
            Header::parse(&b, p).unwrap_err(),
            Error::NotAnImage { .. }
        ));
    }

    #[test]
    fn root_hash_text() {
        let h: RootHash = "AB".repeat(32).parse().unwrap();
        assert_eq!(h.to_string(), "ab".repeat(32));
        assert!(matches!(
            "abc".parse::<RootHash>().unwrap_err(),
            Error::RootHashFormat { .. }
        ));
    }
}
