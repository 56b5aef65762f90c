//! Helpers shared by the image integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared test helpers

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use initra_image::{ImageKey, KeySize, OpenKey, OpenOptions, SealOptions};

/// One entry of a tree as the tests compare it.
#[derive(Debug, PartialEq, Eq, Clone)]
pub(crate) enum Node {
    Dir {
        mode: u32,
        mtime: i64,
    },
    File {
        mode: u32,
        mtime: i64,
        len: u64,
        sha256: String,
    },
    Symlink {
        target: PathBuf,
        mtime: i64,
    },
}

/// Every entry under `root` (relative path -> node), sorted; the root itself is "".
pub(crate) fn snapshot(root: &Path) -> Vec<(PathBuf, Node)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = root.join(&rel);
        let meta = fs::symlink_metadata(&full).unwrap();
        let ft = meta.file_type();
        let node = if ft.is_dir() {
            for e in fs::read_dir(&full).unwrap() {
                stack.push(rel.join(e.unwrap().file_name()));
            }
            Node::Dir {
                mode: meta.permissions().mode() & 0o7777,
                mtime: meta.mtime(),
            }
        } else if ft.is_symlink() {
            Node::Symlink {
                target: fs::read_link(&full).unwrap(),
                mtime: meta.mtime(),
            }
        } else {
            Node::File {
                mode: meta.permissions().mode() & 0o7777,
                mtime: meta.mtime(),
                len: meta.len(),
                sha256: file_sha256(&full),
            }
        };
        out.push((rel, node));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub(crate) fn file_sha256(path: &Path) -> String {
    let mut f = fs::File::open(path).unwrap();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    hex::encode(ctx.finish().as_ref())
}

/// Names in `dir` (to check that nothing was left behind).
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Writes `len` bytes of varied data through a fixed 1 MiB buffer: random blocks, zero runs and
/// a per-block counter so that no two blocks are equal.
pub(crate) fn write_large_file(path: &Path, len: u64) {
    let mut block = vec![0u8; 1 << 20];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut block).unwrap();
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut written = 0u64;
    let mut i = 0u64;
    while written < len {
        let n = (len - written).min(block.len() as u64) as usize;
        block[..8].copy_from_slice(&i.to_le_bytes());
        if i % 4 == 3 {
            // "sparse-ish": every fourth block is mostly zeros.
            let mut zeros = vec![0u8; n];
            zeros[..8].copy_from_slice(&i.to_le_bytes());
            f.write_all(&zeros).unwrap();
        } else {
            f.write_all(&block[..n]).unwrap();
        }
        written += n as u64;
        i += 1;
    }
    f.flush().unwrap();
}

pub(crate) fn set_mtime(path: &Path, secs: i64) {
    filetime::set_symlink_file_times(
        path,
        filetime::FileTime::from_unix_time(secs, 0),
        filetime::FileTime::from_unix_time(secs, 0),
    )
    .unwrap();
}

pub(crate) fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn key128() -> ImageKey {
    ImageKey::generate(KeySize::Bits128).unwrap()
}

pub(crate) fn seal_opts(chunk_size: u32) -> SealOptions<'static> {
    SealOptions {
        chunk_size,
        ..SealOptions::default()
    }
}

pub(crate) fn open_with_key(
    image: &Path,
    dest: &Path,
    key: &ImageKey,
) -> initra_image::Result<initra_image::OpenReport> {
    initra_image::open(image, dest, OpenKey::Key(key), &OpenOptions::default())
}
