//! Errors of opening and replaying a log.

use std::path::{Path, PathBuf};

use plog_format::{Corruption, IndexViolation, ParseError, Problem, TornTail};

/// A file changed while plog read it: it was truncated (or a page of its
/// mapping vanished) between the open and the end of a pass. The pass's
/// result is not given: it would describe bytes that are no longer the
/// file's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {what}", path = path.display(), what = self.what())]
pub struct FileChanged {
    /// The file.
    pub path: PathBuf,
    /// How many bytes plog was reading (the mapping's length, or the length
    /// the file had when the read began).
    pub read_len: u64,
    /// The file's length when the change was noticed.
    pub len: u64,
}

impl FileChanged {
    /// What happened, without the path: `the file changed while it was
    /// read: truncated from N to M bytes` (or a vanished page).
    pub fn what(&self) -> String {
        let (read_len, len) = (self.read_len, self.len);
        if len < read_len {
            format!("the file changed while it was read: truncated from {read_len} to {len} bytes")
        } else {
            format!(
                "the file changed while it was read: a page of its {read_len} mapped bytes \
                 vanished (it is {len} bytes now)"
            )
        }
    }
}

/// A pass over an open [`Log`](crate::Log) could not give a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file changed while it was read.
    #[error("{0}")]
    Changed(FileChanged),
    /// The offset to start from is past the end of the log.
    #[error("{0}")]
    Offset(ParseError),
    /// A log read from a stream ([`Log::from_stream`](crate::Log::from_stream))
    /// could not be read on: a read failed, a record is longer than plog
    /// holds of a stream, or a pass after the first (a stream is read once).
    #[error("at offset {offset} of the stream: {detail}")]
    Stream {
        /// Where in the stream.
        offset: u64,
        /// What went wrong, and what was expected.
        detail: String,
    },
}

impl ReadError {
    /// The stable kind: `"changed"`, `"offset"` or `"stream"`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReadError::Changed(_) => "changed",
            ReadError::Offset(_) => "offset",
            ReadError::Stream { .. } => "stream",
        }
    }
}

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
    /// The file was truncated while it was being read.
    #[error("{0}")]
    Changed(FileChanged),
}

impl OpenError {
    pub(crate) fn io(path: &Path, operation: &'static str, source: std::io::Error) -> OpenError {
        OpenError::Io {
            path: path.to_path_buf(),
            operation,
            source,
        }
    }

    /// The stable kind: `"io"`, `"too_large"` or `"changed"`.
    pub fn kind(&self) -> &'static str {
        match self {
            OpenError::Io { .. } => "io",
            OpenError::TooLarge { .. } => "too_large",
            OpenError::Changed(_) => "changed",
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
    /// A valid record's payload is not the JSON of the requested type
    /// (feature `json`).
    #[cfg(feature = "json")]
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
    /// The file changed while it was replayed (or the start offset is past
    /// its end).
    #[error("{0}")]
    Read(#[from] ReadError),
}

impl From<Problem> for ReplayError {
    fn from(problem: Problem) -> ReplayError {
        match problem {
            Problem::Corrupt(corruption) => ReplayError::Corrupt(corruption),
            Problem::Torn(tail) => ReplayError::Torn(tail),
            Problem::Index(violation) => ReplayError::IndexOrder(violation),
        }
    }
}

impl ReplayError {
    /// The stable kind: a corruption's kind (`"hash_mismatch"`, `"length"`,
    /// `"bad_magic"`, `"unsupported_version"`), `"torn"`, `"decode"`,
    /// `"index_gap"`, `"index_order"`, or a [`ReadError`]'s kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplayError::Corrupt(corruption) => corruption.kind(),
            ReplayError::Torn(_) => "torn",
            #[cfg(feature = "json")]
            ReplayError::Decode { .. } => "decode",
            ReplayError::IndexOrder(violation) => violation.kind.as_str(),
            ReplayError::Read(error) => error.kind(),
        }
    }

    /// Byte offset of the problem (`None` for a file that changed).
    pub fn offset(&self) -> Option<u64> {
        match self {
            ReplayError::Corrupt(corruption) => Some(corruption.offset()),
            ReplayError::Torn(tail) => Some(tail.offset),
            #[cfg(feature = "json")]
            ReplayError::Decode { offset, .. } => Some(*offset),
            ReplayError::IndexOrder(violation) => Some(violation.offset),
            ReplayError::Read(ReadError::Offset(ParseError::OffsetOutOfRange {
                offset, ..
            })) => Some(*offset),
            ReplayError::Read(_) => None,
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
            #[cfg(feature = "json")]
            ReplayError::Decode { index, .. } => Some(*index),
            ReplayError::IndexOrder(violation) => Some(violation.index),
            ReplayError::Read(_) => None,
        }
    }
}
