//! The single-owner writer: every-append and manual sync policies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plog_format::{HEADER_LEN, RecordHeader};
use serde::Serialize;

use crate::fsio::{LockedFile, Preallocation};
use crate::open::{OpenReport, create_log, open_log};
use crate::{Appended, LogPosition, SyncPolicy, WriteError, WriterOptions, pos_u64};

/// Under [`SyncPolicy::Manual`], buffered records are written to the OS once
/// the buffer holds this many bytes (256 KiB).
pub const MANUAL_FLUSH_BYTES: usize = 256 * 1024;

/// The buffer a writer keeps between appends is shrunk back to this size
/// after a larger batch or payload, so that one huge append does not pin
/// memory for the writer's life.
const KEEP_BUFFER_BYTES: usize = 4 * MANUAL_FLUSH_BYTES;

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
    file: LockedFile,
    path: PathBuf,
    options: WriterOptions,
    /// What `fdatasync` has covered.
    durable: LogPosition,
    /// What has been handed to the OS (`written.len` is the file's length).
    written: LogPosition,
    /// `written` plus the records in `pending`.
    buffered: LogPosition,
    /// Encoded records not yet written.
    pending: Vec<u8>,
    /// Index of the first record in `pending`.
    pending_first_index: u64,
    /// Records in `pending`.
    pending_records: u64,
    /// Set by a failed sync (or a failed cut after a failed write).
    poisoned: Option<Arc<str>>,
    /// Zero-filled space ahead of the records, when preallocating.
    prealloc: Option<Preallocation>,
    #[cfg(test)]
    pub(crate) faults: crate::faults::Faults,
}

impl Writer {
    /// Creates a new log at `path` (and its missing parent directories):
    /// writes the magic and fsyncs the file and its directory.
    /// `options.create_if_missing` is ignored.
    ///
    /// # Errors
    /// `exists` when the file exists; `locked`; `io`.
    pub fn create(path: impl AsRef<Path>, options: WriterOptions) -> Result<Writer, WriteError> {
        let path = path.as_ref();
        let file = create_log(path)?;
        Ok(Writer::from_parts(
            file,
            path.to_path_buf(),
            options,
            LogPosition::new_log(),
        ))
    }

    /// Opens the log at `path` for appending, creating it when it does not
    /// exist and `options.create_if_missing` is set.
    ///
    /// An existing log is walked whole: its magic is checked, a torn tail
    /// (cut header, cut payload, zero-filled tail, cut magic) is truncated
    /// to the end of the last valid record and synced, and reported in
    /// [`OpenReport::repaired`]. A log with corruption (a hash mismatch
    /// anywhere, including in the final record, or a damaged length) is
    /// refused and left as it is: valid data is never cut at open.
    ///
    /// # Errors
    /// `locked` when another writer holds the lock; `corrupt` for a corrupt
    /// log (the message names offset and index and points at `plog
    /// repair`); `io`.
    pub fn open(
        path: impl AsRef<Path>,
        options: WriterOptions,
    ) -> Result<(Writer, OpenReport), WriteError> {
        let (file, path, report) = open_log(path.as_ref(), &options)?;
        Ok((
            Writer::from_parts(file, path, options, report.position()),
            report,
        ))
    }

    pub(crate) fn from_parts(
        file: LockedFile,
        path: PathBuf,
        options: WriterOptions,
        position: LogPosition,
    ) -> Writer {
        Writer {
            file,
            path,
            options,
            durable: position,
            written: position,
            buffered: position,
            pending: Vec::new(),
            pending_first_index: 0,
            pending_records: 0,
            poisoned: None,
            prealloc: Preallocation::new(options.preallocate, position.len),
            #[cfg(test)]
            faults: crate::faults::Faults::default(),
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the writer was opened with.
    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// Index of the last record appended (buffered ones included).
    pub fn last_index(&self) -> Option<u64> {
        self.buffered.last_index
    }

    /// The log's length in bytes, buffered records included.
    pub fn len(&self) -> u64 {
        self.buffered.len
    }

    /// Whether the log holds no record (buffered ones included).
    pub fn is_empty(&self) -> bool {
        self.buffered.records == 0
    }

    /// Where the log ends, buffered records included.
    pub fn position(&self) -> LogPosition {
        self.buffered
    }

    /// What is durable: covered by a successful `fdatasync`.
    pub fn durable(&self) -> LogPosition {
        self.durable
    }

    /// Whether an earlier failure makes the writer refuse appends.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// Appends `entry` serialized with serde_json (as engenho-store does) at
    /// `index`. Under [`SyncPolicy::EveryAppend`] the record is durable when
    /// this returns.
    ///
    /// # Errors
    /// `index_order`, `payload_too_large`, `serialize` (nothing written);
    /// `write_failed`, `sync_failed`, `poisoned`.
    pub fn append<T: Serialize + ?Sized>(
        &mut self,
        index: u64,
        entry: &T,
    ) -> Result<Appended, WriteError> {
        self.check_usable()?;
        check_index(&self.options, self.buffered.last_index, index)?;
        let start = self.pending.len();
        if let Err(e) = encode_json_record(&mut self.pending, index, entry, &self.options) {
            self.pending.truncate(start);
            return Err(e);
        }
        let bytes = pos_u64(self.pending.len() - start);
        self.enqueued(index, 1, bytes)
    }

    /// Appends `payload` as it is at `index`. Under
    /// [`SyncPolicy::EveryAppend`] the record is durable when this returns.
    ///
    /// # Errors
    /// As [`Writer::append`], except `serialize`.
    pub fn append_raw(&mut self, index: u64, payload: &[u8]) -> Result<Appended, WriteError> {
        self.check_usable()?;
        check_payload_len(&self.options, index, payload.len())?;
        check_index(&self.options, self.buffered.last_index, index)?;
        let start = self.pending.len();
        plog_format::encode_record_to_vec(index, payload, &mut self.pending);
        let bytes = pos_u64(self.pending.len() - start);
        self.enqueued(index, 1, bytes)
    }

    /// Appends many `(index, payload)` records in one write and, under
    /// [`SyncPolicy::EveryAppend`], one `fdatasync`. All records are checked
    /// first: if any is rejected, nothing is written.
    ///
    /// # Errors
    /// As [`Writer::append_raw`]; an empty batch is a no-op.
    pub fn append_batch_raw<'a, I>(&mut self, records: I) -> Result<Option<Appended>, WriteError>
    where
        I: IntoIterator<Item = (u64, &'a [u8])>,
    {
        self.check_usable()?;
        let start = self.pending.len();
        let mut previous = self.buffered.last_index;
        let mut count = 0u64;
        for (index, payload) in records {
            let checked = check_payload_len(&self.options, index, payload.len())
                .and_then(|()| check_index(&self.options, previous, index));
            if let Err(e) = checked {
                self.pending.truncate(start);
                return Err(e);
            }
            plog_format::encode_record_to_vec(index, payload, &mut self.pending);
            previous = Some(index);
            count += 1;
        }
        self.enqueued_batch(start, count, previous)
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
        self.check_usable()?;
        let start = self.pending.len();
        let mut previous = self.buffered.last_index;
        let mut count = 0u64;
        for (index, entry) in records {
            let encoded = check_index(&self.options, previous, index)
                .and_then(|()| encode_json_record(&mut self.pending, index, entry, &self.options));
            if let Err(e) = encoded {
                self.pending.truncate(start);
                return Err(e);
            }
            previous = Some(index);
            count += 1;
        }
        self.enqueued_batch(start, count, previous)
    }

    fn enqueued_batch(
        &mut self,
        start: usize,
        count: u64,
        last: Option<u64>,
    ) -> Result<Option<Appended>, WriteError> {
        let Some(last_index) = last.filter(|_| count > 0) else {
            return Ok(None);
        };
        let bytes = pos_u64(self.pending.len() - start);
        let first_index = index_at(&self.pending, start);
        if self.pending_records == 0 {
            self.pending_first_index = first_index;
        }
        let offset = self.buffered.len;
        self.pending_records += count;
        self.buffered = LogPosition {
            len: self.buffered.len.saturating_add(bytes),
            records: self.buffered.records.saturating_add(count),
            last_index: Some(last_index),
        };
        self.after_enqueue()?;
        Ok(Some(Appended {
            offset,
            records: count,
            last_index,
            bytes,
        }))
    }

    /// Books a record just encoded at the end of `pending`.
    fn enqueued(&mut self, index: u64, records: u64, bytes: u64) -> Result<Appended, WriteError> {
        if self.pending_records == 0 {
            self.pending_first_index = index;
        }
        let offset = self.buffered.len;
        self.pending_records += records;
        self.buffered = self.buffered.advanced(index, bytes);
        self.after_enqueue()?;
        Ok(Appended {
            offset,
            records,
            last_index: index,
            bytes,
        })
    }

    fn after_enqueue(&mut self) -> Result<(), WriteError> {
        match self.options.sync {
            SyncPolicy::EveryAppend => self.sync().map(drop),
            SyncPolicy::Manual if self.pending.len() >= MANUAL_FLUSH_BYTES => self.flush(),
            SyncPolicy::Manual => Ok(()),
        }
    }

    /// Writes the buffered records to the OS (one `write`), without syncing.
    ///
    /// # Errors
    /// `write_failed` (the buffered records are dropped and the partial write
    /// cut off), `poisoned`.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.check_usable()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let offset = self.written.len;
        let end = offset.saturating_add(pos_u64(self.pending.len()));
        if let Some(prealloc) = &mut self.prealloc {
            prealloc.reserve(&self.file, offset, end);
        }
        let result = {
            #[cfg(test)]
            {
                self.faults.write(&self.file, &self.pending, offset)
            }
            #[cfg(not(test))]
            {
                crate::fsio::write_all_at(&self.file, &self.pending, offset)
            }
        };
        match result {
            Ok(()) => {
                if let Some(prealloc) = &mut self.prealloc {
                    prealloc.wrote(end);
                }
                self.written = self.buffered;
                self.clear_pending();
                Ok(())
            }
            Err(source) => {
                let cut = self.file.set_len(offset).is_ok();
                if let Some(prealloc) = &mut self.prealloc {
                    prealloc.cut(offset);
                }
                let error = WriteError::WriteFailed {
                    path: self.path.clone(),
                    offset,
                    bytes: pos_u64(self.pending.len()),
                    records: self.pending_records,
                    first_index: self.pending_first_index,
                    last_index: self.buffered.last_index.unwrap_or_default(),
                    cut,
                    durable: self.durable,
                    source: Arc::new(source),
                };
                self.clear_pending();
                self.buffered = self.written;
                if !cut {
                    self.poisoned = Some(error.to_string().into());
                }
                Err(error)
            }
        }
    }

    /// Writes the buffered records and makes everything written durable with
    /// `fdatasync`. Returns what is durable.
    ///
    /// # Errors
    /// `write_failed`; `sync_failed` (the writer is poisoned); `poisoned`.
    pub fn sync(&mut self) -> Result<LogPosition, WriteError> {
        self.flush()?;
        if self.written == self.durable {
            return Ok(self.durable);
        }
        let result = {
            #[cfg(test)]
            {
                self.faults.sync(&self.file)
            }
            #[cfg(not(test))]
            {
                self.file.sync_data()
            }
        };
        match result {
            Ok(()) => {
                self.durable = self.written;
                Ok(self.durable)
            }
            Err(source) => {
                let error = WriteError::SyncFailed {
                    path: self.path.clone(),
                    durable: self.durable,
                    written: self.written,
                    source: Arc::new(source),
                };
                self.poisoned = Some(error.to_string().into());
                Err(error)
            }
        }
    }

    /// Syncs everything and closes the log, releasing the lock. Returns what
    /// is durable.
    ///
    /// # Errors
    /// As [`Writer::sync`].
    pub fn close(mut self) -> Result<LogPosition, WriteError> {
        let durable = self.sync()?;
        self.trim_preallocation()
            .map_err(|e| WriteError::io(&self.path, "truncate the preallocated zeros", e))?;
        Ok(durable)
    }

    /// Cuts the preallocated zeros off the end of the file and syncs the
    /// new length.
    fn trim_preallocation(&mut self) -> std::io::Result<()> {
        let len = self.written.len;
        match &mut self.prealloc {
            Some(prealloc) if prealloc.has_tail_after(len) => {
                self.file.set_len(len)?;
                prealloc.cut(len);
                self.file.sync_data()
            }
            _ => Ok(()),
        }
    }

    fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_records = 0;
        if self.pending.capacity() > KEEP_BUFFER_BYTES {
            self.pending.shrink_to(KEEP_BUFFER_BYTES);
        }
    }

    fn check_usable(&self) -> Result<(), WriteError> {
        WriteError::unless_poisoned(&self.path, self.poisoned.as_ref(), self.durable)
    }
}

impl Drop for Writer {
    /// Writes buffered records to the OS (without syncing them) and cuts off
    /// preallocated zeros; errors are ignored here, call [`Writer::close`]
    /// to see them.
    fn drop(&mut self) {
        if self.poisoned.is_none() {
            if !self.pending.is_empty() {
                let _ = self.flush();
            }
            let _ = self.trim_preallocation();
        }
    }
}

/// The index field of the record whose header starts at `start` of `buf`.
fn index_at(buf: &[u8], start: usize) -> u64 {
    buf.get(start..)
        .and_then(RecordHeader::from_prefix)
        .map_or(0, RecordHeader::index)
}

pub(crate) fn check_payload_len(
    options: &WriterOptions,
    index: u64,
    payload_len: usize,
) -> Result<(), WriteError> {
    match options.max_payload_len {
        Some(max) if pos_u64(payload_len) > max => Err(WriteError::PayloadTooLarge {
            index,
            payload_len: pos_u64(payload_len),
            max,
        }),
        _ => Ok(()),
    }
}

pub(crate) fn check_index(
    options: &WriterOptions,
    previous: Option<u64>,
    index: u64,
) -> Result<(), WriteError> {
    options
        .index_order
        .admits(previous, index)
        .map_err(|violation| WriteError::IndexOrder {
            index,
            // `admits` only fails when there is a previous index.
            previous: previous.unwrap_or_default(),
            order: options.index_order,
            violation,
        })
}

/// Serializes `entry` straight into `out` after a header placeholder, then
/// fills the header in. On error `out` may hold a partial record: the caller
/// truncates it.
pub(crate) fn encode_json_record<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    index: u64,
    entry: &T,
    options: &WriterOptions,
) -> Result<(), WriteError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    serde_json::to_writer(&mut *out, entry)
        .map_err(|source| WriteError::Serialize { index, source })?;
    let record = out.get_mut(start..).unwrap_or_default();
    if let Some((header, payload)) = record.split_first_chunk_mut::<HEADER_LEN>() {
        check_payload_len(options, index, payload.len())?;
        *header = *RecordHeader::new(index, payload).as_bytes();
    }
    Ok(())
}
