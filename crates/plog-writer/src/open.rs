//! Creating and opening logs under the writer lock; repairing torn tails.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use plog_format::{IndexViolation, MAGIC, MAGIC_LEN, Summary, TornReason, TornTail};

use crate::file::Policy;
use crate::fsio::{self, LockedFile, parent_dir, sync_dir};
use crate::inspect::{scan_file, scan_path};
use crate::{
    GroupCommit, LogPosition, RepairOptions, RepairPlan, WriteError, Writer, WriterOptions, pos_u64,
};

/// What opening a log found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// Whether the log was created by this open.
    pub created: bool,
    /// The torn tail that was truncated away (offset and byte count), if
    /// any. Only a torn tail is ever cut at open; corruption is refused.
    pub repaired: Option<TornTail>,
    /// Valid records in the log.
    pub records: u64,
    /// Index of the first record.
    pub first_index: Option<u64>,
    /// Index of the last record: where appends continue from.
    pub last_index: Option<u64>,
    /// The log's length in bytes (after any repair).
    pub len: u64,
    /// How many records already in the log break the writer's
    /// [`WriterOptions::index_order`] (they are kept; the order applies to
    /// new appends).
    pub index_violations: u64,
    /// The first of them.
    pub first_index_violation: Option<IndexViolation>,
    /// Whether others than the owner can read the log or list its
    /// directory (`None` when neither): the log is opened all the same, and
    /// a caller should say so (`plog append` warns once on stderr). A log
    /// plog creates is `0o600` in a `0o700` directory unless the
    /// [`WriterOptions`] say otherwise.
    pub exposure: Option<Exposure>,
}

/// A log that others than its owner can read, or whose directory they can
/// list: the permission bits an open found.
///
/// ```
/// use plog_writer::Exposure;
/// let exposure = Exposure { file_mode: 0o644, dir_mode: Some(0o700) };
/// assert!(exposure.file_readable_by_others());
/// assert_eq!(exposure.to_string(), "the log is readable by others than its owner (mode 0644); \
///     plog creates logs 0600 in 0700 directories");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exposure {
    /// The log file's permission bits.
    pub file_mode: u32,
    /// The permission bits of the directory holding it, when they could be
    /// read.
    pub dir_mode: Option<u32>,
}

/// The read bits of the group and of others (a directory's: listing it).
const OTHERS_READ: u32 = 0o044;

impl Exposure {
    /// The exposure of a log whose file has `file_mode` in a directory of
    /// `dir_mode`; `None` when only the owner can read the file and list the
    /// directory.
    pub fn of(file_mode: u32, dir_mode: Option<u32>) -> Option<Exposure> {
        let exposure = Exposure {
            file_mode: file_mode & 0o7777,
            dir_mode: dir_mode.map(|mode| mode & 0o7777),
        };
        (exposure.file_readable_by_others() || exposure.dir_listable_by_others())
            .then_some(exposure)
    }

    /// Whether the group or others may read the log file.
    pub fn file_readable_by_others(&self) -> bool {
        self.file_mode & OTHERS_READ != 0
    }

    /// Whether the group or others may list the log's directory.
    pub fn dir_listable_by_others(&self) -> bool {
        self.dir_mode.is_some_and(|mode| mode & OTHERS_READ != 0)
    }
}

impl core::fmt::Display for Exposure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.file_readable_by_others(), self.dir_mode) {
            (true, Some(dir)) if self.dir_listable_by_others() => write!(
                f,
                "the log is readable by others than its owner (mode {:04o}), and so is its \
                 directory (mode {dir:04o})",
                self.file_mode
            )?,
            (true, _) => write!(
                f,
                "the log is readable by others than its owner (mode {:04o})",
                self.file_mode
            )?,
            (false, Some(dir)) => write!(
                f,
                "the log's directory can be listed by others than its owner (mode {dir:04o})"
            )?,
            (false, None) => f.write_str("the log is private")?,
        }
        f.write_str("; plog creates logs 0600 in 0700 directories")
    }
}

/// The exposure of the open log `file` at `path`.
fn exposure_of(file: &File, path: &Path) -> Option<Exposure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file_mode = file.metadata().ok()?.permissions().mode();
        let dir_mode = std::fs::metadata(parent_dir(path))
            .ok()
            .map(|meta| meta.permissions().mode());
        Exposure::of(file_mode, dir_mode)
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        None
    }
}

impl OpenReport {
    fn created(exposure: Option<Exposure>) -> OpenReport {
        OpenReport {
            created: true,
            repaired: None,
            records: 0,
            first_index: None,
            last_index: None,
            len: pos_u64(MAGIC_LEN),
            index_violations: 0,
            first_index_violation: None,
            exposure,
        }
    }

    /// The position appends continue from.
    pub fn position(&self) -> LogPosition {
        LogPosition {
            len: self.len,
            records: self.records,
            last_index: self.last_index,
        }
    }
}

/// A log opened under the writer lock, inspected but not changed.
///
/// This is what `plog repair` needs: take the lock (so that no writer
/// appends meanwhile), look at the damage, then carry out a
/// [`RepairPlan`] or turn into a writer.
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

    /// Carries out [`LockedLog::plan`]: truncates a torn tail (or, with
    /// `drop_corrupt_tail`, a damaged final record) and syncs the file.
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
            RepairPlan::DropCorruptTail { truncate_to, .. } => {
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

    /// Turns the locked log into a [`Writer`]: a torn tail is repaired
    /// (reported in the [`OpenReport`]); a corrupt log is refused, unchanged.
    ///
    /// # Errors
    /// `corrupt` for a corrupt log; `io` when the repair fails.
    pub fn into_writer(self, options: WriterOptions) -> Result<(Writer, OpenReport), WriteError> {
        Ok(Writer::from_parts(self.into_parts(&options)?, options))
    }

    /// Turns the locked log into a [`GroupCommit`] handle, like
    /// [`LockedLog::into_writer`].
    ///
    /// # Errors
    /// As [`LockedLog::into_writer`].
    pub fn into_group_commit(
        self,
        options: WriterOptions,
    ) -> Result<(GroupCommit, OpenReport), WriteError> {
        Ok(GroupCommit::from_parts(self.into_parts(&options)?, options))
    }

    fn into_parts(mut self, options: &WriterOptions) -> Result<Parts, WriteError> {
        let plan = self.plan(RepairOptions::default());
        let repaired = match plan {
            RepairPlan::TruncateTornTail { tail } => Some(tail),
            _ => None,
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

/// Reads a log and inspects it without taking the lock and without changing
/// anything: the dry run of a repair.
///
/// ```
/// use plog_writer::{inspect, RepairOptions, RepairPlan};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.plog");
/// let mut log = plog_format::MAGIC.to_vec();
/// plog_format::encode_record_to_vec(1, b"x", &mut log);
/// log.extend_from_slice(&[0; 10]);
/// std::fs::write(&path, &log).unwrap();
///
/// let summary = inspect(&path).unwrap();
/// assert_eq!(summary.records, 1);
/// let plan = RepairPlan::new(&summary, RepairOptions::default());
/// assert_eq!(plan.to_string(), "torn tail at offset 75: 10 bytes, all zero; truncate to offset 75 (drop 10 bytes)");
/// assert_eq!(std::fs::read(&path).unwrap(), log); // unchanged
/// ```
///
/// # Errors
/// `io` when the file cannot be read.
pub fn inspect(path: impl AsRef<Path>) -> Result<Summary, WriteError> {
    scan_path(path.as_ref())
}

/// A log locked for appending: the file, its path, and what opening found.
pub(crate) type Parts = (LockedFile, PathBuf, OpenReport);

/// Opens `path` for appending under the lock, creating it if allowed.
pub(crate) fn open_log(path: &Path, options: &WriterOptions) -> Result<Parts, WriteError> {
    match fsio::open_rw(path) {
        Ok(file) => LockedLog::from_file(file, path)?.into_parts(options),
        Err(e) if e.kind() == io::ErrorKind::NotFound && options.create_if_missing => {
            match create_log(path, options) {
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
pub(crate) fn create_log(path: &Path, options: &WriterOptions) -> Result<Parts, WriteError> {
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
