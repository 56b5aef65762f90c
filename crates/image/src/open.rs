//! `open`: unlock, stream, verify and extract an image; `inspect`: read its header
//! (docs/image-format.md §3.5, §4.2, §6).

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::crypto::ImageKeys;
use crate::error::{Error, Result};
use crate::extract::{apply_dir_meta, tar_error, Extractor};
use crate::fsutil;
use crate::header::{Header, Mode, RootHash, HEADER_LEN};
use crate::key::ImageKey;
use crate::progress::{NoProgress, Progress};
use crate::reader::{ChunkReader, Verifier};

/// What authenticates the image being opened.
#[derive(Debug)]
pub enum OpenKey<'a> {
    /// The image key of an encrypted image.
    Key(&'a ImageKey),
    /// The pinned root hash of an integrity-only image.
    RootHash(RootHash),
}

/// Options of [`open`].
#[derive(Default)]
pub struct OpenOptions<'a> {
    /// Receives image bytes as they are verified.
    pub progress: Option<&'a dyn Progress>,
}

/// What [`open`] extracted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OpenReport {
    /// The image's mode.
    pub mode: Mode,
    /// Chunks authenticated.
    pub chunks: u64,
    /// Plaintext (tar) bytes.
    pub payload_bytes: u64,
    /// Regular files created.
    pub files: u64,
    /// Directories created (the root not counted).
    pub directories: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Bytes written into regular files.
    pub file_bytes: u64,
}

/// The header fields of an image, read without a key (§2).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImageInfo {
    /// Format version.
    pub version: u16,
    /// Encrypted or integrity-only.
    pub mode: Mode,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// Size of the sealing key (encrypted images).
    pub key_bits: Option<u16>,
    /// File size.
    pub image_bytes: u64,
    /// Number of chunk records implied by the file size (not verified).
    pub chunks: u64,
    /// For integrity-only images: SHA-256 of the header. Compare it with the pinned value; it
    /// proves nothing by itself.
    pub root_hash: Option<RootHash>,
}

/// Decrypts / verifies `image` and extracts its tree to `dest`, which must be absent or an empty
/// directory (§6). The tree appears at `dest` only after the final chunk authenticated; on any
/// error everything created is removed.
pub fn open(
    image: &Path,
    dest: &Path,
    key: OpenKey<'_>,
    opts: &OpenOptions<'_>,
) -> Result<OpenReport> {
    let progress = opts.progress.unwrap_or(&NoProgress);
    // Header, key and root hash are checked before DEST is touched.
    let (file, header, verifier) = unlock(image, key)?;
    let target = Target::prepare(dest)?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.start(total);
    let result = extract(file, image, &header, verifier, target.partial(), progress);
    progress.finish();
    match result {
        Ok((report, root_meta)) => {
            target.commit(root_meta)?;
            Ok(report)
        }
        Err(e) => {
            target.abort();
            Err(e)
        }
    }
}

/// Reads an image's header without a key (§2).
pub fn inspect(image: &Path) -> Result<ImageInfo> {
    let (file, bytes) = read_header(image)?;
    let header = Header::parse(&bytes, image)?;
    let image_bytes = file.metadata().map_err(Error::io(image, "stat"))?.len();
    let record = u64::from(header.chunk_size) + header.mode.trailer_len() as u64;
    let body = image_bytes.saturating_sub(HEADER_LEN as u64);
    Ok(ImageInfo {
        version: crate::header::VERSION,
        mode: header.mode,
        chunk_size: header.chunk_size,
        key_bits: (header.mode == Mode::Encrypted).then_some(header.key_bits),
        image_bytes,
        chunks: body.div_ceil(record),
        root_hash: (header.mode == Mode::IntegrityOnly).then(|| RootHash::of_header(&bytes)),
    })
}

/// Opens the file and checks header, key or root hash (§2.1, §3.2, §3.3, §4.2).
fn unlock(image: &Path, key: OpenKey<'_>) -> Result<(File, Header, Verifier)> {
    let (file, bytes) = read_header(image)?;
    let header = Header::parse(&bytes, image)?;
    let verifier = match (header.mode, key) {
        (Mode::Encrypted, OpenKey::Key(key)) => {
            if key.size().bits() != header.key_bits {
                return Err(Error::WrongKey {
                    path: image.to_path_buf(),
                    detail: format!(
                        "the image was sealed with a {}-bit key, this key is {}",
                        header.key_bits,
                        key.size()
                    ),
                });
            }
            let keys = ImageKeys::derive(key, &header.salt)?;
            if !keys.key_check_matches(&header.key_check) {
                return Err(Error::WrongKey {
                    path: image.to_path_buf(),
                    detail: "key_check mismatch".to_owned(),
                });
            }
            if !keys.header_mac_matches(&header) {
                return Err(Error::HeaderTampered {
                    path: image.to_path_buf(),
                });
            }
            Verifier::Encrypted {
                key: Box::new(keys.payload),
                aad: bytes,
                prefix: header.nonce_prefix,
            }
        }
        (Mode::IntegrityOnly, OpenKey::RootHash(pinned)) => {
            let actual = RootHash::of_header(&bytes);
            if actual != pinned {
                return Err(Error::RootHashMismatch {
                    path: image.to_path_buf(),
                    expected: pinned.to_string(),
                    actual: actual.to_string(),
                });
            }
            Verifier::Integrity {
                expected: header.first_chunk_hash,
            }
        }
        (Mode::Encrypted, OpenKey::RootHash(_)) => {
            return Err(Error::ModeMismatch {
                path: image.to_path_buf(),
                mode: Mode::Encrypted,
                hint: "opening it needs the image key (--key)",
            })
        }
        (Mode::IntegrityOnly, OpenKey::Key(_)) => return Err(Error::ModeMismatch {
            path: image.to_path_buf(),
            mode: Mode::IntegrityOnly,
            hint:
                "opening it needs its pinned root hash (--root-hash); a key cannot authenticate it",
        }),
    };
    Ok((file, header, verifier))
}

fn read_header(image: &Path) -> Result<(File, [u8; HEADER_LEN])> {
    let mut file = File::open(image).map_err(Error::io(image, "open"))?;
    let mut bytes = [0u8; HEADER_LEN];
    let mut filled = 0usize;
    while filled < HEADER_LEN {
        match file.read(bytes.get_mut(filled..).unwrap_or(&mut [])) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(image, "read")(e)),
        }
    }
    if filled < HEADER_LEN {
        // A short file that does not even start with the magic is simply not an image.
        let magic = bytes.get(..filled.min(8)).unwrap_or(&[]);
        if !crate::header::MAGIC.starts_with(magic) || filled == 0 {
            return Err(Error::NotAnImage {
                path: image.to_path_buf(),
                actual: hex::encode(magic),
            });
        }
        return Err(Error::HeaderTruncated {
            path: image.to_path_buf(),
            actual: filled as u64,
        });
    }
    Ok((file, bytes))
}

/// Streams the payload through the extractor into `partial`; succeeds only when the final chunk
/// authenticated and nothing but zeros followed the archive (§5).
fn extract(
    file: File,
    image: &Path,
    header: &Header,
    verifier: Verifier,
    partial: &Path,
    progress: &dyn Progress,
) -> Result<(OpenReport, Option<(u32, u64)>)> {
    let mut reader = ChunkReader::new(file, image, header, verifier, progress);
    let mut extractor = Extractor::new(partial);
    let result = extractor.run(&mut tar::Archive::new(&mut reader));
    // A tar or extraction error caused by a failed chunk is reported as that chunk's failure.
    if let Some(e) = reader.take_error() {
        return Err(e);
    }
    result?;
    let mut buf = [0u8; 8192];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) => return Err(reader.take_error().unwrap_or_else(|| tar_error(e))),
        };
        if n == 0 {
            break;
        }
        if buf.get(..n).unwrap_or(&[]).iter().any(|&b| b != 0) {
            return Err(Error::TrailingData);
        }
    }
    if !reader.is_complete() {
        return Err(Error::Truncated {
            missing_chunk: reader.chunks(),
        });
    }
    let counts = extractor.counts();
    let report = OpenReport {
        mode: header.mode,
        chunks: reader.chunks(),
        payload_bytes: reader.payload_bytes(),
        files: counts.files,
        directories: counts.directories,
        symlinks: counts.symlinks,
        file_bytes: counts.file_bytes,
    };
    Ok((report, extractor.root_meta()))
}

/// Where the tree is extracted before it is moved into place (§6).
enum Target {
    /// DEST did not exist: extract next to it, then rename.
    Absent { dest: PathBuf, partial: PathBuf },
    /// DEST is an empty directory (possibly a mount point): extract inside it, then move entries up.
    Empty { dest: PathBuf, partial: PathBuf },
}

impl Target {
    fn prepare(dest: &Path) -> Result<Target> {
        let target = match fs::metadata(dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Target::Absent {
                dest: dest.to_path_buf(),
                partial: fsutil::sibling_temp(dest, ".initra-partial")?,
            },
            Err(e) => return Err(Error::io(dest, "stat")(e)),
            Ok(m) if !m.is_dir() => {
                return Err(Error::NotADirectory {
                    path: dest.to_path_buf(),
                })
            }
            Ok(_) => {
                let mut entries = fs::read_dir(dest).map_err(Error::io(dest, "read directory"))?;
                if entries.next().is_some() {
                    return Err(Error::DestNotEmpty {
                        path: dest.to_path_buf(),
                    });
                }
                Target::Empty {
                    dest: dest.to_path_buf(),
                    partial: dest.join(format!(".initra-partial-{}", fsutil::random_suffix()?)),
                }
            }
        };
        fs::DirBuilder::new()
            .mode(0o700)
            .create(target.partial())
            .map_err(Error::io(target.partial(), "create directory"))?;
        Ok(target)
    }

    fn partial(&self) -> &Path {
        match self {
            Target::Absent { partial, .. } | Target::Empty { partial, .. } => partial,
        }
    }

    /// Moves the tree into place; on failure removes everything it created.
    fn commit(self, root_meta: Option<(u32, u64)>) -> Result<()> {
        let apply = |dest: &Path| match root_meta {
            Some((mode, mtime)) => apply_dir_meta(dest, mode, mtime),
            None => Ok(()),
        };
        match &self {
            Target::Absent { dest, partial } => {
                if let Err(e) = fs::rename(partial, dest) {
                    let _ = fsutil::remove_tree(partial);
                    return Err(Error::io(dest, "rename into place")(e));
                }
                apply(dest).inspect_err(|_| {
                    let _ = fsutil::remove_tree(dest);
                })
            }
            // DEST was empty before: everything in it is ours.
            Target::Empty { dest, partial } => move_entries(partial, dest)
                .and_then(|()| apply(dest))
                .inspect_err(|_| {
                    let _ = fsutil::empty_dir(dest);
                }),
        }
    }

    fn abort(self) {
        let _ = fsutil::remove_tree(self.partial());
    }
}

fn move_entries(partial: &Path, dest: &Path) -> Result<()> {
    for entry in fs::read_dir(partial).map_err(Error::io(partial, "read directory"))? {
        let entry = entry.map_err(Error::io(partial, "read directory"))?;
        let to = dest.join(entry.file_name());
        fs::rename(entry.path(), &to).map_err(Error::io(&to, "rename into place"))?;
    }
    fs::remove_dir(partial).map_err(Error::io(partial, "remove"))
}
