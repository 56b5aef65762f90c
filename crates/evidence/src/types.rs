//! Typed fixed-size values of attestation reports.
//!
//! Each is built with `TryFrom<&[u8]>` (failing with [`Error::LengthMismatch`], never padding or
//! truncating) or `FromStr` from hex; `Debug`, `Display` and serde use lower-case hex.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

macro_rules! fixed_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr, $field:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Size in bytes.
            pub const LEN: usize = $len;

            /// The bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Whether every byte is zero.
            pub fn is_zero(&self) -> bool {
                self.0.iter().all(|b| *b == 0)
            }

            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self([0u8; $len])
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(value: [u8; $len]) -> Self {
                Self(value)
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = Error;

            fn try_from(value: &[u8]) -> Result<Self, Error> {
                <[u8; $len]>::try_from(value)
                    .map(Self)
                    .map_err(|_| Error::LengthMismatch {
                        field: $field,
                        expected: $len,
                        actual: value.len(),
                    })
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                let s = s.trim();
                let s = s.strip_prefix("0x").unwrap_or(s);
                let bytes = hex::decode(s).map_err(|e| Error::InvalidHex {
                    reason: format!("{}: {e}", $field),
                })?;
                Self::try_from(bytes.as_slice())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fixed_bytes!(
    /// A 32-byte SGX measurement (MRENCLAVE, MRSIGNER).
    Measurement, 32, "measurement"
);
fixed_bytes!(
    /// A 48-byte TDX measurement (MRTD, RTMRn, MRSEAM, MRCONFIGID, MROWNER, ...).
    Measurement48, 48, "measurement48"
);
fixed_bytes!(
    /// The 64 bytes of report data chosen by the attested software.
    ReportData, 64, "report_data"
);
fixed_bytes!(
    /// SGX CPU security version (16 bytes).
    CpuSvn, 16, "cpu_svn"
);
fixed_bytes!(
    /// TDX TEE TCB SVN (16 bytes).
    TeeTcbSvn, 16, "tee_tcb_svn"
);
fixed_bytes!(
    /// SGX CONFIGID (64 bytes).
    ConfigId, 64, "config_id"
);
fixed_bytes!(
    /// SGX ISV family id (16 bytes).
    IsvFamilyId, 16, "isv_family_id"
);
fixed_bytes!(
    /// SGX ISV extended product id (16 bytes).
    IsvExtProdId, 16, "isv_ext_prod_id"
);

fixed_bytes!(
    /// TDX TD attributes (8 bytes, little-endian as in the report); bit 0 = DEBUG.
    TdAttributes, 8, "td_attributes"
);
fixed_bytes!(
    /// TDX XFAM (8 bytes, little-endian as in the report).
    Xfam, 8, "xfam"
);
fixed_bytes!(
    /// TDX SEAM attributes (8 bytes).
    SeamAttributes, 8, "seam_attributes"
);

fixed_bytes!(
    /// SEV-SNP HOST_DATA: 32 bytes chosen by the host at launch (`docs/snp.md` §2).
    HostData, 32, "host_data"
);
fixed_bytes!(
    /// SEV-SNP CHIP_ID: 64 bytes identifying the processor (Turin: 8 significant bytes).
    ChipId, 64, "chip_id"
);
fixed_bytes!(
    /// SEV-SNP REPORT_ID / REPORT_ID_MA (32 bytes).
    ReportId, 32, "report_id"
);
fixed_bytes!(
    /// SEV-SNP FAMILY_ID / IMAGE_ID from the ID block (16 bytes).
    GuestId16, 16, "family_id"
);

impl TdAttributes {
    /// The attributes as a number.
    pub fn as_u64(&self) -> u64 {
        u64::from_le_bytes(self.0)
    }

    /// The TD is under debug: any TUD bit (bits 0..=7: DEBUG, and the bits reserved for other
    /// debug features such as TD profiling) is set, so the host can observe or alter it. Intel's
    /// quote verification treats every TUD bit alike, and so do we.
    pub fn is_debug(&self) -> bool {
        self.as_u64() & 0xff != 0
    }
}

/// SGX enclave attributes (SECS.ATTRIBUTES): 8 bytes of flags and 8 bytes of XFRM, little-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Attributes {
    /// ATTRIBUTES.FLAGS (bit 0 INIT, bit 1 DEBUG, bit 2 MODE64BIT, ...).
    pub flags: u64,
    /// ATTRIBUTES.XFRM.
    pub xfrm: u64,
}

impl Attributes {
    /// The DEBUG flag (bit 1).
    pub const FLAG_DEBUG: u64 = 1 << 1;

    /// Whether the enclave is debuggable (its memory can be read by the host).
    pub fn is_debug(&self) -> bool {
        self.flags & Self::FLAG_DEBUG != 0
    }

    /// The 16 bytes as they appear in the report.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let (flags, xfrm) = out.split_at_mut(8);
        flags.copy_from_slice(&self.flags.to_le_bytes());
        xfrm.copy_from_slice(&self.xfrm.to_le_bytes());
        out
    }
}

impl From<[u8; 16]> for Attributes {
    fn from(b: [u8; 16]) -> Self {
        let (flags, xfrm) = b.split_at(8);
        let mut f = [0u8; 8];
        let mut x = [0u8; 8];
        f.copy_from_slice(flags);
        x.copy_from_slice(xfrm);
        Self {
            flags: u64::from_le_bytes(f),
            xfrm: u64::from_le_bytes(x),
        }
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.to_bytes()))
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.to_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    #[test]
    fn length_mismatch_names_field() {
        let err = Measurement::try_from(&[0u8; 31][..]).unwrap_err();
        assert_eq!(err.to_string(), "measurement: expected 32 bytes, got 31");
        let m: Measurement = "0x".to_owned().add_hex(32).parse().unwrap();
        assert!(m.is_zero());
        assert!("zz".parse::<Measurement>().is_err());
    }

    trait AddHex {
        fn add_hex(self, n: usize) -> String;
    }
    impl AddHex for String {
        fn add_hex(mut self, n: usize) -> String {
            self.push_str(&"00".repeat(n));
            self
        }
    }

    #[test]
    fn attributes_debug_bit() {
        let a = Attributes::from([7, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]);
        assert!(a.is_debug());
        assert_eq!(a.to_string(), "0700000000000000e700000000000000");
        assert!(!Attributes::from([5; 16]).is_debug());
    }
}
