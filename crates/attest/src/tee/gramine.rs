//! Gramine: SGX DCAP quotes from the `/dev/attestation` pseudo-files (docs/tee-backends.md §3).

use std::path::{Path, PathBuf};

use initra_evidence::quote::Tee;

use super::{check_evidence, read_bounded, Expect};
use crate::{Attester, Backend, Error};

/// SGX DCAP quotes from Gramine's `/dev/attestation`: `attestation_type` must say `dcap`; write the
/// report data to `user_report_data`, read `quote`.
#[derive(Debug)]
pub struct GramineAttester {
    dir: PathBuf,
    // One quote at a time: `user_report_data` then `quote` is a two-step protocol on shared files.
    lock: std::sync::Mutex<()>,
}

impl GramineAttester {
    /// Opens `dir` (normally `/dev/attestation`) and checks that `attestation_type` is `dcap`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let type_file = dir.join("attestation_type");
        let kind = std::fs::read(&type_file).map_err(|e| Error::Unsupported {
            backend: Backend::Gramine,
            reason: format!("{}: {e}", type_file.display()),
        })?;
        let kind = String::from_utf8_lossy(&kind);
        let kind = kind.trim_end_matches(['\0', '\n', ' ']);
        if kind != "dcap" {
            return Err(Error::Unsupported {
                backend: Backend::Gramine,
                reason: format!(
                    "{}: expected \"dcap\", got {kind:?} (set sgx.remote_attestation = \"dcap\" in the manifest)",
                    type_file.display()
                ),
            });
        }
        Ok(Self {
            dir: dir.to_owned(),
            lock: std::sync::Mutex::new(()),
        })
    }
}

impl Attester for GramineAttester {
    fn backend(&self) -> Backend {
        Backend::Gramine
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Error> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rd_file = self.dir.join("user_report_data");
        std::fs::write(&rd_file, report_data).map_err(|e| Error::io(&rd_file, e))?;
        let quote_file = self.dir.join("quote");
        let bytes = read_bounded(&quote_file)?;
        check_evidence(&bytes, Expect::Quote(Tee::Sgx), report_data, &quote_file)
    }
}
