//! One module per subcommand family. Each parses nothing itself beyond its clap structs and calls the
//! library crate that does the work.

pub(crate) mod collateral;
pub(crate) mod common;
pub(crate) mod image;
pub(crate) mod init;
pub(crate) mod quote;
pub(crate) mod ratls;
pub(crate) mod secret;
pub(crate) mod server;
pub(crate) mod sim;
