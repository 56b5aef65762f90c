//! SEV-SNP TCB_VERSION (`docs/snp.md` §3): eight bytes whose layout depends on the product.

use core::fmt;

use serde::{Serialize, Serializer};

/// How the eight TCB bytes are laid out: Milan and Genoa share one layout, Turin adds an FMC SPL and
/// moves the others (AMD SEV-SNP ABI spec, "TCB_VERSION").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcbLayout {
    /// Milan / Genoa: `bootloader, tee, reserved[4], snp, microcode`.
    MilanGenoa,
    /// Turin: `fmc, bootloader, tee, snp, reserved[3], microcode`.
    Turin,
}

/// The security patch levels of a TCB_VERSION, decoded for one layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TcbParts {
    /// FMC SPL (Turin only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmc: Option<u8>,
    /// Boot loader SPL.
    pub bootloader: u8,
    /// PSP OS (TEE) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
}

impl TcbParts {
    /// The first component below `min` (`"snp 5 < required 8"`), if any; `fmc` is compared only when
    /// both have it.
    pub fn first_below(&self, min: &TcbParts) -> Option<String> {
        let pairs = [
            ("fmc", self.fmc, min.fmc),
            ("bootloader", Some(self.bootloader), Some(min.bootloader)),
            ("tee", Some(self.tee), Some(min.tee)),
            ("snp", Some(self.snp), Some(min.snp)),
            ("microcode", Some(self.microcode), Some(min.microcode)),
        ];
        pairs
            .into_iter()
            .find_map(|(name, have, want)| match (have, want) {
                (Some(have), Some(want)) if have < want => {
                    Some(format!("{name} {have} < required {want}"))
                }
                _ => None,
            })
    }
}

impl fmt::Display for TcbParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc={fmc} ")?;
        }
        write!(
            f,
            "bl={} tee={} snp={} ucode={}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

/// A TCB_VERSION as the eight bytes of the report. `Display` / serde: hex of those bytes
/// (`0300000000000873` = Milan bootloader 3, tee 0, snp 8, microcode 0x73).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcbVersion(pub [u8; 8]);

impl TcbVersion {
    /// The components under `layout`.
    pub fn parts(&self, layout: TcbLayout) -> TcbParts {
        let [b0, b1, b2, b3, _, _, b6, b7] = self.0;
        match layout {
            TcbLayout::MilanGenoa => TcbParts {
                fmc: None,
                bootloader: b0,
                tee: b1,
                snp: b6,
                microcode: b7,
            },
            TcbLayout::Turin => TcbParts {
                fmc: Some(b0),
                bootloader: b1,
                tee: b2,
                snp: b3,
                microcode: b7,
            },
        }
    }

    /// The TCB_VERSION with these components under `layout` (reserved bytes zero).
    pub fn from_parts(parts: &TcbParts, layout: TcbLayout) -> Self {
        match layout {
            TcbLayout::MilanGenoa => Self([
                parts.bootloader,
                parts.tee,
                0,
                0,
                0,
                0,
                parts.snp,
                parts.microcode,
            ]),
            TcbLayout::Turin => Self([
                parts.fmc.unwrap_or(0),
                parts.bootloader,
                parts.tee,
                parts.snp,
                0,
                0,
                0,
                parts.microcode,
            ]),
        }
    }

    /// As a little-endian number (how firmware and AMD's KDS URLs treat it).
    pub fn as_u64(&self) -> u64 {
        u64::from_le_bytes(self.0)
    }
}

impl fmt::Display for TcbVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for TcbVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for TcbVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_decode_and_round_trip() {
        let milan = TcbVersion([3, 0, 0, 0, 0, 0, 8, 0x73]);
        let p = milan.parts(TcbLayout::MilanGenoa);
        assert_eq!((p.bootloader, p.tee, p.snp, p.microcode), (3, 0, 8, 0x73));
        assert_eq!(p.to_string(), "bl=3 tee=0 snp=8 ucode=115");
        assert_eq!(TcbVersion::from_parts(&p, TcbLayout::MilanGenoa), milan);
        let turin = TcbVersion([1, 2, 3, 4, 0, 0, 0, 9]);
        let t = turin.parts(TcbLayout::Turin);
        assert_eq!(t.fmc, Some(1));
        assert_eq!(TcbVersion::from_parts(&t, TcbLayout::Turin), turin);
        assert_eq!(milan.to_string(), "0300000000000873");
    }

    #[test]
    fn first_below_names_the_component() {
        let have = TcbVersion([2, 0, 0, 0, 0, 0, 5, 0x44]).parts(TcbLayout::MilanGenoa);
        let want = TcbVersion([2, 0, 0, 0, 0, 0, 8, 0x44]).parts(TcbLayout::MilanGenoa);
        assert_eq!(have.first_below(&want).unwrap(), "snp 5 < required 8");
        assert_eq!(have.first_below(&have), None);
    }
}
