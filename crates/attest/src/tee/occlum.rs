//! Occlum: SGX DCAP quotes from the LibOS's `/dev/sgx` ioctls (docs/tee-backends.md §2).

use std::io;
use std::path::{Path, PathBuf};

use initra_evidence::quote::Tee;

use super::ioctl::DevSgx;
use super::{check_evidence, Expect, MAX_EVIDENCE_LEN};
use crate::{Attester, Backend, Error};

/// The two DCAP ioctls of Occlum's `/dev/sgx`; a seam so tests drive a fake device.
pub trait SgxDevice: Send + Sync {
    /// `SGXIOC_GET_DCAP_QUOTE_SIZE`: the size of the quote buffer to pass to [`Self::gen_quote`].
    fn quote_size(&self) -> io::Result<u32>;

    /// `SGXIOC_GEN_DCAP_QUOTE`: writes a quote over `report_data` into `buf`; returns the size
    /// the device reports (the quote may be followed by zero padding).
    fn gen_quote(&self, report_data: &[u8; 64], buf: &mut [u8]) -> io::Result<u32>;
}

/// SGX DCAP quotes from Occlum's `/dev/sgx`.
pub struct OcclumAttester {
    device: Box<dyn SgxDevice>,
    path: PathBuf,
}

impl core::fmt::Debug for OcclumAttester {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OcclumAttester")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl OcclumAttester {
    /// Opens `path` (normally `/dev/sgx`) and probes it with the quote-size ioctl, so a device
    /// that is not Occlum's fails here, not at the first quote.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let device = DevSgx::open(path).map_err(|e| unsupported(path, "open", &e))?;
        Self::with_device(Box::new(device), path)
    }

    /// An attester over any [`SgxDevice`] (`path` names it in errors); probes the quote size.
    pub fn with_device(device: Box<dyn SgxDevice>, path: &Path) -> Result<Self, Error> {
        let attester = Self {
            device,
            path: path.to_owned(),
        };
        attester.quote_size()?;
        Ok(attester)
    }

    fn quote_size(&self) -> Result<usize, Error> {
        let size = self
            .device
            .quote_size()
            .map_err(|e| unsupported(&self.path, "SGXIOC_GET_DCAP_QUOTE_SIZE", &e))?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size == 0 || size > MAX_EVIDENCE_LEN {
            return Err(Error::InvalidFile {
                path: self.path.clone(),
                what: "SGX DCAP quote",
                reason: format!(
                    "SGXIOC_GET_DCAP_QUOTE_SIZE: expected 1..={MAX_EVIDENCE_LEN}, got {size}"
                ),
            });
        }
        Ok(size)
    }
}

fn unsupported(path: &Path, op: &str, e: &io::Error) -> Error {
    Error::Unsupported {
        backend: Backend::Occlum,
        reason: format!("{}: {op}: {e} (not Occlum's SGX device?)", path.display()),
    }
}

impl Attester for OcclumAttester {
    fn backend(&self) -> Backend {
        Backend::Occlum
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Error> {
        let size = self.quote_size()?;
        let mut buf = vec![0u8; size];
        let returned = self
            .device
            .gen_quote(report_data, &mut buf)
            .map_err(|e| Error::io(&self.path, e))?;
        let returned = usize::try_from(returned).unwrap_or(usize::MAX);
        let quote = buf.get(..returned).ok_or_else(|| Error::InvalidFile {
            path: self.path.clone(),
            what: "SGX DCAP quote",
            reason: format!(
                "SGXIOC_GEN_DCAP_QUOTE reported {returned} bytes, more than the {size}-byte buffer"
            ),
        })?;
        check_evidence(quote, Expect::Quote(Tee::Sgx), report_data, &self.path)
    }
}
