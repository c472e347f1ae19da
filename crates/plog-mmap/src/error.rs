//! Errors of opening and replaying a log.

use std::path::{Path, PathBuf};

use plog_format::{Corruption, IndexViolation, TornTail};

/// A log could not be opened or refreshed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// An I/O operation on the file failed.
    #[error("cannot {operation} {path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `open`, `stat`, `seek` or `read`.
        operation: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file that is read into memory (not mapped) yields more bytes than
    /// the configured limit.
    #[error("{path} yields more than the read limit of {limit} bytes", path = path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit ([`OpenOptions::read_limit`](crate::OpenOptions::read_limit)).
        limit: u64,
    },
}

impl OpenError {
    pub(crate) fn io(path: &Path, operation: &'static str, source: std::io::Error) -> OpenError {
        OpenError::Io {
            path: path.to_path_buf(),
            operation,
            source,
        }
    }

    /// The stable kind: `"io"` or `"too_large"`.
    pub fn kind(&self) -> &'static str {
        match self {
            OpenError::Io { .. } => "io",
            OpenError::TooLarge { .. } => "too_large",
        }
    }
}

/// Why a replay failed: the first problem in file order.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file is damaged (any mode but salvage; the magic kinds in every
    /// mode). [`Corruption`] names the offset and the record.
    #[error("{0}")]
    Corrupt(Corruption),
    /// The file ends in a torn tail, and the replay was strict.
    #[error("strict replay: {0}")]
    Torn(TornTail),
    /// A valid record's payload is not the JSON of the requested type.
    #[error("record {index} at offset {offset}: cannot decode the payload: {source}")]
    Decode {
        /// Offset of the record's header.
        offset: u64,
        /// The record's index.
        index: u64,
        /// What serde_json found.
        #[source]
        source: serde_json::Error,
    },
    /// A valid record's index breaks the order the caller expects.
    #[error("{0}")]
    IndexOrder(IndexViolation),
}

impl ReplayError {
    /// The stable kind: a corruption's kind (`"hash_mismatch"`, `"length"`,
    /// `"bad_magic"`, `"unsupported_version"`), `"torn"`, `"decode"`,
    /// `"index_gap"` or `"index_order"`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplayError::Corrupt(corruption) => corruption.kind(),
            ReplayError::Torn(_) => "torn",
            ReplayError::Decode { .. } => "decode",
            ReplayError::IndexOrder(violation) => violation.kind_str(),
        }
    }

    /// Byte offset of the problem.
    pub fn offset(&self) -> u64 {
        match self {
            ReplayError::Corrupt(corruption) => corruption.offset(),
            ReplayError::Torn(tail) => tail.offset,
            ReplayError::Decode { offset, .. } => *offset,
            ReplayError::IndexOrder(violation) => violation.offset,
        }
    }

    /// The index of the record concerned, where there is one.
    pub fn index(&self) -> Option<u64> {
        match self {
            ReplayError::Corrupt(corruption) => corruption.index(),
            ReplayError::Torn(tail) => match tail.reason {
                plog_format::TornReason::PartialPayload { index, .. } => Some(index),
                _ => None,
            },
            ReplayError::Decode { index, .. } => Some(*index),
            ReplayError::IndexOrder(violation) => Some(violation.index),
        }
    }
}
