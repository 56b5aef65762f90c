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

/// Size of one table entry: `guid[16] || offset u32 || length u32`.
const ENTRY_LEN: usize = 24;

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

    /// Encodes a table in the layout [`CertTable::parse`] reads (the kernel's `auxblob` /
    /// SNP_GET_EXT_REPORT layout, `docs/snp.md` §5): the entries `{guid_t, offset u32, length u32}`,
    /// the all-zero terminator entry, then each payload in entry order, offsets from the start.
    ///
    /// Errors: a GUID that is not the hyphenated 8-4-4-4-12 hex form, more than [`MAX_ENTRIES`]
    /// entries, or a table larger than `u32::MAX` bytes.
    pub fn encode(entries: &[(&str, &[u8])]) -> Result<Vec<u8>, Error> {
        if entries.len() > MAX_ENTRIES {
            return Err(Error::LengthLimit {
                field: "cert_table.entries",
                actual: entries.len(),
                max: MAX_ENTRIES,
            });
        }
        let table_len = (entries.len() + 1) * ENTRY_LEN;
        let total = entries
            .iter()
            .fold(table_len, |acc, (_, data)| acc.saturating_add(data.len()));
        let max = usize::try_from(u32::MAX).unwrap_or(usize::MAX);
        if total > max {
            return Err(Error::LengthLimit {
                field: "cert_table",
                actual: total,
                max,
            });
        }
        let mut out = Vec::with_capacity(total);
        let mut offset = table_len;
        for (guid, data) in entries {
            let guid = guid_bytes(guid).ok_or_else(|| {
                Error::malformed(
                    "cert_table.guid",
                    "a GUID like 63da758d-e664-4564-adc5-f4b93be8accd",
                    *guid,
                )
            })?;
            out.extend_from_slice(&guid);
            // INVARIANT: offset + len <= total, which fits in u32 (checked above).
            out.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
            out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
            offset += data.len();
        }
        out.extend_from_slice(&[0u8; ENTRY_LEN]);
        for (_, data) in entries {
            out.extend_from_slice(data);
        }
        Ok(out)
    }

    /// This table encoded by [`CertTable::encode`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let entries: Vec<(&str, &[u8])> = self
            .entries
            .iter()
            .map(|e| (e.guid.as_str(), e.data.as_slice()))
            .collect();
        Self::encode(&entries)
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

/// The canonical string (`8-4-4-4-12` hex, any case) as `guid_t` bytes: the inverse of
/// [`guid_string`].
fn guid_bytes(s: &str) -> Option<[u8; 16]> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lens != [8, 4, 4, 4, 12] {
        return None;
    }
    let h: [u8; 16] = hex::decode(groups.concat()).ok()?.try_into().ok()?;
    let [a0, a1, a2, a3, b0, b1, c0, c1, d0, d1, e0, e1, e2, e3, e4, e5] = h;
    Some([
        a3, a2, a1, a0, b1, b0, c1, c0, d0, d1, e0, e1, e2, e3, e4, e5,
    ])
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    fn guid_bytes(s: &str) -> [u8; 16] {
        super::guid_bytes(s).unwrap()
    }

    #[test]
    fn guid_bytes_is_the_inverse_of_guid_string() {
        let g = guid_bytes(GUID_VCEK);
        // guid_t: the first three fields little-endian.
        assert_eq!(hex::encode(g), "8d75da6364e66445adc5f4b93be8accd");
        assert_eq!(guid_string(&g), GUID_VCEK);
        assert_eq!(
            super::guid_bytes("63DA758D-E664-4564-ADC5-F4B93BE8ACCD"),
            Some(g)
        );
        assert_eq!(super::guid_bytes("63da758de6644564adc5f4b93be8accd"), None);
        assert_eq!(
            super::guid_bytes("63da758d-e664-4564-adc5-f4b93be8accz"),
            None
        );
    }

    #[test]
    fn encode_is_the_inverse_of_parse() {
        let vcek = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/snp/virtee/vcek_milan.der"
        ))
        .unwrap();
        let entries: [(&str, &[u8]); 3] = [
            (GUID_VCEK, &vcek),
            (GUID_ASK, b"ask certificate"),
            (GUID_ARK, b""),
        ];
        let bytes = CertTable::encode(&entries).unwrap();
        // Four 24-byte entries (the last all zero), then the payloads in order.
        assert_eq!(bytes.len(), 4 * 24 + vcek.len() + 15);
        assert_eq!(&bytes[..16], &guid_bytes(GUID_VCEK));
        assert_eq!(bytes[16..20], 96u32.to_le_bytes());
        assert_eq!(
            bytes[20..24],
            u32::try_from(vcek.len()).unwrap().to_le_bytes()
        );
        assert_eq!(bytes[72..96], [0u8; 24]);
        assert_eq!(&bytes[96..96 + vcek.len()], vcek.as_slice());

        let table = CertTable::parse(&bytes).unwrap();
        let got: Vec<(&str, &[u8])> = table
            .entries
            .iter()
            .map(|e| (e.guid.as_str(), e.data.as_slice()))
            .collect();
        assert_eq!(got, entries);
        assert_eq!(table.to_bytes().unwrap(), bytes);
        assert_eq!(CertTable::encode(&[]).unwrap(), [0u8; 24]);
        assert_eq!(CertTable::parse(&[0u8; 24]).unwrap(), CertTable::default());
    }

    #[test]
    fn encode_rejects_bad_guids_and_too_many_entries() {
        let e = CertTable::encode(&[("vcek", b"x")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "cert_table.guid: expected a GUID like 63da758d-e664-4564-adc5-f4b93be8accd, got vcek"
        );
        let many = vec![(GUID_VCEK, &b""[..]); MAX_ENTRIES + 1];
        let e = CertTable::encode(&many).unwrap_err().to_string();
        assert_eq!(e, "cert_table.entries: length 65 exceeds the maximum 64");
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
