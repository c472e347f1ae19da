//! One store per log directory: an exclusive `flock` on `LOCK` against
//! other processes, and a list of the directories this process holds, so
//! that an open waits for a store of the same directory that is being
//! dropped; the permission bits of the files and the directory.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Options, RaftLogError};

/// The name of the lock file inside a log directory.
pub const LOCK_FILE: &str = "LOCK";

/// The log directories held by stores of this process, so that an open
/// waits for a store of the same directory that is being dropped (openraft
/// drops its log store a moment after `Raft::shutdown` returns) instead of
/// failing with [`RaftLogError::Locked`].
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static RELEASED: std::sync::Condvar = std::sync::Condvar::new();

/// This process's claim on a directory, released on drop.
pub(crate) struct Held(PathBuf);

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|d| d != &self.0);
        RELEASED.notify_all();
    }
}

pub(crate) fn hold(dir: &Path, wait: std::time::Duration) -> Result<Held, RaftLogError> {
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

pub(crate) fn lock_dir(dir: &Path, options: &Options) -> Result<File, RaftLogError> {
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
pub(crate) fn exposure(dir: &Path) -> Result<Option<u32>, RaftLogError> {
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
