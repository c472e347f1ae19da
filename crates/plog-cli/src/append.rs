//! `plog append` (being written).
use crate::error::CliError;
use std::path::PathBuf;
/// Arguments of `plog append`.
#[derive(Debug, clap::Args)]
pub struct AppendArgs {
    /// The log file.
    pub path: PathBuf,
}
/// Runs `plog append`.
pub fn run(_args: AppendArgs) -> Result<u8, CliError> {
    Err(CliError::failed("not implemented yet"))
}
