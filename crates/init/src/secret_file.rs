//! Writing secrets where the application expects them: atomically (temp file + fsync + rename) and with
//! mode 0600 from the first byte, so a crash never leaves a half-written or world-readable secret.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// Writes `bytes` to `path` atomically with mode 0600. Missing parent directories are created (mode 0700).
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |source: std::io::Error| Error::WriteSecret {
        path: path.to_owned(),
        source,
    };
    // `Path::new("out.key").parent()` is `Some("")`: the current directory.
    let parent = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "path has no parent directory",
            )))
        }
    };
    if !parent.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(err)?;
    }
    let tmp = temp_name(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.initra-tmp.{}", std::process::id()))
}

use std::os::unix::fs::DirBuilderExt;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_exact_bytes_with_0600_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/flask.key");
        write_secret_file(&path, b"test sample key\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"test sample key\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let parent_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(parent_mode, 0o700);
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1, "temp file left behind");
    }

    #[test]
    fn bare_relative_path_uses_the_current_directory() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("initra-rel-{}.key", std::process::id());
        let cwd = std::env::current_dir().unwrap();
        std::env::set_current_dir(dir.path()).unwrap();
        let result = write_secret_file(Path::new(&name), b"k");
        std::env::set_current_dir(cwd).unwrap();
        result.unwrap();
        assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), b"k");
    }

    #[test]
    fn replaces_existing_file_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, b"old").unwrap();
        write_secret_file(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn failure_names_path_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // The target is an existing directory: rename fails.
        let path = dir.path().join("d");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"").unwrap();
        let err = write_secret_file(&path, b"v").unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("d")]);
    }
}
