//! Seal and open real trees: symlinks, empty and large files, unusual names, modes, mtimes.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;
use initra_image::{
    inspect, open, seal, Error, ImageKey, KeySize, Mode, OpenKey, OpenOptions, RootHash,
    SealOptions,
};

const LONG_NAME_LEN: usize = 150;

/// A tree with every kind of entry and name the format must carry. Returns the expected snapshot
/// after a round trip (setuid/setgid dropped).
fn build_tree(root: &Path, large: u64) -> Vec<(PathBuf, Node)> {
    fs::create_dir_all(root.join("etc/app")).unwrap();
    fs::create_dir(root.join("bin")).unwrap();
    fs::create_dir(root.join("tmp")).unwrap();
    fs::create_dir(root.join("locked")).unwrap();
    fs::write(
        root.join("etc/app/config.toml"),
        b"listen = \"0.0.0.0:4433\"\n",
    )
    .unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("with space.txt"), b"spaces").unwrap();
    fs::write(root.join("ünïcødé-名前.txt"), "unicode".as_bytes()).unwrap();
    fs::write(root.join("new\nline"), b"newline in name").unwrap();
    let long = "L".repeat(LONG_NAME_LEN);
    fs::write(root.join(&long), b"long name").unwrap();
    // A path over 100 bytes made of several components.
    let deep = root.join("d".repeat(60)).join("e".repeat(60));
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("f".repeat(60)), b"deep").unwrap();
    fs::write(root.join("bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::write(root.join("bin/suid"), b"suid").unwrap();
    fs::write(root.join("locked/secret"), b"read-only dir").unwrap();
    write_large_file(&root.join("bin/large.bin"), large);
    symlink("app/config.toml", root.join("etc/config-link")).unwrap();
    symlink("/usr/bin/python3", root.join("bin/python")).unwrap();
    symlink("does-not-exist", root.join("dangling")).unwrap();
    symlink("etc", root.join("etc-link")).unwrap();
    symlink("t".repeat(LONG_NAME_LEN), root.join("long-target")).unwrap();

    chmod(&root.join("bin/tool"), 0o755);
    chmod(&root.join("bin/suid"), 0o4755);
    chmod(&root.join("etc/app/config.toml"), 0o640);
    chmod(&root.join("empty"), 0o400);
    chmod(&root.join("tmp"), 0o1777);
    chmod(&root.join("etc/app"), 0o750);
    let mut t = 1_600_000_000;
    for entry in snapshot(root).iter().rev() {
        // Children first, so a directory's mtime is not disturbed afterwards.
        set_mtime(&root.join(&entry.0), t);
        t += 3600;
    }
    chmod(&root.join("locked"), 0o555);
    chmod(root, 0o751);
    set_mtime(root, 1_500_000_000);
    set_mtime(&root.join("locked"), 1_500_000_001);

    snapshot(root)
        .into_iter()
        .map(|(p, n)| {
            let n = match n {
                Node::File {
                    mode,
                    mtime,
                    len,
                    sha256,
                } => Node::File {
                    mode: mode & 0o777,
                    mtime,
                    len,
                    sha256,
                },
                other => other,
            };
            (p, n)
        })
        .collect()
}

#[test]
fn encrypted_round_trip_preserves_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let expected = build_tree(&src, 50 << 20);
    let key = key128();
    let image = tmp.path().join("rootfs.img");
    let report = seal(&src, &image, Some(&key), &SealOptions::default()).unwrap();
    assert_eq!(report.mode, Mode::Encrypted);
    assert_eq!(report.root_hash, None);
    assert_eq!(report.files, 11);
    assert_eq!(report.symlinks, 5);
    assert_eq!(report.directories, 7);
    assert_eq!(report.image_bytes, fs::metadata(&image).unwrap().len());
    assert!(report.chunks >= 50, "{report:?}");

    let dest = tmp.path().join("dest");
    let opened = open_with_key(&image, &dest, &key).unwrap();
    assert_eq!(opened.chunks, report.chunks);
    assert_eq!(opened.payload_bytes, report.payload_bytes);
    assert_eq!(
        (opened.files, opened.directories, opened.symlinks),
        (11, 7, 5)
    );
    assert_eq!(snapshot(&dest), expected);
    // setuid was dropped, the sticky bit of tmp/ kept.
    assert_eq!(
        fs::metadata(dest.join("bin/suid"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755
    );
    assert_eq!(
        fs::metadata(dest.join("tmp")).unwrap().permissions().mode() & 0o7777,
        0o1777
    );
    assert_eq!(
        fs::read_link(dest.join("long-target")).unwrap(),
        Path::new(&"t".repeat(LONG_NAME_LEN))
    );
    // Nothing but the tree, the image and the source next to DEST.
    assert_eq!(names(tmp.path()), ["dest", "rootfs.img", "src"]);
    chmod(&dest.join("locked"), 0o755);
    chmod(&src.join("locked"), 0o755);
}

#[test]
fn key_sizes_and_existing_empty_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let expected = build_tree(&src, 300_000);
    let key = ImageKey::generate(KeySize::Bits256).unwrap();
    let image = tmp.path().join("img");
    seal(&src, &image, Some(&key), &seal_opts(4096)).unwrap();
    let info = inspect(&image).unwrap();
    assert_eq!(info.mode, Mode::Encrypted);
    assert_eq!(info.key_bits, Some(256));
    assert_eq!(info.chunk_size, 4096);
    assert_eq!(info.version, 1);
    assert_eq!(info.root_hash, None);

    // DEST exists and is empty (like a tmpfs mount point): the tree lands inside it.
    let dest = tmp.path().join("mnt");
    fs::create_dir(&dest).unwrap();
    let report = open_with_key(&image, &dest, &key).unwrap();
    assert_eq!(report.chunks, info.chunks);
    assert_eq!(snapshot(&dest), expected);

    // A non-empty DEST is refused and left alone.
    let err = open_with_key(&image, &dest, &key).unwrap_err();
    assert!(matches!(err, Error::DestNotEmpty { .. }), "{err}");
    assert_eq!(snapshot(&dest), expected);
    chmod(&dest.join("locked"), 0o755);
    chmod(&src.join("locked"), 0o755);
}

#[test]
fn integrity_only_round_trip_and_pinning() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let expected = build_tree(&src, 1 << 20);
    let image = tmp.path().join("img");
    let report = seal(&src, &image, None, &seal_opts(8192)).unwrap();
    assert_eq!(report.mode, Mode::IntegrityOnly);
    let root = report.root_hash.unwrap();
    assert_eq!(inspect(&image).unwrap().root_hash, Some(root));

    // Sealing is deterministic in integrity-only mode: the same tree, the same root hash.
    let again = tmp.path().join("img2");
    assert_eq!(
        seal(&src, &again, None, &seal_opts(8192))
            .unwrap()
            .root_hash,
        Some(root)
    );
    assert_eq!(fs::read(&image).unwrap(), fs::read(&again).unwrap());

    let dest = tmp.path().join("dest");
    let opened = open(
        &image,
        &dest,
        OpenKey::RootHash(root),
        &OpenOptions::default(),
    )
    .unwrap();
    assert_eq!(opened.mode, Mode::IntegrityOnly);
    assert_eq!(snapshot(&dest), expected);

    // Opened with a key, or with another root, it is refused before anything is created.
    let dest2 = tmp.path().join("dest2");
    let err = open_with_key(&image, &dest2, &key128()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ModeMismatch {
                mode: Mode::IntegrityOnly,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--root-hash"));
    let other: RootHash = "00".repeat(32).parse().unwrap();
    let err = open(
        &image,
        &dest2,
        OpenKey::RootHash(other),
        &OpenOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::RootHashMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&root.to_string()));
    assert!(!dest2.exists());
    chmod(&dest.join("locked"), 0o755);
    chmod(&src.join("locked"), 0o755);
}

#[test]
fn seal_refuses_special_files_and_output_inside_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a"), b"a").unwrap();
    let key = key128();
    let err = seal(&src, &src.join("img"), Some(&key), &SealOptions::default()).unwrap_err();
    assert!(matches!(err, Error::OutputInsideSource { .. }), "{err}");

    let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    let image = tmp.path().join("img");
    let err = seal(&src, &image, Some(&key), &SealOptions::default()).unwrap_err();
    match &err {
        Error::UnsupportedType { path, kind } => {
            assert_eq!(kind, "socket");
            assert_eq!(path, &src.join("sock"));
        }
        other => panic!("unexpected {other}"),
    }
    // No image and no temporary file left.
    assert_eq!(names(tmp.path()), ["src"]);

    let err = seal(&src.join("a"), &image, Some(&key), &SealOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err}");
    let err = seal(&src, &image, Some(&key), &seal_opts(1000)).unwrap_err();
    assert!(matches!(err, Error::ChunkSize { actual: 1000 }), "{err}");
}

#[test]
fn inspect_and_open_reject_non_images() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("not-an-image");
    fs::write(&f, b"hello world, this is not an image").unwrap();
    assert!(matches!(inspect(&f).unwrap_err(), Error::NotAnImage { .. }));
    fs::write(&f, b"INITRAIM\x01\x00").unwrap();
    let err = inspect(&f).unwrap_err();
    assert!(
        matches!(err, Error::HeaderTruncated { actual: 10, .. }),
        "{err}"
    );
    let err = open_with_key(&f, &tmp.path().join("d"), &key128()).unwrap_err();
    assert!(matches!(err, Error::HeaderTruncated { .. }), "{err}");
    assert_eq!(names(tmp.path()), ["not-an-image"]);
}
