//! Notices (the lines every run shows: warnings about the configuration, the TEE backend, errors)
//! under both log formats: `initra: ...` text, or JSON lines a collector can parse, at any `--log`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::Value;
use support::{code, initra, text};

/// An init config with nothing to deliver (a warning) and an empty `sgx_mrs` (an error).
fn broken_init_config(dir: &std::path::Path) -> String {
    let path = dir.join("init.json");
    let conf = serde_json::json!({
        "kms_server": "127.0.0.1:1",
        "kms_keys": [],
        "ra_config": support::empty_sgx_mrs_ra_config(),
        "initra": {"placement": "host", "command": ["/bin/true"]}
    });
    std::fs::write(&path, conf.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn json_lines(stderr: &[u8]) -> Vec<Value> {
    text(stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_format_writes_only_json_lines_warnings_and_errors_included() {
    let dir = tempfile::tempdir().unwrap();
    let conf = broken_init_config(dir.path());
    let o = initra(&["--log-format", "json", "init", "--config", &conf]);
    assert_eq!(code(&o), 2);
    let lines = json_lines(&o.stderr);
    let levels: Vec<&str> = lines.iter().map(|l| l["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["WARN", "ERROR"], "{lines:?}");
    assert!(lines[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("warning: "));
    assert!(lines[1]["message"]
        .as_str()
        .unwrap()
        .contains("ra_config: sgx_mrs: empty list"));

    let key = dir.path().join("image.key");
    let o = initra(&[
        "--log-format",
        "json",
        "gen-image-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0);
    let lines = json_lines(&o.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "INFO");
    assert!(lines[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("wrote a 128-bit image key to "));
}

#[test]
fn text_format_prints_notices_plainly_even_with_logging_off() {
    let dir = tempfile::tempdir().unwrap();
    let conf = broken_init_config(dir.path());
    let o = initra(&["--log", "off", "init", "--config", &conf]);
    assert_eq!(code(&o), 2);
    let stderr = text(&o.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("initra: warning: "), "{stderr}");
    assert!(lines[1].starts_with("initra: error: "), "{stderr}");
    assert!(
        lines[1].contains("ra_config: sgx_mrs: empty list"),
        "{stderr}"
    );
}

#[test]
fn a_bad_log_filter_is_still_reported_in_the_format_asked_for() {
    let o = initra(&["--log", "bogus===", "quote", "inspect", "x"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).starts_with("initra: error: --log \"bogus===\": not a log filter"));
    let o = initra(&[
        "--log",
        "bogus===",
        "--log-format",
        "json",
        "quote",
        "inspect",
        "x",
    ]);
    assert_eq!(code(&o), 2);
    let lines = json_lines(&o.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(lines[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("error: --log \"bogus===\": not a log filter"));
}
