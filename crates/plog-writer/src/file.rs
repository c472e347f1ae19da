//! The one file writer under both policies: [`Writer`](crate::Writer) and
//! [`GroupCommit`](crate::GroupCommit) gather records into a [`Staged`] batch and
//! hand it to a [`LogFile`], which writes it, cuts a failed write off,
//! syncs, poisons, preallocates and (in tests) injects faults the same way
//! for both.
//!
//! The file and its I/O ([`LogFile`], shared: `&self`) are apart from where
//! the file ends ([`Tail`], a small value the policy owns), so that a group
//! commit leader can write and sync without holding the lock its followers
//! enqueue under: it works on a copy of the tail and puts it back.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plog_format::{HEADER_LEN, RecordHeader};
use serde::Serialize;

use crate::fsio::{LockedFile, Preallocation};
use crate::opened::{OpenReport, Parts};
use crate::{Appended, LogPosition, WriteError, WriterOptions, pos_u64};

/// A batch's buffer is shrunk back to this capacity when it is cleared, so
/// that one huge append does not pin memory for the writer's life.
const KEEP_BUFFER_BYTES: usize = 1 << 20;

/// A policy over the one file writer: [`Writer`](crate::Writer) or
/// [`GroupCommit`](crate::GroupCommit).
pub(crate) trait Discipline: Sized {
    /// The policy over `log`, whose file ends at `tail`.
    fn over(log: LogFile, tail: Tail) -> Self;

    /// The policy over a log that `open.rs` locked (and repaired or created).
    fn from_parts((file, path, report): Parts, options: WriterOptions) -> (Self, OpenReport) {
        let tail = Tail::new(&options, report.position());
        (Self::over(LogFile::new(file, path, options), tail), report)
    }
}

/// The locked log file, its path and options, and every write and sync made
/// to it.
#[derive(Debug)]
pub(crate) struct LogFile {
    file: LockedFile,
    path: PathBuf,
    options: WriterOptions,
    #[cfg(test)]
    pub(crate) faults: crate::faults::Faults,
}

/// Where the file ends: what is durable, what is written, whether an
/// earlier failure poisoned it, and the preallocated zeros past the end.
#[derive(Clone, Debug)]
pub(crate) struct Tail {
    /// What `fdatasync` has covered.
    pub(crate) durable: LogPosition,
    /// What has been handed to the OS (`written.len` is the file's length,
    /// preallocated zeros aside).
    pub(crate) written: LogPosition,
    /// The message of the failure that poisoned the file: a failed sync, a
    /// failed cut after a failed write, or whatever a policy adds.
    poisoned: Option<Arc<str>>,
    prealloc: Option<Preallocation>,
}

impl Tail {
    /// The tail of a log that ends (durably) at `position`.
    pub(crate) fn new(options: &WriterOptions, position: LogPosition) -> Tail {
        Tail {
            durable: position,
            written: position,
            poisoned: None,
            prealloc: Preallocation::new(options.preallocate, position.len),
        }
    }

    #[inline]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// Refuses every later append and write, naming `cause`.
    pub(crate) fn poison(&mut self, cause: &WriteError) {
        self.poisoned = Some(cause.to_string().into());
    }
}

/// Encoded records not yet written, and what they hold.
#[derive(Debug)]
pub(crate) struct Staged {
    bytes: Vec<u8>,
    records: u64,
    /// Index of the first record (meaningless while `records` is 0).
    first_index: u64,
    /// Where the log ends after these records.
    end: LogPosition,
}

/// A batch as it was, to roll back to or to measure an append from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    bytes: usize,
    records: u64,
    first_index: u64,
    end: LogPosition,
}

impl Staged {
    /// An empty batch, in `buffer`'s memory, to be written at `start`.
    pub(crate) fn with_buffer(mut buffer: Vec<u8>, start: LogPosition) -> Staged {
        buffer.clear();
        Staged {
            bytes: buffer,
            records: 0,
            first_index: 0,
            end: start,
        }
    }

    /// A batch of `records` records already encoded in `bytes` (verified
    /// elsewhere: a salvage), the first of index `first_index`, to be
    /// written at `start`.
    pub(crate) fn encoded(
        bytes: Vec<u8>,
        start: LogPosition,
        records: u64,
        first_index: u64,
        last_index: u64,
    ) -> Staged {
        let end = LogPosition {
            len: start.len.saturating_add(pos_u64(bytes.len())),
            records: start.records.saturating_add(records),
            last_index: Some(last_index),
        };
        Staged {
            bytes,
            records,
            first_index,
            end,
        }
    }

    /// The encoded bytes, given back.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Where the log ends after these records.
    #[inline]
    pub(crate) fn end(&self) -> LogPosition {
        self.end
    }

    /// Encoded bytes held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    #[inline]
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            bytes: self.bytes.len(),
            records: self.records,
            first_index: self.first_index,
            end: self.end,
        }
    }

    /// Drops every record pushed since `mark`.
    #[inline]
    pub(crate) fn rollback(&mut self, mark: Mark) {
        self.bytes.truncate(mark.bytes);
        self.records = mark.records;
        self.first_index = mark.first_index;
        self.end = mark.end;
    }

    /// What was pushed since `mark` (`records` 0 when nothing was).
    #[inline]
    pub(crate) fn appended_since(&self, mark: Mark) -> Appended {
        Appended {
            offset: mark.end.len,
            records: self.records.saturating_sub(mark.records),
            last_index: self.end.last_index.unwrap_or_default(),
            bytes: self.end.len.saturating_sub(mark.end.len),
        }
    }

    /// Empties the batch, to be written next at `start`.
    pub(crate) fn clear(&mut self, start: LogPosition) {
        self.bytes.clear();
        if self.bytes.capacity() > KEEP_BUFFER_BYTES {
            self.bytes.shrink_to(KEEP_BUFFER_BYTES);
        }
        self.records = 0;
        self.end = start;
    }

    /// The (cleared) buffer, for reuse.
    pub(crate) fn into_buffer(mut self) -> Vec<u8> {
        self.clear(self.end);
        self.bytes
    }

    /// Appends a record that [`LogFile::admit`] accepted, with its header.
    #[inline]
    pub(crate) fn push(&mut self, index: u64, header: &RecordHeader, payload: &[u8]) {
        self.bytes.reserve(HEADER_LEN + payload.len());
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(payload);
        self.booked(index, HEADER_LEN + payload.len());
    }

    /// Books a record of `encoded_len` bytes just added to `bytes`.
    #[inline]
    fn booked(&mut self, index: u64, encoded_len: usize) {
        if self.records == 0 {
            self.first_index = index;
        }
        self.records += 1;
        self.end = self.end.advanced(index, pos_u64(encoded_len));
    }
}

/// Serializes `entry` as JSON at the end of `out` (the record's payload).
///
/// # Errors
/// `serialize`; `out` may then hold part of the entry.
pub(crate) fn serialize_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    index: u64,
    entry: &T,
) -> Result<(), WriteError> {
    serde_json::to_writer(out, entry).map_err(|source| WriteError::Serialize { index, source })
}

impl LogFile {
    pub(crate) fn new(file: LockedFile, path: PathBuf, options: WriterOptions) -> LogFile {
        LogFile {
            file,
            path,
            options,
            #[cfg(test)]
            faults: crate::faults::Faults::default(),
        }
    }

    /// A read-only handle to the locked file itself (not to whatever its
    /// path names later).
    pub(crate) fn read_handle(&self) -> Result<std::fs::File, WriteError> {
        self.file
            .try_clone()
            .map_err(|e| WriteError::io(&self.path, "duplicate the log's file handle", e))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// `poisoned` (saying what is durable) once the tail is poisoned.
    #[inline]
    pub(crate) fn check_usable(&self, tail: &Tail) -> Result<(), WriteError> {
        WriteError::unless_poisoned(&self.path, tail.poisoned.as_ref(), tail.durable)
    }

    /// The one check of a record before it joins `batch`, in this order:
    /// the file is not poisoned, the index follows the batch's last one as
    /// [`WriterOptions::index_order`] says, the payload is within
    /// [`WriterOptions::max_payload_len`], and the log's length still fits
    /// in a `u64` after it (an overflow is reported as a payload too large
    /// for the room left).
    ///
    /// # Errors
    /// `poisoned`, `index_order`, `payload_too_large`.
    #[inline]
    pub(crate) fn admit(
        &self,
        tail: &Tail,
        batch: &Staged,
        index: u64,
        payload_len: usize,
    ) -> Result<(), WriteError> {
        self.check_usable(tail)?;
        let previous = batch.end.last_index;
        let order = self.options.index_order;
        order
            .admits(previous, index)
            .map_err(|violation| WriteError::IndexOrder {
                index,
                // `admits` only fails when there is a previous index.
                previous: previous.unwrap_or_default(),
                order,
                violation,
            })?;
        let room = u64::MAX - batch.end.len.saturating_add(pos_u64(HEADER_LEN));
        let max = self
            .options
            .max_payload_len
            .map_or(room, |max| max.min(room));
        let payload_len = pos_u64(payload_len);
        if payload_len > max {
            return Err(WriteError::PayloadTooLarge {
                index,
                payload_len,
                max,
            });
        }
        Ok(())
    }

    /// Checks `(index, payload)` and encodes it at the end of `batch`.
    ///
    /// # Errors
    /// As [`LogFile::admit`]; `batch` is then unchanged.
    #[inline]
    pub(crate) fn push_raw(
        &self,
        tail: &Tail,
        batch: &mut Staged,
        index: u64,
        payload: &[u8],
    ) -> Result<(), WriteError> {
        self.admit(tail, batch, index, payload.len())?;
        batch.push(index, &RecordHeader::new(index, payload), payload);
        Ok(())
    }

    /// Serializes `entry` straight into `batch` (after room for the header),
    /// checks the record, then fills its header in.
    ///
    /// # Errors
    /// `serialize`, then as [`LogFile::admit`]; `batch` is then unchanged.
    #[inline]
    pub(crate) fn push_json<T: Serialize + ?Sized>(
        &self,
        tail: &Tail,
        batch: &mut Staged,
        index: u64,
        entry: &T,
    ) -> Result<(), WriteError> {
        let start = batch.bytes.len();
        batch.bytes.extend_from_slice(&[0; HEADER_LEN]);
        let checked = serialize_into(&mut batch.bytes, index, entry).and_then(|()| {
            let payload_len = batch.bytes.len() - start - HEADER_LEN;
            self.admit(tail, batch, index, payload_len)
        });
        if let Err(e) = checked {
            batch.bytes.truncate(start);
            return Err(e);
        }
        let record = batch.bytes.get_mut(start..).unwrap_or_default();
        let encoded_len = record.len();
        if let Some((header, payload)) = record.split_first_chunk_mut::<HEADER_LEN>() {
            *header = *RecordHeader::new(index, payload).as_bytes();
        }
        batch.booked(index, encoded_len);
        Ok(())
    }

    /// Writes `batch` at the end of what is written (zeros reserved ahead of
    /// it first, when preallocating) with one positioned `write`.
    ///
    /// A failed write is cut off: the file is truncated back to the end of
    /// the last complete record; if even that fails, the tail is poisoned
    /// (the next open repairs the torn tail).
    ///
    /// # Errors
    /// `poisoned`; `write_failed`.
    pub(crate) fn write(&self, tail: &mut Tail, batch: &Staged) -> Result<(), WriteError> {
        self.check_usable(tail)?;
        if batch.is_empty() {
            return Ok(());
        }
        let offset = tail.written.len;
        let end = batch.end.len;
        if let Some(prealloc) = &mut tail.prealloc {
            prealloc.reserve(&self.file, offset, end);
        }
        match self.write_at(&batch.bytes, offset) {
            Ok(()) => {
                if let Some(prealloc) = &mut tail.prealloc {
                    prealloc.wrote(end);
                }
                tail.written = batch.end;
                Ok(())
            }
            Err(source) => {
                let cut = self.cut(offset).is_ok();
                if let Some(prealloc) = &mut tail.prealloc {
                    prealloc.cut(offset);
                }
                let error = WriteError::WriteFailed {
                    path: self.path.clone(),
                    offset,
                    bytes: pos_u64(batch.len()),
                    records: batch.records,
                    first_index: batch.first_index,
                    last_index: batch.end.last_index.unwrap_or_default(),
                    cut,
                    durable: tail.durable,
                    source: Arc::new(source),
                };
                if !cut {
                    tail.poison(&error);
                }
                Err(error)
            }
        }
    }

    /// Makes everything written durable with `fdatasync`; returns what is
    /// durable. A failed sync poisons the tail: it is never retried and
    /// trusted (after a failed fsync the kernel may have dropped the dirty
    /// pages, and a second one can succeed without writing them).
    ///
    /// # Errors
    /// `poisoned`; `sync_failed`.
    pub(crate) fn sync(&self, tail: &mut Tail) -> Result<LogPosition, WriteError> {
        self.check_usable(tail)?;
        if tail.written == tail.durable {
            return Ok(tail.durable);
        }
        match self.sync_data() {
            Ok(()) => {
                tail.durable = tail.written;
                Ok(tail.durable)
            }
            Err(source) => {
                let error = WriteError::SyncFailed {
                    path: self.path.clone(),
                    durable: tail.durable,
                    written: tail.written,
                    source: Arc::new(source),
                };
                tail.poison(&error);
                Err(error)
            }
        }
    }

    /// Cuts the preallocated zeros off the end of the file and syncs the new
    /// length. A poisoned file is left as it is: the next open repairs it.
    pub(crate) fn trim_preallocation(&self, tail: &mut Tail) -> io::Result<()> {
        let len = tail.written.len;
        match &mut tail.prealloc {
            Some(prealloc) if tail.poisoned.is_none() && prealloc.has_tail_after(len) => {
                self.file.set_len(len)?;
                prealloc.cut(len);
                self.file.sync_data()
            }
            _ => Ok(()),
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(test)]
        return self.faults.write(&self.file, buf, offset);
        #[cfg(not(test))]
        crate::fsio::write_all_at(&self.file, buf, offset)
    }

    /// Truncates the file to `len` (cutting off a failed write).
    fn cut(&self, len: u64) -> io::Result<()> {
        #[cfg(test)]
        return self.faults.cut(&self.file, len);
        #[cfg(not(test))]
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        #[cfg(test)]
        return self.faults.sync(&self.file);
        #[cfg(not(test))]
        self.file.sync_data()
    }
}
