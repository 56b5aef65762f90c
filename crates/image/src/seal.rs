//! `seal`: walk a directory tree into a tar stream and write it as an image
//! (docs/image-format.md §3.4, §4.1, §5).

use std::cell::Cell;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header as TarHeader};

use crate::error::{Error, Result};
use crate::extract::DIR_MODE_MASK;
use crate::fsutil;
use crate::header::{check_chunk_size, Mode, RootHash, DEFAULT_CHUNK_SIZE};
use crate::key::ImageKey;
use crate::progress::{NoProgress, Progress};
use crate::writer::ChunkWriter;

/// Options of [`seal`].
pub struct SealOptions<'a> {
    /// Plaintext bytes per chunk: a power of two from 512 to 16 MiB (§2.1).
    pub chunk_size: u32,
    /// Receives source file bytes as they are sealed.
    pub progress: Option<&'a dyn Progress>,
}

impl Default for SealOptions<'_> {
    fn default() -> Self {
        SealOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            progress: None,
        }
    }
}

/// What [`seal`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SealReport {
    /// Encrypted (a key was given) or integrity-only.
    pub mode: Mode,
    /// Number of chunks.
    pub chunks: u64,
    /// Plaintext (tar) bytes.
    pub payload_bytes: u64,
    /// Size of the image file.
    pub image_bytes: u64,
    /// Regular files sealed.
    pub files: u64,
    /// Directories sealed (the root not counted).
    pub directories: u64,
    /// Symlinks sealed.
    pub symlinks: u64,
    /// For integrity-only images: the root hash to pin (§4.1).
    pub root_hash: Option<RootHash>,
}

#[derive(Default)]
struct Counts {
    files: u64,
    directories: u64,
    symlinks: u64,
}

/// Seals the tree at `src_dir` into `out`: encrypted with `key`, or integrity-only without one.
///
/// The tree is walked in sorted depth-first order without following symlinks; devices, FIFOs and
/// sockets are refused (§5). The image is written to a temporary file next to `out`, synced, then
/// renamed over `out`.
pub fn seal(
    src_dir: &Path,
    out: &Path,
    key: Option<&ImageKey>,
    opts: &SealOptions<'_>,
) -> Result<SealReport> {
    check_chunk_size(u64::from(opts.chunk_size))?;
    let meta = fs::metadata(src_dir).map_err(Error::io(src_dir, "stat"))?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory {
            path: src_dir.to_path_buf(),
        });
    }
    // Sealing into the tree being sealed would archive the half-written image.
    let src_canon = fs::canonicalize(src_dir).map_err(Error::io(src_dir, "resolve"))?;
    let out_dir = fsutil::parent_dir(out);
    let out_canon = fs::canonicalize(out_dir).map_err(Error::io(out_dir, "resolve"))?;
    if out_canon.starts_with(&src_canon) {
        return Err(Error::OutputInsideSource {
            out: out.to_path_buf(),
            src: src_dir.to_path_buf(),
        });
    }
    let progress = opts.progress.unwrap_or(&NoProgress);
    if opts.progress.is_some() {
        progress.start(tree_bytes(src_dir));
    }
    let result = write_image(out, key, opts.chunk_size, |writer| {
        let mut builder = tar::Builder::new(writer);
        let counts = append_tree(&mut builder, src_dir, out, progress)?;
        builder.finish().map_err(Error::io(out, "write"))?;
        Ok(counts)
    });
    progress.finish();
    result
}

/// Seals an arbitrary byte stream as the payload. For tests of the opener's refusal rules
/// (malicious archives) and for sealing tar streams produced elsewhere; the payload is not checked.
#[doc(hidden)]
pub fn seal_tar_stream(
    tar: &mut dyn Read,
    out: &Path,
    key: Option<&ImageKey>,
    opts: &SealOptions<'_>,
) -> Result<SealReport> {
    check_chunk_size(u64::from(opts.chunk_size))?;
    write_image(out, key, opts.chunk_size, |writer| {
        io::copy(tar, writer).map_err(Error::io(out, "write"))?;
        Ok(Counts::default())
    })
}

/// Temporary file, chunk writer, payload, finish, fsync, rename; the temporary file is removed
/// on failure.
fn write_image(
    out: &Path,
    key: Option<&ImageKey>,
    chunk_size: u32,
    payload: impl FnOnce(&mut ChunkWriter) -> Result<Counts>,
) -> Result<SealReport> {
    let tmp = fsutil::sibling_temp(out, ".initra-tmp")?;
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(Error::io(&tmp, "create"))?;
    let result = (|| {
        let mut writer = match key {
            Some(key) => ChunkWriter::encrypted(file, &tmp, chunk_size, key)?,
            None => ChunkWriter::integrity(file, &tmp, chunk_size)?,
        };
        let counts = payload(&mut writer)?;
        let sealed = writer.finish()?;
        sealed.file.sync_all().map_err(Error::io(&tmp, "fsync"))?;
        drop(sealed.file);
        fs::rename(&tmp, out).map_err(Error::io(out, "rename into place"))?;
        fsutil::sync_parent(out)?;
        Ok(SealReport {
            mode: sealed.mode,
            chunks: sealed.chunks,
            payload_bytes: sealed.payload_bytes,
            image_bytes: sealed.image_bytes,
            files: counts.files,
            directories: counts.directories,
            symlinks: counts.symlinks,
            root_hash: sealed.root_hash,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Appends the root entry (`./`) and then the tree in sorted depth-first order (§5).
fn append_tree(
    builder: &mut tar::Builder<&mut ChunkWriter>,
    src: &Path,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let root = fs::metadata(src).map_err(Error::io(src, "stat"))?;
    append_dir(builder, Path::new("./"), &root, out)?;
    // One sorted listing per open directory: bounded by depth times directory width.
    let mut stack: Vec<(PathBuf, std::vec::IntoIter<OsString>)> =
        vec![(PathBuf::new(), sorted_names(src)?)];
    loop {
        let next = match stack.last_mut() {
            None => break,
            Some((dir, names)) => names.next().map(|n| dir.join(n)),
        };
        let Some(rel) = next else {
            stack.pop();
            continue;
        };
        let full = src.join(&rel);
        let meta = fs::symlink_metadata(&full).map_err(Error::io(&full, "stat"))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            append_dir(builder, &rel, &meta, out)?;
            stack.push((rel, sorted_names(&full)?));
            counts.directories += 1;
        } else if ft.is_file() {
            append_file(builder, &rel, &full, &meta, out, progress)?;
            counts.files += 1;
        } else if ft.is_symlink() {
            let target = fs::read_link(&full).map_err(Error::io(&full, "read link"))?;
            let mut h = tar_header(EntryType::Symlink, 0o777, meta.mtime());
            builder
                .append_link(&mut h, &rel, &target)
                .map_err(Error::io(out, "write"))?;
            counts.symlinks += 1;
        } else {
            let kind = if ft.is_fifo() {
                "FIFO"
            } else if ft.is_socket() {
                "socket"
            } else if ft.is_char_device() {
                "character device"
            } else if ft.is_block_device() {
                "block device"
            } else {
                "unknown"
            };
            return Err(Error::UnsupportedType {
                path: full,
                kind: kind.to_owned(),
            });
        }
    }
    Ok(counts)
}

fn append_dir(
    builder: &mut tar::Builder<&mut ChunkWriter>,
    rel: &Path,
    meta: &fs::Metadata,
    out: &Path,
) -> Result<()> {
    let mut h = tar_header(
        EntryType::Directory,
        meta.mode() & DIR_MODE_MASK,
        meta.mtime(),
    );
    builder
        .append_data(&mut h, rel, io::empty())
        .map_err(Error::io(out, "write"))
}

fn append_file(
    builder: &mut tar::Builder<&mut ChunkWriter>,
    rel: &Path,
    full: &Path,
    meta: &fs::Metadata,
    out: &Path,
    progress: &dyn Progress,
) -> Result<()> {
    let file = File::open(full).map_err(Error::io(full, "open"))?;
    // The path may have been swapped (e.g. for a symlink) since it was listed: same inode or refuse.
    let opened = file.metadata().map_err(Error::io(full, "stat"))?;
    if opened.dev() != meta.dev() || opened.ino() != meta.ino() || !opened.is_file() {
        return Err(Error::FileChanged {
            path: full.to_path_buf(),
            expected: meta.len(),
        });
    }
    let size = meta.len();
    let mut h = tar_header(EntryType::Regular, meta.mode() & 0o777, meta.mtime());
    h.set_size(size);
    let failed = Cell::new(None);
    let mut source = SizedSource {
        file,
        remaining: size,
        path: full,
        failed: &failed,
        progress,
    };
    let appended = builder.append_data(&mut h, rel, &mut source);
    if let Some(e) = failed.take() {
        return Err(e);
    }
    appended.map_err(Error::io(out, "write"))?;
    // A file that grew while being read is refused too: the image must be a consistent snapshot.
    let mut extra = [0u8; 1];
    match source.file.read(&mut extra) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Error::FileChanged {
            path: full.to_path_buf(),
            expected: size,
        }),
        Err(e) => Err(Error::io(full, "read")(e)),
    }
}

/// A header with the deterministic fields of §5: uid/gid 0, no names, whole-second mtime.
fn tar_header(kind: EntryType, mode: u32, mtime: i64) -> TarHeader {
    let mut h = TarHeader::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(u64::try_from(mtime).unwrap_or(0));
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    h
}

/// Reads exactly `remaining` bytes of a source file, recording the real cause of a failure
/// (the tar builder would otherwise report it as an error writing the image).
struct SizedSource<'a> {
    file: File,
    remaining: u64,
    path: &'a Path,
    failed: &'a Cell<Option<Error>>,
    progress: &'a dyn Progress,
}

impl Read for SizedSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let dst = buf.get_mut(..want).unwrap_or(&mut []);
        let n = match self.file.read(dst) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let msg = e.to_string();
                self.failed.set(Some(Error::io(self.path, "read")(e)));
                return Err(io::Error::other(msg));
            }
        };
        if n == 0 {
            self.failed.set(Some(Error::FileChanged {
                path: self.path.to_path_buf(),
                expected: self.remaining,
            }));
            return Err(io::Error::other("file shrank while sealing"));
        }
        self.remaining -= n as u64;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

fn sorted_names(dir: &Path) -> Result<std::vec::IntoIter<OsString>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(Error::io(dir, "read directory"))? {
        names.push(entry.map_err(Error::io(dir, "read directory"))?.file_name());
    }
    // OsString orders by bytes on Unix: the order does not depend on locale.
    names.sort();
    Ok(names.into_iter())
}

/// Sum of regular file sizes under `dir` (for the progress total; errors are left to the walk).
fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}
