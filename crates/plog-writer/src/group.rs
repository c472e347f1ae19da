//! Group commit: one shared writer, many threads, one write and one
//! `fdatasync` per gathered batch.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use plog_format::RecordHeader;
use serde::Serialize;

use crate::fsio::{LockedFile, Preallocation};
use crate::open::{OpenReport, create_log, open_log};
use crate::writer::{check_index, check_payload_len, encode_json_record};
use crate::{Appended, LogPosition, WriteError, WriterOptions, pos_u64};

/// The longest a leader waits for more appenders to join its batch.
const MAX_GATHER: Duration = Duration::from_micros(500);

/// Buffers above this capacity are shrunk after their batch.
const KEEP_BUFFER_BYTES: usize = 1 << 20;

/// A log writer shared by many threads (`&self`, `Send + Sync`, put it in an
/// `Arc`): concurrent appends are gathered into one write and one
/// `fdatasync`, and each call returns only once its own record is durable.
///
/// # Design
///
/// Leader/follower. An appender encodes its record (hashing outside the
/// lock), then, under a mutex, checks the index order, copies the record to
/// the shared pending buffer and takes a sequence number. If no batch is in
/// flight it becomes the *leader*: it takes the whole pending buffer, drops
/// the mutex, writes the buffer with one positioned `write`, calls
/// `fdatasync`, then publishes the durable sequence number and wakes every
/// waiter. Appenders that arrive while a batch is in flight wait on a
/// condition variable; the first of them to wake after that batch leads the
/// next one, carrying everything that accumulated meanwhile.
///
/// Before taking the buffer a leader may wait briefly for more records: when
/// more threads are inside `append` than records are pending (the threads of
/// the batch that just finished, about to append again), it waits until
/// they have joined, or for at most half the recent `fdatasync` time (never
/// more than 500 µs). With a single appender it never waits.
///
/// # Failure
///
/// If the write or the `fdatasync` of a batch fails, every caller whose
/// record was in that batch gets the error (`write_failed` or
/// `sync_failed`, saying what is durable), a partial write is cut off, and
/// the handle is poisoned: records that were waiting for the next batch are
/// dropped unwritten (`poisoned`), and so are all later appends. Reopen the
/// log to recover.
///
/// ```
/// # fn main() -> Result<(), plog_writer::WriteError> {
/// use std::sync::Arc;
/// use plog_writer::{GroupCommit, WriterOptions};
///
/// let dir = tempfile::tempdir().unwrap();
/// let (log, _report) = GroupCommit::open(dir.path().join("raft.plog"), WriterOptions::default())?;
/// let log = Arc::new(log);
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let log = &log;
///         s.spawn(move || {
///             for i in 0..10u64 {
///                 log.append(t * 100 + i, &serde_json::json!({"thread": t, "i": i})).unwrap();
///             }
///         });
///     }
/// });
/// assert_eq!(log.durable().records, 40);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GroupCommit {
    file: LockedFile,
    path: PathBuf,
    options: WriterOptions,
    state: Mutex<State>,
    /// Waiters for their batch to become durable.
    batch_done: Condvar,
    /// A gathering leader waits here for more records.
    record_added: Condvar,
    /// Threads inside an append call (the gathering heuristic).
    appenders: AtomicUsize,
    #[cfg(test)]
    pub(crate) faults: crate::faults::Faults,
}

/// Counters of a [`GroupCommit`] handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Append calls made durable (a batch call counts once).
    pub appends: u64,
    /// Batches written, each with one write and one `fdatasync`.
    pub batches: u64,
    /// Recent `fdatasync` time (moving average).
    pub recent_sync: Duration,
}

impl GroupStats {
    /// Appends per `fdatasync` on average.
    pub fn appends_per_batch(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.appends as f64 / self.batches as f64
        }
    }
}

#[derive(Debug)]
struct State {
    /// Encoded records waiting for the next batch.
    pending: Vec<u8>,
    /// An empty buffer to swap in when a leader takes `pending`.
    spare: Vec<u8>,
    /// Appends (units) in `pending`.
    pending_units: usize,
    /// Records in `pending` and the index of the first.
    pending_records: u64,
    pending_first_index: u64,
    /// Position after the last record enqueued.
    enqueued: LogPosition,
    /// Position covered by the last successful `fdatasync`.
    durable: LogPosition,
    /// Sequence number of the last append enqueued.
    last_seq: u64,
    /// Every append with a sequence number up to this is durable.
    durable_seq: u64,
    /// A batch is being written and synced.
    leader_active: bool,
    /// The leader is waiting for more records: until this many appends are
    /// pending (0: not gathering).
    gather_target: usize,
    /// Recent `fdatasync` time (exponential moving average), nanoseconds.
    sync_nanos: u64,
    /// Batches written and synced.
    batches: u64,
    /// The batch whose write or sync failed.
    failure: Option<BatchFailure>,
    /// Set with `failure`: later appends are refused.
    poisoned: Option<Arc<str>>,
    /// Zero-filled space ahead of the records, when preallocating.
    prealloc: Option<Preallocation>,
}

#[derive(Debug, Clone)]
struct BatchFailure {
    /// Sequence numbers of the failed batch.
    first_seq: u64,
    last_seq: u64,
    kind: FailureKind,
    source: Arc<std::io::Error>,
    durable: LogPosition,
}

#[derive(Debug, Clone, Copy)]
enum FailureKind {
    Write {
        offset: u64,
        bytes: u64,
        records: u64,
        first_index: u64,
        last_index: u64,
        cut: bool,
    },
    Sync {
        written: LogPosition,
    },
}

impl GroupCommit {
    /// Opens (or creates) the log at `path`, exactly like
    /// [`Writer::open`](crate::Writer::open): lock, walk, torn-tail repair,
    /// corruption refused. `options.sync` is ignored: every append through
    /// this handle is durable when it returns.
    ///
    /// # Errors
    /// As [`Writer::open`](crate::Writer::open).
    pub fn open(
        path: impl AsRef<Path>,
        options: WriterOptions,
    ) -> Result<(GroupCommit, OpenReport), WriteError> {
        let (file, path, report) = open_log(path.as_ref(), &options)?;
        Ok((
            GroupCommit::from_parts(file, path, options, report.position()),
            report,
        ))
    }

    /// Creates a new log, like [`Writer::create`](crate::Writer::create).
    ///
    /// # Errors
    /// As [`Writer::create`](crate::Writer::create).
    pub fn create(
        path: impl AsRef<Path>,
        options: WriterOptions,
    ) -> Result<GroupCommit, WriteError> {
        let path = path.as_ref();
        let file = create_log(path)?;
        Ok(GroupCommit::from_parts(
            file,
            path.to_path_buf(),
            options,
            LogPosition::new_log(),
        ))
    }

    pub(crate) fn from_parts(
        file: LockedFile,
        path: PathBuf,
        options: WriterOptions,
        position: LogPosition,
    ) -> GroupCommit {
        GroupCommit {
            file,
            path,
            options,
            state: Mutex::new(State {
                pending: Vec::new(),
                spare: Vec::new(),
                pending_units: 0,
                pending_records: 0,
                pending_first_index: 0,
                enqueued: position,
                durable: position,
                last_seq: 0,
                durable_seq: 0,
                leader_active: false,
                gather_target: 0,
                sync_nanos: 0,
                batches: 0,
                failure: None,
                poisoned: None,
                prealloc: Preallocation::new(options.preallocate, position.len),
            }),
            batch_done: Condvar::new(),
            record_added: Condvar::new(),
            appenders: AtomicUsize::new(0),
            #[cfg(test)]
            faults: crate::faults::Faults::default(),
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// What is durable now.
    pub fn durable(&self) -> LogPosition {
        self.lock().durable
    }

    /// Where the log ends, counting appends still waiting for their batch.
    pub fn position(&self) -> LogPosition {
        self.lock().enqueued
    }

    /// Index of the last record appended (or waiting for its batch).
    pub fn last_index(&self) -> Option<u64> {
        self.lock().enqueued.last_index
    }

    /// Whether an earlier failure makes the handle refuse appends.
    pub fn is_poisoned(&self) -> bool {
        self.lock().poisoned.is_some()
    }

    /// How many appends were made durable in how many batches.
    pub fn stats(&self) -> GroupStats {
        let state = self.lock();
        GroupStats {
            appends: state.durable_seq,
            batches: state.batches,
            recent_sync: Duration::from_nanos(state.sync_nanos),
        }
    }

    /// Appends `entry` serialized with serde_json at `index`; returns once
    /// the record is durable.
    ///
    /// # Errors
    /// `index_order`, `payload_too_large`, `serialize` (nothing written);
    /// `write_failed`, `sync_failed` (this record's batch failed),
    /// `poisoned`.
    pub fn append<T: Serialize + ?Sized>(
        &self,
        index: u64,
        entry: &T,
    ) -> Result<Appended, WriteError> {
        let mut record = Vec::new();
        encode_json_record(&mut record, index, entry, &self.options)?;
        self.submit(&record, 1, index, index)
    }

    /// Appends `payload` at `index`; returns once the record is durable.
    ///
    /// # Errors
    /// As [`GroupCommit::append`], except `serialize`.
    pub fn append_raw(&self, index: u64, payload: &[u8]) -> Result<Appended, WriteError> {
        check_payload_len(&self.options, index, payload.len())?;
        // Hash outside the lock; copy under it.
        let header = RecordHeader::new(index, payload);
        self.submit_parts(&[header.as_bytes(), payload], index)
    }

    /// Appends many `(index, payload)` records as one unit (they go out in
    /// the same batch, contiguously); returns once all are durable. If any
    /// record is rejected, nothing is written.
    ///
    /// # Errors
    /// As [`GroupCommit::append_raw`]; an empty batch is a no-op.
    pub fn append_batch_raw<'a, I>(&self, records: I) -> Result<Option<Appended>, WriteError>
    where
        I: IntoIterator<Item = (u64, &'a [u8])>,
    {
        let mut encoded = Vec::new();
        let mut count = 0u64;
        let mut first = None;
        let mut last = 0;
        for (index, payload) in records {
            check_payload_len(&self.options, index, payload.len())?;
            plog_format::encode_record_to_vec(index, payload, &mut encoded);
            first.get_or_insert(index);
            last = index;
            count += 1;
        }
        let Some(first) = first else {
            return Ok(None);
        };
        self.submit(&encoded, count, first, last).map(Some)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; if one ever did, the state
        // is still consistent at every await point, so keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn submit_parts(&self, parts: &[&[u8]], index: u64) -> Result<Appended, WriteError> {
        let bytes: usize = parts.iter().map(|p| p.len()).sum();
        let _appender = Appender::enter(&self.appenders);
        let mut state = self.lock();
        self.check_usable(&state)?;
        check_index(&self.options, state.enqueued.last_index, index)?;
        let offset = state.enqueued.len;
        for part in parts {
            state.pending.extend_from_slice(part);
        }
        state.enqueued = state.enqueued.advanced(index, pos_u64(bytes));
        let seq = self.enqueue(&mut state, 1, index);
        self.wait_durable(state, seq)?;
        Ok(Appended {
            offset,
            records: 1,
            last_index: index,
            bytes: pos_u64(bytes),
        })
    }

    /// Submits already encoded records (`records` of them, indices
    /// `first..=last`, every index in between checked here).
    fn submit(
        &self,
        encoded: &[u8],
        records: u64,
        first: u64,
        last: u64,
    ) -> Result<Appended, WriteError> {
        let _appender = Appender::enter(&self.appenders);
        let mut state = self.lock();
        self.check_usable(&state)?;
        // Check every index of the unit against the one before it.
        let mut previous = state.enqueued.last_index;
        let mut at = 0usize;
        while let Some(header) = encoded.get(at..).and_then(RecordHeader::from_prefix) {
            check_index(&self.options, previous, header.index())?;
            previous = Some(header.index());
            let len = usize::try_from(header.payload_len()).unwrap_or(usize::MAX);
            at = at
                .saturating_add(plog_format::HEADER_LEN)
                .saturating_add(len);
        }
        let offset = state.enqueued.len;
        state.pending.extend_from_slice(encoded);
        state.enqueued = LogPosition {
            len: state.enqueued.len.saturating_add(pos_u64(encoded.len())),
            records: state.enqueued.records.saturating_add(records),
            last_index: Some(last),
        };
        let seq = self.enqueue(&mut state, records, first);
        self.wait_durable(state, seq)?;
        Ok(Appended {
            offset,
            records,
            last_index: last,
            bytes: pos_u64(encoded.len()),
        })
    }

    /// Books an append whose bytes were just added to `pending`; returns its
    /// sequence number.
    fn enqueue(&self, state: &mut State, records: u64, first_index: u64) -> u64 {
        if state.pending_records == 0 {
            state.pending_first_index = first_index;
        }
        state.pending_records += records;
        state.pending_units += 1;
        state.last_seq += 1;
        // Wake a gathering leader once, when its batch is complete, not for
        // every record (each wake-up is a context switch on a busy machine).
        if state.gather_target > 0 && state.pending_units >= state.gather_target {
            self.record_added.notify_one();
        }
        state.last_seq
    }

    /// Waits until append `seq` is durable, leading batches as needed.
    fn wait_durable<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        seq: u64,
    ) -> Result<(), WriteError> {
        loop {
            if state.durable_seq >= seq {
                return Ok(());
            }
            if let Some(failure) = &state.failure
                && (failure.first_seq..=failure.last_seq).contains(&seq)
            {
                return Err(self.failure_error(failure));
            }
            self.check_usable(&state)?;
            if state.leader_active {
                state = self
                    .batch_done
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            } else {
                state = self.lead(state);
            }
        }
    }

    /// Writes and syncs everything pending as one batch.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.leader_active = true;
        state = self.gather(state);

        let mut batch = std::mem::take(&mut state.spare);
        std::mem::swap(&mut batch, &mut state.pending);
        let first_seq = state.durable_seq + 1;
        let last_seq = state.last_seq;
        let start = state.durable;
        let end = state.enqueued;
        let records = state.pending_records;
        let first_index = state.pending_first_index;
        let mut prealloc = state.prealloc;
        state.pending_units = 0;
        state.pending_records = 0;
        drop(state);

        let batch_end = start.len.saturating_add(pos_u64(batch.len()));
        if let Some(prealloc) = &mut prealloc {
            prealloc.reserve(&self.file, start.len, batch_end);
        }
        let result = self.write_batch(&batch, start.len);
        if let (Some(prealloc), Ok(_) | Err((_, true))) = (&mut prealloc, &result) {
            // Written (even if the sync then failed).
            prealloc.wrote(batch_end);
        }

        let mut state = self.lock();
        state.prealloc = prealloc;
        match result {
            Ok(sync_time) => {
                state.durable = end;
                state.durable_seq = last_seq;
                state.batches += 1;
                let nanos = u64::try_from(sync_time.as_nanos()).unwrap_or(u64::MAX);
                state.sync_nanos = if state.sync_nanos == 0 {
                    nanos
                } else {
                    (state.sync_nanos / 4).saturating_mul(3) + nanos / 4
                };
            }
            Err((source, during_sync)) => {
                let kind = if during_sync {
                    FailureKind::Sync { written: end }
                } else {
                    let kind = FailureKind::Write {
                        offset: start.len,
                        bytes: pos_u64(batch.len()),
                        records,
                        first_index,
                        last_index: end.last_index.unwrap_or_default(),
                        cut: self.file.set_len(start.len).is_ok(),
                    };
                    if let Some(prealloc) = &mut state.prealloc {
                        prealloc.cut(start.len);
                    }
                    kind
                };
                let failure = BatchFailure {
                    first_seq,
                    last_seq,
                    kind,
                    source: Arc::new(source),
                    durable: start,
                };
                state.poisoned = Some(self.failure_error(&failure).to_string().into());
                state.failure = Some(failure);
                // Appends waiting for the next batch are dropped unwritten.
                state.pending.clear();
                state.pending_units = 0;
                state.pending_records = 0;
                state.enqueued = start;
            }
        }
        batch.clear();
        if batch.capacity() > KEEP_BUFFER_BYTES {
            batch.shrink_to(KEEP_BUFFER_BYTES);
        }
        if state.spare.capacity() < batch.capacity() {
            state.spare = batch;
        }
        state.leader_active = false;
        self.batch_done.notify_all();
        state
    }

    /// Waits briefly for the appenders that are about to join (see the type's
    /// docs).
    fn gather<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let expected = self.appenders.load(Ordering::Acquire);
        if state.pending_units >= expected || state.sync_nanos == 0 {
            return state;
        }
        let budget = Duration::from_nanos(state.sync_nanos / 2).min(MAX_GATHER);
        let deadline = Instant::now() + budget;
        state.gather_target = expected;
        while state.pending_units < expected {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .record_added
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.gather_target = 0;
        state
    }

    /// One write and one `fdatasync`; on failure, whether the sync failed.
    fn write_batch(&self, batch: &[u8], offset: u64) -> Result<Duration, (std::io::Error, bool)> {
        #[cfg(test)]
        let written = self.faults.write(&self.file, batch, offset);
        #[cfg(not(test))]
        let written = crate::fsio::write_all_at(&self.file, batch, offset);
        written.map_err(|e| (e, false))?;
        let started = Instant::now();
        #[cfg(test)]
        let synced = self.faults.sync(&self.file);
        #[cfg(not(test))]
        let synced = self.file.sync_data();
        synced.map_err(|e| (e, true))?;
        Ok(started.elapsed())
    }

    fn failure_error(&self, failure: &BatchFailure) -> WriteError {
        match failure.kind {
            FailureKind::Write {
                offset,
                bytes,
                records,
                first_index,
                last_index,
                cut,
            } => WriteError::WriteFailed {
                path: self.path.clone(),
                offset,
                bytes,
                records,
                first_index,
                last_index,
                cut,
                durable: failure.durable,
                source: failure.source.clone(),
            },
            FailureKind::Sync { written } => WriteError::SyncFailed {
                path: self.path.clone(),
                durable: failure.durable,
                written,
                source: failure.source.clone(),
            },
        }
    }

    fn check_usable(&self, state: &State) -> Result<(), WriteError> {
        WriteError::unless_poisoned(&self.path, state.poisoned.as_ref(), state.durable)
    }
}

impl Drop for GroupCommit {
    /// Cuts preallocated zeros off the end of the file and syncs the new
    /// length (best effort: after a crash, the next open repairs them).
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let len = state.durable.len;
        if state.poisoned.is_none()
            && let Some(prealloc) = &mut state.prealloc
            && prealloc.has_tail_after(len)
            && self.file.set_len(len).is_ok()
        {
            prealloc.cut(len);
            let _ = self.file.sync_data();
        }
    }
}

/// Counts a thread as inside an append call for its lifetime.
struct Appender<'a>(&'a AtomicUsize);

impl<'a> Appender<'a> {
    fn enter(count: &'a AtomicUsize) -> Appender<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        Appender(count)
    }
}

impl Drop for Appender<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
