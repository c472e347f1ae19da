//! The store, whatever the openraft version: opening (lock, recovery, the
//! I/O thread), appends (serialized and hashed by the caller, written by
//! the I/O thread), truncate, purge, the vote and the committed id.
//! The version adapters (`v09`, `v010`) wrap it.

use std::fs::File;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rayon::prelude::*;

use crate::append::{self, Done, Garbage, Slot};
use crate::flavor::Flavor;
use crate::index::{Payload, Segment};
use crate::io_thread::{self, Cmd, Reply};
use crate::lock::{Held, exposure, hold, lock_dir};
use crate::options::Stats;
use crate::reader::Reader;
use crate::shared::Shared;
use crate::{Options, RaftLogError, RecoveryReport, WriteStats, prealloc, recover, scan};

/// Batches of at least this many entries are serialized across the rayon
/// pool, in parts of at least half this: about 250 µs of serializing
/// engenho-shaped entries. Below it, waking the pool's sleeping threads
/// (tens of µs on a small VM) costs about what sharing the work saves.
const PARALLEL_SERIALIZE: usize = 128;
/// openraft's `append` serializes batches of at least this many entries
/// off the caller's task, on the rayon pool, so that the runtime never
/// waits for more than about 120 µs of serializing (engenho-shaped
/// entries).
const OFF_TASK_SERIALIZE: usize = 64;
/// Batches of at least this many entries are freed on the rayon pool once
/// written (`append::release`), off the append's path; smaller ones on the
/// spot.
const DROP_ON_POOL: usize = 16;

pub(crate) fn stopped() -> RaftLogError {
    RaftLogError::Misuse("the plog-raft I/O thread has stopped".into())
}

/// An entry's log id and its JSON.
type Serialized<C> = (<C as Flavor>::LogId, Arc<Payload>);

/// Checks that `entries` are contiguous and serializes them (with each
/// payload's hash); a batch of [`PARALLEL_SERIALIZE`] or more across the
/// rayon pool. A refused batch changes nothing.
fn serialize<C: Flavor>(entries: &[C::Entry]) -> Result<Vec<Serialized<C>>, RaftLogError> {
    for pair in entries.windows(2) {
        let (prev, id) = (C::log_id(&pair[0]), C::log_id(&pair[1]));
        if C::index(&id) != C::index(&prev) + 1 {
            return Err(RaftLogError::Misuse(format!(
                "append of log id {id} after {prev} in the same batch: expected index {}",
                C::index(&prev) + 1
            )));
        }
    }
    // Serializing the entries is most of an append's CPU: a large batch
    // is spread over the rayon pool, in parts of at least half the
    // threshold.
    if entries.len() >= PARALLEL_SERIALIZE {
        let part = entries
            .len()
            .div_ceil(2 * rayon::current_num_threads())
            .max(PARALLEL_SERIALIZE / 2);
        let parts: Vec<Vec<Serialized<C>>> = entries
            .par_chunks(part)
            .map(serialize_part::<C>)
            .collect::<Result<_, _>>()?;
        Ok(parts.into_iter().flatten().collect())
    } else {
        serialize_part::<C>(entries)
    }
}

/// Serializes `entries` into one shared buffer, and hashes each.
fn serialize_part<C: Flavor>(entries: &[C::Entry]) -> Result<Vec<Serialized<C>>, RaftLogError> {
    let mut buf = Vec::with_capacity(entries.len() * 512);
    let mut ranges = Vec::with_capacity(entries.len());
    for entry in entries {
        let start = buf.len();
        sonic_rs::to_writer(&mut buf, entry).map_err(|e| {
            RaftLogError::Misuse(format!("serialize entry {}: {e}", C::log_id(entry)))
        })?;
        ranges.push(start..buf.len());
    }
    // Every payload's hash at once, side by side in SIMD lanes (a 1.5 KB
    // engenho entry is two BLAKE3 chunks: one at a time, the lanes would
    // stay mostly idle).
    let mut hashes = vec![[0u8; 32]; entries.len()];
    {
        let payloads: Vec<&[u8]> = ranges.iter().map(|r| &buf[r.clone()]).collect();
        if plog_hash::hash_many(&payloads, &mut hashes).is_err() {
            // Only a length mismatch fails, and there is none: hash one
            // by one all the same rather than write unchecked hashes.
            for (hash, payload) in hashes.iter_mut().zip(&payloads) {
                *hash = *plog_format::Hash::of(payload).as_bytes();
            }
        }
    }
    let buf = Arc::new(buf);
    Ok(entries
        .iter()
        .zip(ranges)
        .zip(hashes)
        .map(|((entry, range), hash)| {
            let hash = plog_format::Hash(hash);
            let payload = Payload {
                buf: Arc::clone(&buf),
                range,
                hash,
            };
            (C::log_id(entry), Arc::new(payload))
        })
        .collect())
}

/// The store behind each version's `PlogLogStore`.
pub(crate) struct Store<C: Flavor> {
    shared: Arc<Shared<C>>,
    tx: Option<mpsc::Sender<Cmd<C>>>,
    /// The writer the I/O thread shares with a synchronous append.
    slot: Arc<Slot>,
    thread: Option<JoinHandle<()>>,
    lock: File,
    recovery: RecoveryReport,
    /// Dropped last: this process's claim on the directory.
    _held: Held,
}

impl<C: Flavor> Store<C> {
    /// Opens (creating if missing) the log directory `dir`: takes its lock,
    /// verifies every segment and recovers.
    pub(crate) fn open(dir: &Path, options: Options) -> Result<Self, RaftLogError> {
        let dir = dir.to_path_buf();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(options.dir_mode)
            .create(&dir)
            .map_err(|e| RaftLogError::io(&dir, "create the log directory", e))?;
        let held = hold(&dir, options.lock_wait)?;
        let lock = lock_dir(&dir, &options)?;
        let exposed = exposure(&dir)?;
        let recovered = recover::recover::<C>(&dir, options.file_mode)?;
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            options,
            log: Mutex::new(recovered.index),
            state: Mutex::new(recovered.state),
            stats: Stats::default(),
        });
        let (tx, rx) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let prealloc = prealloc::Prealloc::start()
            .map_err(|e| RaftLogError::io(&dir, "start the preallocation thread", e))?;
        let slot = Arc::new(Slot::new(prealloc));
        let thread_slot = Arc::clone(&slot);
        let thread = std::thread::Builder::new()
            .name("plog-raft-io".into())
            .spawn(move || io_thread::run(thread_shared, rx, thread_slot))
            .map_err(|e| RaftLogError::io(&dir, "start the I/O thread", e))?;
        Ok(Store {
            shared,
            tx: Some(tx),
            slot,
            thread: Some(thread),
            lock,
            recovery: RecoveryReport {
                exposed,
                ..recovered.report
            },
            _held: held,
        })
    }

    pub(crate) fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub(crate) fn write_stats(&self) -> WriteStats {
        self.shared.stats.snapshot()
    }

    /// What the store shares with its I/O thread (for the unit tests that
    /// watch it from a callback).
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared<C>> {
        &self.shared
    }

    /// A reader of the entries (for openraft's replication tasks).
    pub(crate) fn reader(&self) -> Reader<C> {
        Reader::new(Arc::clone(&self.shared))
    }

    /// The last purged log id and the last log id (the purged one when no
    /// entry is left above it), as openraft's `get_log_state` answers.
    pub(crate) fn log_state(&self) -> (Option<C::LogId>, Option<C::LogId>) {
        let log = self.shared.log();
        let last = log.last.clone().or_else(|| log.purged.clone());
        (log.purged.clone(), last)
    }

    /// The vote, written and synced by the I/O thread (after the appends
    /// queued before it), awaited.
    pub(crate) async fn save_vote(&self, vote: C::Vote) -> Result<(), RaftLogError> {
        self.call_async(|done| Cmd::SaveVote { vote, done }).await
    }

    /// The committed log id, persisted by the I/O thread after the appends
    /// queued before it, coalesced: openraft may lose a committed id in a
    /// crash (it only re-applies from an older point).
    pub(crate) fn save_committed(&self, committed: Option<C::LogId>) -> Result<(), RaftLogError> {
        self.shared.state().committed = committed;
        self.send(Cmd::SaveState)
    }

    /// The committed log id last saved.
    pub(crate) fn read_committed(&self) -> Option<C::LogId> {
        self.shared.state().committed.clone()
    }

    fn send(&self, cmd: Cmd<C>) -> Result<(), RaftLogError> {
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        self.slot.sent();
        tx.send(cmd).map_err(|_| {
            self.slot.unsent();
            stopped()
        })
    }

    /// Sends a command that answers, and waits (blocking) for its answer.
    fn call(&self, make: impl FnOnce(Reply) -> Cmd<C>) -> Result<(), RaftLogError> {
        let (done, wait) = mpsc::channel();
        self.send(make(Reply::Blocking(done)))?;
        wait.recv().map_err(|_| stopped())?
    }

    /// Sends a command that answers, and awaits its answer (the caller's
    /// task yields meanwhile).
    async fn call_async(&self, make: impl FnOnce(Reply) -> Cmd<C>) -> Result<(), RaftLogError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.send(make(Reply::Async(done)))?;
        wait.await.map_err(|_| stopped())?
    }

    /// Removes entry `index` and every later one, durably, blocking.
    pub(crate) fn truncate_from(&self, index: u64) -> Result<(), RaftLogError> {
        self.call(|done| Cmd::Truncate { index, done })
    }

    /// As [`Self::truncate_from`], awaited.
    pub(crate) async fn truncate_async(&self, index: u64) -> Result<(), RaftLogError> {
        self.call_async(|done| Cmd::Truncate { index, done }).await
    }

    /// Purges entries up to `log_id`, blocking until the purged id is
    /// durable.
    pub(crate) fn purge_to(&self, log_id: C::LogId) -> Result<(), RaftLogError> {
        self.call(|done| Cmd::Purge { log_id, done })
    }

    /// As [`Self::purge_to`], awaited.
    pub(crate) async fn purge_async(&self, log_id: C::LogId) -> Result<(), RaftLogError> {
        self.call_async(|done| Cmd::Purge { log_id, done }).await
    }

    /// Appends `entries`, serialized on the calling thread (which may
    /// block), and calls `done` once they are durable: on this thread,
    /// before returning, when the I/O thread has nothing queued (the
    /// entries are written and synced here: no hand-off there and back),
    /// from the I/O thread otherwise. An append over existing entries
    /// waits for its truncate.
    pub(crate) fn append_with(
        &mut self,
        entries: Vec<C::Entry>,
        done: Done<C>,
    ) -> Result<(), RaftLogError> {
        let batch = serialize::<C>(&entries)?;
        let garbage = Garbage::of(entries, DROP_ON_POOL);
        match self.admit(batch)? {
            None => self.enqueue(Vec::new(), done, false, garbage),
            Some(batch) => {
                if let Some(index) = self.overwrites(&batch) {
                    self.truncate_from(index)?;
                }
                self.enqueue(batch, done, true, garbage)
            }
        }
    }

    /// As [`Self::append_with`], but nothing that blocks runs on the
    /// caller's task: a batch of [`OFF_TASK_SERIALIZE`] entries or more is
    /// serialized (and dropped) on the rayon pool while the task awaits
    /// it, and a truncate is awaited. Returns once the entries are queued
    /// (readable), not once they are durable: that is `callback`'s news.
    pub(crate) async fn append_awaiting(
        &mut self,
        entries: Vec<C::Entry>,
        callback: Done<C>,
    ) -> Result<(), RaftLogError> {
        let (batch, entries) = if entries.len() >= OFF_TASK_SERIALIZE {
            let (tx, rx) = tokio::sync::oneshot::channel();
            rayon::spawn(move || {
                let batch = serialize::<C>(&entries);
                let _ = tx.send((batch, entries));
            });
            rx.await.map_err(|_| stopped())?
        } else {
            (serialize::<C>(&entries), entries)
        };
        let garbage = Garbage::of(entries, DROP_ON_POOL);
        let Some(batch) = self.admit(batch?)? else {
            return self.enqueue(Vec::new(), callback, false, garbage);
        };
        if let Some(index) = self.overwrites(&batch) {
            self.truncate_async(index).await?;
        }
        self.enqueue(batch, callback, false, garbage)
    }

    /// Refuses a batch for a poisoned store; drops its entries at or below
    /// the purged id (they are already covered by a snapshot: openraft's
    /// suite appends such entries, the engine does not). `None` when
    /// nothing is left.
    fn admit(
        &self,
        mut batch: Vec<Serialized<C>>,
    ) -> Result<Option<Vec<Serialized<C>>>, RaftLogError> {
        let log = self.shared.log();
        if let Some(why) = &log.poisoned {
            return Err(RaftLogError::Poisoned(why.clone()));
        }
        if let Some(purged) = log.purged_index() {
            batch.retain(|(id, _)| C::index(id) > purged);
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    /// The index to truncate from when `batch` starts at or below the last
    /// index (an append over existing entries replaces them: openraft's
    /// conformance suite does this, the engine truncates first).
    fn overwrites(&self, batch: &[Serialized<C>]) -> Option<u64> {
        let first = C::index(&batch.first()?.0);
        let log = self.shared.log();
        log.last_index()
            .is_some_and(|last| last >= first)
            .then_some(first)
    }

    /// Puts `batch` in the index (readable from memory until durable) and
    /// hands it to the I/O thread with its callback and `garbage` (freed
    /// once written); with `in_place` (a caller that may block),
    /// writes it on the caller's thread instead when the I/O thread is
    /// idle.
    fn enqueue(
        &mut self,
        batch: Vec<Serialized<C>>,
        callback: Done<C>,
        in_place: bool,
        garbage: Garbage,
    ) -> Result<(), RaftLogError> {
        let Some(last_id) = batch.last().map(|(id, _)| id.clone()) else {
            // Nothing to write; the callback still comes after everything
            // queued before.
            return self.send(Cmd::Append {
                records: Vec::new(),
                callback: Some(callback),
                garbage,
            });
        };
        let mut log = self.shared.log();
        // An index past the next one (only the suite does this) starts a
        // new segment: reads find nothing in between, and a reopen refuses
        // the gap.
        let mut force_new = log
            .next_index()
            .is_some_and(|next| batch.first().is_some_and(|(id, _)| C::index(id) != next));
        let mut records = Vec::with_capacity(batch.len());
        let segment_bytes = self.shared.options.segment_bytes;
        for (id, payload) in batch {
            let index = C::index(&id);
            let open = !force_new
                && log
                    .segments
                    .last_key_value()
                    .is_some_and(|(_, s)| !s.sealed && s.planned_end < segment_bytes);
            force_new = false;
            if !open {
                let path = self.shared.dir.join(scan::segment_name(index));
                log.segments.insert(index, Segment::new(path));
            }
            let Some(mut last) = log.segments.last_entry() else {
                unreachable!("a segment was just ensured")
            };
            let first = *last.key();
            let segment = last.get_mut();
            // A payload held in memory is under `isize::MAX` bytes, so its
            // record's length cannot overflow.
            let encoded = plog_format::encoded_len(payload.json().len()).unwrap_or(usize::MAX);
            segment.planned_end += encoded as u64;
            segment.pending.push_back(Arc::clone(&payload));
            records.push(append::Record {
                segment: first,
                index,
                payload,
            });
        }
        log.last = Some(last_id);
        drop(log);
        let (records, callback, garbage) = if in_place {
            match self
                .slot
                .append_in_place(&self.shared, records, callback, garbage)
            {
                None => return Ok(()),
                Some(queued) => queued,
            }
        } else {
            (records, callback, garbage)
        };
        self.send(Cmd::Append {
            records,
            callback: Some(callback),
            garbage,
        })
    }
}

impl<C: Flavor> Drop for Store<C> {
    fn drop(&mut self) {
        // Closing the channel lets the I/O thread finish what is queued
        // (and call its callbacks) and stop.
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // A reader may outlive the store; the state file's lock must not.
        self.shared.state().close();
        let _ = self.lock.unlock();
        // `_held` (dropped after this) lets a waiting open of this
        // directory go on.
    }
}
