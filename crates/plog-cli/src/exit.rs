//! Exit statuses, shared by every subcommand (`plog --help` lists them).

/// Every file is clean / the command did what was asked.
pub const OK: u8 = 0;
/// Corruption was found (or, with `--strict`, a torn tail).
pub const CORRUPT: u8 = 1;
/// A file could not be read or written, or the command line was wrong.
pub const ERROR: u8 = 2;
/// No corruption, but some file ends in a torn tail.
pub const TORN: u8 = 3;
