//! The crate's one error type.

use std::io;
use std::path::PathBuf;

use crate::header::Mode;

/// Everything that can go wrong while generating keys, sealing, inspecting or opening an image.
///
/// Variants that report tampering are distinct from each other on purpose: callers (and tests) can
/// tell a wrong key from a damaged header from a modified chunk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes follow the final chunk (found when that chunk is full-sized, §3.5).
    #[error("bytes appended after the final chunk {after_chunk}")]
    AppendedData {
        /// Index of the real final chunk.
        after_chunk: u64,
    },
    /// An entry's parent is missing, or is not a real directory created by an earlier entry (§6).
    #[error("archive entry {path:?}: parent {parent:?} {problem}")]
    BadParent {
        /// Entry path inside the archive.
        path: PathBuf,
        /// The offending parent.
        parent: PathBuf,
        /// `is missing`, `is a symlink`, `is not a directory`.
        problem: &'static str,
    },
    /// Chunk `index` of an encrypted image did not authenticate (docs/image-format.md §3.5).
    #[error(
        "chunk {index}: authentication failed (the image was modified, reordered, or has bytes appended)"
    )]
    ChunkAuthFailed {
        /// Zero-based chunk index.
        index: u64,
    },
    /// Chunk `index` of an integrity-only image does not match the hash chain (§4.2).
    #[error(
        "chunk {index}: hash mismatch (the image was modified, reordered, or has bytes appended)"
    )]
    ChunkHashMismatch {
        /// Zero-based chunk index.
        index: u64,
    },
    /// The chunk size given to `seal` (or found in a header) is outside the allowed range (§2.1).
    #[error("chunk_size: expected a power of two from 512 to 16777216, got {actual}")]
    ChunkSize {
        /// The rejected value.
        actual: u64,
    },
    /// A cryptographic primitive refused its input (should not happen with valid parameters).
    #[error("cryptographic operation failed: {op}")]
    Crypto {
        /// The operation.
        op: &'static str,
    },
    /// DEST exists and is not empty.
    #[error("{path}: destination must be absent or an empty directory")]
    DestNotEmpty {
        /// The destination.
        path: PathBuf,
    },
    /// The same path appears twice in the archive (§6).
    #[error("archive entry {path:?}: duplicate entry (the path already exists)")]
    DuplicateEntry {
        /// Entry path inside the archive.
        path: PathBuf,
    },
    /// A file changed size while it was being sealed.
    #[error("{path}: file changed while sealing (expected {expected} bytes)")]
    FileChanged {
        /// The source file.
        path: PathBuf,
        /// Size recorded in its tar header.
        expected: u64,
    },
    /// The header's keyless checksum does not match: the header is damaged (§2.1).
    #[error("{path}: header corrupted (checksum mismatch)")]
    HeaderCorrupted {
        /// The image.
        path: PathBuf,
    },
    /// A header field has a value this reader does not accept (§2.1).
    #[error("{path}: header field {field}: expected {expected}, got {actual}")]
    HeaderField {
        /// The image.
        path: PathBuf,
        /// Header field name as in the spec.
        field: &'static str,
        /// What was expected.
        expected: String,
        /// What was found.
        actual: String,
    },
    /// The key is right but the header MAC does not match: a field was changed (§3.3).
    #[error("{path}: header tampered (header_mac mismatch)")]
    HeaderTampered {
        /// The image.
        path: PathBuf,
    },
    /// The image is shorter than its header.
    #[error("{path}: truncated header: expected 192 bytes, got {actual}")]
    HeaderTruncated {
        /// The image.
        path: PathBuf,
        /// Bytes present.
        actual: u64,
    },
    /// An I/O operation on `path` failed.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`read`, `create`, `rename`, ...).
        op: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A key file already exists and overwriting was not asked for.
    #[error("{path}: already exists (refusing to overwrite a key; use --force)")]
    KeyFileExists {
        /// The key file.
        path: PathBuf,
    },
    /// The key text is malformed at a character position (§1.1). Never contains key material.
    #[error("image key: character {position}: expected {expected}")]
    KeyFormat {
        /// 1-based character position after leading whitespace.
        position: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// The key text decodes to the wrong number of bytes (§1.1).
    #[error("image key: expected 16 or 32 bytes, got {actual}")]
    KeyLength {
        /// Decoded byte count.
        actual: usize,
    },
    /// The image's mode does not match what the caller supplied (key vs. root hash).
    #[error("{path}: image is {mode}: {hint}")]
    ModeMismatch {
        /// The image.
        path: PathBuf,
        /// The image's mode.
        mode: Mode,
        /// What to supply instead.
        hint: &'static str,
    },
    /// A path that must be a directory (SRC_DIR, DEST) is something else, or has no usable name.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file does not start with the image magic.
    #[error("{path}: not an initra image (magic: expected \"INITRAIM\", got {actual})")]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// The first bytes, hex.
        actual: String,
    },
    /// OUT lies inside SRC_DIR.
    #[error("{out}: output must not be inside the source directory {src}")]
    OutputInsideSource {
        /// The output image.
        out: PathBuf,
        /// The source tree.
        src: PathBuf,
    },
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// The root hash text is malformed.
    #[error("root hash: expected 64 hex digits, got {actual}")]
    RootHashFormat {
        /// Description of the input.
        actual: String,
    },
    /// The header of an integrity-only image does not hash to the pinned root (§4.2).
    #[error("{path}: root hash mismatch: expected {expected}, got {actual}")]
    RootHashMismatch {
        /// The image.
        path: PathBuf,
        /// Pinned root hash, hex.
        expected: String,
        /// Root hash of the image's header, hex.
        actual: String,
    },
    /// The tar payload is malformed.
    #[error("malformed archive: {source}")]
    Tar {
        /// The cause as reported by the tar reader.
        #[source]
        source: io::Error,
    },
    /// Authenticated data follows the end-of-archive marker (§5).
    #[error("non-zero data after the end of the archive")]
    TrailingData,
    /// There are more chunks than the nonce counter allows (§3.4).
    #[error("too many chunks: at most 2^32")]
    TooManyChunks,
    /// The image ends at a chunk boundary before its final chunk (§3.5).
    #[error("image truncated: chunk {missing_chunk} and later are missing")]
    Truncated {
        /// Index of the first missing chunk.
        missing_chunk: u64,
    },
    /// An archive entry's path would escape the destination (§6).
    #[error("archive entry {path:?}: {reason}")]
    UnsafePath {
        /// Entry path as stored.
        path: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An archive entry (or a source file when sealing) has a type that is not supported (§5, §6).
    #[error("{path:?}: unsupported file type: {kind}")]
    UnsupportedType {
        /// Entry path, or source file when sealing.
        path: PathBuf,
        /// The type, e.g. `hard link`, `FIFO`.
        kind: String,
    },
    /// The header's version is not one this reader implements.
    #[error("{path}: unsupported image format version {version} (this reader supports 1)")]
    UnsupportedVersion {
        /// The image.
        path: PathBuf,
        /// The version found.
        version: u16,
    },
    /// The key does not open this image (size or key check mismatch, §3.2).
    #[error("{path}: wrong image key ({detail})")]
    WrongKey {
        /// The image.
        path: PathBuf,
        /// Which check failed.
        detail: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path and operation it concerns.
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        op: &'static str,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, op, source }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
