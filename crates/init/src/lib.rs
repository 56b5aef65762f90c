//! The initra launcher: attest, fetch secrets, unlock the image, place the secrets, exec the application.
//!
//! The steps, in order (docs/init-config.md §4):
//! 1. read `init_ra_conf.json` (Occlum's fields as-is, plus initra's `initra` object);
//! 2. on a host without a TEE, enter a private mount namespace (before any thread exists);
//! 3. create an RA-TLS identity, attest to the secret server and fetch every secret in one session;
//! 4. verify and unlock the root filesystem image into memory-backed storage;
//! 5. write each secret atomically with mode 0600;
//! 6. zero the secrets held in memory and exec the application.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

pub mod config;
pub mod exec;
pub mod private_ns;
pub mod run;
pub mod secret_file;

use std::path::PathBuf;

pub use run::{launch, LaunchError, LaunchOptions, Placement};

/// Everything that can stop `init` before the application starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid JSON of the expected shape.
    #[error("{path}: {message}")]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the field and line).
        message: String,
    },
    /// A configuration field has an invalid value.
    #[error("{path}: field `{field}`: {message}")]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// The offending field.
        field: String,
        /// Expected vs actual.
        message: String,
    },
    /// An environment variable overriding the configuration has an invalid value.
    #[error("environment variable {var}: {message}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Expected vs actual.
        message: String,
    },
    /// A command-line option has an invalid value.
    #[error("{option}: {message}")]
    InvalidOption {
        /// The option, e.g. `--tee`.
        option: &'static str,
        /// Expected vs actual.
        message: String,
    },
    /// Setting up the private namespace failed.
    #[error("private namespace: {step}: {source}")]
    Namespace {
        /// The step that failed.
        step: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A target path cannot be placed privately.
    #[error("cannot place {path} privately: {message}")]
    Placement {
        /// The target.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Writing a secret file failed.
    #[error("cannot write secret to {path}: {source}")]
    WriteSecret {
        /// The target.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No command was configured or given.
    #[error("no command to run: give `-- COMMAND ARGS...` or set `initra.command` in the config")]
    NoCommand,
    /// `exec` failed.
    #[error("cannot exec {program}: {message}")]
    Exec {
        /// The program.
        program: String,
        /// Why.
        message: String,
    },
}
