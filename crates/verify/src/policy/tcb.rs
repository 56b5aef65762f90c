//! TCB statuses as reported by quote verification.

use core::fmt;
use core::str::FromStr;

/// A TCB status (Intel's names).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcbStatus {
    /// The platform is patched; the only status accepted by default.
    UpToDate,
    /// Patched, but software hardening (e.g. LVI mitigations) is needed.
    SWHardeningNeeded,
    /// Patched, but the platform configuration needs a change.
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// Not patched.
    OutOfDate,
    /// Not patched, and the configuration needs a change.
    OutOfDateConfigurationNeeded,
    /// TD 1.5: launched on an old TCB, current TCB fine: relaunch advised.
    TDRelaunchAdvised,
    /// TD relaunch advised and configuration needed.
    TDRelaunchAdvisedConfigurationNeeded,
    /// The platform's keys are revoked; never accepted.
    Revoked,
    /// A status this version does not know; never accepted.
    Unknown(String),
}

/// Every known status name, for error messages.
pub(crate) const KNOWN: [&str; 9] = [
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "TDRelaunchAdvised",
    "TDRelaunchAdvisedConfigurationNeeded",
    "Revoked",
];

impl TcbStatus {
    /// The status from a verifier's string; unknown names become [`TcbStatus::Unknown`].
    pub fn from_reported(s: &str) -> Self {
        s.parse()
            .unwrap_or_else(|_| TcbStatus::Unknown(s.to_owned()))
    }

    /// Intel's name.
    pub fn as_str(&self) -> &str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::TDRelaunchAdvised => "TDRelaunchAdvised",
            TcbStatus::TDRelaunchAdvisedConfigurationNeeded => {
                "TDRelaunchAdvisedConfigurationNeeded"
            }
            TcbStatus::Revoked => "Revoked",
            TcbStatus::Unknown(s) => s,
        }
    }
}

impl FromStr for TcbStatus {
    type Err = String;

    /// Parses a known status name (exact spelling); the error lists the valid names.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "UpToDate" => TcbStatus::UpToDate,
            "SWHardeningNeeded" => TcbStatus::SWHardeningNeeded,
            "ConfigurationNeeded" => TcbStatus::ConfigurationNeeded,
            "ConfigurationAndSWHardeningNeeded" => TcbStatus::ConfigurationAndSWHardeningNeeded,
            "OutOfDate" => TcbStatus::OutOfDate,
            "OutOfDateConfigurationNeeded" => TcbStatus::OutOfDateConfigurationNeeded,
            "TDRelaunchAdvised" => TcbStatus::TDRelaunchAdvised,
            "TDRelaunchAdvisedConfigurationNeeded" => {
                TcbStatus::TDRelaunchAdvisedConfigurationNeeded
            }
            "Revoked" => TcbStatus::Revoked,
            other => {
                return Err(format!(
                    "unknown TCB status {other:?} (expected one of {})",
                    KNOWN.join(", ")
                ))
            }
        })
    }
}

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TcbStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
