//! Memory stays flat: sealing and opening large files does not grow the resident set with the
//! image size (peak RSS measured with /proc/self/status VmHWM).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::sync::Mutex;

use common::*;
use initra_image::{open, seal, OpenKey, OpenOptions, SealOptions};

/// The tests in this binary measure the whole process: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Seals and opens a tree holding one `len`-byte file (and a few small ones), in both modes, and
/// returns the peak RSS growth in bytes over the baseline taken after the input was generated.
fn peak_rss_growth(len: u64) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("data")).unwrap();
    write_large_file(&src.join("data/large.bin"), len);
    for i in 0..20 {
        fs::write(src.join(format!("data/small-{i}")), vec![i as u8; 5000]).unwrap();
    }
    let key = key128();

    // Reset the high-water mark to the current RSS (Linux >= 4.0), then take the baseline.
    fs::write("/proc/self/clear_refs", "5").unwrap();
    let baseline = status_kib("VmHWM:");

    let image = tmp.path().join("img");
    seal(&src, &image, Some(&key), &SealOptions::default()).unwrap();
    let dest = tmp.path().join("dest");
    open(&image, &dest, OpenKey::Key(&key), &OpenOptions::default()).unwrap();
    assert_eq!(
        file_sha256(&dest.join("data/large.bin")),
        file_sha256(&src.join("data/large.bin"))
    );
    fs::remove_file(&image).unwrap();
    fs::remove_dir_all(&dest).unwrap();
    let root = seal(&src, &image, None, &SealOptions::default())
        .unwrap()
        .root_hash
        .unwrap();
    open(
        &image,
        &dest,
        OpenKey::RootHash(root),
        &OpenOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fs::metadata(dest.join("data/large.bin")).unwrap().len(),
        len
    );

    let peak = status_kib("VmHWM:");
    (peak.saturating_sub(baseline)) * 1024
}

#[test]
fn memory_stays_flat_for_64_mib() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let growth = peak_rss_growth(64 << 20);
    assert!(
        growth < 16 << 20,
        "peak RSS grew by {growth} bytes for a 64 MiB file"
    );
}

/// Hundreds of MB: slow in debug builds, run with `cargo test -p initra-image --release -- --ignored`.
#[test]
#[ignore]
fn memory_stays_flat_for_300_mb() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let growth = peak_rss_growth(300 << 20);
    eprintln!("peak RSS growth for a 300 MiB file: {} KiB", growth / 1024);
    assert!(
        growth < 64 << 20,
        "peak RSS grew by {growth} bytes for a 300 MiB file"
    );
}
