//! A minimal CBOR (RFC 8949) decoder for the few items RA-TLS payloads use: tags, arrays, maps,
//! byte and text strings, unsigned integers. Definite lengths only; nesting is bounded.

use crate::codec::Reader;
use crate::Error;

/// Deepest nesting [`Decoder::skip`] follows.
pub const MAX_DEPTH: usize = 16;
/// Largest array / map element count accepted.
pub const MAX_ITEMS: u64 = 1024;

/// CBOR major types (RFC 8949 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Major {
    /// 0: unsigned integer.
    Uint,
    /// 1: negative integer.
    Nint,
    /// 2: byte string.
    Bytes,
    /// 3: text string.
    Text,
    /// 4: array.
    Array,
    /// 5: map.
    Map,
    /// 6: tag.
    Tag,
    /// 7: simple values and floats.
    Simple,
}

impl Major {
    fn from_bits(bits: u8) -> Self {
        match bits {
            0 => Major::Uint,
            1 => Major::Nint,
            2 => Major::Bytes,
            3 => Major::Text,
            4 => Major::Array,
            5 => Major::Map,
            6 => Major::Tag,
            _ => Major::Simple,
        }
    }
}

/// Decodes CBOR items from a [`Reader`].
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    r: Reader<'a>,
}

impl<'a> Decoder<'a> {
    /// A decoder over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            r: Reader::new(bytes),
        }
    }

    /// Whether all input was consumed.
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// Fails unless all input was consumed.
    pub fn finish(&self, field: &'static str) -> Result<(), Error> {
        self.r.finish(field)
    }

    /// Reads an item head: major type and argument (RFC 8949 §3).
    pub fn head(&mut self, field: &'static str) -> Result<(Major, u64), Error> {
        let initial = self.r.u8(field)?;
        let major = Major::from_bits(initial >> 5);
        let arg = match initial & 0x1f {
            n @ 0..=23 => u64::from(n),
            24 => u64::from(self.r.u8(field)?),
            25 => u64::from(self.r.u16_be(field)?),
            26 => u64::from(self.r.u32_be(field)?),
            27 => self.r.u64_be(field)?,
            other => {
                return Err(Error::Cbor {
                    field,
                    reason: format!(
                        "unsupported additional information {other} (indefinite length?)"
                    ),
                })
            }
        };
        Ok((major, arg))
    }

    fn expect(&mut self, want: Major, field: &'static str) -> Result<u64, Error> {
        let (major, arg) = self.head(field)?;
        if major != want {
            return Err(Error::Cbor {
                field,
                reason: format!("expected {want:?}, got {major:?}"),
            });
        }
        Ok(arg)
    }

    /// Reads a tag number.
    pub fn tag(&mut self, field: &'static str) -> Result<u64, Error> {
        self.expect(Major::Tag, field)
    }

    /// Reads an unsigned integer.
    pub fn uint(&mut self, field: &'static str) -> Result<u64, Error> {
        self.expect(Major::Uint, field)
    }

    /// Reads an array header and returns its element count.
    pub fn array(&mut self, field: &'static str) -> Result<u64, Error> {
        let n = self.expect(Major::Array, field)?;
        bounded(n, field)
    }

    /// Reads a map header and returns its entry count.
    pub fn map(&mut self, field: &'static str) -> Result<u64, Error> {
        let n = self.expect(Major::Map, field)?;
        bounded(n, field)
    }

    /// Reads a byte string.
    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], Error> {
        let len = self.expect(Major::Bytes, field)?;
        self.take(len, field)
    }

    /// Reads a text string.
    pub fn text(&mut self, field: &'static str) -> Result<&'a str, Error> {
        let len = self.expect(Major::Text, field)?;
        let bytes = self.take(len, field)?;
        core::str::from_utf8(bytes).map_err(|_| Error::Cbor {
            field,
            reason: "text string is not UTF-8".into(),
        })
    }

    /// Peeks the major type of the next item.
    pub fn peek_major(&self, field: &'static str) -> Result<Major, Error> {
        let mut probe = self.r.clone();
        Ok(Major::from_bits(probe.u8(field)? >> 5))
    }

    /// Skips one complete item (nesting bounded by [`MAX_DEPTH`]).
    pub fn skip(&mut self, field: &'static str) -> Result<(), Error> {
        self.skip_depth(field, 0)
    }

    fn skip_depth(&mut self, field: &'static str, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::Cbor {
                field,
                reason: format!("nesting deeper than {MAX_DEPTH}"),
            });
        }
        let (major, arg) = self.head(field)?;
        match major {
            Major::Uint | Major::Nint | Major::Simple => Ok(()),
            Major::Bytes | Major::Text => self.take(arg, field).map(|_| ()),
            Major::Tag => self.skip_depth(field, depth + 1),
            Major::Array | Major::Map => {
                let n = bounded(arg, field)?;
                let items = if major == Major::Map { n * 2 } else { n };
                for _ in 0..items {
                    self.skip_depth(field, depth + 1)?;
                }
                Ok(())
            }
        }
    }

    fn take(&mut self, len: u64, field: &'static str) -> Result<&'a [u8], Error> {
        let len = usize::try_from(len).map_err(|_| Error::LengthLimit {
            field,
            actual: usize::MAX,
            max: self.r.remaining(),
        })?;
        self.r.take(len, field)
    }
}

fn bounded(n: u64, field: &'static str) -> Result<u64, Error> {
    if n > MAX_ITEMS {
        return Err(Error::LengthLimit {
            field,
            actual: usize::try_from(n).unwrap_or(usize::MAX),
            max: MAX_ITEMS as usize,
        });
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    #[test]
    fn decodes_heads_and_skips() {
        // {"a": [1, h'0102'], "b": 24} then tag 60000
        let bytes = [
            0xa2, 0x61, b'a', 0x82, 0x01, 0x42, 1, 2, 0x61, b'b', 0x18, 24, 0xd9, 0xea, 0x60,
        ];
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.map("m").unwrap(), 2);
        assert_eq!(d.text("k").unwrap(), "a");
        d.skip("v").unwrap();
        assert_eq!(d.text("k").unwrap(), "b");
        assert_eq!(d.uint("v").unwrap(), 24);
        assert_eq!(d.tag("t").unwrap(), 60000);
        assert!(d.is_empty());
    }

    #[test]
    fn rejects_indefinite_huge_and_deep() {
        assert!(Decoder::new(&[0x5f]).bytes("x").is_err());
        assert!(
            Decoder::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                .bytes("x")
                .is_err()
        );
        assert!(Decoder::new(&[0x9b, 0, 0, 0, 1, 0, 0, 0, 0])
            .skip("x")
            .is_err());
        let deep = [0x81u8; 40];
        assert!(Decoder::new(&deep).skip("x").is_err());
    }
}
