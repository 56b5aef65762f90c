//! The sealing side of the chunked stream: plaintext in, header and records out
//! (docs/image-format.md §3.4, §4.1).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::crypto::{chunk_hash, nonce, ImageKeys};
use crate::error::{Error, Result};
use crate::header::{sha256, Header, Mode, RootHash, HEADER_LEN};
use crate::key::ImageKey;

/// What the stream wrote.
pub(crate) struct Sealed {
    pub(crate) file: File,
    pub(crate) mode: Mode,
    pub(crate) chunks: u64,
    pub(crate) payload_bytes: u64,
    pub(crate) image_bytes: u64,
    pub(crate) root_hash: Option<RootHash>,
}

enum Kind {
    Encrypted {
        // Boxed: the expanded AES key schedule is large and the other variant is small.
        key: Box<LessSafeKey>,
        aad: [u8; HEADER_LEN],
        prefix: [u8; 7],
    },
    Integrity {
        header: Header,
        /// SHA-256 of each chunk's plaintext: 32 bytes per chunk, the only state that grows (§4.1).
        digests: Vec<[u8; 32]>,
    },
}

/// A `Write` that cuts its input into chunks and writes each as a record once it knows whether
/// more data follows (the final chunk is sealed with `last = 1`, §3.4).
pub(crate) struct ChunkWriter {
    file: File,
    path: PathBuf,
    chunk_size: usize,
    buf: Vec<u8>,
    chunks: u64,
    payload_bytes: u64,
    image_bytes: u64,
    kind: Kind,
}

impl ChunkWriter {
    /// Starts an encrypted image: fresh salt and nonce prefix, header written at once (§3).
    pub(crate) fn encrypted(
        mut file: File,
        path: &Path,
        chunk_size: u32,
        key: &ImageKey,
    ) -> Result<ChunkWriter> {
        let rng = SystemRandom::new();
        let mut salt = [0u8; 32];
        let mut nonce_prefix = [0u8; 7];
        rng.fill(&mut salt).map_err(|_| Error::Random)?;
        rng.fill(&mut nonce_prefix).map_err(|_| Error::Random)?;
        let keys = ImageKeys::derive(key, &salt)?;
        let mut header = Header {
            mode: Mode::Encrypted,
            chunk_size,
            key_bits: key.size().bits(),
            salt,
            nonce_prefix,
            key_check: keys.key_check(),
            header_mac: [0; 32],
            first_chunk_hash: [0; 32],
        };
        header.header_mac = keys.header_mac(&header);
        let aad = header.encode();
        file.write_all(&aad).map_err(Error::io(path, "write"))?;
        Ok(ChunkWriter::new(
            file,
            path,
            chunk_size,
            Kind::Encrypted {
                key: Box::new(keys.payload),
                aad,
                prefix: nonce_prefix,
            },
        ))
    }

    /// Starts an integrity-only image: the header is a placeholder until `finish` (§4.1).
    pub(crate) fn integrity(mut file: File, path: &Path, chunk_size: u32) -> Result<ChunkWriter> {
        file.write_all(&[0u8; HEADER_LEN])
            .map_err(Error::io(path, "write"))?;
        let header = Header {
            mode: Mode::IntegrityOnly,
            chunk_size,
            key_bits: 0,
            salt: [0; 32],
            nonce_prefix: [0; 7],
            key_check: [0; 32],
            header_mac: [0; 32],
            first_chunk_hash: [0; 32],
        };
        Ok(ChunkWriter::new(
            file,
            path,
            chunk_size,
            Kind::Integrity {
                header,
                digests: Vec::new(),
            },
        ))
    }

    fn new(file: File, path: &Path, chunk_size: u32, kind: Kind) -> ChunkWriter {
        let chunk_size = chunk_size as usize;
        ChunkWriter {
            file,
            path: path.to_path_buf(),
            chunk_size,
            buf: Vec::with_capacity(chunk_size + 32),
            chunks: 0,
            payload_bytes: 0,
            image_bytes: HEADER_LEN as u64,
            kind,
        }
    }

    /// Writes the buffered chunk as record `self.chunks`.
    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let index = u32::try_from(self.chunks)
            .map_err(|_| io::Error::other(Error::TooManyChunks.to_string()))?;
        match &mut self.kind {
            Kind::Encrypted { key, aad, prefix } => {
                let tag = key
                    .seal_in_place_separate_tag(
                        nonce(prefix, index, last),
                        Aad::from(&aad[..]),
                        &mut self.buf,
                    )
                    .map_err(|_| io::Error::other("AES-GCM seal failed"))?;
                self.buf.extend_from_slice(tag.as_ref());
            }
            Kind::Integrity { digests, .. } => {
                digests.push(sha256(&self.buf));
                // The `next` field is filled in by `finish` once the chain is known.
                self.buf.extend_from_slice(&[0u8; 32]);
            }
        }
        self.file.write_all(&self.buf)?;
        self.image_bytes += self.buf.len() as u64;
        self.buf.clear();
        self.chunks += 1;
        Ok(())
    }

    /// Seals the final chunk; for integrity-only images computes the hash chain and writes the
    /// `next` fields and the header in place (§4.1).
    pub(crate) fn finish(mut self) -> Result<Sealed> {
        let path = self.path.clone();
        self.seal_chunk(true).map_err(Error::io(&path, "write"))?;
        let record = (self.chunk_size + self.kind_trailer()) as u64;
        let image_bytes = self.image_bytes;
        let root_hash = match &mut self.kind {
            Kind::Encrypted { .. } => None,
            Kind::Integrity { header, digests } => {
                let n = digests.len();
                let mut next = [0u8; 32];
                for (i, d) in digests.iter().enumerate().rev() {
                    let index = u32::try_from(i).map_err(|_| Error::TooManyChunks)?;
                    let h = chunk_hash(index, i + 1 == n, d, &next);
                    if i + 1 < n {
                        // Record i is full-sized; its `next` field follows its plaintext.
                        let slot = HEADER_LEN as u64 + i as u64 * record + self.chunk_size as u64;
                        self.file
                            .write_all_at(&next, slot)
                            .map_err(Error::io(&path, "write"))?;
                    }
                    next = h;
                }
                header.first_chunk_hash = next;
                let bytes = header.encode();
                self.file
                    .write_all_at(&bytes, 0)
                    .map_err(Error::io(&path, "write"))?;
                Some(RootHash::of_header(&bytes))
            }
        };
        let mode = match self.kind {
            Kind::Encrypted { .. } => Mode::Encrypted,
            Kind::Integrity { .. } => Mode::IntegrityOnly,
        };
        Ok(Sealed {
            file: self.file,
            mode,
            chunks: self.chunks,
            payload_bytes: self.payload_bytes,
            image_bytes,
            root_hash,
        })
    }

    fn kind_trailer(&self) -> usize {
        match self.kind {
            Kind::Encrypted { .. } => Mode::Encrypted.trailer_len(),
            Kind::Integrity { .. } => Mode::IntegrityOnly.trailer_len(),
        }
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full buffer is sealed as non-final only now that more data has arrived (§3.4).
        if self.buf.len() >= self.chunk_size {
            self.seal_chunk(false)?;
        }
        let n = (self.chunk_size - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(data.get(..n).unwrap_or(&[]));
        self.payload_bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
