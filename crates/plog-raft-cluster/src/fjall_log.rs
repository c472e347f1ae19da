//! The baseline: an openraft 0.9 log store on fjall, written exactly as
//! engenho-store's `FjallStore` (`engenho-store/src/fjall_store.rs`) writes
//! its Raft log, so that plog-raft is measured against what engenho-store
//! runs today.
//!
//! One keyspace; a `log` partition keyed by the big-endian u64 index whose
//! values are `serde_json::to_vec(&Entry)`; a `meta` partition of JSON
//! values under fixed keys (`vote`, `committed`, `last_purged`). Every write
//! is made durable with `keyspace.persist(PersistMode::SyncAll)`:
//!
//! * `append`: each entry `insert`ed on its own, one `persist(SyncAll)`,
//!   then the callback;
//! * `save_vote`, `save_committed`: `insert`, `persist(SyncAll)`;
//! * `truncate`: the keys from the index on collected, removed one by one,
//!   `persist(SyncAll)`;
//! * `purge`: every key of the log visited, those up to the index removed
//!   one by one, `last_purged` inserted, `persist(SyncAll)`.
//!
//! As in engenho-store, all of it runs on the caller's task: the fsyncs
//! block the runtime's worker thread for their duration (deliberately here,
//! to measure what engenho-store pays; [`crate::cluster`] gives each node
//! its own runtime, as each engenho-store node is its own process).
//! [`FjallLogStore::open_off_runtime`] makes a diagnostic variant whose
//! `append`, `save_committed` and `save_vote` do the same writes on tokio's
//! blocking pool, awaited: what moving them off the runtime alone changes.
//! engenho-store's state machine also lives in that keyspace (a `catalog`
//! partition); here both stores share one in-memory state machine, so only
//! the log is compared.

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use fjall::{Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, RaftLogReader, RaftTypeConfig, StorageError, StorageIOError, Vote};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) const LOG: &str = "log";
pub(crate) const META: &str = "meta";
pub(crate) const META_VOTE: &[u8] = b"vote";
pub(crate) const META_COMMITTED: &[u8] = b"committed";
pub(crate) const META_LAST_PURGED: &[u8] = b"last_purged";

/// Writes `entries` as engenho-store's `FjallStore::append_entries_durable`
/// does: each one's `serde_json::to_vec` inserted under its big-endian
/// index into `log`, then one `keyspace.persist(PersistMode::SyncAll)`.
///
/// # Errors
/// The first serialization, insert or persist error.
pub fn append_as_engenho<T: Serialize>(
    keyspace: &Keyspace,
    log: &PartitionHandle,
    entries: impl IntoIterator<Item = (u64, T)>,
) -> io::Result<()> {
    for (index, entry) in entries {
        let value = serde_json::to_vec(&entry)?;
        log.insert(index.to_be_bytes(), value)
            .map_err(|e| io::Error::other(format!("fjall insert of entry {index}: {e}")))?;
    }
    persist(keyspace)
}

pub(crate) fn persist(keyspace: &Keyspace) -> io::Result<()> {
    keyspace
        .persist(PersistMode::SyncAll)
        .map_err(|e| io::Error::other(format!("fjall persist(SyncAll): {e}")))
}

pub(crate) fn other(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Opens (or creates) the keyspace at `dir` with its `log` and `meta`
/// partitions.
pub(crate) fn open_keyspace(
    dir: &Path,
) -> io::Result<(Keyspace, PartitionHandle, PartitionHandle)> {
    let keyspace = fjall::Config::new(dir)
        .open()
        .map_err(|e| other(&format!("fjall open {}", dir.display()), e))?;
    let log = keyspace
        .open_partition(LOG, PartitionCreateOptions::default())
        .map_err(|e| other("open partition log", e))?;
    let meta = keyspace
        .open_partition(META, PartitionCreateOptions::default())
        .map_err(|e| other("open partition meta", e))?;
    Ok((keyspace, log, meta))
}

/// Truncates as engenho-store does: the keys from `index` on collected,
/// removed one by one, then `persist(SyncAll)`.
pub(crate) fn truncate_from(
    keyspace: &Keyspace,
    log: &PartitionHandle,
    index: u64,
) -> io::Result<()> {
    let mut keys = Vec::new();
    for item in log.range(index.to_be_bytes()..) {
        keys.push(item.map_err(|e| other("fjall read", e))?.0);
    }
    for key in keys {
        log.remove(key).map_err(|e| other("fjall remove", e))?;
    }
    persist(keyspace)
}

/// Purges as engenho-store does: every key of the log visited, those up to
/// `index` removed one by one (the caller records the purged id and
/// persists).
pub(crate) fn remove_through(log: &PartitionHandle, index: u64) -> io::Result<()> {
    let mut keys = Vec::new();
    for item in log.iter() {
        let (key, _) = item.map_err(|e| other("fjall read", e))?;
        if index_of(&key)? <= index {
            keys.push(key);
        }
    }
    for key in keys {
        log.remove(key).map_err(|e| other("fjall remove", e))?;
    }
    Ok(())
}

/// What the store keeps in memory (read back at open).
#[derive(Default)]
struct Cached {
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
    last_purged: Option<LogId<u64>>,
}

struct Inner {
    keyspace: Keyspace,
    log: PartitionHandle,
    meta: PartitionHandle,
    cached: Mutex<Cached>,
}

/// An openraft 0.9 log store on fjall, as engenho-store writes its log (see
/// the module documentation); clones share it (and are its log reader).
pub struct FjallLogStore<C> {
    inner: Arc<Inner>,
    off_runtime: bool,
    config: PhantomData<fn() -> C>,
}

impl<C> Clone for FjallLogStore<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            off_runtime: self.off_runtime,
            config: PhantomData,
        }
    }
}

pub(crate) fn meta_get<T: DeserializeOwned>(
    meta: &PartitionHandle,
    key: &[u8],
) -> io::Result<Option<T>> {
    let name = String::from_utf8_lossy(key);
    match meta
        .get(key)
        .map_err(|e| other(&format!("read meta {name}"), e))?
    {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
            other(&format!("decode meta {name} (expected its JSON)"), e)
        })?)),
        None => Ok(None),
    }
}

pub(crate) fn meta_put<T: Serialize>(
    meta: &PartitionHandle,
    key: &[u8],
    value: &T,
) -> io::Result<()> {
    let bytes = serde_json::to_vec(value)?;
    meta.insert(key, bytes)
        .map_err(|e| other(&format!("write meta {}", String::from_utf8_lossy(key)), e))
}

pub(crate) fn index_of(key: &[u8]) -> io::Result<u64> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| {
        io::Error::other(format!(
            "a log key of {} bytes (expected 8: a big-endian index)",
            key.len()
        ))
    })?;
    Ok(u64::from_be_bytes(bytes))
}

impl<C> FjallLogStore<C>
where
    C: RaftTypeConfig<NodeId = u64, Entry = Entry<C>>,
{
    /// Opens (or creates) the keyspace at `dir` and reads the vote, the
    /// committed id and the last purged id back.
    ///
    /// # Errors
    /// When fjall cannot open the keyspace or a partition, or a stored
    /// value is not the JSON it should be.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        let (keyspace, log, meta) = open_keyspace(dir.as_ref())?;
        let cached = Cached {
            vote: meta_get(&meta, META_VOTE)?,
            committed: meta_get(&meta, META_COMMITTED)?,
            last_purged: meta_get(&meta, META_LAST_PURGED)?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                keyspace,
                log,
                meta,
                cached: Mutex::new(cached),
            }),
            off_runtime: false,
            config: PhantomData,
        })
    }

    /// [`Self::open`], for the diagnostic variant whose `append`,
    /// `save_committed` and `save_vote` run their (identical) writes on
    /// tokio's blocking pool instead of the caller's task.
    ///
    /// # Errors
    /// As [`Self::open`].
    pub fn open_off_runtime(dir: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            off_runtime: true,
            ..Self::open(dir)?
        })
    }

    /// Runs `write` on the caller's task (engenho-store's way), or on
    /// tokio's blocking pool for the off-runtime variant.
    async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Inner) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        if !self.off_runtime {
            return write(&self.inner);
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || write(&inner))
            .await
            .map_err(|e| io::Error::other(format!("the blocking write task failed: {e}")))?
    }

    /// The keyspace (to read what the store wrote).
    pub fn keyspace(&self) -> &Keyspace {
        &self.inner.keyspace
    }

    /// The `log` partition.
    pub fn log_partition(&self) -> &PartitionHandle {
        &self.inner.log
    }

    /// The `meta` partition.
    pub fn meta_partition(&self) -> &PartitionHandle {
        &self.inner.meta
    }

    fn cached(&self) -> MutexGuard<'_, Cached> {
        self.inner
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[allow(clippy::result_large_err)] // openraft's own storage error type
    fn decode(bytes: &[u8]) -> Result<Entry<C>, StorageError<u64>> {
        serde_json::from_slice(bytes).map_err(|e| StorageIOError::read_logs(&e).into())
    }
}

fn write_logs(e: io::Error) -> StorageError<u64> {
    StorageIOError::write_logs(&e).into()
}

fn read_logs(e: fjall::Error) -> StorageError<u64> {
    StorageIOError::read_logs(&e).into()
}

impl<C> RaftLogReader<C> for FjallLogStore<C>
where
    C: RaftTypeConfig<NodeId = u64, Entry = Entry<C>>,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<C>>, StorageError<u64>> {
        let be = |bound: Bound<&u64>| bound.map(|i| i.to_be_bytes());
        let keys = (be(range.start_bound()), be(range.end_bound()));
        let mut entries = Vec::new();
        for item in self.inner.log.range(keys) {
            let (_, value) = item.map_err(read_logs)?;
            entries.push(Self::decode(&value)?);
        }
        Ok(entries)
    }
}

impl<C> RaftLogStorage<C> for FjallLogStore<C>
where
    C: RaftTypeConfig<NodeId = u64, Entry = Entry<C>>,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<u64>> {
        let last_purged_log_id = self.cached().last_purged;
        let last_log_id = match self.inner.log.last_key_value().map_err(read_logs)? {
            Some((_, value)) => Some(Self::decode(&value)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let saved = *vote;
        self.write(move |inner| {
            meta_put(&inner.meta, META_VOTE, &saved).and_then(|()| persist(&inner.keyspace))
        })
        .await
        .map_err(|e| StorageIOError::write_vote(&e))?;
        self.cached().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.cached().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        self.write(move |inner| {
            meta_put(&inner.meta, META_COMMITTED, &committed)
                .and_then(|()| persist(&inner.keyspace))
        })
        .await
        .map_err(|e| StorageIOError::write_state_machine(&e))?;
        self.cached().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.cached().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<C>> + Send,
        I::IntoIter: Send,
    {
        if self.off_runtime {
            let entries: Vec<Entry<C>> = entries.into_iter().collect();
            self.write(move |inner| {
                append_as_engenho(
                    &inner.keyspace,
                    &inner.log,
                    entries.iter().map(|e| (e.log_id.index, e)),
                )
            })
            .await
        } else {
            append_as_engenho(
                &self.inner.keyspace,
                &self.inner.log,
                entries.into_iter().map(|e| (e.log_id.index, e)),
            )
        }
        .map_err(write_logs)?;
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        truncate_from(&self.inner.keyspace, &self.inner.log, log_id.index).map_err(write_logs)
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        remove_through(&self.inner.log, log_id.index).map_err(write_logs)?;
        meta_put(&self.inner.meta, META_LAST_PURGED, &Some(log_id))
            .and_then(|()| persist(&self.inner.keyspace))
            .map_err(write_logs)?;
        self.cached().last_purged = Some(log_id);
        Ok(())
    }
}
