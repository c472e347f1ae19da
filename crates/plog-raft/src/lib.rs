//! An [openraft](https://docs.rs/openraft/0.9) log store on plog v1 files.
//!
//! [`PlogLogStore`] implements openraft 0.9's `storage-v2`
//! [`RaftLogStorage`] and [`RaftLogReader`] for any [`RaftTypeConfig`] (its
//! entries are serde-serializable: openraft's `serde` feature).
//!
//! # On disk
//!
//! A log directory holds:
//!
//! * segment files named by their first Raft index,
//!   `00000000000000000001.plog`, each a valid plog v1 log (`plog verify`,
//!   `plog dump` and `plog repair` work on them as they are). Each record's
//!   index field is the Raft index and its payload is the JSON of the
//!   openraft entry (log id inside; written by sonic-rs, which writes the
//!   bytes serde_json writes, 2.7x faster; read back by serde_json); reads
//!   check one against the other. The
//!   last record of each write ends with a write mark (trailing JSON
//!   whitespace), and the segment being written ends in preallocated zeros:
//!   `RAFT-SEGMENTS.md` (beside `FORMAT.md`) describes both and the tail
//!   rule recovery applies.
//! * `state.plog`: the vote, the committed log id and the last purged log
//!   id, a v1 log whose last valid record wins (one record, one fdatasync
//!   per change; compacted through a temporary file, fsync, rename and
//!   directory fsync).
//! * `LOCK`: one store per directory (an exclusive `flock`); it holds the v1
//!   magic, so `plog verify DIR` finds every file of the directory clean.
//!
//! Files are created `0600` and a new directory `0700` ([`Options`]);
//! hidden files and `lost+found` in the directory are left alone.
//! [`inspect`] checks and lists a directory as one log, read-only.
//!
//! # Writes
//!
//! `append` serializes the entries and hashes them (a batch of 128 or more
//! across the rayon pool; openraft's `append` moves a batch of 64 or more
//! off its task and awaits it), puts them in the in-memory index (they are readable
//! when it returns) and hands them to one I/O thread, which writes
//! everything queued for a segment with one positioned write and one
//! `fdatasync` (group commit) and only then calls each `LogFlushed`
//! callback, in order. The synchronous [`PlogLogStore::append_with`],
//! whose caller may block, writes on the caller's thread instead when the
//! I/O thread is idle (no hand-off there and back). A background thread keeps written, synced zeros ahead of the
//! write offset, so that the write overwrites blocks the file owns and the
//! flush carries no size change ([`PlogLogStore::write_stats`] counts
//! both kinds). Serializing the next batch overlaps the previous one's
//! I/O. `truncate` unlinks later segments newest first, fsyncs the
//! directory, then cuts the segment and syncs it; `purge` makes the purged
//! id durable, answers, and unlinks whole segments at or below it on a
//! background thread. A new segment is started when the current one
//! passes [`Options::segment_bytes`], and after every open and truncate
//! (segments that were not written by this store instance are never
//! appended to). No trait method blocks its task: the vote, truncate and
//! purge are done by the I/O thread and awaited, reads run on the rayon
//! pool and are awaited.
//!
//! The committed log id is written by the I/O thread at most 50 ms after
//! it changes (each rewrite of the state file costs two fsyncs, and openraft
//! reports every commit); openraft tolerates an older committed id after a
//! crash. The vote and the purged id are durable before their calls return.
//!
//! Beyond what the openraft engine asks for, and because openraft's
//! conformance suite does it: an append over existing indices replaces them
//! (a truncate first), entries at or below the purged id are dropped, and an
//! append past the next index starts a new segment (reads find nothing in
//! between, and a reopen refuses the gap).
//!
//! # Reads
//!
//! `try_get_log_entries` finds the first record of the range through the
//! in-memory offsets (no record before it is read), reads the range's bytes
//! in one `pread` per segment, checks each record's structure and index,
//! verifies their hashes (many side by side in SIMD lanes, plog-hash) and
//! decodes the entries on the rayon pool, checking that each entry's log id
//! has the record's index. [`Options::verify_reads`] (on by default) can
//! turn the hashing off for a store that trusts its medium.
//!
//! # Open is recovery
//!
//! Every segment is read and verified (hashes in parallel on the rayon
//! pool). Only the last segment may end in a torn append, as the tail rule
//! of `RAFT-SEGMENTS.md` tells it from damage (it is cut and synced; the
//! zeros after each segment's last record are trimmed); any other damage,
//! a missing segment, a gap or a non-contiguous index, a foreign file or a
//! segment whose log ids go backwards refuses to open with a
//! [`RaftLogError`] that names the segment, offset and index, and nothing
//! is changed. An open waits (up to [`Options::lock_wait`]) for a store of
//! the same directory in this process that is being dropped.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use openraft::storage::RaftLogStorage;
//! use plog_raft::{Options, PlogLogStore};
//! use std::io::Cursor; // the default snapshot data of declare_raft_types!
//!
//! openraft::declare_raft_types!(pub Config: D = String, R = String);
//!
//! let dir = tempfile::tempdir()?;
//! let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default())?;
//! let state = store.get_log_state().await?;
//! assert_eq!(state.last_log_id, None);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
pub mod inspect;
mod io_thread;
mod prealloc;
mod read;
mod recover;
mod scan;
mod state;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::fs::File;
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, LogId, RaftLogId, RaftLogReader, RaftTypeConfig, StorageError, Vote};
use openraft::{StorageIOError, StorageIOError as SIO};
use rayon::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::RaftLogError;
pub use recover::RecoveryReport;
pub use scan::TailCut;
pub use state::STATE_FILE;

use io_thread::{Cmd, Done, Reply};
use state::PersistedState;

/// The name of the lock file inside a log directory.
pub const LOCK_FILE: &str = "LOCK";

/// How a [`PlogLogStore`] lays out its segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// A new segment is started once the current one holds at least this
    /// many bytes (default 64 MiB). Purge works in whole segments, and
    /// recovery verifies segments in parallel.
    pub segment_bytes: u64,
    /// Whether `try_get_log_entries` checks every record's BLAKE3 hash
    /// again (default `true`). Every record a store holds was verified once
    /// already (at open, or written from memory by this store), but the
    /// bytes are read again from the file, where another program or the
    /// medium may have changed them since: a replicated log must not serve
    /// an entry that is not the one made durable. Reads always check each
    /// record's structure, that its index is the one asked for, and that
    /// its payload decodes to an entry of that index; the hashing costs
    /// about 3 % of decoding an engenho-sized entry. `false` skips it.
    pub verify_reads: bool,
    /// The permission bits of the segments and the state file (default
    /// `0o600`: only the owner reads the log), set whatever the umask.
    pub file_mode: u32,
    /// The permission bits of a log directory the store creates (default
    /// `0o700`; subject to the umask, as `mkdir` is).
    pub dir_mode: u32,
    /// How long an open waits for another store of this process that holds
    /// the same directory to be dropped (default 5 s; openraft drops its
    /// log store a moment after `Raft::shutdown` returns). A store of
    /// another process is [`RaftLogError::Locked`] at once.
    pub lock_wait: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_bytes: 64 << 20,
            verify_reads: true,
            file_mode: 0o600,
            dir_mode: 0o700,
            lock_wait: std::time::Duration::from_secs(5),
        }
    }
}

/// An entry's JSON and its BLAKE3 hash, computed by the caller's thread. The JSON lives in a buffer shared with the entries serialized
/// beside it: one allocation per batch (or per part of one) instead of one
/// of a kilobyte or more per entry, which glibc's malloc pays for dearly
/// right after a batch of entry trees was freed.
#[derive(Debug)]
pub(crate) struct Payload {
    buf: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
    pub hash: plog_format::Hash,
}

impl Payload {
    /// The entry's JSON.
    pub(crate) fn json(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
}

/// How the store's writes went, since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Writes (one `pwrite` and one `fdatasync` each) that landed in zeros
    /// the preallocator had already written and synced: the data alone is
    /// flushed.
    pub overwrites: u64,
    /// Writes that extended the file (the preallocator was not ahead; the
    /// flush also commits the new size).
    pub growths: u64,
}

#[derive(Debug, Default)]
struct Stats {
    overwrites: std::sync::atomic::AtomicU64,
    growths: std::sync::atomic::AtomicU64,
}

/// One segment in the in-memory index.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// A read handle, once the file exists.
    file: Option<Arc<File>>,
    /// The offset of each durable record (indices `first..first +
    /// offsets.len()`).
    offsets: Vec<u64>,
    /// The end of the durable records.
    end: u64,
    /// The records queued after them (the next indices), until they are
    /// durable.
    pending: VecDeque<Arc<Payload>>,
    /// Where the segment will end once the queued records are written
    /// (the write marks aside): decides when a new segment starts.
    planned_end: u64,
    /// Found at open or cut by a truncate: never appended to again.
    sealed: bool,
}

impl Segment {
    /// Records held, durable or queued.
    fn count(&self) -> usize {
        self.offsets.len() + self.pending.len()
    }
}

/// The index of the log: segments by first index, and the log ids.
#[derive(Debug)]
struct LogIndex<C: RaftTypeConfig> {
    segments: BTreeMap<u64, Segment>,
    /// The last entry present above `purged`.
    last: Option<LogId<C::NodeId>>,
    purged: Option<LogId<C::NodeId>>,
    /// Set by a failed write: every later write is refused.
    poisoned: Option<String>,
}

impl<C: RaftTypeConfig> LogIndex<C> {
    /// The index the next append must carry, if any is determined.
    fn next_index(&self) -> Option<u64> {
        self.last
            .as_ref()
            .or(self.purged.as_ref())
            .map(|id| id.index + 1)
    }
}

/// Batches of at least this many entries are serialized across the rayon
/// pool, in parts of at least half this: about 250 µs of serializing
/// engenho-shaped entries. Below it, waking the pool's sleeping threads
/// (tens of µs on a small VM) costs about what sharing the work saves.
const PARALLEL_SERIALIZE: usize = 128;
/// openraft's `append` serializes (and drops) batches of at least this
/// many entries off the caller's task, on the rayon pool, so that the
/// runtime never waits for more than about 120 µs of serializing
/// (engenho-shaped entries); smaller batches are dropped on the pool too.
const OFF_TASK_SERIALIZE: usize = 64;
/// Batches of at least this many entries are dropped on the rayon pool,
/// off the append's path.
const DROP_ON_POOL: usize = 16;

fn stopped() -> RaftLogError {
    RaftLogError::Misuse("the plog-raft I/O thread has stopped".into())
}

/// Checks that `entries` are contiguous and serializes them (with each
/// payload's hash); a batch of [`PARALLEL_SERIALIZE`] or more across the
/// rayon pool. A refused batch changes nothing.
fn serialize<C>(entries: &[C::Entry]) -> Result<Vec<Serialized<C>>, RaftLogError>
where
    C: RaftTypeConfig,
    C::Entry: Serialize,
{
    for pair in entries.windows(2) {
        let (prev, id) = (pair[0].get_log_id(), pair[1].get_log_id());
        if id.index != prev.index + 1 {
            return Err(RaftLogError::Misuse(format!(
                "append of log id {id} after {prev} in the same batch: expected index {}",
                prev.index + 1
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
fn serialize_part<C>(entries: &[C::Entry]) -> Result<Vec<Serialized<C>>, RaftLogError>
where
    C: RaftTypeConfig,
    C::Entry: Serialize,
{
    let mut buf = Vec::with_capacity(entries.len() * 512);
    let mut ranges = Vec::with_capacity(entries.len());
    for entry in entries {
        let start = buf.len();
        sonic_rs::to_writer(&mut buf, entry).map_err(|e| {
            RaftLogError::Misuse(format!("serialize entry {}: {e}", entry.get_log_id()))
        })?;
        ranges.push(start..buf.len());
    }
    let buf = Arc::new(buf);
    Ok(entries
        .iter()
        .zip(ranges)
        .map(|(entry, range)| {
            let hash = plog_format::Hash::of(&buf[range.clone()]);
            let payload = Payload {
                buf: Arc::clone(&buf),
                range,
                hash,
            };
            (entry.get_log_id().clone(), Arc::new(payload))
        })
        .collect())
}

/// An entry's log id and its JSON.
type Serialized<C> = (LogId<<C as RaftTypeConfig>::NodeId>, Arc<Payload>);

/// What the store and its readers share.
struct Shared<C: RaftTypeConfig> {
    dir: PathBuf,
    options: Options,
    log: Mutex<LogIndex<C>>,
    state: Mutex<PersistedState<C::NodeId>>,
    stats: Stats,
}

impl<C: RaftTypeConfig> Shared<C> {
    fn log(&self) -> MutexGuard<'_, LogIndex<C>> {
        // A panic while the lock was held (there is none in this crate)
        // leaves a consistent index: every update is a few field writes.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state(&self) -> MutexGuard<'_, PersistedState<C::NodeId>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The openraft log store: a directory of plog v1 segments (see the crate
/// documentation).
pub struct PlogLogStore<C: RaftTypeConfig> {
    shared: Arc<Shared<C>>,
    tx: Option<mpsc::Sender<Cmd<C>>>,
    /// The writer the I/O thread shares with a synchronous append.
    slot: Arc<io_thread::Slot>,
    thread: Option<JoinHandle<()>>,
    lock: File,
    recovery: RecoveryReport,
    /// Dropped last: this process's claim on the directory.
    _held: Held,
}

/// A cloneable reader of a [`PlogLogStore`]'s entries, for openraft's
/// replication tasks.
pub struct PlogLogReader<C: RaftTypeConfig> {
    shared: Arc<Shared<C>>,
}

impl<C: RaftTypeConfig> Clone for PlogLogReader<C> {
    fn clone(&self) -> Self {
        PlogLogReader {
            shared: Arc::clone(&self.shared),
        }
    }
}

fn write_err<NID: openraft::NodeId>(e: impl ToString) -> StorageError<NID> {
    SIO::write_logs(AnyError::error(e)).into()
}

fn read_err<NID: openraft::NodeId>(e: impl ToString) -> StorageError<NID> {
    SIO::read_logs(AnyError::error(e)).into()
}

impl<C> PlogLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    /// Opens (creating if missing) the log directory `dir`: takes its lock,
    /// verifies every segment and recovers (see the crate documentation).
    ///
    /// # Errors
    /// [`RaftLogError::Locked`] when another store has the directory; the
    /// other variants for damage, which leave the directory as it is.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Self, RaftLogError> {
        let dir = dir.as_ref().to_path_buf();
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
        let slot = Arc::new(io_thread::Slot::new(prealloc));
        let thread_slot = Arc::clone(&slot);
        let thread = std::thread::Builder::new()
            .name("plog-raft-io".into())
            .spawn(move || io_thread::run(thread_shared, rx, thread_slot))
            .map_err(|e| RaftLogError::io(&dir, "start the I/O thread", e))?;
        Ok(PlogLogStore {
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

    /// What the open found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// How the writes went since the store was opened.
    pub fn write_stats(&self) -> WriteStats {
        use std::sync::atomic::Ordering::Relaxed;
        WriteStats {
            overwrites: self.shared.stats.overwrites.load(Relaxed),
            growths: self.shared.stats.growths.load(Relaxed),
        }
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

    /// Removes entry `index` and every later one, durably (blocking until
    /// done): later segments are unlinked newest first, the directory is
    /// synced, then the segment holding `index` is cut and synced.
    ///
    /// # Errors
    /// An I/O error (which poisons the store).
    pub fn truncate_from(&mut self, index: u64) -> Result<(), RaftLogError> {
        self.call(|done| Cmd::Truncate { index, done })
    }

    /// Purges entries up to `log_id` (inclusive), blocking until the purged
    /// id is durable; whole segments at or below it are then unlinked in
    /// the background. A purge at or below the current purged id does
    /// nothing.
    ///
    /// # Errors
    /// An I/O error.
    pub fn purge_to(&mut self, log_id: LogId<C::NodeId>) -> Result<(), RaftLogError> {
        self.call(|done| Cmd::Purge { log_id, done })
    }

    /// Appends `entries` (they are readable when this returns) and calls
    /// `done` once they are durable (or with the error that stopped them).
    /// This is openraft's `append` with a plain callback, for callers
    /// outside a Raft engine, and it may block: it serializes the entries
    /// on the calling thread (a batch of 128 or more across the rayon pool),
    /// for an append over existing entries waits for the truncate, and
    /// when the I/O thread has nothing queued writes and syncs the entries
    /// itself and calls `done` before returning (no hand-off to the I/O
    /// thread and back); otherwise `done` is called from the I/O thread.
    ///
    /// An entry at or below the purged id is dropped; an entry at or below
    /// the last index replaces it and everything after it (a truncate
    /// first); an entry past the next index starts a new segment (a reopen
    /// then refuses the gap: openraft never does this).
    ///
    /// # Errors
    /// A batch that is not contiguous, a poisoned store, a stopped I/O
    /// thread, an entry that does not serialize.
    pub fn append_with<I>(
        &mut self,
        entries: I,
        done: impl FnOnce(std::io::Result<()>) + Send + 'static,
    ) -> Result<(), RaftLogError>
    where
        I: IntoIterator<Item = C::Entry>,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        let batch = serialize::<C>(&entries)?;
        // Dropping the entries costs about as much as serializing them (a
        // tree of small allocations each): a large batch is dropped on the
        // rayon pool, off the append's path, as openraft's `append` does.
        // (Dropping it across the pool is no faster: the frees meet in the
        // allocator.)
        if entries.len() >= DROP_ON_POOL {
            rayon::spawn(move || drop(entries));
        } else {
            drop(entries);
        }
        let done = Done::Fn(Box::new(done));
        match self.admit(batch)? {
            None => self.enqueue(Vec::new(), done, false),
            Some(batch) => {
                if let Some(index) = self.overwrites(&batch) {
                    self.truncate_from(index)?;
                }
                self.enqueue(batch, done, true)
            }
        }
    }

    /// openraft's `append` with a plain callback: as
    /// [`Self::append_with`], but nothing that blocks runs on the caller's
    /// task: a batch of 64 entries or more is serialized (and dropped) on
    /// the rayon pool while the task awaits it, and a truncate is awaited.
    /// `done` is called from the I/O thread once the entries are durable.
    ///
    /// # Errors
    /// As [`Self::append_with`].
    pub async fn append_async<I>(
        &mut self,
        entries: I,
        done: impl FnOnce(std::io::Result<()>) + Send + 'static,
    ) -> Result<(), RaftLogError>
    where
        I: IntoIterator<Item = C::Entry>,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.append_awaiting(entries, Done::Fn(Box::new(done)))
            .await
    }

    async fn append_awaiting(
        &mut self,
        entries: Vec<C::Entry>,
        callback: Done<C>,
    ) -> Result<(), RaftLogError> {
        let batch = if entries.len() >= OFF_TASK_SERIALIZE {
            let (tx, rx) = tokio::sync::oneshot::channel();
            rayon::spawn(move || {
                let batch = serialize::<C>(&entries);
                let _ = tx.send(batch);
                // While the task goes on to queue the batch.
                drop(entries);
            });
            rx.await.map_err(|_| stopped())??
        } else {
            let batch = serialize::<C>(&entries);
            if entries.len() >= DROP_ON_POOL {
                rayon::spawn(move || drop(entries));
            }
            batch?
        };
        let Some(batch) = self.admit(batch)? else {
            return self.enqueue(Vec::new(), callback, false);
        };
        if let Some(index) = self.overwrites(&batch) {
            self.call_async(|done| Cmd::Truncate { index, done })
                .await?;
        }
        self.enqueue(batch, callback, false)
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
        if let Some(purged) = &log.purged {
            batch.retain(|(id, _)| id.index > purged.index);
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    /// The index to truncate from when `batch` starts at or below the last
    /// index (an append over existing entries replaces them: openraft's
    /// conformance suite does this, the engine truncates first).
    fn overwrites(&self, batch: &[Serialized<C>]) -> Option<u64> {
        let first = batch.first()?.0.index;
        let log = self.shared.log();
        log.last
            .as_ref()
            .is_some_and(|l| l.index >= first)
            .then_some(first)
    }

    /// Puts `batch` in the index (readable from memory until durable) and
    /// hands it to the I/O thread with its callback; with `in_place` (a
    /// caller that may block), writes it on the caller's thread instead
    /// when the I/O thread is idle.
    fn enqueue(
        &mut self,
        batch: Vec<Serialized<C>>,
        callback: Done<C>,
        in_place: bool,
    ) -> Result<(), RaftLogError> {
        let Some(last_id) = batch.last().map(|(id, _)| id.clone()) else {
            // Nothing to write; the callback still comes after everything
            // queued before.
            return self.send(Cmd::Append {
                records: Vec::new(),
                callback: Some(callback),
            });
        };
        let mut log = self.shared.log();
        // An index past the next one (only the suite does this) starts a
        // new segment: reads find nothing in between, and a reopen refuses
        // the gap.
        let mut force_new = log
            .next_index()
            .is_some_and(|next| batch.first().is_some_and(|(id, _)| id.index != next));
        let mut records = Vec::with_capacity(batch.len());
        let segment_bytes = self.shared.options.segment_bytes;
        for (id, payload) in batch {
            let open = !force_new
                && log
                    .segments
                    .last_key_value()
                    .is_some_and(|(_, s)| !s.sealed && s.planned_end < segment_bytes);
            force_new = false;
            if !open {
                let path = self.shared.dir.join(scan::segment_name(id.index));
                log.segments.insert(
                    id.index,
                    Segment {
                        path,
                        file: None,
                        offsets: Vec::new(),
                        end: plog_format::MAGIC_LEN as u64,
                        pending: VecDeque::new(),
                        planned_end: plog_format::MAGIC_LEN as u64,
                        sealed: false,
                    },
                );
            }
            let Some(mut last) = log.segments.last_entry() else {
                unreachable!("a segment was just ensured")
            };
            let first = *last.key();
            let segment = last.get_mut();
            segment.planned_end += scan::encoded_len(payload.json().len());
            segment.pending.push_back(Arc::clone(&payload));
            records.push(io_thread::Record {
                segment: first,
                index: id.index,
                payload,
            });
        }
        log.last = Some(last_id);
        drop(log);
        let (records, callback) = if in_place {
            match self.slot.append_in_place(&self.shared, records, callback) {
                None => return Ok(()),
                Some(queued) => queued,
            }
        } else {
            (records, callback)
        };
        self.send(Cmd::Append {
            records,
            callback: Some(callback),
        })
    }

    fn reader(&self) -> PlogLogReader<C> {
        PlogLogReader {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C: RaftTypeConfig> Drop for PlogLogStore<C> {
    fn drop(&mut self) {
        // Closing the channel lets the I/O thread finish what is queued
        // (and call its callbacks) and stop.
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = self.lock.unlock();
        // `_held` (dropped after this) lets a waiting open of this
        // directory go on.
    }
}

/// The log directories held by stores of this process, so that an open
/// waits for a store of the same directory that is being dropped (openraft
/// drops its log store a moment after `Raft::shutdown` returns) instead of
/// failing with [`RaftLogError::Locked`].
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static RELEASED: std::sync::Condvar = std::sync::Condvar::new();

/// This process's claim on a directory, released on drop.
struct Held(PathBuf);

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|d| d != &self.0);
        RELEASED.notify_all();
    }
}

fn hold(dir: &Path, wait: std::time::Duration) -> Result<Held, RaftLogError> {
    let key = std::fs::canonicalize(dir)
        .map_err(|e| RaftLogError::io(dir, "resolve the log directory", e))?;
    let deadline = std::time::Instant::now() + wait;
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    while held.contains(&key) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(RaftLogError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        held = RELEASED
            .wait_timeout(held, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    held.push(key.clone());
    Ok(Held(key))
}

fn lock_dir(dir: &Path, options: &Options) -> Result<File, RaftLogError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(options.file_mode)
        .open(&path)
        .map_err(|e| RaftLogError::io(&path, "open the lock file", e))?;
    match file.try_lock() {
        Ok(()) => {
            // The lock file holds the v1 magic, an empty v1 log: `plog
            // verify DIR` finds it clean like the rest of the directory.
            if file.metadata().is_ok_and(|m| m.len() == 0) {
                use std::io::Write;
                (&file)
                    .write_all(&plog_format::MAGIC)
                    .map_err(|e| RaftLogError::io(&path, "write the lock file", e))?;
            }
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(RaftLogError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(RaftLogError::io(path, "lock the directory", e))
        }
    }
}

/// The permission bits that let others than the owner into the directory
/// (`0o077` of its mode), if any: reported, not refused.
fn exposure(dir: &Path) -> Result<Option<u32>, RaftLogError> {
    let meta =
        std::fs::metadata(dir).map_err(|e| RaftLogError::io(dir, "read the log directory", e))?;
    let bits = meta.mode() & 0o077;
    Ok((bits != 0).then_some(bits))
}

/// Sets `file`'s permission bits to exactly `mode` (the umask can only
/// take bits away at creation; this makes the mode the one asked for).
pub(crate) fn set_mode(file: &File, path: &Path, mode: u32) -> Result<(), RaftLogError> {
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| RaftLogError::io(path, "set the file's permissions", e))
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&x) => x,
        Bound::Excluded(&x) => x.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&x) => x.saturating_add(1),
        Bound::Excluded(&x) => x,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl<C> PlogLogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    /// Reads entries `start..end` (clamped to the log): the plan under the
    /// index lock, then the reads, hashes and decoding on the rayon pool
    /// while the caller's task awaits them.
    async fn read_range(&self, start: u64, end: u64) -> Result<Vec<C::Entry>, String> {
        let pieces = read::plan(&self.shared.log(), start, end);
        if pieces.is_empty() {
            return Ok(Vec::new());
        }
        let verify = self.shared.options.verify_reads;
        let (tx, rx) = tokio::sync::oneshot::channel();
        rayon::spawn(move || {
            let _ = tx.send(read::load::<C>(&pieces, verify));
        });
        rx.await
            .map_err(|_| "the read was dropped by the rayon pool".to_string())?
    }
}

impl<C> RaftLogReader<C> for PlogLogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        let (start, end) = bounds(&range);
        self.read_range(start, end).await.map_err(read_err)
    }
}

impl<C> RaftLogReader<C> for PlogLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        self.reader().try_get_log_entries(range).await
    }
}

impl<C> RaftLogStorage<C> for PlogLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    type LogReader = PlogLogReader<C>;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        let log = self.shared.log();
        Ok(LogState {
            last_purged_log_id: log.purged.clone(),
            last_log_id: log.last.clone().or_else(|| log.purged.clone()),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        // Written and synced by the I/O thread (after the appends queued
        // before it), awaited.
        let vote = vote.clone();
        self.call_async(|done| Cmd::SaveVote { vote, done })
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_vote(AnyError::new(&e))))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.shared.state().vote.clone())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> Result<(), StorageError<C::NodeId>> {
        // Persisted by the I/O thread after the appends queued before it,
        // coalesced: openraft may lose a committed id in a crash (it only
        // re-applies from an older point).
        self.shared.state().committed = committed;
        self.send(Cmd::SaveState).map_err(write_err)
    }

    async fn read_committed(
        &mut self,
    ) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.shared.state().committed.clone())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.append_awaiting(entries, Done::Raft(callback))
            .await
            .map_err(write_err)
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        let index = log_id.index;
        self.call_async(|done| Cmd::Truncate { index, done })
            .await
            .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.call_async(|done| Cmd::Purge { log_id, done })
            .await
            .map_err(write_err)
    }
}
