//! End-to-end: an SEV-SNP workload (the simulated SNP platform of testdata/sim-snp) attests over
//! RA-TLS to the real `initra server` with the real `initra get-secret` (issue 6, "Report data
//! binding is identical across backends, so a TDX or SNP workload talks to the same server as an
//! SGX one").

#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

mod support;

use std::path::{Path, PathBuf};

use support::*;

const SIM_SNP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sim-snp");

/// The simulated SNP platform's default launch measurement (48 bytes of 0x5a).
fn sim_measurement() -> String {
    "5a".repeat(48)
}

fn ark() -> String {
    format!("{SIM_SNP}/ark.der")
}

/// A policy accepting the SNP guest `measurement`, which may read `cert` only.
fn policy(f: &Fixture, measurement: &str) -> PathBuf {
    f.write(
        "snp_policy.json",
        &format!(
            r#"{{"identities": [{{"tee": "snp", "measurement": "{measurement}", "vmpl": 0,
                 "min_reported_tcb": {{"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}}}}],
               "secrets": {{"cert": {{"allow": [{{"tee": "snp", "measurement": "{measurement}"}}]}}}}}}"#
        ),
    )
}

/// The standard server, judging clients by an initra policy instead of the SGX ra-config.
fn server_args(f: &Fixture, policy: &Path, trust_sim_ark: bool) -> Vec<String> {
    let mut a = without(&f.server_args(), "--ra-config");
    a.extend(["--policy".into(), s(policy)]);
    if trust_sim_ark {
        a.extend(["--snp-sim-ark".into(), ark()]);
    }
    a
}

/// The standard client, attesting as the simulated SNP guest instead of an SGX enclave.
fn client_args(f: &Fixture, server: &Server) -> Vec<String> {
    let a = without(&f.client_args(server), "--sim");
    let mut a = without(&a, "--identity");
    a.extend(["--sim-snp".into(), SIM_SNP.into()]);
    a
}

#[test]
fn snp_guest_gets_its_secret_and_is_denied_the_others() {
    let f = Fixture::new();
    let p = policy(&f, &sim_measurement());
    let server = Server::start(&server_args(&f, &p, true));
    let out = f.path("cert");
    let o = get_secret(&client_args(&f, &server), &["cert", "-o", &s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"test sample certificates\n",
        "the sample secret's exact bytes"
    );
    let o = get_secret(
        &client_args(&f, &server),
        &["key", "-o", &s(&f.path("key"))],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("secret \"key\" not allowed for this client: no rule for this secret"),
        "{}",
        stderr(&o)
    );
    assert!(!f.path("key").exists());
    assert!(server.wait_log("tee=snp"), "{}", server.log());
    let log = server.log();
    assert!(log.contains(&sim_measurement()), "{log}");
    assert!(log.contains("simulated=true"), "{log}");
    assert!(
        log.contains("product=milan") && log.contains("reported_tcb=0300000000000873"),
        "the audit record carries the SNP identity: {log}"
    );
}

#[test]
fn snp_guest_with_another_measurement_is_rejected_naming_the_field() {
    let f = Fixture::new();
    let p = policy(&f, &"77".repeat(48));
    let server = Server::start(&server_args(&f, &p, true));
    let o = get_secret(
        &client_args(&f, &server),
        &["cert", "-o", &s(&f.path("cert"))],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("measurement") && err.contains(&sim_measurement()),
        "{err}"
    );
    assert!(!f.path("cert").exists());
}

#[test]
fn simulated_snp_evidence_is_refused_unless_the_operator_trusts_its_ark() {
    let f = Fixture::new();
    let p = policy(&f, &sim_measurement());
    let server = Server::start(&server_args(&f, &p, false));
    let o = get_secret(
        &client_args(&f, &server),
        &["cert", "-o", &s(&f.path("cert"))],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("ARK"), "{err}");
    assert!(!f.path("cert").exists());
    assert!(
        server.wait_log("client attestation invalid")
            && server.log().contains("verdict=\"invalid\""),
        "{}",
        server.log()
    );
}

#[test]
fn the_operators_amd_crl_revokes_snp_clients() {
    let f = Fixture::new();
    let p = policy(&f, &sim_measurement());
    let mut args = server_args(&f, &p, true);
    args.extend([
        "--snp-crl".into(),
        format!("{SIM_SNP}/crl_vcek_revoked.der"),
    ]);
    let server = Server::start(&args);
    let o = get_secret(
        &client_args(&f, &server),
        &["cert", "-o", &s(&f.path("cert"))],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("VCEK") && err.contains("revoked"), "{err}");
    assert!(!f.path("cert").exists());
}

/// Runs `initra server ARGS` expecting it to refuse its configuration: exit status and stderr
/// (killed, and the test failed, if it starts serving instead).
fn server_refusing(args: &[String]) -> (Option<i32>, String) {
    use std::io::Read as _;
    let mut child = std::process::Command::new(INITRA)
        .args(["server", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started instead of refusing {args:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

#[test]
fn a_crl_that_could_never_pass_stops_the_server_at_start() {
    let f = Fixture::new();
    let p = policy(&f, &sim_measurement());
    for (crl, why) in [
        ("crl_other_key.der", "CRL signature does not verify"),
        ("crl_expired.der", "expired at nextUpdate 2024-02-01"),
    ] {
        let mut args = server_args(&f, &p, true);
        args.extend(["--snp-crl".into(), format!("{SIM_SNP}/{crl}")]);
        let (code, err) = server_refusing(&args);
        assert_eq!(code, Some(2), "{crl}: {err}");
        assert!(err.contains(why), "{crl}: {err}");
    }
}

#[test]
fn the_server_says_at_start_that_it_trusts_simulated_evidence() {
    let f = Fixture::new();
    let p = policy(&f, &sim_measurement());
    let server = Server::start(&server_args(&f, &p, true));
    let log = server.log();
    assert!(
        log.contains("trusting SIMULATED evidence under SGX root")
            && log.contains("SEV-SNP ARK")
            && log.contains("sim-snp/ark.der"),
        "{log}"
    );
}
