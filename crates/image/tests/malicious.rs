//! Authenticated but malicious archives: the opener refuses entries that would escape DEST or
//! that it does not support, and leaves nothing behind.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use initra_image::{seal_tar_stream, Error, ImageKey};

/// A raw tar stream written block by block, with no path validation (unlike `tar::Builder`).
#[derive(Default)]
struct RawTar(Vec<u8>);

impl RawTar {
    fn entry(
        &mut self,
        path: &[u8],
        kind: tar::EntryType,
        mode: u32,
        data: &[u8],
        link: &[u8],
    ) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        {
            let name = &mut h.as_old_mut().name;
            assert!(path.len() <= name.len());
            name[..path.len()].copy_from_slice(path);
            let linkname = &mut h.as_old_mut().linkname;
            linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    fn root(&mut self) -> &mut Self {
        self.entry(b"./", tar::EntryType::Directory, 0o755, b"", b"")
    }
    fn dir(&mut self, path: &str) -> &mut Self {
        self.entry(path.as_bytes(), tar::EntryType::Directory, 0o755, b"", b"")
    }
    fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.entry(path.as_bytes(), tar::EntryType::Regular, 0o644, data, b"")
    }
    fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.entry(
            path.as_bytes(),
            tar::EntryType::Symlink,
            0o777,
            b"",
            target.as_bytes(),
        )
    }
    /// A GNU long-name record ('L') for the next entry.
    fn long_name(&mut self, name: &[u8]) -> &mut Self {
        let mut data = name.to_vec();
        data.push(0);
        self.entry(
            b"././@LongLink",
            tar::EntryType::GNULongName,
            0o644,
            &data,
            b"",
        )
    }
    fn end(&mut self) -> Vec<u8> {
        let mut v = self.0.clone();
        v.extend(std::iter::repeat_n(0u8, 1024));
        v
    }
}

/// Seals `payload` as an encrypted image and opens it into `work/dest`.
fn open_payload(
    work: &Path,
    payload: &[u8],
    key: &ImageKey,
) -> initra_image::Result<initra_image::OpenReport> {
    let _ = fs::remove_dir_all(work);
    fs::create_dir_all(work).unwrap();
    let image = work.join("img");
    seal_tar_stream(&mut &payload[..], &image, Some(key), &seal_opts(512)).unwrap();
    open_with_key(&image, &work.join("dest"), key)
}

fn refused(work: &Path, payload: &[u8], key: &ImageKey) -> Error {
    let err = open_payload(work, payload, key).expect_err("malicious archive must be refused");
    assert_eq!(names(work), ["img"], "left behind after: {err}");
    err
}

#[test]
fn path_escapes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let key = key128();

    for (path, reason) in [
        ("../x", "path contains a `..` component"),
        ("a/../../x", "path contains a `..` component"),
        ("/etc/x", "absolute path"),
    ] {
        let payload = RawTar::default().root().dir("a").file(path, b"evil").end();
        let err = refused(&work, &payload, &key);
        match &err {
            Error::UnsafePath { path: p, reason: r } => {
                assert_eq!(p, Path::new(path));
                assert_eq!(*r, reason);
            }
            other => panic!("{path}: unexpected {other}"),
        }
    }
    assert!(!tmp.path().join("x").exists());

    // `..` hidden in a GNU long name.
    let long = format!("../{}", "a".repeat(200));
    let payload = RawTar::default()
        .root()
        .long_name(long.as_bytes())
        .file("placeholder", b"evil")
        .end();
    let err = refused(&work, &payload, &key);
    assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let key = key128();

    // Symlink to a directory outside, then a file "through" it.
    let payload = RawTar::default()
        .root()
        .symlink("link", outside.to_str().unwrap())
        .file("link/x", b"evil")
        .end();
    let err = refused(&work, &payload, &key);
    match &err {
        Error::BadParent {
            path,
            parent,
            problem,
        } => {
            assert_eq!(path, Path::new("link/x"));
            assert_eq!(parent, Path::new("link"));
            assert_eq!(*problem, "is a symlink");
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(names(&outside), Vec::<String>::new());

    // A relative symlink, then a directory and a file through it.
    let payload = RawTar::default()
        .root()
        .dir("d")
        .symlink("d/up", "../..")
        .dir("d/up/escaped")
        .end();
    let err = refused(&work, &payload, &key);
    assert!(
        matches!(&err, Error::BadParent { parent, problem: "is a symlink", .. } if parent == Path::new("d/up")),
        "{err}"
    );

    // A symlink replacing an existing directory later (duplicate name) is refused as a duplicate.
    let payload = RawTar::default()
        .root()
        .dir("etc")
        .symlink("etc", "/etc")
        .file("etc/passwd", b"evil")
        .end();
    let err = refused(&work, &payload, &key);
    assert!(
        matches!(&err, Error::DuplicateEntry { path } if path == Path::new("etc")),
        "{err}"
    );

    // A file as a parent, and a missing parent.
    let payload = RawTar::default()
        .root()
        .file("f", b"x")
        .file("f/g", b"y")
        .end();
    let err = refused(&work, &payload, &key);
    assert!(
        matches!(
            &err,
            Error::BadParent {
                problem: "is not a directory",
                ..
            }
        ),
        "{err}"
    );
    let payload = RawTar::default().root().file("nodir/g", b"y").end();
    let err = refused(&work, &payload, &key);
    assert!(
        matches!(
            &err,
            Error::BadParent {
                problem: "is missing",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn duplicates_and_unsupported_types_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let key = key128();

    let payload = RawTar::default()
        .root()
        .file("a", b"1")
        .file("a", b"2")
        .end();
    let err = refused(&work, &payload, &key);
    assert!(
        matches!(&err, Error::DuplicateEntry { path } if path == Path::new("a")),
        "{err}"
    );
    let payload = RawTar::default()
        .root()
        .dir("d")
        .file("d/x", b"1")
        .dir("d")
        .end();
    let err = refused(&work, &payload, &key);
    assert!(matches!(&err, Error::DuplicateEntry { .. }), "{err}");
    // A second root entry.
    let payload = RawTar::default().root().file("a", b"1").root().end();
    let err = refused(&work, &payload, &key);
    assert!(matches!(&err, Error::UnsafePath { .. }), "{err}");

    for (kind, name) in [
        (tar::EntryType::Link, "hard link"),
        (tar::EntryType::Fifo, "FIFO"),
        (tar::EntryType::Char, "character device"),
        (tar::EntryType::Block, "block device"),
    ] {
        let payload = RawTar::default()
            .root()
            .file("target", b"x")
            .entry(b"special", kind, 0o644, b"", b"target")
            .end();
        let err = refused(&work, &payload, &key);
        match &err {
            Error::UnsupportedType { path, kind } => {
                assert_eq!(path, Path::new("special"));
                assert_eq!(kind, name);
            }
            other => panic!("{name}: unexpected {other}"),
        }
    }
}

#[test]
fn trailing_data_and_garbage_payloads_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let key = key128();

    let mut payload = RawTar::default().root().file("a", b"1").end();
    payload.extend_from_slice(b"smuggled");
    let err = refused(&work, &payload, &key);
    assert!(matches!(err, Error::TrailingData), "{err}");

    let err = refused(&work, &[0x41u8; 1500], &key);
    assert!(matches!(err, Error::Tar { .. }), "{err}");
}

#[test]
fn setuid_bits_are_dropped_and_benign_archives_open() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let key = key128();
    let payload = RawTar::default()
        .root()
        .entry(b"suid", tar::EntryType::Regular, 0o6755, b"x", b"")
        .dir("d/")
        .entry(b"./d/./y", tar::EntryType::Regular, 0o2644, b"yy", b"")
        .end();
    let report = open_payload(&work, &payload, &key).unwrap();
    assert_eq!((report.files, report.directories), (2, 1));
    let dest = work.join("dest");
    let mode = |p: &str| fs::metadata(dest.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("suid"), 0o755);
    assert_eq!(mode("d/y"), 0o644);
    assert_eq!(fs::read(dest.join("d/y")).unwrap(), b"yy");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(dest.join("d/y"))
        .unwrap();
    f.write_all(b"writable").unwrap();
}
