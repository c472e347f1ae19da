//! Why a log directory could not be opened or written.

use std::io;
use std::path::PathBuf;

/// An error of plog-raft: opening (recovery) refuses a directory whose log is
/// damaged or incomplete, and names the segment, byte offset and index.
///
/// Nothing is deleted or changed when an open is refused. Match on
/// [`RaftLogError::kind`] for a stable name; more variants may come.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RaftLogError {
    /// A file or directory operation failed.
    #[error("{path}: could not {action}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another process (or another store in this process) holds the
    /// directory's lock.
    #[error("{dir}: the log directory is locked by another store (expected to take its LOCK file)")]
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// A file in the directory that plog-raft did not write.
    #[error(
        "{path}: foreign file in the log directory: expected only segments named \
         <20-digit first index>.plog, state.plog and LOCK (hidden files and \
         lost+found are left alone)"
    )]
    ForeignFile {
        /// The file.
        path: PathBuf,
    },
    /// The state file (vote, committed, purged) cannot be read.
    #[error("{path}: the state file is damaged: expected {expected}, found {found}")]
    BadState {
        /// The state file.
        path: PathBuf,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A segment holds damage that a crash does not leave: a hash mismatch,
    /// a damaged length, a bad magic, or a torn tail in a segment that is
    /// not the last.
    #[error("{segment}: corrupt at offset {offset}{index}: {detail}", index = fmt_index(*index))]
    Corrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the damage in the segment.
        offset: u64,
        /// The damaged record's index, where there is one.
        index: Option<u64>,
        /// What is wrong (expected against found).
        detail: String,
    },
    /// The Raft indices are not contiguous: inside a segment, between two
    /// segments (a missing segment), or a segment whose first record is not
    /// the index its name says.
    #[error(
        "{segment}: index gap at offset {offset}: expected index {expected}, found {found} ({detail})"
    )]
    Gap {
        /// The segment where the unexpected index was found (or, for a
        /// missing segment, the segment after the gap).
        segment: PathBuf,
        /// Byte offset of the record with the unexpected index.
        offset: u64,
        /// The index that should be there.
        expected: u64,
        /// The index that is there.
        found: u64,
        /// Which check failed.
        detail: &'static str,
    },
    /// A record's payload is not the serde_json of an entry whose log id
    /// has the record's index, or log ids go backwards between segments
    /// (a segment from another log).
    #[error("{segment}: record {index} at offset {offset}: {detail}")]
    BadEntry {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// The record's index field.
        index: u64,
        /// What is wrong.
        detail: String,
    },
    /// An append, truncate or purge that openraft must never ask for (a
    /// hole in the log).
    #[error("{0}")]
    Misuse(String),
    /// An earlier write failed; the store refuses further writes until it
    /// is reopened (a failed fdatasync cannot be retried safely).
    #[error("the log is poisoned by an earlier write failure: {0}")]
    Poisoned(String),
    /// plog-writer refused or failed.
    #[error(transparent)]
    Writer(#[from] plog_writer::WriteError),
}

fn fmt_index(index: Option<u64>) -> String {
    index.map_or_else(String::new, |i| format!(" (record index {i})"))
}

impl RaftLogError {
    /// A stable name of the variant: `"io"`, `"locked"`, `"foreign_file"`,
    /// `"bad_state"`, `"corrupt"`, `"gap"`, `"bad_entry"`, `"misuse"`,
    /// `"poisoned"`, `"writer"`.
    pub fn kind(&self) -> &'static str {
        match self {
            RaftLogError::Io { .. } => "io",
            RaftLogError::Locked { .. } => "locked",
            RaftLogError::ForeignFile { .. } => "foreign_file",
            RaftLogError::BadState { .. } => "bad_state",
            RaftLogError::Corrupt { .. } => "corrupt",
            RaftLogError::Gap { .. } => "gap",
            RaftLogError::BadEntry { .. } => "bad_entry",
            RaftLogError::Misuse(_) => "misuse",
            RaftLogError::Poisoned(_) => "poisoned",
            RaftLogError::Writer(_) => "writer",
        }
    }

    /// Whether the log directory holds damage (the open was refused and
    /// nothing was changed): `corrupt`, `gap`, `bad_entry`, `bad_state`,
    /// `foreign_file`.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            RaftLogError::Corrupt { .. }
                | RaftLogError::Gap { .. }
                | RaftLogError::BadEntry { .. }
                | RaftLogError::BadState { .. }
                | RaftLogError::ForeignFile { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        RaftLogError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
