//! The opening side of the chunked stream: records in, authenticated plaintext out
//! (docs/image-format.md §3.5, §4.2).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Tag};

use crate::crypto::{chunk_hash, nonce};
use crate::error::{Error, Result};
use crate::header::{sha256, Header, Mode, HEADER_LEN};
use crate::progress::Progress;

/// How each record is checked.
pub(crate) enum Verifier {
    /// AES-256-GCM with the derived payload key; the header is the associated data (§3.4).
    Encrypted {
        // Boxed: the expanded AES key schedule is large and the other variant is small.
        key: Box<LessSafeKey>,
        aad: [u8; HEADER_LEN],
        prefix: [u8; 7],
    },
    /// The hash chain: `expected` is `h_i` of the next record (§4.1).
    Integrity { expected: [u8; 32] },
}

/// A `Read` of the plaintext payload that releases a chunk only after it authenticated.
///
/// Memory: one record buffer (`chunk_size` + trailer + 1 look-ahead byte), whatever the image size.
/// The first error is kept in `error` (the tar reader only sees an `io::Error` carrying its text);
/// once failed, every later read fails too.
pub(crate) struct ChunkReader<'p> {
    src: File,
    path: PathBuf,
    mode: Mode,
    chunk_size: usize,
    trailer: usize,
    buf: Vec<u8>,
    carry: Option<u8>,
    pos: usize,
    end: usize,
    index: u64,
    done: bool,
    verifier: Verifier,
    error: Option<Error>,
    progress: &'p dyn Progress,
    payload_bytes: u64,
}

impl<'p> ChunkReader<'p> {
    /// Reads records from `src`, positioned right after the header.
    pub(crate) fn new(
        src: File,
        path: &Path,
        header: &Header,
        verifier: Verifier,
        progress: &'p dyn Progress,
    ) -> ChunkReader<'p> {
        let chunk_size = header.chunk_size as usize;
        let trailer = header.mode.trailer_len();
        ChunkReader {
            src,
            path: path.to_path_buf(),
            mode: header.mode,
            chunk_size,
            trailer,
            // One byte more than a record: tells whether another record follows (§3.5).
            buf: vec![0u8; chunk_size + trailer + 1],
            carry: None,
            pos: 0,
            end: 0,
            index: 0,
            done: false,
            verifier,
            error: None,
            progress,
            payload_bytes: 0,
        }
    }

    /// The error that stopped the stream, if any.
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// True once the final record authenticated.
    pub(crate) fn is_complete(&self) -> bool {
        self.done
    }

    /// Records authenticated so far.
    pub(crate) fn chunks(&self) -> u64 {
        self.index
    }

    /// Plaintext bytes released so far.
    pub(crate) fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    fn record_len(&self) -> usize {
        self.chunk_size + self.trailer
    }

    /// Reads, checks and decrypts the next record into `buf[0..end]`.
    fn next_record(&mut self) -> Result<()> {
        let record_len = self.record_len();
        let mut filled = 0usize;
        if let (Some(b), Some(slot)) = (self.carry.take(), self.buf.first_mut()) {
            *slot = b;
            filled = 1;
        }
        while filled < self.buf.len() {
            let dst = self.buf.get_mut(filled..).unwrap_or(&mut []);
            match self.src.read(dst) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.path, "read")(e)),
            }
        }
        // A full record followed by at least one more byte is not the last one (§3.5).
        let last = filled <= record_len;
        let len = if last { filled } else { record_len };
        if !last {
            self.carry = self.buf.get(record_len).copied();
        }
        let index = self.index;
        if len == 0 {
            return Err(Error::Truncated {
                missing_chunk: index,
            });
        }
        let data_len = len
            .checked_sub(self.trailer)
            .ok_or(corrupt(self.mode, index))?;
        let counter = u32::try_from(index).map_err(|_| Error::TooManyChunks)?;
        let (data, rest) = self.buf.split_at_mut(data_len);
        let trailer = rest.get(..self.trailer).ok_or(corrupt(self.mode, index))?;
        let ok = match &mut self.verifier {
            Verifier::Encrypted { key, aad, prefix } => {
                let tag = Tag::try_from(trailer).map_err(|_| Error::Crypto { op: "tag length" })?;
                key.open_in_place_separate_tag(
                    nonce(prefix, counter, last),
                    Aad::from(&aad[..]),
                    tag,
                    data,
                    0..,
                )
                .is_ok()
            }
            Verifier::Integrity { expected } => {
                let digest = sha256(data);
                if chunk_hash(counter, last, &digest, trailer) == *expected {
                    expected.copy_from_slice(trailer);
                    true
                } else {
                    false
                }
            }
        };
        if !ok {
            return Err(self.diagnose(index, counter, last, len));
        }
        self.pos = 0;
        self.end = data_len;
        self.index += 1;
        self.done = last;
        self.payload_bytes += data_len as u64;
        self.progress.advance(len as u64);
        Ok(())
    }

    /// After a record failed: re-reads it from the file and tries the other `last` flag, to tell a
    /// cut at a record boundary or bytes appended after a full final record from other damage.
    /// The image is refused whatever this finds (§3.5).
    fn diagnose(&mut self, index: u64, counter: u32, last: bool, len: usize) -> Error {
        let fallback = corrupt(self.mode, index);
        if last && len != self.record_len() {
            return fallback;
        }
        let offset = HEADER_LEN as u64 + index * self.record_len() as u64;
        let mut record = vec![0u8; len];
        if self.src.read_exact_at(&mut record, offset).is_err() {
            return fallback;
        }
        let (data, trailer) = record.split_at_mut(len - self.trailer.min(len));
        let other_ok = match &self.verifier {
            Verifier::Encrypted { key, aad, prefix } => match Tag::try_from(&*trailer) {
                Ok(tag) => key
                    .open_in_place_separate_tag(
                        nonce(prefix, counter, !last),
                        Aad::from(&aad[..]),
                        tag,
                        data,
                        0..,
                    )
                    .is_ok(),
                Err(_) => false,
            },
            Verifier::Integrity { expected } => {
                chunk_hash(counter, !last, &sha256(data), trailer) == *expected
            }
        };
        match (other_ok, last) {
            (true, true) => Error::Truncated {
                missing_chunk: index + 1,
            },
            (true, false) => Error::AppendedData { after_chunk: index },
            (false, _) => fallback,
        }
    }
}

/// The mode's "record `index` failed" error.
fn corrupt(mode: Mode, index: u64) -> Error {
    match mode {
        Mode::Encrypted => Error::ChunkAuthFailed { index },
        Mode::IntegrityOnly => Error::ChunkHashMismatch { index },
    }
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.error {
            return Err(io::Error::other(e.to_string()));
        }
        if out.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.end {
            if self.done {
                return Ok(0);
            }
            if let Err(e) = self.next_record() {
                let msg = e.to_string();
                self.error = Some(e);
                return Err(io::Error::other(msg));
            }
        }
        let avail = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        let n = avail.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}
