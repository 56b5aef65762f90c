//! The SNP certificate table (`auxblob` of configfs-tsm, `certs` of SNP_GET_EXT_REPORT;
//! `docs/snp.md` §5): GUID-keyed entries pointing at DER certificates in the same buffer.

use crate::codec::Reader;
use crate::Error;

/// GUID of the ARK entry.
pub const GUID_ARK: &str = "c0b406a4-a803-4952-9743-3fb6014cd0ae";
/// GUID of the ASK entry.
pub const GUID_ASK: &str = "4ab7b379-bbac-4fe4-a02f-05aef327c782";
/// GUID of the VCEK entry.
pub const GUID_VCEK: &str = "63da758d-e664-4564-adc5-f4b93be8accd";
/// GUID of the VLEK entry.
pub const GUID_VLEK: &str = "a8074bc2-a25a-483e-aae6-39c045a0b8a1";

/// Bound on the number of table entries (the kernel hands out a few pages).
pub const MAX_ENTRIES: usize = 64;

/// One table entry: a GUID (lower-case, hyphenated) and the bytes it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertTableEntry {
    /// The GUID, e.g. [`GUID_VCEK`].
    pub guid: String,
    /// The certificate (DER).
    pub data: Vec<u8>,
}

/// A parsed certificate table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertTable {
    /// The entries in table order.
    pub entries: Vec<CertTableEntry>,
}

impl CertTable {
    /// Parses `{guid[16], offset u32, length u32}` entries up to the all-zero terminator; offsets
    /// are from the start of `bytes`. GUIDs are stored in the mixed-endian (`guid_t`) byte order.
    pub fn parse(bytes: &[u8]) -> Result<CertTable, Error> {
        let mut r = Reader::new(bytes);
        let mut entries = Vec::new();
        loop {
            let guid = r.take_array::<16>("cert_table.guid")?;
            let offset = usize::try_from(r.u32_le("cert_table.offset")?).unwrap_or(usize::MAX);
            let length = usize::try_from(r.u32_le("cert_table.length")?).unwrap_or(usize::MAX);
            if guid == [0; 16] && offset == 0 && length == 0 {
                break;
            }
            if entries.len() == MAX_ENTRIES {
                return Err(Error::LengthLimit {
                    field: "cert_table.entries",
                    actual: MAX_ENTRIES + 1,
                    max: MAX_ENTRIES,
                });
            }
            let data = offset
                .checked_add(length)
                .and_then(|end| bytes.get(offset..end))
                .ok_or_else(|| Error::Truncated {
                    field: "cert_table.entry",
                    needed: length,
                    available: bytes.len().saturating_sub(offset),
                })?;
            entries.push(CertTableEntry {
                guid: guid_string(&guid),
                data: data.to_vec(),
            });
        }
        Ok(CertTable { entries })
    }

    /// The data of the entry with this GUID.
    pub fn get(&self, guid: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|e| e.guid == guid)
            .map(|e| e.data.as_slice())
    }
}

/// `guid_t` bytes (first three fields little-endian) as the canonical string.
fn guid_string(g: &[u8; 16]) -> String {
    let [a0, a1, a2, a3, b0, b1, c0, c1, d0, d1, e0, e1, e2, e3, e4, e5] = *g;
    format!(
        "{}-{}-{}-{}-{}",
        hex::encode([a3, a2, a1, a0]),
        hex::encode([b1, b0]),
        hex::encode([c1, c0]),
        hex::encode([d0, d1]),
        hex::encode([e0, e1, e2, e3, e4, e5])
    )
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    fn guid_bytes(s: &str) -> [u8; 16] {
        let h = hex::decode(s.replace('-', "")).unwrap();
        let mut g = [0u8; 16];
        g[..4].copy_from_slice(&[h[3], h[2], h[1], h[0]]);
        g[4..6].copy_from_slice(&[h[5], h[4]]);
        g[6..8].copy_from_slice(&[h[7], h[6]]);
        g[8..].copy_from_slice(&h[8..]);
        g
    }

    #[test]
    fn parses_entries_up_to_the_terminator() {
        let mut t = Vec::new();
        t.extend_from_slice(&guid_bytes(GUID_VCEK));
        t.extend_from_slice(&48u32.to_le_bytes());
        t.extend_from_slice(&3u32.to_le_bytes());
        t.extend_from_slice(&[0u8; 24]);
        t.extend_from_slice(b"abc");
        let table = CertTable::parse(&t).unwrap();
        assert_eq!(table.entries.len(), 1);
        assert_eq!(table.get(GUID_VCEK), Some(&b"abc"[..]));
        assert_eq!(table.get(GUID_ASK), None);
    }

    #[test]
    fn entry_out_of_bounds_is_an_error() {
        let mut t = Vec::new();
        t.extend_from_slice(&guid_bytes(GUID_ARK));
        t.extend_from_slice(&u32::MAX.to_le_bytes());
        t.extend_from_slice(&8u32.to_le_bytes());
        t.extend_from_slice(&[0u8; 24]);
        let e = CertTable::parse(&t).unwrap_err().to_string();
        assert!(e.starts_with("cert_table.entry: truncated"), "{e}");
        assert!(CertTable::parse(&[0u8; 10]).is_err());
    }
}
