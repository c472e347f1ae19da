//! What opening a log found and did ([`OpenReport`], [`Exposure`]), and
//! what an open hands to the writer that appends to it ([`Parts`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use plog_format::{Corruption, IndexViolation, MAGIC_LEN, TornTail};

use crate::fsio::{LockedFile, parent_dir};
use crate::{LogPosition, pos_u64};

/// A log locked for appending: the file, its path, and what opening found.
pub(crate) type Parts = (LockedFile, PathBuf, OpenReport);

/// What opening a log found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// Whether the log was created by this open.
    pub created: bool,
    /// The torn tail that was truncated away (offset and byte count), if
    /// any.
    pub repaired: Option<TornTail>,
    /// The final record that was dropped because a crash cut its write
    /// over preallocated zeros (its hash mismatch, whose `zeroed_sector`
    /// is the evidence), if any: see
    /// [`RepairPlan::DropTornAppend`](crate::RepairPlan::DropTornAppend).
    /// Besides that and a torn tail, nothing is ever cut at open; other
    /// corruption is refused.
    pub dropped_torn_append: Option<Corruption>,
    /// Valid records in the log.
    pub records: u64,
    /// Index of the first record.
    pub first_index: Option<u64>,
    /// Index of the last record: where appends continue from.
    pub last_index: Option<u64>,
    /// The log's length in bytes (after any repair).
    pub len: u64,
    /// How many records already in the log break the writer's
    /// [`WriterOptions::index_order`](crate::WriterOptions::index_order) (they are kept; the order applies to
    /// new appends).
    pub index_violations: u64,
    /// The first of them.
    pub first_index_violation: Option<IndexViolation>,
    /// Whether others than the owner can read the log or list its
    /// directory (`None` when neither): the log is opened all the same, and
    /// a caller should say so (`plog append` warns once on stderr). A log
    /// plog creates is `0o600` in a `0o700` directory unless the
    /// [`WriterOptions`](crate::WriterOptions) say otherwise.
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
pub(crate) fn exposure_of(file: &File, path: &Path) -> Option<Exposure> {
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
    pub(crate) fn created(exposure: Option<Exposure>) -> OpenReport {
        OpenReport {
            created: true,
            repaired: None,
            dropped_torn_append: None,
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
