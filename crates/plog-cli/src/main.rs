//! `plog`: verify, inspect, repair and append engenho-store persistent logs.
//!
//! See `plog --help` and the README for every subcommand and exit status.

mod append;
mod dump;
mod error;
mod paths;
mod progress;
mod repair;
mod stat;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit statuses, shared by every subcommand.
pub mod exit {
    /// Every file is clean / the command did what was asked.
    pub const OK: u8 = 0;
    /// Corruption was found (or, with `--strict`, a torn tail).
    pub const CORRUPT: u8 = 1;
    /// A file could not be read or written, or the command line was wrong.
    pub const ERROR: u8 = 2;
    /// No corruption, but some file ends in a torn tail.
    pub const TORN: u8 = 3;
}

const AFTER_HELP: &str = "\
Exit status (every subcommand):
  0  every file is clean / the command did what was asked
  1  corruption found (with --strict, a torn tail counts as corruption)
  2  a file could not be read or written, or bad usage
  3  no corruption, but some file ends in a torn tail
When several apply, the first in the order 1, 2, 3, 0 wins.";

/// Verify, inspect, repair and append engenho-store persistent logs (format v1).
#[derive(Debug, Parser)]
#[command(name = "plog", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify logs: structure, every BLAKE3 hash, optionally index order.
    ///
    /// PATHs are files or directories (every regular file below a directory,
    /// in sorted order). Files are verified in parallel with each other and
    /// within each file.
    Verify(verify::VerifyArgs),
    /// Print the records of a log in file order.
    Dump(dump::DumpArgs),
    /// Statistics of a log: records, index range, gaps and repeats, payload sizes.
    Stat(stat::StatArgs),
    /// Repair a log: cut a torn tail, or salvage the valid records into a new log.
    Repair(repair::RepairArgs),
    /// Append JSON Lines from stdin, one record per line, durably.
    Append(append::AppendArgs),
}

/// `--expect`: the index order a verification checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExpectOrder {
    /// Each index is the previous one plus one.
    Contiguous,
    /// Each index is greater than the previous one.
    Increasing,
}

impl From<ExpectOrder> for plog_format::IndexOrder {
    fn from(order: ExpectOrder) -> Self {
        match order {
            ExpectOrder::Contiguous => plog_format::IndexOrder::Contiguous,
            ExpectOrder::Increasing => plog_format::IndexOrder::Increasing,
        }
    }
}

/// A single log path argument.
#[derive(Debug, Clone, clap::Args)]
pub struct LogPath {
    /// The log file.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    let result = match cli.command {
        Command::Verify(args) => verify::run(args),
        Command::Dump(args) => dump::run(args),
        Command::Stat(args) => stat::run(args),
        Command::Repair(args) => repair::run(args),
        Command::Append(args) => append::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("plog: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
