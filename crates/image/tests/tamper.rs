//! Every modification of a sealed image is refused with its specific error, and nothing is left.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use initra_image::{
    open, seal, Error, ImageKey, KeySize, OpenKey, OpenOptions, RootHash, HEADER_LEN,
};

const CHUNK: u32 = 512;

/// Chunks of `small_tree` at 512 bytes each.
const N: usize = 8;

/// A small tree sealed with 512-byte chunks. Its tar stream is exactly 4096 bytes (root entry,
/// a directory, a 700-byte file, a symlink, end marker): 8 full chunks.
fn small_tree(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    let data: Vec<u8> = (0..700u32).map(|i| (i * 7) as u8).collect();
    fs::write(src.join("etc/app.conf"), data).unwrap();
    std::os::unix::fs::symlink("etc/app.conf", src.join("link")).unwrap();
    src
}

fn record(mode_trailer: usize) -> usize {
    CHUNK as usize + mode_trailer
}

/// Opens `bytes` (written to a file) into an absent DEST; checks that DEST and every temporary
/// directory are gone afterwards.
fn open_bytes(dir: &Path, bytes: &[u8], key: OpenKey<'_>) -> Error {
    let work = dir.join("work");
    fs::create_dir_all(&work).unwrap();
    let image = work.join("img");
    fs::write(&image, bytes).unwrap();
    let dest = work.join("dest");
    let err = open(&image, &dest, key, &OpenOptions::default())
        .expect_err("a modified image must be refused");
    assert_eq!(names(&work), ["img"], "left behind after: {err}");
    err
}

/// Which error a flipped bit at `pos` must cause: magic, header checksum, or the record's chunk.
fn expect_at(pos: usize) -> &'static str {
    if pos < 8 {
        "magic"
    } else if pos < HEADER_LEN {
        "header"
    } else {
        "chunk"
    }
}

#[test]
fn every_bit_flip_in_an_encrypted_image_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let key = key128();
    let image = tmp.path().join("img");
    let report = seal(&src, &image, Some(&key), &seal_opts(CHUNK)).unwrap();
    assert_eq!(report.chunks, N as u64);
    let good = fs::read(&image).unwrap();
    let rec = record(16);
    assert_eq!(good.len(), HEADER_LEN + N * rec);

    for pos in 0..good.len() {
        let mut bad = good.clone();
        bad[pos] ^= 1 << (pos % 8);
        let err = open_bytes(tmp.path(), &bad, OpenKey::Key(&key));
        match (expect_at(pos), &err) {
            ("magic", Error::NotAnImage { .. }) => {}
            ("header", Error::HeaderCorrupted { .. }) => {}
            ("chunk", Error::ChunkAuthFailed { index }) => {
                assert_eq!(*index as usize, (pos - HEADER_LEN) / rec, "byte {pos}")
            }
            (want, _) => panic!("byte {pos}: expected a {want} error, got {err}"),
        }
    }
}

#[test]
fn every_bit_flip_in_an_integrity_image_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let image = tmp.path().join("img");
    let report = seal(&src, &image, None, &seal_opts(CHUNK)).unwrap();
    let root = report.root_hash.unwrap();
    let good = fs::read(&image).unwrap();
    let rec = record(32);
    assert_eq!(good.len(), HEADER_LEN + N * rec);

    for pos in 0..good.len() {
        let mut bad = good.clone();
        bad[pos] ^= 1 << (pos % 8);
        let err = open_bytes(tmp.path(), &bad, OpenKey::RootHash(root));
        match (expect_at(pos), &err) {
            ("magic", Error::NotAnImage { .. }) => {}
            ("header", Error::HeaderCorrupted { .. }) => {}
            ("chunk", Error::ChunkHashMismatch { index }) => {
                assert_eq!(*index as usize, (pos - HEADER_LEN) / rec, "byte {pos}")
            }
            (want, _) => panic!("byte {pos}: expected a {want} error, got {err}"),
        }
    }
}

#[test]
fn truncation_at_every_chunk_boundary() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let key = key128();
    let image = tmp.path().join("img");
    seal(&src, &image, Some(&key), &seal_opts(CHUNK)).unwrap();
    let good = fs::read(&image).unwrap();
    let rec = record(16);
    for k in 0..N {
        let err = open_bytes(
            tmp.path(),
            &good[..HEADER_LEN + k * rec],
            OpenKey::Key(&key),
        );
        assert!(
            matches!(err, Error::Truncated { missing_chunk } if missing_chunk as usize == k),
            "cut after {k} chunks: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!("image truncated: chunk {k} and later are missing")
        );
    }
    // Inside a record: that record fails.
    let err = open_bytes(
        tmp.path(),
        &good[..HEADER_LEN + 2 * rec + 100],
        OpenKey::Key(&key),
    );
    assert!(matches!(err, Error::ChunkAuthFailed { index: 2 }), "{err}");
    // Inside the header.
    let err = open_bytes(tmp.path(), &good[..100], OpenKey::Key(&key));
    assert!(
        matches!(err, Error::HeaderTruncated { actual: 100, .. }),
        "{err}"
    );

    // The same for integrity-only images.
    let report = seal(&src, &image, None, &seal_opts(CHUNK)).unwrap();
    let root = report.root_hash.unwrap();
    let good = fs::read(&image).unwrap();
    let rec = record(32);
    for k in 0..N {
        let err = open_bytes(
            tmp.path(),
            &good[..HEADER_LEN + k * rec],
            OpenKey::RootHash(root),
        );
        assert!(
            matches!(err, Error::Truncated { missing_chunk } if missing_chunk as usize == k),
            "cut after {k} chunks: {err}"
        );
    }
}

#[test]
fn appended_bytes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let key = key128();
    let image = tmp.path().join("img");
    // 4096-byte payload in 512-byte chunks: the final record is full-sized.
    seal(&src, &image, Some(&key), &seal_opts(CHUNK)).unwrap();
    let good = fs::read(&image).unwrap();
    for extra in [&b"\0"[..], &[0xAA; 528][..], &good[HEADER_LEN..]] {
        let mut bad = good.clone();
        bad.extend_from_slice(extra);
        let err = open_bytes(tmp.path(), &bad, OpenKey::Key(&key));
        assert!(
            matches!(err, Error::AppendedData { after_chunk: 7 }),
            "{} bytes appended: {err}",
            extra.len()
        );
    }
    // 8192-byte chunks: one short record; appended bytes make it fail.
    seal(&src, &image, Some(&key), &seal_opts(8192)).unwrap();
    let good = fs::read(&image).unwrap();
    assert_eq!(good.len(), HEADER_LEN + 4096 + 16);
    for extra in [1usize, 16, 600] {
        let mut bad = good.clone();
        bad.extend(std::iter::repeat_n(0u8, extra));
        let err = open_bytes(tmp.path(), &bad, OpenKey::Key(&key));
        assert!(matches!(err, Error::ChunkAuthFailed { index: 0 }), "{err}");
    }
    // Integrity-only.
    let root = seal(&src, &image, None, &seal_opts(CHUNK))
        .unwrap()
        .root_hash
        .unwrap();
    let mut bad = fs::read(&image).unwrap();
    bad.push(0);
    let err = open_bytes(tmp.path(), &bad, OpenKey::RootHash(root));
    assert!(
        matches!(err, Error::AppendedData { after_chunk: 7 }),
        "{err}"
    );
}

#[test]
fn swapped_and_repeated_chunks_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let key = key128();
    let image = tmp.path().join("img");
    seal(&src, &image, Some(&key), &seal_opts(CHUNK)).unwrap();
    let good = fs::read(&image).unwrap();
    let rec = record(16);
    let chunk = |i: usize| &good[HEADER_LEN + i * rec..HEADER_LEN + (i + 1) * rec];

    let mut swapped = good[..HEADER_LEN].to_vec();
    for i in [0, 2, 1, 3, 4, 5, 6, 7] {
        swapped.extend_from_slice(chunk(i));
    }
    let err = open_bytes(tmp.path(), &swapped, OpenKey::Key(&key));
    assert!(matches!(err, Error::ChunkAuthFailed { index: 1 }), "{err}");

    let mut repeated = good[..HEADER_LEN + 2 * rec].to_vec();
    repeated.extend_from_slice(chunk(1));
    repeated.extend_from_slice(&good[HEADER_LEN + 2 * rec..]);
    let err = open_bytes(tmp.path(), &repeated, OpenKey::Key(&key));
    assert!(matches!(err, Error::ChunkAuthFailed { index: 2 }), "{err}");

    // A record moved from another image sealed with the same key (different salt) fails too.
    let other = tmp.path().join("other");
    seal(&src, &other, Some(&key), &seal_opts(CHUNK)).unwrap();
    let other = fs::read(&other).unwrap();
    let mut mixed = good.clone();
    mixed[HEADER_LEN + 3 * rec..HEADER_LEN + 4 * rec]
        .copy_from_slice(&other[HEADER_LEN + 3 * rec..HEADER_LEN + 4 * rec]);
    let err = open_bytes(tmp.path(), &mixed, OpenKey::Key(&key));
    assert!(matches!(err, Error::ChunkAuthFailed { index: 3 }), "{err}");
}

#[test]
fn wrong_key_is_reported_as_wrong_key() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let key = key128();
    let image = tmp.path().join("img");
    seal(&src, &image, Some(&key), &seal_opts(CHUNK)).unwrap();
    let good = fs::read(&image).unwrap();

    let err = open_bytes(tmp.path(), &good, OpenKey::Key(&key128()));
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("wrong image key (key_check mismatch)"));

    let big = ImageKey::generate(KeySize::Bits256).unwrap();
    let err = open_bytes(tmp.path(), &good, OpenKey::Key(&big));
    assert!(
        err.to_string().contains(
            "wrong image key (the image was sealed with a 128-bit key, this key is 256-bit)"
        ),
        "{err}"
    );

    // A root hash for an encrypted image: the caller confused the modes.
    let root: RootHash = "11".repeat(32).parse().unwrap();
    let err = open_bytes(tmp.path(), &good, OpenKey::RootHash(root));
    assert!(matches!(err, Error::ModeMismatch { .. }), "{err}");
}

#[test]
fn header_changed_with_recomputed_checksum_is_header_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let key = key128();
    let image = tmp.path().join("img");
    seal(&src, &image, Some(&key), &seal_opts(CHUNK)).unwrap();
    let good = fs::read(&image).unwrap();
    let fix_checksum = |b: &mut Vec<u8>| {
        let sum = ring::digest::digest(&ring::digest::SHA256, &b[..160]);
        b[160..192].copy_from_slice(sum.as_ref());
    };

    // nonce_prefix changed: the key check still passes (it covers key and salt), the MAC does not.
    let mut bad = good.clone();
    bad[57] ^= 0x40;
    fix_checksum(&mut bad);
    let err = open_bytes(tmp.path(), &bad, OpenKey::Key(&key));
    assert!(matches!(err, Error::HeaderTampered { .. }), "{err}");

    // chunk_size changed to another valid value.
    let mut bad = good.clone();
    bad[12..16].copy_from_slice(&1024u32.to_le_bytes());
    fix_checksum(&mut bad);
    let err = open_bytes(tmp.path(), &bad, OpenKey::Key(&key));
    assert!(matches!(err, Error::HeaderTampered { .. }), "{err}");

    // salt changed: indistinguishable from a wrong key, and reported as such.
    let mut bad = good;
    bad[30] ^= 1;
    fix_checksum(&mut bad);
    let err = open_bytes(tmp.path(), &bad, OpenKey::Key(&key));
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");

    // Integrity-only: any header change with a fixed checksum changes the root hash.
    let root = seal(&src, &image, None, &seal_opts(CHUNK))
        .unwrap()
        .root_hash
        .unwrap();
    let mut bad = fs::read(&image).unwrap();
    bad[130] ^= 1;
    fix_checksum(&mut bad);
    let err = open_bytes(tmp.path(), &bad, OpenKey::RootHash(root));
    assert!(matches!(err, Error::RootHashMismatch { .. }), "{err}");
}

#[test]
fn integrity_image_with_one_changed_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let image = tmp.path().join("img");
    let root = seal(&src, &image, None, &seal_opts(CHUNK))
        .unwrap()
        .root_hash
        .unwrap();
    let good = fs::read(&image).unwrap();

    // The file's bytes edited in place inside the image (plain text in integrity-only mode).
    let needle: Vec<u8> = (0..32u32).map(|i| (i * 7) as u8).collect();
    let at = good
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut bad = good;
    bad[at + 5] = bad[at + 5].wrapping_add(1);
    let err = open_bytes(tmp.path(), &bad, OpenKey::RootHash(root));
    let chunk = (at + 5 - HEADER_LEN) / record(32);
    assert!(
        matches!(err, Error::ChunkHashMismatch { index } if index as usize == chunk),
        "{err}"
    );

    // The tree changed and re-sealed: a valid image, but not the pinned one.
    fs::write(src.join("etc/app.conf"), b"changed").unwrap();
    let resealed = tmp.path().join("img2");
    let new_root = seal(&src, &resealed, None, &seal_opts(CHUNK))
        .unwrap()
        .root_hash
        .unwrap();
    assert_ne!(new_root, root);
    let err = open_bytes(
        tmp.path(),
        &fs::read(&resealed).unwrap(),
        OpenKey::RootHash(root),
    );
    assert!(matches!(err, Error::RootHashMismatch { .. }), "{err}");
}

#[test]
fn failed_open_leaves_an_existing_destination_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let src = small_tree(tmp.path());
    let key = key128();
    let image = tmp.path().join("img");
    seal(&src, &image, Some(&key), &seal_opts(CHUNK)).unwrap();
    let mut bad = fs::read(&image).unwrap();
    // The last chunk: every earlier entry has been extracted when the failure is found.
    let last = bad.len() - 20;
    bad[last] ^= 0x80;
    fs::write(&image, &bad).unwrap();
    let dest = tmp.path().join("mnt");
    fs::create_dir(&dest).unwrap();
    let err = open(&image, &dest, OpenKey::Key(&key), &OpenOptions::default()).unwrap_err();
    assert!(matches!(err, Error::ChunkAuthFailed { index: 7 }), "{err}");
    assert_eq!(names(&dest), Vec::<String>::new());
}
