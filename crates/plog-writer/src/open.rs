//! Creating and opening logs under the writer lock ([`LockedLog`]); repairing
//! torn tails.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use plog_format::{MAGIC, Summary, TornReason};

use crate::fsio::{self, LockedFile, parent_dir, sync_dir};
use crate::opened::{OpenReport, Parts, exposure_of};
use crate::scan::scan_file;
use crate::{RepairOptions, RepairPlan, WriteError, WriterOptions};

/// A log opened under the writer lock, inspected but not changed.
///
/// This is what `plog repair` needs: take the lock (so that no writer
/// appends meanwhile), look at the damage, then carry out a
/// [`RepairPlan`]. To append, drop it and open a [`Writer`](crate::Writer) or
/// [`GroupCommit`](crate::GroupCommit), which repair a torn tail themselves.
///
/// ```
/// # fn main() -> Result<(), plog_writer::WriteError> {
/// use plog_writer::{LockedLog, RepairOptions, Writer, WriterOptions};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("raft.plog");
/// let mut writer = Writer::create(&path, WriterOptions::default())?;
/// writer.append_raw(1, b"{}")?;
/// drop(writer);
/// // A crash left part of a header behind:
/// use std::io::Write;
/// let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
/// file.write_all(&[7; 20]).unwrap();
///
/// let mut log = LockedLog::open(&path)?;
/// assert_eq!(log.summary().records, 1);
/// let plan = log.repair(RepairOptions::default())?;
/// assert_eq!(plan.kind(), "truncate_torn_tail");
/// assert_eq!(log.summary().file_len, 26 + 48 + 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LockedLog {
    file: LockedFile,
    path: PathBuf,
    summary: Summary,
}

impl LockedLog {
    /// Opens an existing log for writing, takes the writer lock and walks
    /// the whole file. Changes nothing.
    ///
    /// # Errors
    /// `locked` when another writer holds the lock; `io` when the file
    /// cannot be opened or read.
    pub fn open(path: impl AsRef<Path>) -> Result<LockedLog, WriteError> {
        let path = path.as_ref();
        let file = fsio::open_rw(path).map_err(|e| WriteError::io(path, "open the log", e))?;
        LockedLog::from_file(file, path)
    }

    fn from_file(file: File, path: &Path) -> Result<LockedLog, WriteError> {
        let file = LockedFile::lock(file, path)?;
        let summary = scan_file(&file, path)?;
        Ok(LockedLog {
            file,
            path: path.to_path_buf(),
            summary,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read-only handle to the locked file itself (not to whatever its
    /// path names later): for a reader, e.g. `plog_mmap::Log::from_file`,
    /// that must see the bytes this lock protects.
    ///
    /// # Errors
    /// `io` when the handle cannot be duplicated.
    pub fn read_handle(&self) -> Result<File, WriteError> {
        self.file
            .try_clone()
            .map_err(|e| WriteError::io(&self.path, "duplicate the log's file handle", e))
    }

    /// What the log holds (as of the last repair).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// What [`LockedLog::repair`] would do with `options`. Changes nothing.
    pub fn plan(&self, options: RepairOptions) -> RepairPlan {
        RepairPlan::new(&self.summary, options)
    }

    /// Carries out [`LockedLog::plan`]: truncates a torn tail or a final
    /// write a crash cut over zeros (or, with `drop_corrupt_tail`, a damaged
    /// final record) and syncs the file.
    /// Returns the plan carried out.
    ///
    /// # Errors
    /// `corrupt` (changing nothing) when the plan is to refuse; `io` when
    /// truncating or syncing fails.
    pub fn repair(&mut self, options: RepairOptions) -> Result<RepairPlan, WriteError> {
        let plan = self.plan(options);
        self.apply(plan)?;
        Ok(plan)
    }

    fn apply(&mut self, plan: RepairPlan) -> Result<(), WriteError> {
        let path = self.path.as_path();
        let file = &self.file;
        match plan {
            RepairPlan::Nothing => Ok(()),
            RepairPlan::Refuse {
                corruption,
                corruptions,
                ..
            } => Err(WriteError::Corrupt {
                path: self.path.clone(),
                corruption: Box::new(corruption),
                corruptions,
            }),
            RepairPlan::TruncateTornTail { tail } if tail.reason == TornReason::Magic => {
                file.set_len(0)
                    .and_then(|()| fsio::write_all_at(file, &MAGIC, 0))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| WriteError::io(path, "rewrite the torn magic", e))?;
                sync_dir(parent_dir(path)).map_err(|e| {
                    WriteError::io(parent_dir(path), "fsync the log's directory", e)
                })?;
                self.summary = plog_format::summarize(&MAGIC);
                Ok(())
            }
            RepairPlan::TruncateTornTail { tail } => {
                truncate_and_sync(file, path, tail.offset)?;
                self.summary.file_len = tail.offset;
                self.summary.torn = None;
                Ok(())
            }
            RepairPlan::DropTornAppend { truncate_to, .. }
            | RepairPlan::DropCorruptTail { truncate_to, .. } => {
                truncate_and_sync(file, path, truncate_to)?;
                let summary = &mut self.summary;
                summary.file_len = truncate_to;
                summary.torn = None;
                summary.corruptions = 0;
                summary.first_corruption = None;
                summary.last_corruption = None;
                summary.records_after_last_corruption = summary.records;
                Ok(())
            }
        }
    }

    fn into_parts(mut self, options: &WriterOptions) -> Result<Parts, WriteError> {
        let plan = self.plan(RepairOptions::default());
        let (repaired, dropped_torn_append) = match plan {
            RepairPlan::TruncateTornTail { tail } => (Some(tail), None),
            RepairPlan::DropTornAppend { corruption, .. } => (None, Some(corruption)),
            _ => (None, None),
        };
        self.apply(plan)?;
        // The directory entry of a log whose creation was cut by a crash may
        // not be durable yet: make it so before acknowledging any append.
        let dir = parent_dir(&self.path);
        sync_dir(dir).map_err(|e| WriteError::io(dir, "fsync the log's directory", e))?;
        let summary = &self.summary;
        let report = OpenReport {
            created: false,
            repaired,
            dropped_torn_append,
            records: summary.records,
            first_index: summary.first_index,
            last_index: summary.last_index,
            len: summary.file_len,
            index_violations: summary.indices.violations(options.index_order),
            first_index_violation: summary.indices.first_violation(options.index_order),
            exposure: exposure_of(&self.file, &self.path),
        };
        Ok((self.file, self.path, report))
    }
}

fn truncate_and_sync(file: &File, path: &Path, len: u64) -> Result<(), WriteError> {
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| WriteError::io(path, "truncate the log and fsync it", e))
}

/// Opens `path` for appending under the lock, creating it if allowed.
pub(crate) fn lock_or_create(path: &Path, options: &WriterOptions) -> Result<Parts, WriteError> {
    match fsio::open_rw(path) {
        Ok(file) => LockedLog::from_file(file, path)?.into_parts(options),
        Err(e) if e.kind() == io::ErrorKind::NotFound && options.create_if_missing => {
            match create_locked(path, options) {
                Ok(parts) => Ok(parts),
                // Someone else created it meanwhile: open theirs.
                Err(WriteError::Exists { .. }) => {
                    let file =
                        fsio::open_rw(path).map_err(|e| WriteError::io(path, "open the log", e))?;
                    LockedLog::from_file(file, path)?.into_parts(options)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(WriteError::io(path, "open the log", e)),
    }
}

/// Creates a new log: missing parents (`options.dir_mode`), the file
/// (`options.file_mode`), the lock, the magic, then fsync of the file and of
/// its directory.
pub(crate) fn create_locked(path: &Path, options: &WriterOptions) -> Result<Parts, WriteError> {
    fsio::create_parents(path, options.dir_mode)?;
    let file = fsio::create_new_rw(path, options.file_mode).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            WriteError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            WriteError::io(path, "create the log", e)
        }
    })?;
    let file = LockedFile::lock(file, path)?;
    fsio::write_all_at(&file, &MAGIC, 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| WriteError::io(path, "write the magic and fsync the new log", e))?;
    let dir = parent_dir(path);
    sync_dir(dir).map_err(|e| WriteError::io(dir, "fsync the log's directory", e))?;
    let exposure = exposure_of(&file, path);
    Ok((file, path.to_path_buf(), OpenReport::created(exposure)))
}
