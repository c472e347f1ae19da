//! Group commit: one shared writer, many threads, one write and one
//! `fdatasync` per gathered batch.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use plog_format::RecordHeader;
use serde::Serialize;

use crate::file::{Discipline, LogFile, Staged, Tail, serialize_into};
use crate::open::{create_locked, lock_or_create};
use crate::opened::OpenReport;
use crate::{Appended, LogPosition, WriteError, WriterOptions};

/// The longest a leader waits for more appenders to join its batch.
const MAX_GATHER: Duration = Duration::from_micros(500);

/// A log writer shared by many threads (`&self`, `Send + Sync`, put it in an
/// `Arc`): concurrent appends are gathered into one write and one
/// `fdatasync`, and each call returns only once its own record is durable.
///
/// # Design
///
/// Leader/follower. An appender hashes its payload outside the lock, then,
/// under a mutex, checks the record exactly as [`Writer`](crate::Writer)
/// does (poisoned, index order, payload size), copies it to the shared
/// pending batch and takes a sequence number. If no batch is in
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
/// A batch is written, cut off after a failed write, synced and poisoned
/// after a failed sync exactly as [`Writer`](crate::Writer) does it: every
/// caller whose record was in that batch gets the same error (`write_failed`
/// or `sync_failed`, saying what is durable) and the file is left the same.
/// One thing differs: any failed batch poisons the handle, even a write that
/// was cut off cleanly, because the appends waiting for the next batch were
/// checked against the records that failed. They are dropped unwritten
/// (`poisoned`), and so are all later appends. Reopen the log to recover.
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
    log: LogFile,
    state: Mutex<State>,
    /// Waiters for their batch to become durable.
    batch_done: Condvar,
    /// A gathering leader waits here for more records.
    record_added: Condvar,
    /// Threads inside an append call (the gathering heuristic).
    appenders: AtomicUsize,
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
    /// Where the file ends. A leader works on a copy while it writes and
    /// syncs without the lock, and puts it back.
    tail: Tail,
    /// Records waiting for the next batch; its end is the log's end.
    pending: Staged,
    /// An empty buffer to swap in when a leader takes `pending`.
    spare: Vec<u8>,
    /// Appends (units) in `pending`.
    pending_units: usize,
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
    /// The batch whose write or sync failed: its sequence numbers and error.
    failure: Option<(u64, u64, WriteError)>,
}

/// A record hashed outside the lock: its index, header and payload.
type Hashed<'a> = (u64, RecordHeader, &'a [u8]);

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
        Ok(GroupCommit::from_parts(
            lock_or_create(path.as_ref(), &options)?,
            options,
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
        Ok(GroupCommit::from_parts(create_locked(path.as_ref(), &options)?, options).0)
    }

    /// A read-only handle to the locked file itself (not to whatever its
    /// path names later): for a reader, e.g. `plog_mmap::Log::from_file`,
    /// that must see the bytes this handle's lock protects.
    ///
    /// # Errors
    /// `io` when the handle cannot be duplicated.
    pub fn read_handle(&self) -> Result<std::fs::File, WriteError> {
        self.log.read_handle()
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        self.log.path()
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &WriterOptions {
        self.log.options()
    }

    /// What is durable now.
    pub fn durable(&self) -> LogPosition {
        self.lock().tail.durable
    }

    /// Where the log ends, counting appends still waiting for their batch.
    pub fn position(&self) -> LogPosition {
        self.lock().pending.end()
    }

    /// Index of the last record appended (or waiting for its batch).
    pub fn last_index(&self) -> Option<u64> {
        self.lock().pending.end().last_index
    }

    /// Whether an earlier failure makes the handle refuse appends.
    pub fn is_poisoned(&self) -> bool {
        self.lock().tail.is_poisoned()
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
    /// `serialize`, then `poisoned`, `index_order`, `payload_too_large`
    /// (nothing written); `write_failed`, `sync_failed` (this record's batch
    /// failed).
    pub fn append<T: Serialize + ?Sized>(
        &self,
        index: u64,
        entry: &T,
    ) -> Result<Appended, WriteError> {
        let mut payload = Vec::new();
        serialize_into(&mut payload, index, entry)?;
        self.append_raw(index, &payload)
    }

    /// Appends `payload` at `index`; returns once the record is durable.
    ///
    /// # Errors
    /// As [`GroupCommit::append`], except `serialize`.
    pub fn append_raw(&self, index: u64, payload: &[u8]) -> Result<Appended, WriteError> {
        self.submit(&[(index, RecordHeader::new(index, payload), payload)])
    }

    /// Appends many `(index, payload)` records as one unit (they go out in
    /// the same batch, contiguously); returns once all are durable. Each
    /// record is checked as [`GroupCommit::append_raw`] checks it, in order:
    /// if any is rejected, nothing is written.
    ///
    /// # Errors
    /// As [`GroupCommit::append_raw`]; an empty batch is a no-op.
    pub fn append_batch_raw<'a, I>(&self, records: I) -> Result<Option<Appended>, WriteError>
    where
        I: IntoIterator<Item = (u64, &'a [u8])>,
    {
        let hashed: Vec<Hashed<'a>> = records
            .into_iter()
            .map(|(index, payload)| (index, RecordHeader::new(index, payload), payload))
            .collect();
        if hashed.is_empty() {
            return Ok(None);
        }
        self.submit(&hashed).map(Some)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; if one ever did, the state
        // is still consistent at every await point, so keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks and enqueues the records (hashed outside the lock) as one
    /// unit, all or nothing, then waits until they are durable.
    fn submit(&self, records: &[Hashed<'_>]) -> Result<Appended, WriteError> {
        let _appender = Appender::enter(&self.appenders);
        let mut guard = self.lock();
        let state = &mut *guard;
        let mark = state.pending.mark();
        for (index, header, payload) in records {
            if let Err(e) = self
                .log
                .admit(&state.tail, &state.pending, *index, payload.len())
            {
                state.pending.rollback(mark);
                return Err(e);
            }
            state.pending.push(*index, header, payload);
        }
        let appended = state.pending.appended_since(mark);
        state.pending_units += 1;
        state.last_seq += 1;
        let seq = state.last_seq;
        // Wake a gathering leader once, when its batch is complete, not for
        // every record (each wake-up is a context switch on a busy machine).
        if state.gather_target > 0 && state.pending_units >= state.gather_target {
            self.record_added.notify_one();
        }
        self.wait_durable(guard, seq)?;
        Ok(appended)
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
            if let Some((first_seq, last_seq, error)) = &state.failure
                && (*first_seq..=*last_seq).contains(&seq)
                && let Some(error) = error.clone_failure()
            {
                return Err(error);
            }
            self.log.check_usable(&state.tail)?;
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

        let next = Staged::with_buffer(std::mem::take(&mut state.spare), state.pending.end());
        let batch = std::mem::replace(&mut state.pending, next);
        let first_seq = state.durable_seq + 1;
        let last_seq = state.last_seq;
        let mut tail = state.tail.clone();
        state.pending_units = 0;
        drop(state);

        let result = self.log.write(&mut tail, &batch).and_then(|()| {
            let started = Instant::now();
            self.log.sync(&mut tail).map(|_| started.elapsed())
        });

        let mut state = self.lock();
        match result {
            Ok(sync_time) => {
                state.durable_seq = last_seq;
                state.batches += 1;
                let nanos = u64::try_from(sync_time.as_nanos()).unwrap_or(u64::MAX);
                state.sync_nanos = if state.sync_nanos == 0 {
                    nanos
                } else {
                    (state.sync_nanos / 4).saturating_mul(3) + nanos / 4
                };
            }
            Err(error) => {
                // Any failed batch poisons the handle (see the type's docs);
                // appends waiting for the next batch are dropped unwritten.
                tail.poison(&error);
                state.pending.clear(tail.written);
                state.pending_units = 0;
                state.failure = Some((first_seq, last_seq, error));
            }
        }
        state.tail = tail;
        let buffer = batch.into_buffer();
        if state.spare.capacity() < buffer.capacity() {
            state.spare = buffer;
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

    #[cfg(test)]
    pub(crate) fn faults(&self) -> &crate::faults::Faults {
        &self.log.faults
    }
}

impl Discipline for GroupCommit {
    fn over(log: LogFile, tail: Tail) -> GroupCommit {
        GroupCommit {
            log,
            state: Mutex::new(State {
                pending: Staged::with_buffer(Vec::new(), tail.written),
                tail,
                spare: Vec::new(),
                pending_units: 0,
                last_seq: 0,
                durable_seq: 0,
                leader_active: false,
                gather_target: 0,
                sync_nanos: 0,
                batches: 0,
                failure: None,
            }),
            batch_done: Condvar::new(),
            record_added: Condvar::new(),
            appenders: AtomicUsize::new(0),
        }
    }
}

impl Drop for GroupCommit {
    /// Cuts preallocated zeros off the end of the file and syncs the new
    /// length (best effort: after a crash, the next open repairs them).
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = self.log.trim_preallocation(&mut state.tail);
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
