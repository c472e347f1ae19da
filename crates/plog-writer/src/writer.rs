//! The single-owner writer: every-append and manual sync policies.

use std::path::Path;

use serde::Serialize;

use crate::file::{Discipline, LogFile, Staged, Tail};
use crate::open::{create_locked, lock_or_create};
use crate::opened::OpenReport;
use crate::{Appended, LogPosition, SyncPolicy, WriteError, WriterOptions};

/// Under [`SyncPolicy::Manual`], buffered records are written to the OS once
/// the buffer holds this many bytes (256 KiB).
pub const MANUAL_FLUSH_BYTES: usize = 256 * 1024;

/// The one writer of a log file, owned by one thread (`&mut self`).
///
/// It holds the file's exclusive lock for its whole life. Each append is
/// encoded (header and payload) into one buffer and goes to the file in one
/// positioned `write`; under [`SyncPolicy::EveryAppend`] it is then made
/// durable with `fdatasync` before the call returns. For many threads
/// appending at once, use [`GroupCommit`](crate::GroupCommit).
///
/// Failure semantics:
///
/// * a rejected append (index order, payload size, serialization) writes
///   nothing and leaves the writer usable;
/// * a failed write (ENOSPC, EFBIG, EIO) is cut off: the file is truncated
///   back to the end of the last complete record. If that works the writer
///   stays usable; if not, it is poisoned and the next open repairs the torn
///   tail;
/// * a failed `fdatasync` poisons the writer: it refuses further appends
///   rather than retrying the sync and trusting it (after a failed fsync the
///   kernel may have dropped the dirty pages and a second fsync can succeed
///   without writing them). Reopen the log to recover.
///
/// Every such error says what is durable ([`WriteError::durable`]).
///
/// ```
/// # fn main() -> Result<(), plog_writer::WriteError> {
/// use plog_writer::{Writer, WriterOptions};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("nested/dirs/raft.plog");
/// let (mut writer, report) = Writer::open(&path, WriterOptions::default())?;
/// assert!(report.created);
/// writer.append(1, &serde_json::json!({"kind": "Pod", "name": "a"}))?;
/// writer.append_raw(2, br#"{"kind":"Pod","name":"b"}"#)?;
/// assert_eq!(writer.last_index(), Some(2));
/// drop(writer);
///
/// let (writer, report) = Writer::open(&path, WriterOptions::default())?;
/// assert_eq!((report.records, report.last_index, report.repaired), (2, Some(2), None));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Writer {
    log: LogFile,
    tail: Tail,
    /// Records appended and not yet written; its end is the log's end.
    pending: Staged,
}

impl Writer {
    /// Creates a new log at `path` (and its missing parent directories):
    /// writes the magic and fsyncs the file and its directory.
    /// `options.create_if_missing` is ignored.
    ///
    /// # Errors
    /// `exists` when the file exists; `locked`; `io`.
    pub fn create(path: impl AsRef<Path>, options: WriterOptions) -> Result<Writer, WriteError> {
        Ok(Writer::from_parts(create_locked(path.as_ref(), &options)?, options).0)
    }

    /// Opens the log at `path` for appending, creating it when it does not
    /// exist and `options.create_if_missing` is set.
    ///
    /// An existing log is walked whole: its magic is checked, a torn tail
    /// (cut header, cut payload, zero-filled tail, cut magic) is truncated
    /// to the end of the last valid record and synced, and reported in
    /// [`OpenReport::repaired`]. A final record a crash cut while writing it
    /// over preallocated zeros (see [`RepairPlan::DropTornAppend`](crate::RepairPlan::DropTornAppend))
    /// is dropped and reported in [`OpenReport::dropped_torn_append`]. A log
    /// with other corruption (a hash mismatch before the end or without a
    /// zeroed sector, or a damaged length) is refused and left as it is:
    /// valid data is never cut at open.
    ///
    /// # Errors
    /// `locked` when another writer holds the lock; `corrupt` for a corrupt
    /// log (the message names offset and index and points at `plog
    /// repair`); `io`.
    pub fn open(
        path: impl AsRef<Path>,
        options: WriterOptions,
    ) -> Result<(Writer, OpenReport), WriteError> {
        Ok(Writer::from_parts(
            lock_or_create(path.as_ref(), &options)?,
            options,
        ))
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        self.log.path()
    }

    /// The options the writer was opened with.
    pub fn options(&self) -> &WriterOptions {
        self.log.options()
    }

    /// Index of the last record appended (buffered ones included).
    pub fn last_index(&self) -> Option<u64> {
        self.pending.end().last_index
    }

    /// The log's length in bytes, buffered records included.
    pub fn len(&self) -> u64 {
        self.pending.end().len
    }

    /// Whether the log holds no record (buffered ones included).
    pub fn is_empty(&self) -> bool {
        self.pending.end().records == 0
    }

    /// Where the log ends, buffered records included.
    pub fn position(&self) -> LogPosition {
        self.pending.end()
    }

    /// What is durable: covered by a successful `fdatasync`.
    pub fn durable(&self) -> LogPosition {
        self.tail.durable
    }

    /// Whether an earlier failure makes the writer refuse appends.
    pub fn is_poisoned(&self) -> bool {
        self.tail.is_poisoned()
    }

    /// Appends `entry` serialized with serde_json (as engenho-store does) at
    /// `index`. Under [`SyncPolicy::EveryAppend`] the record is durable when
    /// this returns.
    ///
    /// # Errors
    /// `serialize`, then `poisoned`, `index_order`, `payload_too_large`
    /// (nothing written); `write_failed`, `sync_failed`.
    pub fn append<T: Serialize + ?Sized>(
        &mut self,
        index: u64,
        entry: &T,
    ) -> Result<Appended, WriteError> {
        let mark = self.pending.mark();
        self.log
            .push_json(&self.tail, &mut self.pending, index, entry)?;
        self.enqueued(self.pending.appended_since(mark))
    }

    /// Appends `payload` as it is at `index`. Under
    /// [`SyncPolicy::EveryAppend`] the record is durable when this returns.
    ///
    /// # Errors
    /// As [`Writer::append`], except `serialize`.
    pub fn append_raw(&mut self, index: u64, payload: &[u8]) -> Result<Appended, WriteError> {
        let mark = self.pending.mark();
        self.log
            .push_raw(&self.tail, &mut self.pending, index, payload)?;
        self.enqueued(self.pending.appended_since(mark))
    }

    /// Writes `records` records already encoded in `bytes` (read and
    /// verified elsewhere: a salvage copies only verified records, byte for
    /// byte), the first of index `first_index`, the last `last_index`, with
    /// one write and no sync. Nothing is hashed again and the index order
    /// is not checked (a salvage's writer accepts any). Gives `bytes` back
    /// for reuse.
    ///
    /// # Errors
    /// `write_failed`, `poisoned`.
    pub(crate) fn write_encoded(
        &mut self,
        bytes: Vec<u8>,
        records: u64,
        first_index: u64,
        last_index: u64,
    ) -> Result<Vec<u8>, WriteError> {
        self.flush()?;
        let batch = Staged::encoded(bytes, self.tail.written, records, first_index, last_index);
        let written = self.log.write(&mut self.tail, &batch);
        self.pending.clear(self.tail.written);
        written.map(|()| batch.into_bytes())
    }

    /// Appends many `(index, payload)` records in one write and, under
    /// [`SyncPolicy::EveryAppend`], one `fdatasync`. Each record is checked
    /// as [`Writer::append_raw`] checks it, in order: if any is rejected,
    /// nothing is written.
    ///
    /// # Errors
    /// As [`Writer::append_raw`]; an empty batch is a no-op.
    pub fn append_batch_raw<'a, I>(&mut self, records: I) -> Result<Option<Appended>, WriteError>
    where
        I: IntoIterator<Item = (u64, &'a [u8])>,
    {
        self.append_each(records, |log, tail, batch, (index, payload)| {
            log.push_raw(tail, batch, index, payload)
        })
    }

    /// Appends many `(index, entry)` records serialized with serde_json, in
    /// one write and (under [`SyncPolicy::EveryAppend`]) one `fdatasync`. If
    /// any record is rejected, nothing is written.
    ///
    /// # Errors
    /// As [`Writer::append`]; an empty batch is a no-op.
    pub fn append_batch<'a, T, I>(&mut self, records: I) -> Result<Option<Appended>, WriteError>
    where
        T: Serialize + ?Sized + 'a,
        I: IntoIterator<Item = (u64, &'a T)>,
    {
        self.append_each(records, |log, tail, batch, (index, entry)| {
            log.push_json(tail, batch, index, entry)
        })
    }

    /// Pushes every record with `push`, all or nothing.
    fn append_each<R>(
        &mut self,
        records: impl IntoIterator<Item = R>,
        push: impl Fn(&LogFile, &Tail, &mut Staged, R) -> Result<(), WriteError>,
    ) -> Result<Option<Appended>, WriteError> {
        let mark = self.pending.mark();
        for record in records {
            if let Err(e) = push(&self.log, &self.tail, &mut self.pending, record) {
                self.pending.rollback(mark);
                return Err(e);
            }
        }
        let appended = self.pending.appended_since(mark);
        if appended.records == 0 {
            return Ok(None);
        }
        self.enqueued(appended).map(Some)
    }

    /// Applies the sync policy to records just pushed.
    fn enqueued(&mut self, appended: Appended) -> Result<Appended, WriteError> {
        match self.log.options().sync {
            SyncPolicy::EveryAppend => self.sync().map(drop),
            SyncPolicy::Manual if self.pending.len() >= MANUAL_FLUSH_BYTES => self.flush(),
            SyncPolicy::Manual => Ok(()),
        }?;
        Ok(appended)
    }

    /// Writes the buffered records to the OS (one `write`), without syncing.
    ///
    /// # Errors
    /// `write_failed` (the buffered records are dropped and the partial write
    /// cut off), `poisoned`.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        let written = self.log.write(&mut self.tail, &self.pending);
        if !self.pending.is_empty() {
            // Written, or dropped on failure: either way the file's end is
            // where the next records go.
            self.pending.clear(self.tail.written);
        }
        written
    }

    /// Writes the buffered records and makes everything written durable with
    /// `fdatasync`. Returns what is durable.
    ///
    /// # Errors
    /// `write_failed`; `sync_failed` (the writer is poisoned); `poisoned`.
    pub fn sync(&mut self) -> Result<LogPosition, WriteError> {
        self.flush()?;
        self.log.sync(&mut self.tail)
    }

    /// Syncs everything and closes the log, releasing the lock. Returns what
    /// is durable.
    ///
    /// # Errors
    /// As [`Writer::sync`].
    pub fn close(mut self) -> Result<LogPosition, WriteError> {
        let durable = self.sync()?;
        self.log
            .trim_preallocation(&mut self.tail)
            .map_err(|e| WriteError::io(self.log.path(), "truncate the preallocated zeros", e))?;
        Ok(durable)
    }

    #[cfg(test)]
    pub(crate) fn faults(&self) -> &crate::faults::Faults {
        &self.log.faults
    }
}

impl Discipline for Writer {
    fn over(log: LogFile, tail: Tail) -> Writer {
        let pending = Staged::with_buffer(Vec::new(), tail.written);
        Writer { log, tail, pending }
    }
}

impl Drop for Writer {
    /// Writes buffered records to the OS (without syncing them) and cuts off
    /// preallocated zeros; errors are ignored here, call [`Writer::close`]
    /// to see them. A poisoned writer leaves the file alone.
    fn drop(&mut self) {
        let _ = self.flush();
        let _ = self.log.trim_preallocation(&mut self.tail);
    }
}
