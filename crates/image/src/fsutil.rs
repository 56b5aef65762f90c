//! Small filesystem helpers: temporary names, fsync of directories, forced removal.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// Eight random bytes as hex, for temporary names nobody can predict.
pub(crate) fn random_suffix() -> Result<String> {
    let mut b = [0u8; 8];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Random)?;
    Ok(hex::encode(b))
}

/// The directory holding `path` (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `DIR/.NAME{tag}-XXXXXXXXXXXXXXXX` next to `path`: same filesystem, so a rename is atomic.
pub(crate) fn sibling_temp(path: &Path, tag: &str) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| Error::NotADirectory {
        path: path.to_path_buf(),
    })?;
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(format!("{tag}-{}", random_suffix()?));
    Ok(parent_dir(path).join(temp))
}

/// Makes a rename or link in `path`'s directory durable.
pub(crate) fn sync_parent(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir, "fsync directory"))
}

/// Removes a tree we created, even where extraction left read-only directories in it.
/// Never follows symlinks (`symlink_metadata`, and `remove_dir_all` does not follow them either).
pub(crate) fn remove_tree(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(path),
        Ok(_) => {}
    }
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    // Some directory is not writable (its archived mode was applied): open every directory up, then
    // try again. Iterative, so a deep tree cannot overflow the stack.
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(entry.path());
                }
            }
        }
    }
    fs::remove_dir_all(path)
}

/// Removes everything inside `dir` (which itself stays).
pub(crate) fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        remove_tree(&entry?.path())?;
    }
    Ok(())
}
