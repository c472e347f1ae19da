//! The small state file: vote, committed and last purged log id.
//!
//! It is a plog v1 log itself (`state.plog`, so that `plog verify DIR`
//! checks it like the segments): each state change appends one record (the
//! serde_json of the whole state) with one write and one fdatasync
//! (plog-writer), and the last valid record wins. A torn tail is cut when
//! the store opens. Past [`COMPACT_BYTES`] the file is replaced by a
//! one-record file (written to a temporary file, synced, renamed over the
//! old one, directory synced).

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};

use plog_format::{Event, Scanner};
use plog_writer::{Writer, WriterOptions};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::RaftLogError;
use crate::flavor::Flavor;

/// The state file's name inside a log directory.
pub const STATE_FILE: &str = "state.plog";
/// The temporary file a compacted state is written to before the rename.
pub(crate) const STATE_TMP: &str = "state.plog.tmp";
/// The state file is compacted to one record once it passes this size.
const COMPACT_BYTES: u64 = 64 << 10;

/// The open writer of the state file.
#[derive(Debug, Default)]
pub(crate) struct StateWriter {
    writer: Option<Writer>,
    /// The index of the next record.
    next: u64,
    /// The permission bits of the file.
    mode: u32,
}

/// What the state file holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub(crate) struct PersistedState<C: Flavor> {
    pub vote: Option<C::Vote>,
    pub committed: Option<C::LogId>,
    pub purged: Option<C::LogId>,
    /// The committed id the file holds (`committed` may be newer).
    #[serde(skip)]
    pub on_disk_committed: Option<C::LogId>,
    #[serde(skip)]
    out: Arc<Mutex<StateWriter>>,
}

impl<C: Flavor> Default for PersistedState<C> {
    fn default() -> Self {
        PersistedState {
            vote: None,
            committed: None,
            purged: None,
            on_disk_committed: None,
            out: Arc::default(),
        }
    }
}

/// Reads the state file of `dir`, read-only: `None` when there is no
/// file, `Some(None)` when it holds no valid record, else its last valid
/// record parsed as `T` (the last one wins; a torn tail is ignored, a
/// corruption refused).
pub(crate) fn read_state<T: DeserializeOwned>(
    dir: &Path,
) -> Result<Option<Option<T>>, RaftLogError> {
    let path = dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RaftLogError::io(path, "read the state file", e)),
    };
    let mut last = None;
    for event in Scanner::new(&bytes) {
        match event {
            Event::Record(record) => last = Some(record),
            Event::Corrupt(c) => {
                return Err(RaftLogError::BadState {
                    path,
                    expected: "a v1 log of state records",
                    found: c.to_string(),
                });
            }
            Event::Torn(_) => {}
        }
    }
    let state = last
        .map(|record| {
            serde_json::from_slice(record.payload()).map_err(|e| RaftLogError::BadState {
                path: path.clone(),
                expected: "the JSON object {vote, committed, purged}",
                found: format!(
                    "record {} at offset {}: {e}",
                    record.index(),
                    record.offset()
                ),
            })
        })
        .transpose()?;
    Ok(Some(state))
}

/// fsyncs a directory, so that the names created, renamed or removed in it
/// survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), RaftLogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RaftLogError::io(dir, "fsync the directory", e))
}

impl<C: Flavor> PersistedState<C> {
    /// Reads the state of `dir` (the last valid record; a missing file is
    /// the empty state) and opens the file for writing, which cuts a torn
    /// tail.
    pub(crate) fn load(dir: &Path, mode: u32) -> Result<Self, RaftLogError> {
        let Some(last) = read_state::<Self>(dir)? else {
            let state = Self::default();
            lock(&state.out).mode = mode;
            return Ok(state);
        };
        let mut state = last.unwrap_or_default();
        let path = dir.join(STATE_FILE);
        state.on_disk_committed = state.committed.clone();
        let (writer, report) = Writer::open(&path, WriterOptions::default())?;
        set_mode(&path, mode)?;
        *lock(&state.out) = StateWriter {
            writer: Some(writer),
            next: report.last_index.map_or(0, |i| i + 1),
            mode,
        };
        Ok(state)
    }

    /// Applies `change` and persists the result durably, keeping the
    /// committed id already on disk: a caller's thread must not persist a
    /// committed id ahead of the appends still queued before it (only the
    /// I/O thread writes a new one, see [`Self::persist_all`]). `self`
    /// changes only once the file is durable.
    pub(crate) fn update(
        &mut self,
        dir: &Path,
        change: impl FnOnce(&mut Self),
    ) -> Result<(), RaftLogError> {
        let mut next = self.clone();
        change(&mut next);
        let mut on_disk = next.clone();
        on_disk.committed = self.on_disk_committed.clone();
        on_disk.store(dir)?;
        *self = next;
        Ok(())
    }

    /// Closes the state file (its writer's lock goes with it): the store
    /// is being dropped, while readers that openraft's tasks still hold may
    /// keep the shared state (read from memory) alive a while longer, and
    /// a store reopened meanwhile must find the file free.
    pub(crate) fn close(&self) {
        lock(&self.out).writer = None;
    }

    /// Persists everything, the newest committed id included (the I/O
    /// thread, once every append queued before is durable).
    pub(crate) fn persist_all(&mut self, dir: &Path) -> Result<(), RaftLogError> {
        self.store(dir)?;
        self.on_disk_committed = self.committed.clone();
        Ok(())
    }

    /// Appends `self` to the state file, durably (compacting it first when
    /// it has grown past [`COMPACT_BYTES`]).
    fn store(&self, dir: &Path) -> Result<(), RaftLogError> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| RaftLogError::Misuse(format!("serialize the state: {e}")))?;
        let path = dir.join(STATE_FILE);
        let mut out = lock(&self.out);
        let full = out
            .writer
            .as_ref()
            .is_some_and(|w| w.len() >= COMPACT_BYTES);
        if full || out.writer.is_none() {
            // A new one-record file replaces the old one atomically.
            out.writer = None;
            let tmp = dir.join(STATE_TMP);
            match std::fs::remove_file(&tmp) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RaftLogError::io(tmp, "remove the old temporary state", e)),
            }
            let mut fresh = Writer::create(&tmp, WriterOptions::default())?;
            set_mode(&tmp, out.mode)?;
            fresh.append_raw(0, &bytes)?;
            drop(fresh);
            std::fs::rename(&tmp, &path)
                .map_err(|e| RaftLogError::io(&path, "rename the state file", e))?;
            sync_dir(dir)?;
            let (writer, _) = Writer::open(&path, WriterOptions::default())?;
            let mode = out.mode;
            *out = StateWriter {
                writer: Some(writer),
                next: 1,
                mode,
            };
            return Ok(());
        }
        let next = out.next;
        if let Some(writer) = out.writer.as_mut() {
            writer.append_raw(next, &bytes)?;
        }
        out.next = next + 1;
        Ok(())
    }
}

/// Sets the permission bits of `path` to exactly `mode`.
fn set_mode(path: &Path, mode: u32) -> Result<(), RaftLogError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| RaftLogError::io(path, "set the state file's permissions", e))
}

fn lock(out: &Mutex<StateWriter>) -> std::sync::MutexGuard<'_, StateWriter> {
    out.lock().unwrap_or_else(|p| p.into_inner())
}
