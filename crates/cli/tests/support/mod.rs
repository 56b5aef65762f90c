//! Helpers shared by the CLI end-to-end tests (`mod support;`): the `initra` binary and its output
//! (`initra`, `code`, `json`, `text`, `stderr`), sample paths (`sample!`), a simulated platform with
//! identity and verify-config files, the real server on a free port (killed on drop), collateral
//! bundles and a fake PCCS for the simulated platform.

// Each test binary compiles this module and uses a subset: the rest would warn as dead code.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use initra_attest::sim::{SimAttester, SimPlatform};
use initra_attest::Attester as _;
use initra_collateral::test_support::{collateral_file, FakePccs, Responses};
use initra_collateral::{Bundle, CollateralEntry, CollateralKey};

pub(crate) const INITRA: &str = env!("CARGO_BIN_EXE_initra");

/// The path of a file under testdata, as a `&'static str` (usable in `const`s).
// Like the dead-code allowance above: not every test binary uses it.
#[allow(unused_macros)]
macro_rules! sample {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/", $p)
    };
}
#[allow(unused_imports)]
pub(crate) use sample;

/// Runs `initra ARGS` and returns its output, whatever the exit status. `PCCS_URL` is removed
/// from its environment so that no test reaches a PCCS the machine happens to configure.
pub(crate) fn initra(args: &[&str]) -> Output {
    Command::new(INITRA)
        .args(args)
        .env_remove("PCCS_URL")
        .output()
        .unwrap()
}

/// The exit code (a test process is never killed by a signal).
pub(crate) fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// stdout as one JSON value; on failure the test shows what was printed instead.
pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// Output bytes as text, invalid UTF-8 replaced.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An Occlum verify config with every switch on and an empty `sgx_mrs`: a configuration error
/// (`ra_config: sgx_mrs: empty list`) for tests of what happens before attesting.
pub(crate) fn empty_sgx_mrs_ra_config() -> serde_json::Value {
    serde_json::json!({"verify_mr_enclave": "on", "verify_mr_signer": "on", "verify_isv_prod_id": "on",
                       "verify_isv_svn": "on", "verify_config_svn": "on",
                       "verify_enclave_debuggable": "on", "sgx_mrs": []})
}

pub(crate) const SAMPLE_SECRETS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/occlum-config/secret_config.json"
);

/// The identity fields a test sets (written as `initra sim` identity JSON).
#[derive(Clone, Debug)]
pub(crate) struct Id {
    pub(crate) mr_enclave: String,
    pub(crate) mr_signer: String,
    pub(crate) isv_prod_id: u16,
    pub(crate) isv_svn: u16,
    pub(crate) debug: bool,
}

impl Id {
    pub(crate) fn json(&self) -> String {
        format!(
            r#"{{"mr_enclave":"{}","mr_signer":"{}","isv_prod_id":{},"isv_svn":{},"config_svn":0,"debug":{}}}"#,
            self.mr_enclave, self.mr_signer, self.isv_prod_id, self.isv_svn, self.debug
        )
    }

    /// An Occlum verify config accepting exactly this identity (isv_svn as minimum, debug checked).
    pub(crate) fn occlum_config(&self) -> String {
        format!(
            r#"{{"verify_mr_enclave":"on","verify_mr_signer":"on","verify_isv_prod_id":"on","verify_isv_svn":"on",
"verify_config_svn":"off","verify_enclave_debuggable":"on",
"sgx_mrs":[{{"mr_enclave":"{}","mr_signer":"{}","isv_prod_id":{},"isv_svn":{},"config_svn":0,"debuggable":false}}]}}"#,
            self.mr_enclave, self.mr_signer, self.isv_prod_id, self.isv_svn
        )
    }
}

/// Runs `cmd` and insists on success; `what` names it in the failure.
pub(crate) fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `initra ARGS` in `cwd` and insists on success.
pub(crate) fn initra_ok(args: &[&str], cwd: &Path) -> Output {
    run_ok(
        Command::new(INITRA).args(args).current_dir(cwd),
        &format!("initra {args:?}"),
    )
}

/// A port free right now on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `args` without `flag` and the value after it.
pub(crate) fn without(args: &[String], flag: &str) -> Vec<String> {
    let pos = args.iter().position(|a| a == flag).unwrap();
    let mut out = args.to_vec();
    out.drain(pos..pos + 2);
    out
}

/// The collateral key of the simulated platform in `sim`, read from a quote it produces.
pub(crate) fn sim_key(sim: &Path) -> CollateralKey {
    let platform = SimPlatform::load(sim).unwrap();
    let id = platform.measure(Path::new(INITRA), &[]).unwrap();
    let raw = SimAttester::new(platform, id)
        .unwrap()
        .quote(&[0u8; 64])
        .unwrap();
    CollateralKey::from_quote(&initra_evidence::Quote::parse(&raw).unwrap()).unwrap()
}

/// Writes an offline bundle holding the simulated platform's `collateral.json`, as
/// `initra collateral fetch` would on a connected machine.
pub(crate) fn write_sim_bundle(sim: &Path, out: &Path) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut bundle = Bundle::new(now);
    bundle.insert(CollateralEntry {
        key: sim_key(sim),
        source: "sim/collateral.json".into(),
        fetched_at: now,
        collateral: collateral_file(&sim.join("collateral.json")),
    });
    bundle.write(out).unwrap();
}

/// A fake PCCS on 127.0.0.1 serving the simulated platform's collateral (v4 API, real headers).
pub(crate) fn sim_pccs(sim: &Path) -> FakePccs {
    let responses = Responses::from_collateral(
        &sim_key(sim),
        &collateral_file(&sim.join("collateral.json")),
    );
    FakePccs::start(responses, None)
}

/// A temp dir with a simulated platform and the standard client / server identities and configs.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) sim: PathBuf,
    pub(crate) client: Id,
    pub(crate) server: Id,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sim = dir.path().join("sim");
        let out = Command::new(INITRA)
            .args(["sim", "init"])
            .arg(&sim)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sim init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mr_signer = initra_attest::sim::SimPlatform::load(&sim)
            .unwrap()
            .mr_signer()
            .to_string();
        let client = Id {
            mr_enclave: "c1".repeat(32),
            mr_signer: mr_signer.clone(),
            isv_prod_id: 1,
            isv_svn: 88,
            debug: false,
        };
        let server = Id {
            mr_enclave: "5e".repeat(32),
            mr_signer,
            isv_prod_id: 0,
            isv_svn: 3,
            debug: false,
        };
        let f = Self {
            dir,
            sim,
            client,
            server,
        };
        f.write("client_id.json", &f.client.json());
        f.write("server_id.json", &f.server.json());
        f.write("dynamic_config.json", &f.client.occlum_config());
        f.write("ra_config.json", &f.server.occlum_config());
        f
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub(crate) fn collateral(&self) -> PathBuf {
        self.sim.join("collateral.json")
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.sim.join("root-ca.der")
    }

    /// `initra server` args for the standard RA-TLS server (sim root trusted).
    pub(crate) fn server_args(&self) -> Vec<String> {
        let mut a = vec![
            "--sim".into(),
            s(&self.sim),
            "--identity".into(),
            s(&self.path("server_id.json")),
        ];
        a.extend(["--ra-config".into(), s(&self.path("dynamic_config.json"))]);
        a.extend(["--secrets".into(), SAMPLE_SECRETS.into()]);
        a.extend([
            "--collateral".into(),
            s(&self.collateral()),
            "--sim-root".into(),
            s(&self.root()),
        ]);
        a
    }

    /// `initra get-secret` args for the standard client (without the name and output).
    pub(crate) fn client_args(&self, server: &Server) -> Vec<String> {
        let mut a = vec!["--server".into(), server.addr.clone()];
        a.extend(["--ra-config".into(), s(&self.path("ra_config.json"))]);
        a.extend([
            "--sim".into(),
            s(&self.sim),
            "--identity".into(),
            s(&self.path("client_id.json")),
        ]);
        a.extend([
            "--collateral".into(),
            s(&self.collateral()),
            "--sim-root".into(),
            s(&self.root()),
        ]);
        a.extend(["--timeout".into(), "20s".into()]);
        a
    }
}

pub(crate) fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The running `initra server`; its stderr is collected for assertions.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `initra server` on a free port with `args`.
    pub(crate) fn start(args: &[String]) -> Self {
        Self::start_at("127.0.0.1:0", args, None)
    }

    /// Starts `initra server --addr ADDR ARGS`, in `cwd` if given (relative paths in `args`).
    pub(crate) fn start_at(addr: &str, args: &[String], cwd: Option<&Path>) -> Self {
        let mut cmd = Command::new(INITRA);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .args(["--log", "info", "server", "--addr", addr])
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start:\n{}", log.lock().unwrap());
            }
        };
        Self { child, addr, log }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub(crate) fn wait_log(&self, needle: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub(crate) fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits for exit; returns the exit code.
    pub(crate) fn wait_exit(&mut self) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not exit:\n{}", self.log());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `initra get-secret ARGS... NAME -o OUT` (or with `extra` replacing the output part).
pub(crate) fn get_secret(args: &[String], extra: &[&str]) -> Output {
    Command::new(INITRA)
        .arg("get-secret")
        .args(args)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// stderr as text.
pub(crate) fn stderr(o: &Output) -> String {
    text(&o.stderr)
}
