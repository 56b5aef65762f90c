//! [`Reader`]: the only way untrusted bytes are read in initra.
//!
//! Every read is bounds-checked and every error names the field being read, so a truncated or
//! malformed input yields `quote.body.mr_td: truncated: need 48 bytes, 3 available` and never a panic.

use crate::Error;

/// A cursor over untrusted bytes.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, positioned at its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether everything has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.buf.len());
        match end.and_then(|end| self.buf.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(Error::Truncated {
                field,
                needed: n,
                available: self.remaining(),
            }),
        }
    }

    /// Takes the next `N` bytes as an array.
    pub fn take_array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let slice = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        Ok(u8::from_le_bytes(self.take_array::<1>(field)?))
    }

    /// Reads a little-endian u16.
    pub fn u16_le(&mut self, field: &'static str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.take_array(field)?))
    }

    /// Reads a little-endian u32.
    pub fn u32_le(&mut self, field: &'static str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take_array(field)?))
    }

    /// Reads a little-endian u64.
    pub fn u64_le(&mut self, field: &'static str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take_array(field)?))
    }

    /// Reads a big-endian u16 (CBOR, DER).
    pub fn u16_be(&mut self, field: &'static str) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.take_array(field)?))
    }

    /// Reads a big-endian u32 (CBOR, DER).
    pub fn u32_be(&mut self, field: &'static str) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.take_array(field)?))
    }

    /// Reads a big-endian u64 (CBOR).
    pub fn u64_be(&mut self, field: &'static str) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.take_array(field)?))
    }

    /// A reader over the next `len` bytes, which this reader skips.
    pub fn sub(&mut self, len: usize, field: &'static str) -> Result<Reader<'a>, Error> {
        Ok(Reader::new(self.take(len, field)?))
    }

    /// Everything not yet consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    /// Fails unless everything has been consumed (top-level parsers reject trailing data).
    pub fn finish(&self, field: &'static str) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::malformed(
                field,
                "no trailing bytes",
                format!("{} trailing bytes", self.remaining()),
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_reports_truncation() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 9]);
        assert_eq!(r.u16_le("a").unwrap(), 1);
        assert_eq!(r.u32_le("b").unwrap(), 2);
        assert_eq!(r.remaining(), 1);
        let err = r.u16_le("c").unwrap_err();
        assert_eq!(err.to_string(), "c: truncated: need 2 bytes, 1 available");
        assert_eq!(r.rest(), &[9]);
        assert!(r.is_empty());
        assert!(r.finish("x").is_ok());
    }

    #[test]
    fn huge_take_does_not_overflow() {
        let mut r = Reader::new(&[0; 4]);
        r.take(2, "a").unwrap();
        assert!(matches!(
            r.take(usize::MAX, "b"),
            Err(Error::Truncated { .. })
        ));
        let mut sub = r.sub(2, "c").unwrap();
        assert_eq!(sub.u16_be("d").unwrap(), 0);
    }
}
