//! `plog repair` (being written).
use crate::error::CliError;
use std::path::PathBuf;
/// Arguments of `plog repair`.
#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// The log file.
    pub path: PathBuf,
}
/// Runs `plog repair`.
pub fn run(_args: RepairArgs) -> Result<u8, CliError> {
    Err(CliError::failed("not implemented yet"))
}
