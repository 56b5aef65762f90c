//! End to end with the real binaries: `initra server` + `initra init` on the simulated platform, an encrypted
//! image and two `kms_keys`. The launched command (a small shell script) must see the image content and the
//! exact secret bytes at their absolute paths, while those paths never exist on the host; when the server
//! refuses, nothing is launched and init exits 1 saying why.
//!
//! Private placement needs a mount namespace; the test is skipped (with a message) where the machine allows
//! none (neither root nor unprivileged user namespaces).

// Test code: a failed unwrap or index is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{free_port, initra_ok as initra, write_sim_bundle, Server, INITRA};

fn namespaces_available() -> bool {
    Command::new("unshare")
        .args(["--mount", "true"])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        || Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "true"])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

fn measure(dir: &Path, config: Option<&Path>) -> serde_json::Value {
    let mut args = vec!["measure", "--exe", INITRA, "--sim", "sim", "--json"];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    serde_json::from_slice(&initra(&args, dir).stdout).unwrap()
}

fn verify_config(id: &serde_json::Value) -> String {
    serde_json::json!({
        "verify_mr_enclave": "on", "verify_mr_signer": "on", "verify_isv_prod_id": "on",
        "verify_isv_svn": "on", "verify_config_svn": "off", "verify_enclave_debuggable": "on",
        "sgx_mrs": [{"mr_enclave": id["mr_enclave"], "mr_signer": id["mr_signer"],
                     "isv_prod_id": 0, "isv_svn": 0, "config_svn": 0, "debuggable": false}]
    })
    .to_string()
}

/// Where one test's files go: the temp dir on the host, and absolute targets unique to this test.
struct Layout {
    dir: PathBuf,
    unique: String,
}

impl Layout {
    fn etc_dir(&self) -> PathBuf {
        PathBuf::from(format!("/etc/initra-e2e-{}", self.unique))
    }
    fn mount(&self) -> PathBuf {
        PathBuf::from(format!("/srv/initra-e2e-{}/app", self.unique))
    }
    fn out(&self) -> PathBuf {
        self.dir.join("seen")
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    at: Layout,
    alpha: Vec<u8>,
    beta: Vec<u8>,
    server: Server,
}

/// How init verifies the server: the `initra` fields of the default set-up (a collateral file).
fn collateral_file() -> serde_json::Value {
    serde_json::json!({"collateral": ["sim/collateral.json"]})
}

/// Writes an init config whose script copies what it sees into `seen/`; `extra` changes the measurement,
/// `verify` holds the `initra` fields for verifying the server (collateral sources, freshness).
fn write_init_config(
    s: &Layout,
    name: &str,
    port: u16,
    server_id: &serde_json::Value,
    extra: &str,
    verify: &serde_json::Value,
) -> PathBuf {
    let etc = s.etc_dir();
    let mount = s.mount();
    let out = s.out();
    let script = format!(
        "set -e; mkdir -p {out}; cat {mount}/hello.txt > {out}/image; cp {etc}/alpha {out}/alpha; \
         cp {etc}/beta {out}/beta; stat -c %a {etc}/alpha > {out}/mode; echo \"$INITRA_E2E_TOKEN\" > {out}/env; \
         echo $$ > {out}/pid; exit 7",
        out = out.display(),
        mount = mount.display(),
        etc = etc.display()
    );
    let mut conf = serde_json::json!({
        "kms_server": format!("127.0.0.1:{port}"),
        "kms_keys": [
            {"key": "alpha", "path": etc.join("alpha")},
            {"key": "beta", "path": etc.join("beta")}
        ],
        "ra_config": serde_json::from_str::<serde_json::Value>(&verify_config(server_id)).unwrap(),
        "initra": {
            "attester": "sim",
            "sim_dir": "sim",
            "simulated_root": "sim/root-ca.der",
            "image": {"path": "app.img", "type": "encrypted", "mount": mount},
            "command": ["/bin/sh", "-c", script],
            "env": {"INITRA_E2E_TOKEN": "alpha"},
            "connect_deadline_secs": 20
        },
        "_comment": extra
    });
    for (k, v) in verify.as_object().unwrap() {
        conf["initra"][k] = v.clone();
    }
    let path = s.dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&conf).unwrap()).unwrap();
    path
}

fn setup() -> Option<(Setup, u16, serde_json::Value)> {
    setup_verifying_with(&collateral_file())
}

fn setup_verifying_with(verify: &serde_json::Value) -> Option<(Setup, u16, serde_json::Value)> {
    if !namespaces_available() {
        eprintln!("SKIPPED: no mount namespaces on this machine (need root or unprivileged user namespaces)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    initra(&["sim", "init", "sim"], d);
    std::fs::create_dir_all(d.join("rootfs")).unwrap();
    std::fs::write(d.join("rootfs/hello.txt"), b"image content\n").unwrap();
    initra(&["gen-image-key", "image.key"], d);
    initra(
        &["image", "seal", "--key", "image.key", "rootfs", "app.img"],
        d,
    );

    // Exact bytes: a trailing newline, a NUL and a non-UTF-8 byte must all survive.
    let alpha = b"alpha secret\n".to_vec();
    let beta = vec![0u8, 0xff, b'b', b'\n'];
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let secrets = serde_json::json!({
        "alpha": b64(&alpha),
        "beta": b64(&beta),
        "image_key": b64(&std::fs::read(d.join("image.key")).unwrap()),
    });
    std::fs::write(d.join("secret_config.json"), secrets.to_string()).unwrap();

    let at = Layout {
        unique: format!(
            "{}-{}",
            std::process::id(),
            d.file_name().unwrap().to_string_lossy()
        ),
        dir: d.to_path_buf(),
    };
    let server_id = measure(d, None);
    let port = free_port();
    // The bundle exists before the server's evidence is checked, whatever the test configures.
    write_sim_bundle(&d.join("sim"), &d.join("bundle.json"));
    let init_conf = write_init_config(&at, "init.json", port, &server_id, "", verify);
    let client_id = measure(d, Some(&init_conf));
    std::fs::write(d.join("dynamic_config.json"), verify_config(&client_id)).unwrap();

    let args: Vec<String> = [
        "--ra-config",
        "dynamic_config.json",
        "--secrets",
        "secret_config.json",
        "--sim",
        "sim",
        "--sim-root",
        "sim/root-ca.der",
        "--collateral",
        "sim/collateral.json",
    ]
    .map(String::from)
    .to_vec();
    let server = Server::start_at(&format!("127.0.0.1:{port}"), &args, Some(d));
    let setup = Setup {
        _tmp: dir,
        at,
        alpha,
        beta,
        server,
    };
    Some((setup, port, server_id))
}

/// Runs `initra --log info init --config CONFIG` in the test's directory: exit code and stderr.
fn run_init(at: &Layout, config: &str) -> (Option<i32>, String) {
    let out = Command::new(INITRA)
        .args(["--log", "info", "init", "--config", config])
        .current_dir(&at.dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_unlocks_image_places_secrets_privately_and_execs() {
    let Some((s, _port, _)) = setup() else { return };
    let (code, stderr) = run_init(&s.at, "init.json");
    // The script's own exit status (7) is init's: init exec'd into it.
    assert_eq!(code, Some(7), "init/app failed: {stderr}");
    let seen = s.at.out();
    assert_eq!(
        std::fs::read(seen.join("image")).unwrap(),
        b"image content\n"
    );
    assert_eq!(std::fs::read(seen.join("alpha")).unwrap(), s.alpha);
    assert_eq!(std::fs::read(seen.join("beta")).unwrap(), s.beta);
    assert_eq!(
        std::fs::read_to_string(seen.join("mode")).unwrap().trim(),
        "600"
    );
    assert_eq!(
        std::fs::read(seen.join("env")).unwrap(),
        b"alpha secret\n\n"
    );
    // Nothing of it exists on the host.
    assert!(
        !s.at.etc_dir().exists(),
        "{} leaked to the host",
        s.at.etc_dir().display()
    );
    assert!(
        !s.at.mount().parent().unwrap().exists(),
        "{} leaked to the host",
        s.at.mount().display()
    );
    let log = s.server.log();
    assert!(
        log.contains("alpha") && log.contains("simulated"),
        "server log lacks the decision: {log}"
    );
    assert!(
        !log.contains("alpha secret"),
        "server log leaks a secret value"
    );
}

#[test]
fn refused_client_launches_nothing_and_says_why() {
    let Some((s, port, server_id)) = setup() else {
        return;
    };
    // Same binary, changed configuration: a new MRENCLAVE the server's dynamic_config does not list.
    write_init_config(
        &s.at,
        "changed.json",
        port,
        &server_id,
        "changed",
        &collateral_file(),
    );
    let (code, stderr) = run_init(&s.at, "changed.json");
    assert_eq!(code, Some(1), "expected a rejection: {stderr}");
    assert!(
        stderr.contains("mr_enclave"),
        "the reason is not named: {stderr}"
    );
    assert!(stderr.contains("nothing was launched"), "{stderr}");
    assert!(
        !s.at.out().exists(),
        "the command ran although the server refused"
    );
    assert!(!s.at.etc_dir().exists());
}

#[test]
fn tampered_image_is_refused_and_nothing_is_launched() {
    let Some((s, _port, _)) = setup() else { return };
    let img = s.at.dir.join("app.img");
    let mut bytes = std::fs::read(&img).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x40;
    std::fs::write(&img, bytes).unwrap();
    let (code, stderr) = run_init(&s.at, "init.json");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("app.img"),
        "the image is not named: {stderr}"
    );
    assert!(
        !s.at.out().exists(),
        "the command ran with a tampered image"
    );
}

/// init verifies the server with an offline bundle instead of a collateral file; a maximum collateral
/// age it cannot meet stops the launch before anything is fetched, naming the item.
#[test]
fn init_verifies_server_with_bundle_and_enforces_max_age() {
    let Some((s, port, server_id)) =
        setup_verifying_with(&serde_json::json!({"collateral_bundles": ["bundle.json"]}))
    else {
        return;
    };
    let (code, stderr) = run_init(&s.at, "init.json");
    assert_eq!(code, Some(7), "init/app failed: {stderr}");
    assert_eq!(std::fs::read(s.at.out().join("alpha")).unwrap(), s.alpha);

    std::fs::remove_dir_all(s.at.out()).unwrap();
    let strict =
        serde_json::json!({"collateral_bundles": ["bundle.json"], "max_collateral_age": "1s"});
    write_init_config(&s.at, "strict.json", port, &server_id, "", &strict);
    let (code, stderr) = run_init(&s.at, "strict.json");
    // Too old collateral makes the server's evidence invalid, not rejected: exit 2.
    assert_eq!(code, Some(2), "expected a failure: {stderr}");
    assert!(
        stderr.contains("too old: issued") && stderr.contains("max age 1s"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was launched"), "{stderr}");
    assert!(
        !s.at.out().exists(),
        "the command ran although the server was refused"
    );
}

/// Issue 6: `auto` never falls back to the simulator. On a machine without a TEE (like CI) it stops before
/// contacting anything, lists every backend it probed, and launches nothing.
#[test]
fn auto_backend_without_a_tee_lists_the_probes_and_launches_nothing() {
    if Path::new("/dev/sgx").exists()
        || Path::new("/dev/attestation").exists()
        || Path::new("/sys/kernel/config/tsm/report").exists()
    {
        eprintln!("SKIPPED: this machine has a TEE device");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("launched");
    let conf = dir.path().join("init.json");
    std::fs::write(
        &conf,
        serde_json::json!({
            "kms_server": "127.0.0.1:9", "kms_keys": [], "ra_config": {"identities": "any"},
            "initra": {"placement": "host", "command": ["/bin/touch", marker]}
        })
        .to_string(),
    )
    .unwrap();
    let out = Command::new(INITRA)
        .args(["init", "--config"])
        .arg(&conf)
        .args(["--tee", "auto"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for probe in [
        "/dev/sgx",
        "/dev/attestation",
        "/sys/kernel/config/tsm/report",
        "simulated",
    ] {
        assert!(stderr.contains(probe), "{probe} not named: {stderr}");
    }
    assert!(!marker.exists(), "the command ran without attestation");
}

/// Runs `initra --log info init --config init.json EXTRA...` in the test's directory.
fn run_init_with(at: &Layout, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(INITRA)
        .args(["--log", "info", "init", "--config", "init.json"])
        .args(extra)
        .current_dir(&at.dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A command that does not exist stops the launch before attesting: nothing is fetched or written.
#[test]
fn missing_command_stops_before_attesting() {
    let Some((s, _port, _)) = setup() else { return };
    let (code, stderr) = run_init_with(
        &s.at,
        &["--placement", "host", "--", "/nonexistent/initra-app"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent/initra-app"), "{stderr}");
    assert!(
        !stderr.contains("tee backend="),
        "attested although the command does not exist: {stderr}"
    );
    assert!(!s.at.etc_dir().exists());
    assert!(!s.at.mount().exists());
}

/// With host placement, an exec that fails after the secrets were placed removes them again, and the
/// image directory init created: nothing is launched, nothing is left.
#[test]
fn failed_exec_with_host_placement_leaves_nothing_behind() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        eprintln!("SKIPPED: host placement under /etc needs root");
        return;
    }
    let Some((s, _port, _)) = setup() else { return };
    // Inside the image mount, so only exec can find out that it does not exist.
    let program = s.at.mount().join("no-such-app");
    let (code, stderr) = run_init_with(
        &s.at,
        &["--placement", "host", "--", program.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no-such-app"), "{stderr}");
    assert!(stderr.contains("nothing was launched"), "{stderr}");
    let alpha = s.at.etc_dir().join("alpha");
    let beta = s.at.etc_dir().join("beta");
    let mount = s.at.mount();
    let left: Vec<_> = [&alpha, &beta, &mount]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    let _ = std::fs::remove_dir_all(s.at.etc_dir());
    let _ = std::fs::remove_dir_all(mount.parent().unwrap());
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The simulated SEV-SNP platform (test ARK / ASK / VCEK).
const SIM_SNP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sim-snp");

/// The same init, attesting as an SEV-SNP guest (`"attester": "sim-snp"`) to a server whose policy
/// admits that guest's launch measurement: one server, one protocol, whatever the TEE.
#[test]
fn sev_snp_guest_init_unlocks_image_and_places_secrets() {
    let Some((s, _port, server_id)) = setup() else {
        return;
    };
    let d = &s.at.dir;
    let measurement = "5a".repeat(48);
    std::fs::write(
        d.join("snp_policy.json"),
        serde_json::json!({"identities": [{"tee": "snp", "measurement": measurement, "vmpl": 0}]})
            .to_string(),
    )
    .unwrap();
    let port = free_port();
    let args: Vec<String> = [
        "--policy",
        "snp_policy.json",
        "--snp-sim-ark",
        &format!("{SIM_SNP}/ark.der"),
        "--secrets",
        "secret_config.json",
        "--sim",
        "sim",
        "--collateral",
        "sim/collateral.json",
    ]
    .map(String::from)
    .to_vec();
    let snp_server = Server::start_at(&format!("127.0.0.1:{port}"), &args, Some(d));
    let conf = write_init_config(&s.at, "snp.json", port, &server_id, "", &collateral_file());
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&conf).unwrap()).unwrap();
    json["initra"]["attester"] = "sim-snp".into();
    json["initra"]["sim_dir"] = SIM_SNP.into();
    std::fs::write(&conf, json.to_string()).unwrap();

    let (code, stderr) = run_init(&s.at, "snp.json");
    assert_eq!(code, Some(7), "init/app failed: {stderr}");
    assert!(
        stderr.contains("tee backend=sim-snp (SIMULATED"),
        "{stderr}"
    );
    let seen = s.at.out();
    assert_eq!(
        std::fs::read(seen.join("image")).unwrap(),
        b"image content\n"
    );
    assert_eq!(std::fs::read(seen.join("alpha")).unwrap(), s.alpha);
    assert_eq!(std::fs::read(seen.join("beta")).unwrap(), s.beta);
    assert!(!s.at.etc_dir().exists());
    let log = snp_server.log();
    assert!(
        log.contains("tee=snp") && log.contains(&measurement) && log.contains("simulated=true"),
        "server log lacks the SNP decision: {log}"
    );
}

/// A simulated SNP platform directory without its files: a configuration error naming the field
/// and what makes such directories, before anything is attested or launched.
#[test]
fn sim_snp_dir_without_its_files_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let conf = serde_json::json!({
        "kms_server": "127.0.0.1:1",
        "kms_keys": [],
        "ra_config": {"identities": "any"},
        "initra": {"attester": "sim-snp", "sim_dir": "empty", "command": ["/bin/true"]}
    });
    let (code, stderr) = init_host_placement(dir.path(), &conf);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("init.json")
            && stderr.contains("initra.sim_dir")
            && stderr.contains("vcek.der")
            && stderr.contains("generate.sh"),
        "{stderr}"
    );
}

/// A broken ra_config is reported before any evidence is produced (no quote for nothing).
#[test]
fn broken_ra_config_stops_before_attesting() {
    let dir = tempfile::tempdir().unwrap();
    let conf = serde_json::json!({
        "kms_server": "127.0.0.1:1",
        "kms_keys": [],
        "ra_config": support::empty_sgx_mrs_ra_config(),
        "initra": {"attester": "sim-snp", "sim_dir": SIM_SNP, "command": ["/bin/true"]}
    });
    let (code, stderr) = init_host_placement(dir.path(), &conf);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("policy init.json: ra_config: sgx_mrs: empty list"),
        "{stderr}"
    );
    assert!(!stderr.contains("tee backend="), "attested first: {stderr}");
}

/// Writes `conf` as `dir/init.json` and runs `initra init --placement host --config init.json`
/// in `dir`: the exit code and stderr.
fn init_host_placement(dir: &Path, conf: &serde_json::Value) -> (Option<i32>, String) {
    std::fs::write(dir.join("init.json"), conf.to_string()).unwrap();
    let out = Command::new(INITRA)
        .args(["init", "--placement", "host", "--config", "init.json"])
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
