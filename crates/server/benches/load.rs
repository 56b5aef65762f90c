//! Load benchmark: N concurrent closed-loop clients, each request a fresh TCP connection with a full mutual
//! RA-TLS handshake plus one secret fetch, against the real server on loopback (simulated platform).
//!
//! The server verifies every client's quote in full on every connection (no server-side verdict cache).
//! Clients prepare their keys, quotes and certificates before the timed phase, and share one verifier for
//! the server (its verdict is cached per server certificate, as `initra init` would within a boot).
//!
//! With `--snp` the clients are SEV-SNP guests of the simulated SNP platform (testdata/sim-snp):
//! the server verifies an SNP report and its certificate table (ARK pinning, RSA-PSS chain, ECDSA
//! P-384 report signature) per connection instead of an SGX quote.
//!
//! ```text
//! cargo bench -j2 -p initra-server --bench load            # N = 1, 16, 64; 20,000 requests at N = 64
//! cargo bench -j2 -p initra-server --bench load -- 64 5000 # one run: N, requests
//! cargo bench -j2 -p initra-server --bench load -- --snp   # the same with SEV-SNP clients
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use initra_attest::sim::snp::SimSnpPlatform;
use initra_attest::sim::{SimAttester, SimOptions, SimPlatform};
use initra_attest::{Attester, EnclaveIdentity};
use initra_client::{ClientConfig, ClientIdentity, RetryPolicy, SecretClient, ServerTrust};
use initra_collateral::VerifierSettings;
use initra_evidence::Measurement;
use initra_ratls::verifier::AttestedServerVerifier;
use initra_ratls::{CertOptions, RaTlsIdentity};
use initra_server::{BoundServer, ServerConfig, ServerIdentity};
use initra_verify::{Policy, RootKind, StaticCollateral, TrustRoots, Verifier};

fn occlum_config(id: &EnclaveIdentity) -> String {
    format!(
        r#"{{"verify_mr_enclave":"on","verify_mr_signer":"on","verify_isv_prod_id":"on","verify_isv_svn":"on",
"verify_config_svn":"off","verify_enclave_debuggable":"on","sgx_mrs":[{{"mr_enclave":"{}","mr_signer":"{}",
"isv_prod_id":{},"isv_svn":{},"config_svn":0,"debuggable":false}}]}}"#,
        id.mr_enclave, id.mr_signer, id.isv_prod_id, id.isv_svn
    )
}

struct Run {
    n: usize,
    total: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs = match args.as_slice() {
        [n, total, ..] => vec![Run {
            n: n.parse()?,
            total: total.parse()?,
        }],
        _ => vec![
            Run { n: 1, total: 1_000 },
            Run {
                n: 16,
                total: 5_000,
            },
            Run {
                n: 64,
                total: 20_000,
            },
        ],
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let snp = std::env::args().any(|a| a == "--snp");
    rt.block_on(bench(runs, snp))
}

async fn bench(runs: Vec<Run>, snp: bool) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sim_dir = dir.path().join("sim");
    let platform = Arc::new(SimPlatform::create(&sim_dir, &SimOptions::default())?);
    let server_id = EnclaveIdentity {
        isv_svn: 2,
        ..EnclaveIdentity::new(Measurement([0x5e; 32]), platform.mr_signer())
    };
    let client_id = EnclaveIdentity {
        isv_prod_id: 1,
        isv_svn: 88,
        ..EnclaveIdentity::new(Measurement([0xc1; 32]), platform.mr_signer())
    };
    let write = |name: &str, text: &str| -> std::io::Result<std::path::PathBuf> {
        let p = dir.path().join(name);
        std::fs::write(&p, text)?;
        Ok(p)
    };
    let server_id_path = write("server_id.json", &server_id.to_json())?;
    let dynamic = write("dynamic_config.json", &occlum_config(&client_id))?;
    let ra_config = write("ra_config.json", &occlum_config(&server_id))?;
    let secrets = write(
        "secrets.json",
        r#"{"cert":"dGVzdCBzYW1wbGUgY2VydGlmaWNhdGVzCg=="}"#,
    )?;

    let sim_snp = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sim-snp");
    let builder = ServerConfig::builder("127.0.0.1:0", &secrets).identity(ServerIdentity::Sim {
        dir: sim_dir.clone(),
        identity: Some(server_id_path),
    });
    let config = if snp {
        let policy = write(
            "snp_policy.json",
            &format!(
                r#"{{"identities":[{{"tee":"snp","measurement":"{}"}}]}}"#,
                "5a".repeat(48)
            ),
        )?;
        builder
            .policy(policy)
            .verifier(VerifierSettings {
                snp_simulated_arks: vec![sim_snp.join("ark.der")],
                ..VerifierSettings::default()
            })
            .build()?
    } else {
        builder
            .ra_config(&dynamic)
            .collateral(platform.collateral_path())
            .root(platform.root_ca_path(), true)
            .build()?
    };
    let server = BoundServer::bind(config).await?;
    let addr = server.local_addr()?.to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server.serve(async move {
        let _ = stop_rx.await;
    }));

    // Client side, prepared once: policy and collateral parsed once, one verifier (cached server verdict).
    let verifier = Verifier::new(
        TrustRoots::intel().with_root(platform.root_ca_der().to_vec(), RootKind::Simulated)?,
        Arc::new(StaticCollateral::from_files(&[platform.collateral_path()])?),
        Arc::new(Policy::from_occlum_config_file(&ra_config)?),
    );
    let server_verifier = Arc::new(AttestedServerVerifier::new(
        initra_ratls::verifier::ServerTrust::Attested(Arc::new(verifier)),
    )?);
    let attester: Box<dyn Attester> = if snp {
        Box::new(SimSnpPlatform::load(&sim_snp)?)
    } else {
        Box::new(SimAttester::new(Arc::clone(&platform), client_id)?)
    };

    println!(
        "initra load benchmark: fresh TCP + mutual RA-TLS handshake + GetSecrets per request, loopback, {} clients",
        if snp { "SEV-SNP (simulated)" } else { "SGX (simulated)" }
    );
    println!(
        "{:>4} {:>8} {:>14} {:>10} {:>10} {:>7}",
        "N", "requests", "deliveries/s", "p50 ms", "p99 ms", "errors"
    );
    for run in runs {
        // Keys, quotes and certificates of the N clients, before the timed phase.
        let mut clients = Vec::with_capacity(run.n);
        for _ in 0..run.n {
            let ra = RaTlsIdentity::generate(attester.as_ref(), &CertOptions::default())?;
            let cfg = ClientConfig {
                server: addr.clone(),
                identity: ClientIdentity::from_chain(ra.cert_chain(), ra.private_key()),
                server_trust: ServerTrust::Custom(Arc::clone(&server_verifier) as _),
                connect_timeout: Duration::from_secs(10),
                deadline: Duration::from_secs(30),
                retry: RetryPolicy::none(),
            };
            let mut c = SecretClient::connect(cfg).await?;
            c.get_secrets(&["cert"]).await?; // warm-up, untimed
            clients.push(c);
        }
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|base| {
                let next = Arc::clone(&next);
                let total = run.total;
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0usize;
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        let t = Instant::now();
                        let mut session = base.fresh();
                        match session.get_secrets(&["cert"]).await {
                            Ok(s)
                                if s.first().is_some_and(|(_, v)| {
                                    v.as_slice() == b"test sample certificates\n"
                                }) =>
                            {
                                lat.push(t.elapsed())
                            }
                            Ok(_) => errors += 1,
                            Err(e) => {
                                if errors == 0 {
                                    eprintln!("error: {e}");
                                }
                                errors += 1
                            }
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        let mut lat = Vec::with_capacity(run.total);
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await?;
            lat.extend(l);
            errors += e;
        }
        let elapsed = start.elapsed();
        lat.sort();
        let pct = |p: f64| {
            let i = ((lat.len() as f64 * p).ceil() as usize)
                .saturating_sub(1)
                .min(lat.len().saturating_sub(1));
            lat.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "{:>4} {:>8} {:>14.0} {:>10.2} {:>10.2} {:>7}",
            run.n,
            run.total,
            lat.len() as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            errors
        );
    }
    let _ = stop_tx.send(());
    server_task.await??;
    Ok(())
}
