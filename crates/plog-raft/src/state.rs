//! The small state file: vote, committed and last purged log id, replaced
//! crash-safely (write a temporary file, fsync it, rename it over the old
//! one, fsync the directory).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use openraft::{LogId, NodeId, Vote};
use serde::{Deserialize, Serialize};

use crate::RaftLogError;

/// The state file's name inside a log directory.
pub const STATE_FILE: &str = "state.json";
/// The temporary file a new state is written to before the rename.
pub(crate) const STATE_TMP: &str = "state.json.tmp";

/// What the state file holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(bound = "")]
pub(crate) struct PersistedState<NID: NodeId> {
    pub vote: Option<Vote<NID>>,
    pub committed: Option<LogId<NID>>,
    pub purged: Option<LogId<NID>>,
    /// The committed id the file holds (`committed` may be newer).
    #[serde(skip)]
    pub on_disk_committed: Option<LogId<NID>>,
}

impl<NID: NodeId> Default for PersistedState<NID> {
    fn default() -> Self {
        PersistedState {
            vote: None,
            committed: None,
            purged: None,
            on_disk_committed: None,
        }
    }
}

/// fsyncs a directory, so that the names created, renamed or removed in it
/// survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), RaftLogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RaftLogError::io(dir, "fsync the directory", e))
}

impl<NID: NodeId> PersistedState<NID> {
    /// Reads the state of `dir`; a missing file is the empty state.
    pub(crate) fn load(dir: &Path) -> Result<Self, RaftLogError> {
        let path = dir.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(RaftLogError::io(path, "read the state file", e)),
        };
        let mut state: Self =
            serde_json::from_slice(&bytes).map_err(|e| RaftLogError::BadState {
                path,
                expected: "the JSON object {vote, committed, purged}",
                found: e.to_string(),
            })?;
        state.on_disk_committed = state.committed.clone();
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

    /// Persists everything, the newest committed id included (the I/O
    /// thread, once every append queued before is durable).
    pub(crate) fn persist_all(&mut self, dir: &Path) -> Result<(), RaftLogError> {
        self.store(dir)?;
        self.on_disk_committed = self.committed.clone();
        Ok(())
    }

    /// Replaces the state file of `dir` with `self`, durably.
    fn store(&self, dir: &Path) -> Result<(), RaftLogError> {
        let tmp: PathBuf = dir.join(STATE_TMP);
        let bytes = serde_json::to_vec(self)
            .map_err(|e| RaftLogError::io(&tmp, "serialize the state", io::Error::other(e)))?;
        let mut file =
            File::create(&tmp).map_err(|e| RaftLogError::io(&tmp, "create the state file", e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| RaftLogError::io(&tmp, "write the state file", e))?;
        drop(file);
        let path = dir.join(STATE_FILE);
        fs::rename(&tmp, &path).map_err(|e| RaftLogError::io(&path, "rename the state file", e))?;
        sync_dir(dir)
    }
}
