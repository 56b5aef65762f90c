use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::Backend;

macro_rules! sample {
    ($p:expr) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/", $p)
    };
}

const RD: [u8; 64] = [0x5a; 64];

/// The error of a selection that must fail (`Box<dyn Attester>` has no `Debug`).
fn err(r: Result<Box<dyn crate::Attester>, Error>) -> Error {
    match r {
        Ok(a) => panic!("expected an error, got the {} backend", a.backend()),
        Err(e) => e,
    }
}

/// A sample's bytes with its report data replaced by `rd` (offsets of docs/quote-formats.md §3/§4
/// and docs/snp.md §2).
fn evidence_with(path: &str, offset: usize, rd: &[u8; 64]) -> Vec<u8> {
    let mut bytes = initra_evidence::input::decode_evidence(&std::fs::read(path).unwrap()).unwrap();
    bytes[offset..offset + 64].copy_from_slice(rd);
    bytes
}

fn sgx_quote(rd: &[u8; 64]) -> Vec<u8> {
    let q = evidence_with(sample!("sgx/dcapqvl-sgx-v3/sgx_quote.bin"), 48 + 320, rd);
    assert_eq!(&Quote::parse(&q).unwrap().report_data().0, rd);
    q
}

fn tdx_quote(rd: &[u8; 64]) -> Vec<u8> {
    let q = evidence_with(sample!("tdx/dcapqvl-tdx-v4/tdx_quote.bin"), 48 + 520, rd);
    assert_eq!(&Quote::parse(&q).unwrap().report_data().0, rd);
    q
}

fn snp_report(rd: &[u8; 64]) -> Vec<u8> {
    evidence_with(sample!("snp/gosevguest/attestation.bin"), 0x50, rd)
}

// ---------------------------------------------------------------- Occlum

/// A fake `/dev/sgx`: announces `size`, writes `quote` and reports `returned` (default: its length).
struct FakeSgx {
    size: u32,
    quote: Vec<u8>,
    returned: Option<u32>,
}

impl SgxDevice for FakeSgx {
    fn quote_size(&self) -> io::Result<u32> {
        Ok(self.size)
    }

    fn gen_quote(&self, rd: &[u8; 64], buf: &mut [u8]) -> io::Result<u32> {
        assert_eq!(buf.len(), self.size as usize);
        let mut q = self.quote.clone();
        if q.len() >= 432 {
            q[368..432].copy_from_slice(rd);
        }
        let n = q.len().min(buf.len());
        buf[..n].copy_from_slice(&q[..n]);
        Ok(self.returned.unwrap_or(n as u32))
    }
}

fn occlum(dev: FakeSgx) -> Result<OcclumAttester, Error> {
    OcclumAttester::with_device(Box::new(dev), Path::new("/dev/sgx"))
}

#[test]
fn occlum_quote_from_fake_device() {
    let quote = sgx_quote(&[0; 64]);
    let a = occlum(FakeSgx {
        size: 8000,
        quote: quote.clone(),
        returned: Some(8000),
    })
    .unwrap();
    assert_eq!(a.backend(), Backend::Occlum);
    let got = a.quote(&RD).unwrap();
    // Zero padding up to the announced size is dropped.
    assert_eq!(got.len(), quote.len());
    assert_eq!(Quote::parse(&got).unwrap().report_data().0, RD);
}

#[test]
fn occlum_short_read_is_an_error() {
    let quote = sgx_quote(&[0; 64]);
    let a = occlum(FakeSgx {
        size: 1000,
        quote,
        returned: None,
    })
    .unwrap();
    let e = a.quote(&RD).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "/dev/sgx: invalid SGX DCAP quote: short read: the device returned 1000 bytes"
        ),
        "{e}"
    );
}

#[test]
fn occlum_size_errors() {
    let big = occlum(FakeSgx {
        size: 100,
        quote: vec![1; 100],
        returned: Some(200),
    })
    .unwrap();
    let e = big.quote(&RD).unwrap_err().to_string();
    assert!(
        e.contains("reported 200 bytes, more than the 100-byte buffer"),
        "{e}"
    );
    let e = occlum(FakeSgx {
        size: 0,
        quote: vec![],
        returned: None,
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("SGXIOC_GET_DCAP_QUOTE_SIZE: expected 1..="),
        "{e}"
    );
}

#[test]
fn occlum_missing_and_wrong_device() {
    let dir = tempfile::tempdir().unwrap();
    let roots = DeviceRoots::under(dir.path());
    let e = err(select("occlum", &roots)).to_string();
    assert!(
        e.starts_with("occlum attestation is not supported: "),
        "{e}"
    );
    assert!(e.contains("dev/sgx: open"), "{e}");
    // A regular file does not answer the ioctl.
    std::fs::create_dir_all(dir.path().join("dev")).unwrap();
    std::fs::write(&roots.sgx_device, b"").unwrap();
    let e = err(select("occlum", &roots)).to_string();
    assert!(e.contains("SGXIOC_GET_DCAP_QUOTE_SIZE"), "{e}");
}

// ---------------------------------------------------------------- Gramine

fn gramine_tree(kind: &str, quote: Option<Vec<u8>>) -> (tempfile::TempDir, DeviceRoots) {
    let dir = tempfile::tempdir().unwrap();
    let roots = DeviceRoots::under(dir.path());
    std::fs::create_dir_all(&roots.attestation_dir).unwrap();
    std::fs::write(roots.attestation_dir.join("attestation_type"), kind).unwrap();
    std::fs::write(roots.attestation_dir.join("user_report_data"), [0u8; 64]).unwrap();
    if let Some(q) = quote {
        std::fs::write(roots.attestation_dir.join("quote"), q).unwrap();
    }
    (dir, roots)
}

#[test]
fn gramine_quote_from_fake_tree() {
    let (_dir, roots) = gramine_tree("dcap\n", Some(sgx_quote(&RD)));
    let a = select("gramine", &roots).unwrap();
    assert_eq!(a.backend(), Backend::Gramine);
    let q = a.quote(&RD).unwrap();
    assert_eq!(Quote::parse(&q).unwrap().report_data().0, RD);
    assert_eq!(
        std::fs::read(roots.attestation_dir.join("user_report_data")).unwrap(),
        RD
    );
}

#[test]
fn gramine_errors() {
    let (_dir, roots) = gramine_tree("epid", None);
    let e = err(select("gramine", &roots)).to_string();
    assert!(
        e.contains("attestation_type: expected \"dcap\", got \"epid\""),
        "{e}"
    );

    let (_dir, roots) = gramine_tree("dcap", Some(sgx_quote(&[1; 64])));
    let e = select("gramine", &roots)
        .unwrap()
        .quote(&RD)
        .unwrap_err()
        .to_string();
    assert!(e.contains("report_data: expected 5a5a"), "{e}");
    assert!(e.contains("stale evidence"), "{e}");

    let (_dir, roots) = gramine_tree("dcap", Some(sgx_quote(&RD)[..600].to_vec()));
    let e = select("gramine", &roots)
        .unwrap()
        .quote(&RD)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("quote: invalid SGX DCAP quote: short read"),
        "{e}"
    );

    let (_dir, roots) = gramine_tree("dcap", None);
    std::fs::remove_dir_all(&roots.attestation_dir).unwrap();
    let e = err(select("gramine", &roots)).to_string();
    assert!(
        e.starts_with("gramine attestation is not supported: "),
        "{e}"
    );
}

// ---------------------------------------------------------------- configfs-tsm

/// What the fake kernel puts in `outblob` for the report data written to `inblob`.
type MakeOutblob = Box<dyn Fn(&[u8; 64]) -> Vec<u8> + Send + Sync>;

/// Emulates the kernel side of configfs-tsm over a temporary directory.
struct FakeKernel {
    provider: String,
    outblob: MakeOutblob,
    auxblob: Option<Vec<u8>>,
    /// Extra generation bumps per inblob write (another writer racing).
    race: u64,
    mkdirs: AtomicUsize,
    rmdirs: AtomicUsize,
    generation: AtomicU64,
    last_entry: Mutex<Option<PathBuf>>,
}

impl FakeKernel {
    fn new(provider: &str, outblob: impl Fn(&[u8; 64]) -> Vec<u8> + Send + Sync + 'static) -> Self {
        Self {
            provider: provider.into(),
            outblob: Box::new(outblob),
            auxblob: None,
            race: 0,
            mkdirs: AtomicUsize::new(0),
            rmdirs: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            last_entry: Mutex::new(None),
        }
    }
}

impl TsmFs for FakeKernel {
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)?;
        self.mkdirs.fetch_add(1, Ordering::SeqCst);
        std::fs::write(path.join("provider"), format!("{}\n", self.provider))?;
        std::fs::write(path.join("generation"), "0\n")?;
        self.generation.store(0, Ordering::SeqCst);
        *self.last_entry.lock().unwrap() = Some(path.to_owned());
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        self.rmdirs.fetch_add(1, Ordering::SeqCst);
        std::fs::remove_dir_all(path)
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>, Error> {
        RealTsmFs.read(path)
    }

    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        std::fs::write(path, data)?;
        if path.file_name().is_some_and(|n| n == "inblob") {
            let dir = path.parent().unwrap();
            let rd: [u8; 64] = data.try_into().unwrap();
            std::fs::write(dir.join("outblob"), (self.outblob)(&rd))?;
            if let Some(aux) = &self.auxblob {
                std::fs::write(dir.join("auxblob"), aux)?;
            }
            let g = self.generation.fetch_add(1 + self.race, Ordering::SeqCst) + 1 + self.race;
            std::fs::write(dir.join("generation"), format!("{g}\n"))?;
        }
        Ok(())
    }
}

fn tsm(
    kernel: FakeKernel,
    want: Option<TsmProvider>,
) -> (
    tempfile::TempDir,
    Arc<FakeKernel>,
    Result<TsmAttester, Error>,
) {
    let dir = tempfile::tempdir().unwrap();
    let report_dir = DeviceRoots::under(dir.path()).tsm_report_dir;
    std::fs::create_dir_all(&report_dir).unwrap();
    let kernel = Arc::new(kernel);
    let a = TsmAttester::with_fs(kernel.clone(), &report_dir, want);
    (dir, kernel, a)
}

fn entries_left(dir: &tempfile::TempDir) -> usize {
    std::fs::read_dir(DeviceRoots::under(dir.path()).tsm_report_dir)
        .unwrap()
        .count()
}

#[test]
fn tsm_tdx_quote() {
    let (dir, kernel, a) = tsm(
        FakeKernel::new("tdx_guest", tdx_quote),
        Some(TsmProvider::Tdx),
    );
    let a = a.unwrap();
    assert_eq!(a.backend(), Backend::Tdx);
    let q = a.quote(&RD).unwrap();
    let q = Quote::parse(&q).unwrap();
    assert_eq!(q.tee(), Tee::Tdx);
    assert_eq!(q.report_data().0, RD);
    // The probe entry and the report entry were both removed.
    assert_eq!(kernel.mkdirs.load(Ordering::SeqCst), 2);
    assert_eq!(kernel.rmdirs.load(Ordering::SeqCst), 2);
    assert_eq!(entries_left(&dir), 0);
}

/// The whole SEV-SNP path short of the hardware: a kernel whose `sev_guest` reports are signed by
/// the simulated SNP platform and whose `auxblob` is its certificate table. `evidence()` hands the
/// table over as endorsements, and the verifier accepts report and table as they come, under the
/// simulated ARK only.
#[test]
fn tsm_snp_evidence_with_auxblob_verifies_end_to_end() {
    use initra_verify::{Policy, SnpRoots, StaticCollateral, TrustRoots, Verifier};
    let sim_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sim-snp");
    let platform = Arc::new(crate::sim::snp::SimSnpPlatform::load(Path::new(sim_dir)).unwrap());
    let signer = platform.clone();
    let mut k = FakeKernel::new("sev_guest", move |rd| {
        signer.report(&initra_evidence::ReportData(*rd)).unwrap()
    });
    k.auxblob = Some(platform.cert_table());
    let (_dir, _k, a) = tsm(k, Some(TsmProvider::Snp));
    let got = a.unwrap().evidence(&RD).unwrap();
    let table = got.endorsements.as_deref().unwrap();

    let verifier = |roots: SnpRoots| {
        Verifier::new(
            TrustRoots::intel(),
            Arc::new(StaticCollateral::from_files::<&str>(&[]).unwrap()),
            Arc::new(Policy::default()),
        )
        .with_snp_roots(roots)
    };
    let trusted = SnpRoots::amd()
        .with_simulated_ark(platform.ark_der().to_vec())
        .unwrap();
    let v = verifier(trusted)
        .verify_evidence(&got.evidence, Some(table), std::time::SystemTime::now())
        .unwrap();
    assert!(v.is_accepted() && v.simulated(), "{:?}", v.decision());
    assert_eq!(v.claims().report_data().0, RD);
    let e = verifier(SnpRoots::amd())
        .verify_evidence(&got.evidence, Some(table), std::time::SystemTime::now())
        .unwrap_err()
        .to_string();
    assert!(e.contains("none of the trusted ARKs"), "{e}");
    // Without the table there is no VCEK to verify with: invalid, saying what is missing.
    let e = verifier(SnpRoots::amd())
        .verify_evidence(&got.evidence, None, std::time::SystemTime::now())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no VCEK") && e.contains("--kds-url"), "{e}");
}

#[test]
fn tsm_snp_report_with_auxblob() {
    let mut k = FakeKernel::new("sev_guest", snp_report);
    k.auxblob = Some(vec![0u8; 24]);
    let (dir, _k, a) = tsm(k, None);
    let a = a.unwrap();
    assert_eq!(a.backend(), Backend::Snp);
    let r = a.report(&RD).unwrap();
    assert_eq!(r.provider, TsmProvider::Snp);
    assert_eq!(r.generation, 1);
    assert_eq!(r.auxblob.as_deref(), Some(&[0u8; 24][..]));
    let parsed = initra_evidence::snp::SnpReport::parse(&r.outblob).unwrap();
    assert_eq!(parsed.report_data.0, RD);
    assert_eq!(entries_left(&dir), 0);
}

#[test]
fn tsm_provider_mismatch() {
    let (dir, _k, a) = tsm(
        FakeKernel::new("sev_guest", snp_report),
        Some(TsmProvider::Tdx),
    );
    let e = a.unwrap_err().to_string();
    assert!(e.starts_with("provider: "), "{e}");
    assert!(
        e.ends_with("/provider: expected tdx_guest, got \"sev_guest\""),
        "{e}"
    );
    assert_eq!(entries_left(&dir), 0);
    let (_dir, _k, a) = tsm(FakeKernel::new("arm_cca_guest", snp_report), None);
    let e = a.unwrap_err().to_string();
    assert!(
        e.ends_with("expected tdx_guest or sev_guest, got \"arm_cca_guest\""),
        "{e}"
    );
}

#[test]
fn tsm_generation_race() {
    let mut k = FakeKernel::new("tdx_guest", tdx_quote);
    k.race = 1;
    let (dir, kernel, a) = tsm(k, Some(TsmProvider::Tdx));
    let e = a.unwrap().quote(&RD).unwrap_err().to_string();
    assert!(e.starts_with("generation: "), "{e}");
    assert!(
        e.contains("expected 1 after writing inblob, got 2: another writer"),
        "{e}"
    );
    assert_eq!(
        kernel.rmdirs.load(Ordering::SeqCst),
        kernel.mkdirs.load(Ordering::SeqCst)
    );
    assert_eq!(entries_left(&dir), 0);
}

#[test]
fn tsm_short_read_and_wrong_evidence() {
    let (_d, _k, a) = tsm(
        FakeKernel::new("tdx_guest", |rd| tdx_quote(rd)[..1000].to_vec()),
        Some(TsmProvider::Tdx),
    );
    let e = a.unwrap().quote(&RD).unwrap_err().to_string();
    assert!(
        e.contains("outblob: invalid TDX quote: short read: the device returned 1000 bytes"),
        "{e}"
    );
    // An SGX quote where a TDX quote belongs.
    let (_d, _k, a) = tsm(
        FakeKernel::new("tdx_guest", sgx_quote),
        Some(TsmProvider::Tdx),
    );
    let e = a.unwrap().quote(&RD).unwrap_err().to_string();
    assert!(e.contains("expected a TDX quote, got an SGX quote"), "{e}");
    let (_d, _k, a) = tsm(
        FakeKernel::new("sev_guest", |rd| snp_report(rd)[..0x2A0].to_vec()),
        Some(TsmProvider::Snp),
    );
    let e = a.unwrap().quote(&RD).unwrap_err().to_string();
    assert!(e.contains("invalid SEV-SNP report: short read"), "{e}");
}

#[test]
fn tsm_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let roots = DeviceRoots::under(dir.path());
    let e = err(select("tdx", &roots)).to_string();
    assert!(e.starts_with("tdx attestation is not supported: "), "{e}");
    assert!(
        e.contains("not found (configfs-tsm needs Linux >= 6.7"),
        "{e}"
    );
    let e = err(select("snp", &roots)).to_string();
    assert!(e.starts_with("snp attestation is not supported: "), "{e}");
}

// ---------------------------------------------------------------- detect / select

#[test]
fn detect_names_every_probe_and_never_picks_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let roots = DeviceRoots::under(dir.path());
    let e = err(select("auto", &roots)).to_string();
    assert!(e.starts_with("tee: no TEE found"), "{e}");
    assert!(
        e.contains("occlum: ") && e.contains("dev/sgx: not found"),
        "{e}"
    );
    assert!(
        e.contains("gramine: ") && e.contains("attestation_type: not found"),
        "{e}"
    );
    assert!(
        e.contains("configfs-tsm: ") && e.contains("tsm/report: not found"),
        "{e}"
    );
}

#[test]
fn detect_finds_gramine_after_a_non_occlum_sgx_device() {
    let (dir, roots) = gramine_tree("dcap", Some(sgx_quote(&RD)));
    std::fs::write(&roots.sgx_device, b"").unwrap();
    let a = detect(&roots).unwrap();
    assert_eq!(a.backend(), Backend::Gramine);
    drop(dir);
}

#[test]
fn detect_reports_an_unusable_tsm_directory() {
    let dir = tempfile::tempdir().unwrap();
    let roots = DeviceRoots::under(dir.path());
    // A plain directory: mkdir works but creates no `provider` attribute.
    std::fs::create_dir_all(&roots.tsm_report_dir).unwrap();
    let e = err(detect(&roots)).to_string();
    assert!(
        e.contains("configfs-tsm: ") && e.contains("/provider: "),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(&roots.tsm_report_dir).unwrap().count(), 0);
}

#[test]
fn select_rejects_unknown_names_and_sim() {
    let roots = DeviceRoots::under("/nonexistent");
    let e = err(select("sev", &roots)).to_string();
    assert_eq!(
        e,
        "tee: expected one of auto, occlum, gramine, tdx, snp, got \"sev\""
    );
    for sim in ["sim", "sim-snp"] {
        let e = err(select(sim, &roots)).to_string();
        assert!(
            e.starts_with(&format!(
                "tee: {sim:?} is the simulated platform, not a hardware backend"
            )),
            "{e}"
        );
        assert!(e.contains("--sim DIR"), "{e}");
    }
}

#[test]
fn default_roots_are_the_real_paths() {
    let r = DeviceRoots::default();
    assert_eq!(r.sgx_device, Path::new("/dev/sgx"));
    assert_eq!(r.attestation_dir, Path::new("/dev/attestation"));
    assert_eq!(r.tsm_report_dir, Path::new("/sys/kernel/config/tsm/report"));
}
