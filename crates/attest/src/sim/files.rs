//! Reading and writing the files of a simulated platform directory. Private keys are created with
//! mode 0600 and never overwritten.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Error;

pub(super) fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// A private key: mode 0600, must not exist yet.
pub(super) fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_new(path, bytes, 0o600)
}

/// A certificate or other public file: mode 0644, must not exist yet.
pub(super) fn write_public(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_new(path, bytes, 0o644)
}

fn to_json(value: &impl Serialize, path: &Path) -> Result<Vec<u8>, Error> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| Error::InvalidFile {
        path: path.to_path_buf(),
        what: "JSON",
        reason: e.to_string(),
    })?;
    text.push(b'\n');
    Ok(text)
}

pub(super) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), Error> {
    write_public(path, &to_json(value, path)?)
}

/// Replaces a public JSON file atomically (write a temporary file, then rename over).
pub(super) fn replace_json(path: &Path, value: &impl Serialize) -> Result<(), Error> {
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_public(&tmp, &to_json(value, path)?)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

pub(super) fn read(dir: &Path, path: &Path, what: &'static str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile {
            path: path.to_path_buf(),
            made_by: "`initra sim init`",
            what,
            dir: dir.to_path_buf(),
        },
        _ => Error::io(path, e),
    })
}

pub(super) fn read_text(dir: &Path, path: &Path, what: &'static str) -> Result<String, Error> {
    String::from_utf8(read(dir, path, what)?).map_err(|_| Error::InvalidFile {
        path: path.to_path_buf(),
        what,
        reason: "not UTF-8 text".to_owned(),
    })
}

pub(super) fn read_json<T: DeserializeOwned>(
    dir: &Path,
    path: &Path,
    what: &'static str,
) -> Result<T, Error> {
    let bytes = read(dir, path, what)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::InvalidFile {
        path: path.to_path_buf(),
        what,
        reason: e.to_string(),
    })
}

pub(super) fn read_key(
    dir: &Path,
    path: &Path,
    what: &'static str,
) -> Result<rcgen::KeyPair, Error> {
    let pem = zeroize::Zeroizing::new(read_text(dir, path, what)?);
    rcgen::KeyPair::from_pem(&pem).map_err(|e| Error::InvalidFile {
        path: path.to_path_buf(),
        what,
        reason: format!("expected a PKCS#8 P-256 private key (PEM): {e}"),
    })
}
