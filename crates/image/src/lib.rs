//! The initra root filesystem image format (docs/image-format.md).
//!
//! An image is a tar stream of a directory tree inside a chunked stream that is either encrypted
//! (AES-256-GCM STREAM construction, key derived with HKDF-SHA256 from an Occlum-format image key)
//! or integrity-only (a SHA-256 hash chain anchored in a pinned root hash). Opening streams through
//! one record buffer, releases each chunk only after it authenticated, extracts into a private
//! temporary directory and moves the tree into place only after the final chunk authenticated.
//!
//! ```no_run
//! # fn main() -> Result<(), initra_image::Error> {
//! use std::path::Path;
//! use initra_image::{ImageKey, KeySize, OpenKey, OpenOptions, SealOptions};
//!
//! let key = ImageKey::generate(KeySize::Bits128)?;
//! initra_image::seal(Path::new("rootfs"), Path::new("rootfs.img"), Some(&key), &SealOptions::default())?;
//! initra_image::open(Path::new("rootfs.img"), Path::new("/run/app"), OpenKey::Key(&key), &OpenOptions::default())?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod crypto;
mod error;
mod extract;
mod fsutil;
mod header;
mod key;
mod open;
mod progress;
mod reader;
mod seal;
mod writer;

pub use error::{Error, Result};
pub use header::{
    Mode, RootHash, DEFAULT_CHUNK_SIZE, HEADER_LEN, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, VERSION,
};
pub use key::{ImageKey, KeySize};
pub use open::{inspect, open, ImageInfo, OpenKey, OpenOptions, OpenReport};
pub use progress::{NoProgress, Progress, TerminalProgress};
#[doc(hidden)]
pub use seal::seal_tar_stream;
pub use seal::{seal, SealOptions, SealReport};
