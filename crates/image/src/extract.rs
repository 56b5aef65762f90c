//! Extracting the authenticated tar payload into a private directory (docs/image-format.md §5, §6).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use filetime::FileTime;
use tar::EntryType;

use crate::error::{Error, Result};

/// Permission bits kept for files: no setuid, setgid or sticky (§5).
const FILE_MODE_MASK: u32 = 0o777;
/// Permission bits kept for directories: the sticky bit stays (e.g. a `tmp/`), no setuid/setgid.
pub(crate) const DIR_MODE_MASK: u32 = 0o1777;
/// Copy buffer for file contents.
const COPY_BUF: usize = 256 * 1024;

/// What an extraction created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) files: u64,
    pub(crate) directories: u64,
    pub(crate) symlinks: u64,
    pub(crate) file_bytes: u64,
}

/// A directory whose mode and mtime are applied once its subtree is complete (§6).
struct PendingDir {
    rel: PathBuf,
    mode: u32,
    mtime: u64,
}

/// Extracts entries under `root`, a fresh directory that only this extractor writes to.
///
/// Memory stays bounded by the tree's depth (the pending-directory stack), never by its size.
pub(crate) struct Extractor {
    root: PathBuf,
    pending: Vec<PendingDir>,
    /// The last parent (relative) checked to be a real directory; entries in DFS order share it.
    verified_parent: Option<PathBuf>,
    root_meta: Option<(u32, u64)>,
    seen_entry: bool,
    copy_buf: Vec<u8>,
    counts: Counts,
}

impl Extractor {
    pub(crate) fn new(root: &Path) -> Extractor {
        Extractor {
            root: root.to_path_buf(),
            pending: Vec::new(),
            verified_parent: None,
            root_meta: None,
            seen_entry: false,
            copy_buf: vec![0u8; COPY_BUF],
            counts: Counts::default(),
        }
    }

    /// Extracts every entry, then applies the pending directory modes and mtimes.
    pub(crate) fn run<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<()> {
        for entry in archive.entries().map_err(tar_error)? {
            let mut entry = entry.map_err(tar_error)?;
            self.entry(&mut entry)?;
        }
        self.close_dirs(None)
    }

    /// Mode and mtime of the root entry (`./`), if the archive had one.
    pub(crate) fn root_meta(&self) -> Option<(u32, u64)> {
        self.root_meta
    }

    pub(crate) fn counts(&self) -> Counts {
        self.counts
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let stored = entry.path().map_err(tar_error)?.into_owned();
        let rel = relative(&stored)?;
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().map_err(tar_error)?;
        let mtime = header.mtime().map_err(tar_error)?;
        let first = !self.seen_entry;
        self.seen_entry = true;

        if rel.as_os_str().is_empty() {
            if !first || kind != EntryType::Directory {
                return Err(Error::UnsafePath {
                    path: stored,
                    reason: "the root entry (./) must be the first entry and a directory",
                });
            }
            self.root_meta = Some((mode & DIR_MODE_MASK, mtime));
            return Ok(());
        }

        self.close_dirs(Some(&rel))?;
        self.check_parent(&rel)?;
        let full = self.root.join(&rel);
        match kind {
            EntryType::Regular => self.file(entry, &rel, &full, mode, mtime),
            EntryType::Directory => {
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&full)
                    .map_err(|e| create_error(e, &rel, &full))?;
                self.pending.push(PendingDir {
                    rel,
                    mode: mode & DIR_MODE_MASK,
                    mtime,
                });
                self.counts.directories += 1;
                Ok(())
            }
            EntryType::Symlink => {
                let target =
                    entry
                        .link_name()
                        .map_err(tar_error)?
                        .ok_or_else(|| Error::UnsafePath {
                            path: rel.clone(),
                            reason: "symlink without a target",
                        })?;
                // Stored verbatim; never followed while extracting (§6).
                std::os::unix::fs::symlink(&target, &full)
                    .map_err(|e| create_error(e, &rel, &full))?;
                let t = file_time(mtime);
                filetime::set_symlink_file_times(&full, t, t)
                    .map_err(Error::io(&full, "set symlink mtime"))?;
                self.counts.symlinks += 1;
                Ok(())
            }
            other => Err(Error::UnsupportedType {
                path: rel,
                kind: describe(other),
            }),
        }
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        rel: &Path,
        full: &Path,
        mode: u32,
        mtime: u64,
    ) -> Result<()> {
        // O_CREAT|O_EXCL: never opens an existing file or follows a symlink at the last component.
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(full)
            .map_err(|e| create_error(e, rel, full))?;
        loop {
            let n = match entry.read(&mut self.copy_buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tar_error(e)),
            };
            f.write_all(self.copy_buf.get(..n).unwrap_or(&[]))
                .map_err(Error::io(full, "write"))?;
            self.counts.file_bytes += n as u64;
        }
        f.set_permissions(fs::Permissions::from_mode(mode & FILE_MODE_MASK))
            .map_err(Error::io(full, "chmod"))?;
        filetime::set_file_handle_times(&f, None, Some(file_time(mtime)))
            .map_err(Error::io(full, "set mtime"))?;
        self.counts.files += 1;
        Ok(())
    }

    /// Every parent component of `rel` must be a real directory (not a symlink) that an earlier
    /// entry created: nothing is ever written through a symlink (§6).
    fn check_parent(&mut self, rel: &Path) -> Result<()> {
        let parent = match rel.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => return Ok(()),
        };
        if self.verified_parent.as_deref() == Some(parent) {
            return Ok(());
        }
        let mut cur = self.root.clone();
        let mut cur_rel = PathBuf::new();
        for c in parent.components() {
            cur.push(c);
            cur_rel.push(c);
            let problem = match fs::symlink_metadata(&cur) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => "is missing",
                Err(e) => return Err(Error::io(&cur, "stat")(e)),
                Ok(m) if m.file_type().is_symlink() => "is a symlink",
                Ok(m) if !m.is_dir() => "is not a directory",
                Ok(_) => continue,
            };
            return Err(Error::BadParent {
                path: rel.to_path_buf(),
                parent: cur_rel,
                problem,
            });
        }
        self.verified_parent = Some(parent.to_path_buf());
        Ok(())
    }

    /// Applies mode and mtime to pending directories that are not ancestors of `next`
    /// (all of them when `next` is `None`), deepest first.
    fn close_dirs(&mut self, next: Option<&Path>) -> Result<()> {
        while let Some(top) = self.pending.last() {
            if let Some(n) = next {
                if n != top.rel && n.starts_with(&top.rel) {
                    break;
                }
            }
            if let Some(dir) = self.pending.pop() {
                let full = self.root.join(&dir.rel);
                fs::set_permissions(&full, fs::Permissions::from_mode(dir.mode))
                    .map_err(Error::io(&full, "chmod"))?;
                filetime::set_file_mtime(&full, file_time(dir.mtime))
                    .map_err(Error::io(&full, "set mtime"))?;
            }
        }
        Ok(())
    }
}

/// The entry path as a relative path of normal components; `.` components dropped. The empty
/// result is the root entry. Absolute paths and `..` are refused (§6).
pub(crate) fn relative(stored: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in stored.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(Error::UnsafePath {
                    path: stored.to_path_buf(),
                    reason: "path contains a `..` component",
                })
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::UnsafePath {
                    path: stored.to_path_buf(),
                    reason: "absolute path",
                })
            }
        }
    }
    Ok(out)
}

/// Applies a directory's archived mode and mtime (the root entry, after the move into place).
pub(crate) fn apply_dir_meta(path: &Path, mode: u32, mtime: u64) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(Error::io(path, "chmod"))?;
    filetime::set_file_mtime(path, file_time(mtime)).map_err(Error::io(path, "set mtime"))
}

fn file_time(mtime: u64) -> FileTime {
    FileTime::from_unix_time(i64::try_from(mtime).unwrap_or(i64::MAX), 0)
}

fn create_error(e: io::Error, rel: &Path, full: &Path) -> Error {
    if e.kind() == io::ErrorKind::AlreadyExists {
        Error::DuplicateEntry {
            path: rel.to_path_buf(),
        }
    } else {
        Error::io(full, "create")(e)
    }
}

pub(crate) fn tar_error(source: io::Error) -> Error {
    Error::Tar { source }
}

fn describe(kind: EntryType) -> String {
    match kind {
        EntryType::Link => "hard link".to_owned(),
        EntryType::Char => "character device".to_owned(),
        EntryType::Block => "block device".to_owned(),
        EntryType::Fifo => "FIFO".to_owned(),
        EntryType::Continuous => "contiguous file".to_owned(),
        EntryType::GNUSparse => "sparse file".to_owned(),
        other => format!("tar type byte {:?}", char::from(other.as_byte())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("./a/./b/")).unwrap(), Path::new("a/b"));
        assert_eq!(relative(Path::new("./")).unwrap(), Path::new(""));
        assert!(matches!(
            relative(Path::new("a/../../x")).unwrap_err(),
            Error::UnsafePath { reason, .. } if reason.contains("..")
        ));
        assert!(matches!(
            relative(Path::new("/etc/x")).unwrap_err(),
            Error::UnsafePath {
                reason: "absolute path",
                ..
            }
        ));
    }
}
