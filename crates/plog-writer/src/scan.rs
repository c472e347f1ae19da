//! The open-time walk of a whole log, folded into plog-format's one model
//! ([`Summary`]) by plog-mmap's verification: what every open and every
//! repair decides on.

use std::fs::File;
use std::path::Path;

use plog_format::Summary;
use plog_mmap::{Log, OpenError, OpenOptions, VerifyOptions};

use crate::WriteError;

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

/// The open-time walk of a file the caller holds open (under the writer
/// lock): mapped when it is large, read otherwise, hashed across the
/// current rayon pool by plog-mmap (`Log::verify`, which copies nothing),
/// and folded into plog-format's [`Summary`]: exactly
/// `plog_format::summarize` of the file's bytes (plog-mmap's property
/// tests), without holding them in memory.
///
/// The mapping is dropped before this returns, so a repair that truncates
/// the file afterwards never cuts pages from under it; a file truncated by
/// another process during the walk is an `io` error, not a crash.
pub(crate) fn scan_file(file: &File, path: &Path) -> Result<Summary, WriteError> {
    let handle = file
        .try_clone()
        .map_err(|e| WriteError::io(path, "duplicate the log's file handle", e))?;
    // One pass, then the mapping is dropped: its pages go as they are
    // verified rather than all at once on this thread when it is.
    let options = OpenOptions {
        release_behind: true,
        ..OpenOptions::default()
    };
    let log = Log::from_file(handle, path, &options).map_err(|e| read_error(path, e))?;
    summary_of(&log, path)
}

/// [`scan_file`] for a log read by path without the lock (a dry run):
/// mapped when it is large (plog-mmap's guarded mapping: a file a live
/// writer truncates meanwhile is an `io` error, not a crash), its pages
/// released behind the pass, so memory stays bounded at any size.
pub(crate) fn scan_path(path: &Path) -> Result<Summary, WriteError> {
    let options = OpenOptions {
        release_behind: true,
        ..OpenOptions::default()
    };
    let log = Log::open_with(path, &options).map_err(|e| read_error(path, e))?;
    summary_of(&log, path)
}

fn read_error(path: &Path, error: OpenError) -> WriteError {
    match error {
        OpenError::Io { source, .. } => WriteError::io(path, "read the log", source),
        other => WriteError::io(path, "read the log", std::io::Error::other(other)),
    }
}

/// The summary of the whole log, hashed in parallel. Only the summary is
/// kept: the report's lists are limited to one entry each.
fn summary_of(log: &Log, path: &Path) -> Result<Summary, WriteError> {
    let options = VerifyOptions {
        list_limit: 1,
        ..VerifyOptions::default()
    };
    log.verify(&options)
        .map(|report| report.summary)
        .map_err(|e| WriteError::io(path, "read the log", std::io::Error::other(e)))
}
