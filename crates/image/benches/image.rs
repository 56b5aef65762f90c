//! Throughput of `seal` and `open` against plain `tar -x` of the same (unencrypted) tree.
//!
//! Run: `cargo bench -j2 -p initra-image --bench image` (optional: `INITRA_BENCH_MB=200`,
//! `INITRA_BENCH_DIR=/some/dir`, `INITRA_BENCH_RUNS=5`). Prints MB/s for seal, open (encrypted and
//! integrity-only), `tar -x`, and the ratio open / `tar -x` (target: at most 1.5).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use initra_image::{open, seal, ImageKey, KeySize, OpenKey, OpenOptions, SealOptions};
use ring::rand::{SecureRandom, SystemRandom};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A tree of about `total_mb` MB: a few large files (60%) and many 16-64 KiB files in
/// 32 directories (40%), with random (incompressible) content.
fn build_tree(root: &Path, total_mb: u64) -> (u64, u64) {
    let rng = SystemRandom::new();
    let mut block = vec![0u8; 1 << 20];
    rng.fill(&mut block).unwrap();
    let total = total_mb << 20;
    let mut written = 0u64;
    let mut files = 0u64;
    fs::create_dir_all(root.join("large")).unwrap();
    let large_budget = total * 6 / 10;
    let mut i = 0u64;
    while written < large_budget {
        let len = (32u64 << 20).min(large_budget - written);
        let mut f = fs::File::create(root.join(format!("large/blob-{i}.bin"))).unwrap();
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            block[..8].copy_from_slice(&(written + len - left).to_le_bytes());
            f.write_all(&block[..n]).unwrap();
            left -= n as u64;
        }
        written += len;
        files += 1;
        i += 1;
    }
    let mut k = 0u64;
    while written < total {
        let dir = root.join(format!("small/d{:02}", k % 32));
        fs::create_dir_all(&dir).unwrap();
        let len = (16 << 10) + (k * 7919 % (48 << 10));
        let off = (k as usize * 4099) % (block.len() - len as usize);
        fs::write(
            dir.join(format!("f{k:06}")),
            &block[off..off + len as usize],
        )
        .unwrap();
        written += len;
        files += 1;
        k += 1;
    }
    (written, files)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing we need.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total_mb = env_u64("INITRA_BENCH_MB", 200);
    let runs = env_u64("INITRA_BENCH_RUNS", 5);
    let base = std::env::var_os("INITRA_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let work = tempfile::tempdir_in(base).unwrap();
    let src = work.path().join("src");
    let (bytes, files) = build_tree(&src, total_mb);
    println!(
        "tree: {:.1} MB in {files} files, {runs} runs each (median)",
        bytes as f64 / 1e6
    );

    let key = ImageKey::generate(KeySize::Bits128).unwrap();
    let img = work.path().join("tree.img");
    let t = Instant::now();
    seal(&src, &img, Some(&key), &SealOptions::default()).unwrap();
    let seal_enc = t.elapsed();
    let img_int = work.path().join("tree-integrity.img");
    let t = Instant::now();
    let root = seal(&src, &img_int, None, &SealOptions::default())
        .unwrap()
        .root_hash
        .unwrap();
    let seal_int = t.elapsed();

    let tar = work.path().join("tree.tar");
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());

    // The three extractions take turns, and each starts after `sync` with the previous output
    // removed, so that writeback of one run does not slow down the next one of another kind.
    let dest = work.path().join("dest");
    let mut times: [Vec<Duration>; 3] = Default::default();
    for _ in 0..runs {
        for (which, slot) in times.iter_mut().enumerate() {
            let _ = fs::remove_dir_all(&dest);
            Command::new("sync").status().unwrap();
            let t = Instant::now();
            match which {
                0 => {
                    open(&img, &dest, OpenKey::Key(&key), &OpenOptions::default()).unwrap();
                }
                1 => {
                    open(
                        &img_int,
                        &dest,
                        OpenKey::RootHash(root),
                        &OpenOptions::default(),
                    )
                    .unwrap();
                }
                _ => {
                    fs::create_dir(&dest).unwrap();
                    let status = Command::new("tar")
                        .arg("-xf")
                        .arg(&tar)
                        .arg("-C")
                        .arg(&dest)
                        .status()
                        .unwrap();
                    assert!(status.success());
                }
            }
            slot.push(t.elapsed());
        }
    }
    let _ = fs::remove_dir_all(&dest);
    let [open_enc, open_int, tar_x] = times.map(median);

    println!(
        "seal (encrypted)        {:8.1} MB/s  {:?}",
        mbps(bytes, seal_enc),
        seal_enc
    );
    println!(
        "seal (integrity-only)   {:8.1} MB/s  {:?}",
        mbps(bytes, seal_int),
        seal_int
    );
    println!(
        "open (encrypted)        {:8.1} MB/s  {:?}",
        mbps(bytes, open_enc),
        open_enc
    );
    println!(
        "open (integrity-only)   {:8.1} MB/s  {:?}",
        mbps(bytes, open_int),
        open_int
    );
    println!(
        "tar -x (plain tar)      {:8.1} MB/s  {:?}",
        mbps(bytes, tar_x),
        tar_x
    );
    println!(
        "ratio open/tar -x: encrypted {:.2}, integrity-only {:.2} (target <= 1.5)",
        open_enc.as_secs_f64() / tar_x.as_secs_f64(),
        open_int.as_secs_f64() / tar_x.as_secs_f64()
    );
}
