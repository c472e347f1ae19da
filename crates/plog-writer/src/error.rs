//! Everything that can go wrong while opening, repairing or appending.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plog_format::{Corruption, IndexOrder, IndexViolationKind};

use crate::LogPosition;

/// The hint every refusal to open a corrupt log ends with.
pub(crate) const REPAIR_HINT: &str = "run `plog repair --dry-run` on it to see the damage; \
     `plog repair --drop-corrupt-tail` drops a damaged final record, \
     `plog repair --salvage OUT` copies every valid record to a new log";

/// An error of plog-writer. [`WriteError::kind`] gives a stable string for
/// each variant; the message names the file, offsets and indices, and, for a
/// failure while writing, exactly what is durable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Another writer (in this process or another) holds the log's lock.
    #[error(
        "{path}: locked: another writer holds this log's lock \
         (one writer per file; readers need no lock)",
        path = path.display()
    )]
    Locked {
        /// The log.
        path: PathBuf,
    },

    /// The log is damaged in a way a crash cannot explain: opening refuses
    /// it and changes nothing.
    #[error(
        "{path}: corrupt log, refusing to open it and changing nothing: {corruption} \
         ({corruptions} corruption(s) in all); {REPAIR_HINT}",
        path = path.display()
    )]
    Corrupt {
        /// The log.
        path: PathBuf,
        /// The first corruption in file order (boxed: it carries two hashes).
        corruption: Box<Corruption>,
        /// How many corruptions the file holds.
        corruptions: u64,
    },

    /// [`salvage`](crate::salvage) found nothing it could copy: the source's
    /// magic is bad or of another version. Nothing was created.
    #[error("{path}: nothing to salvage: {corruption}", path = path.display())]
    NothingToSalvage {
        /// The source log.
        path: PathBuf,
        /// The magic's corruption.
        corruption: Box<Corruption>,
    },

    /// [`Writer::create`](crate::Writer::create) found a file already there.
    #[error("{path}: expected to create a new log, found an existing file", path = path.display())]
    Exists {
        /// The path.
        path: PathBuf,
    },

    /// An I/O error outside an append: opening, reading, locking, creating,
    /// repairing.
    #[error("{path}: {action}: {source}", path = path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. `"open the log"`.
        action: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The append's index breaks the writer's [`IndexOrder`]; nothing was
    /// written.
    #[error(
        "record {index} rejected, nothing written: index order {order} expects {expected} \
         after index {previous}, found {index}",
        order = order.as_str(),
        expected = match (order, previous.checked_add(1)) {
            (IndexOrder::Contiguous, Some(next)) => next.to_string(),
            (_, None) => "no further index (the previous is u64::MAX)".to_string(),
            _ => format!("an index greater than {previous}"),
        }
    )]
    IndexOrder {
        /// The rejected index.
        index: u64,
        /// The index of the record before it.
        previous: u64,
        /// The order the writer enforces.
        order: IndexOrder,
        /// A gap or a step back.
        violation: IndexViolationKind,
    },

    /// The payload exceeds [`WriterOptions::max_payload_len`](crate::WriterOptions::max_payload_len);
    /// nothing was written.
    #[error(
        "record {index} rejected, nothing written: expected a payload of at most {max} bytes, \
         found {payload_len}"
    )]
    PayloadTooLarge {
        /// The rejected record's index.
        index: u64,
        /// Its payload length.
        payload_len: u64,
        /// The limit.
        max: u64,
    },

    /// The entry could not be serialized as JSON; nothing was written.
    #[error(
        "record {index} rejected, nothing written: cannot serialize the entry as JSON: {source}"
    )]
    Serialize {
        /// The rejected record's index.
        index: u64,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },

    /// Writing records failed (e.g. ENOSPC, EFBIG, EIO). None of these
    /// records was acknowledged.
    #[error(
        "{path}: writing {records} record(s) (indices {first_index}..={last_index}, {bytes} bytes \
         at offset {offset}) failed: {source}; {cleanup}; durable: {durable}",
        path = path.display(),
        cleanup = if *cut {
            "the partial write was cut off, the file ends at the last complete record"
        } else {
            "cutting the partial write off failed too, the writer refuses further appends \
             and the next open repairs the torn tail"
        }
    )]
    WriteFailed {
        /// The log.
        path: PathBuf,
        /// Where the write started.
        offset: u64,
        /// How many bytes it tried to write.
        bytes: u64,
        /// How many records they held.
        records: u64,
        /// Index of the first of them.
        first_index: u64,
        /// Index of the last of them.
        last_index: u64,
        /// Whether the partial write was truncated away (if not, the writer
        /// is poisoned).
        cut: bool,
        /// What is durable (synced) now.
        durable: LogPosition,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },

    /// `fdatasync` failed. Records written since the last successful sync
    /// may or may not be on disk; the writer refuses further appends (a
    /// failed sync cannot be retried and trusted).
    #[error(
        "{path}: fdatasync failed: {source}; durable: {durable}; records written after it \
         (up to {written}) may or may not be on disk; the writer refuses further appends, \
         reopen the log to recover",
        path = path.display()
    )]
    SyncFailed {
        /// The log.
        path: PathBuf,
        /// What was durable before the failed sync.
        durable: LogPosition,
        /// What had been written when the sync failed.
        written: LogPosition,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },

    /// An earlier write or sync failed; the writer refuses appends until the
    /// log is reopened. The record of this call was not written.
    #[error(
        "{path}: poisoned: the writer refuses appends after an earlier failure ({cause}); \
         this call wrote nothing; durable: {durable}; reopen the log to recover",
        path = path.display()
    )]
    Poisoned {
        /// The log.
        path: PathBuf,
        /// The message of the failure that poisoned the writer.
        cause: Arc<str>,
        /// What is durable.
        durable: LogPosition,
    },
}

impl WriteError {
    /// The stable kind: `"locked"`, `"corrupt"`, `"exists"`, `"io"`,
    /// `"index_order"`, `"payload_too_large"`, `"serialize"`,
    /// `"write_failed"`, `"sync_failed"` or `"poisoned"`.
    pub fn kind(&self) -> &'static str {
        match self {
            WriteError::Locked { .. } => "locked",
            WriteError::Corrupt { .. } | WriteError::NothingToSalvage { .. } => "corrupt",
            WriteError::Exists { .. } => "exists",
            WriteError::Io { .. } => "io",
            WriteError::IndexOrder { .. } => "index_order",
            WriteError::PayloadTooLarge { .. } => "payload_too_large",
            WriteError::Serialize { .. } => "serialize",
            WriteError::WriteFailed { .. } => "write_failed",
            WriteError::SyncFailed { .. } => "sync_failed",
            WriteError::Poisoned { .. } => "poisoned",
        }
    }

    /// Whether the call was rejected before anything was written (index
    /// order, payload size, serialization): the writer is still usable.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            WriteError::IndexOrder { .. }
                | WriteError::PayloadTooLarge { .. }
                | WriteError::Serialize { .. }
        )
    }

    /// What is durable, for the errors of an append that got as far as the
    /// file (`write_failed`, `sync_failed`, `poisoned`).
    pub fn durable(&self) -> Option<LogPosition> {
        match self {
            WriteError::WriteFailed { durable, .. }
            | WriteError::SyncFailed { durable, .. }
            | WriteError::Poisoned { durable, .. } => Some(*durable),
            _ => None,
        }
    }

    /// The OS error behind an I/O failure, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            WriteError::Io { source, .. } => Some(source),
            WriteError::WriteFailed { source, .. } | WriteError::SyncFailed { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }

    /// `Ok` for a handle that is not poisoned; else the `poisoned` error
    /// naming its cause and what is durable.
    #[inline]
    pub(crate) fn unless_poisoned(
        path: &Path,
        poisoned: Option<&Arc<str>>,
        durable: LogPosition,
    ) -> Result<(), WriteError> {
        match poisoned {
            None => Ok(()),
            Some(cause) => Err(WriteError::Poisoned {
                path: path.to_path_buf(),
                cause: cause.clone(),
                durable,
            }),
        }
    }

    /// A copy of a failed write or sync, for each caller whose record was in
    /// the failed group-commit batch; `None` for the other kinds (they are
    /// never shared, and some hold errors that cannot be copied).
    pub(crate) fn clone_failure(&self) -> Option<WriteError> {
        Some(match self {
            WriteError::WriteFailed {
                path,
                offset,
                bytes,
                records,
                first_index,
                last_index,
                cut,
                durable,
                source,
            } => WriteError::WriteFailed {
                path: path.clone(),
                offset: *offset,
                bytes: *bytes,
                records: *records,
                first_index: *first_index,
                last_index: *last_index,
                cut: *cut,
                durable: *durable,
                source: source.clone(),
            },
            WriteError::SyncFailed {
                path,
                durable,
                written,
                source,
            } => WriteError::SyncFailed {
                path: path.clone(),
                durable: *durable,
                written: *written,
                source: source.clone(),
            },
            _ => return None,
        })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        WriteError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn an_index_after_u64_max_is_described_without_overflow() {
        let err = WriteError::IndexOrder {
            index: 0,
            previous: u64::MAX,
            order: IndexOrder::Contiguous,
            violation: IndexViolationKind::Order,
        };
        let message = err.to_string();
        assert!(message.contains("expects no further index"), "{message}");
        let err = WriteError::IndexOrder {
            index: 3,
            previous: 4,
            order: IndexOrder::Contiguous,
            violation: IndexViolationKind::Order,
        };
        assert!(
            err.to_string().contains("expects 5 after index 4, found 3"),
            "{err}"
        );
    }
}
