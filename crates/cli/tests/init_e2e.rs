//! End to end with the real binaries: `initra server` + `initra init` on the simulated platform, an encrypted
//! image and two `kms_keys`. The launched command (a small shell script) must see the image content and the
//! exact secret bytes at their absolute paths, while those paths never exist on the host; when the server
//! refuses, nothing is launched and init exits 1 saying why.
//!
//! Private placement needs a mount namespace; the test is skipped (with a message) where the machine allows
//! none (neither root nor unprivileged user namespaces).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const INITRA: &str = env!("CARGO_BIN_EXE_initra");

fn initra(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(INITRA).args(args).current_dir(cwd).output().unwrap();
    assert!(
        out.status.success(),
        "initra {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    _server: Server,
}

/// Writes an init config whose script copies what it sees into `seen/`; `extra` changes the measurement.
fn write_init_config(s: &Layout, name: &str, port: u16, server_id: &serde_json::Value, extra: &str) -> PathBuf {
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
    let conf = serde_json::json!({
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
            "collateral": ["sim/collateral.json"],
            "image": {"path": "app.img", "type": "encrypted", "mount": mount},
            "command": ["/bin/sh", "-c", script],
            "env": {"INITRA_E2E_TOKEN": "alpha"},
            "connect_deadline_secs": 20
        },
        "_comment": extra
    });
    let path = s.dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&conf).unwrap()).unwrap();
    path
}

fn setup() -> Option<(Setup, u16, serde_json::Value)> {
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
    initra(&["image", "seal", "--key", "image.key", "rootfs", "app.img"], d);

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
        unique: format!("{}-{}", std::process::id(), d.file_name().unwrap().to_string_lossy()),
        dir: d.to_path_buf(),
    };
    let server_id = measure(d, None);
    let port = free_port();
    let init_conf = write_init_config(&at, "init.json", port, &server_id, "");
    let client_id = measure(d, Some(&init_conf));
    std::fs::write(d.join("dynamic_config.json"), verify_config(&client_id)).unwrap();

    let server = Command::new(INITRA)
        .args(["--log", "info", "server", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--ra-config", "dynamic_config.json", "--secrets", "secret_config.json", "--sim", "sim",
            "--sim-root", "sim/root-ca.der", "--collateral", "sim/collateral.json",
        ])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let setup = Setup { _tmp: dir, at, alpha, beta, _server: Server(server) };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((setup, port, server_id))
}

#[test]
fn init_unlocks_image_places_secrets_privately_and_execs() {
    let Some((s, _port, _)) = setup() else { return };
    let out = Command::new(INITRA)
        .args(["--log", "info", "init", "--config", "init.json"])
        .current_dir(&s.at.dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The script's own exit status (7) is init's: init exec'd into it.
    assert_eq!(out.status.code(), Some(7), "init/app failed: {stderr}");
    let seen = s.at.out();
    assert_eq!(std::fs::read(seen.join("image")).unwrap(), b"image content\n");
    assert_eq!(std::fs::read(seen.join("alpha")).unwrap(), s.alpha);
    assert_eq!(std::fs::read(seen.join("beta")).unwrap(), s.beta);
    assert_eq!(std::fs::read_to_string(seen.join("mode")).unwrap().trim(), "600");
    assert_eq!(std::fs::read(seen.join("env")).unwrap(), b"alpha secret\n\n");
    // Nothing of it exists on the host.
    assert!(!s.at.etc_dir().exists(), "{} leaked to the host", s.at.etc_dir().display());
    assert!(!s.at.mount().parent().unwrap().exists(), "{} leaked to the host", s.at.mount().display());
    let log = std::fs::read_to_string(s.at.dir.join("server.log")).unwrap();
    assert!(log.contains("alpha") && log.contains("simulated"), "server log lacks the decision: {log}");
    assert!(!log.contains("alpha secret"), "server log leaks a secret value");
}

#[test]
fn refused_client_launches_nothing_and_says_why() {
    let Some((s, port, server_id)) = setup() else { return };
    // Same binary, changed configuration: a new MRENCLAVE the server's dynamic_config does not list.
    write_init_config(&s.at, "changed.json", port, &server_id, "changed");
    let out = Command::new(INITRA)
        .args(["init", "--config", "changed.json"])
        .current_dir(&s.at.dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected a rejection: {stderr}");
    assert!(stderr.contains("mr_enclave"), "the reason is not named: {stderr}");
    assert!(stderr.contains("nothing was launched"), "{stderr}");
    assert!(!s.at.out().exists(), "the command ran although the server refused");
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
    let out = Command::new(INITRA)
        .args(["init", "--config", "init.json"])
        .current_dir(&s.at.dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("app.img"), "the image is not named: {stderr}");
    assert!(!s.at.out().exists(), "the command ran with a tampered image");
}
