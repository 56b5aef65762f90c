//! The only `unsafe` code of the crate: Occlum's `/dev/sgx` DCAP quote ioctls.
//!
//! Occlum (`src/libos/src/fs/dev_fs/dev_sgx`): `SGXIOC_GET_DCAP_QUOTE_SIZE` = `_IOR('s', 7, u32)`
//! = 0x80047307 and `SGXIOC_GEN_DCAP_QUOTE` = `_IOWR('s', 8, struct)` = 0xc0187308 with
//! `struct { const u8 (*report_data)[64]; u32 *quote_size; u8 *quote_buf; }` (24 bytes).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::occlum::SgxDevice;

/// `SGXIOC_GEN_DCAP_QUOTE`'s argument, laid out as Occlum's C struct.
#[repr(C)]
pub(super) struct GenDcapQuoteArg {
    report_data: *const [u8; 64],
    quote_size: *mut u32,
    quote_buf: *mut u8,
}

nix::ioctl_read!(get_dcap_quote_size, b's', 7, u32);
nix::ioctl_readwrite!(gen_dcap_quote, b's', 8, GenDcapQuoteArg);

/// An open `/dev/sgx` of the Occlum LibOS.
#[derive(Debug)]
pub(super) struct DevSgx {
    file: File,
}

impl DevSgx {
    /// Opens the device read-write (the ioctls need it).
    pub(super) fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Self { file })
    }
}

impl SgxDevice for DevSgx {
    fn quote_size(&self) -> io::Result<u32> {
        let mut size: u32 = 0;
        // SAFETY: the fd is open for the lifetime of `self.file`; the kernel (Occlum LibOS) writes
        // one u32 through the pointer, which points at a live, aligned, writable local.
        unsafe { get_dcap_quote_size(self.file.as_raw_fd(), &mut size) }
            .map_err(io::Error::from)?;
        Ok(size)
    }

    fn gen_quote(&self, report_data: &[u8; 64], buf: &mut [u8]) -> io::Result<u32> {
        let mut size = u32::try_from(buf.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "quote buffer over 4 GiB"))?;
        let mut arg = GenDcapQuoteArg {
            report_data,
            quote_size: &mut size,
            quote_buf: buf.as_mut_ptr(),
        };
        // SAFETY: every pointer in `arg` refers to memory that outlives the call: `report_data`
        // (64 readable bytes), `size` (a writable u32 holding the buffer length) and `buf`
        // (`size` writable bytes). Occlum writes at most `size` bytes into `quote_buf`.
        unsafe { gen_dcap_quote(self.file.as_raw_fd(), &mut arg) }.map_err(io::Error::from)?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_codes_are_occlums() {
        assert_eq!(nix::request_code_read!(b's', 7, 4) as u32, 0x8004_7307);
        assert_eq!(
            nix::request_code_readwrite!(b's', 8, core::mem::size_of::<super::GenDcapQuoteArg>())
                as u32,
            0xc018_7308
        );
    }
}
