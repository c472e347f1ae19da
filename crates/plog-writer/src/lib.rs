//! Durable appends to engenho-store's persistent log (plog v1): one writer
//! per file, `fdatasync` before an append is acknowledged, group commit for
//! many threads, torn-tail repair at open, and no acknowledged record ever
//! lost.
//!
//! # Quick start
//!
//! ```
//! # fn main() -> Result<(), plog_writer::WriteError> {
//! use plog_writer::{Writer, WriterOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let (mut log, report) = Writer::open(dir.path().join("raft.plog"), WriterOptions::default())?;
//! let next = report.last_index.map_or(1, |last| last + 1);
//! log.append(next, &serde_json::json!({"op": "put", "kind": "Pod", "name": "web-0"}))?;
//! // Durable: the record was written in one write and fdatasync'ed.
//! assert_eq!(log.durable().last_index, Some(next));
//! # Ok(()) }
//! ```
//!
//! # What the writer guarantees
//!
//! * **Creating** a log writes the magic, fsyncs the file and then its
//!   directory (and each parent directory it had to create), so the new name
//!   survives a power loss. Opening an existing log fsyncs its directory too,
//!   in case a crash cut the creation after the magic.
//! * **Opening** walks the whole file with plog-format's reference
//!   classification ([`inspect`] shows the same walk without changing
//!   anything). A torn tail — a cut header, a cut payload, a zero-filled
//!   tail, a cut magic — is what a crash leaves; it is truncated to the end
//!   of the last valid record, the file is synced, and [`OpenReport::repaired`]
//!   says what was dropped (offset and byte count). A crash that cuts an
//!   append over preallocated zeros leaves a full-length final record with
//!   an all-zero 512-byte sector (plog-format's sector rule): that record
//!   was never acknowledged, so the open drops it too and says so in
//!   [`OpenReport::dropped_torn_append`]. Any other corruption — a hash
//!   mismatch before the end or without a zeroed sector, a damaged length, a
//!   bad magic — is not what a crash leaves: the open is refused with an
//!   error naming the offset and index and pointing at `plog repair`, and
//!   the file is left as it is. Valid data is never cut on the writer's own
//!   initiative.
//! * **One writer per file**: the writer takes an exclusive lock
//!   ([`File::try_lock`](std::fs::File::try_lock), `flock` on Unix) and holds
//!   it for its life; a second writer, in this process or another, gets a
//!   `locked` error. Readers take no lock. Dropping the writer unlocks
//!   explicitly: a `flock` lock belongs to the open file description, which
//!   a child process shares between `fork` and `exec`, so merely closing the
//!   descriptor could leave the log locked for a moment after the writer is
//!   gone (while another thread spawns a process).
//! * **Appends** are encoded (header and payload) into one buffer and written
//!   with one positioned `write`. Under [`SyncPolicy::EveryAppend`] (the
//!   default) each append — or each [`Writer::append_batch_raw`] batch — is
//!   followed by `fdatasync` before the call returns. [`SyncPolicy::Manual`]
//!   buffers appends and leaves `sync` to the caller. [`GroupCommit`] is the
//!   handle for many threads: concurrent appends share one write and one
//!   `fdatasync`, and each caller returns once its own record is durable.
//! * **Index order**: [`WriterOptions::index_order`] accepts any index
//!   (engenho-store's behaviour, the default), or requires strictly
//!   increasing or contiguous indices; a rejected append writes nothing and
//!   says why.
//! * **Failures** say what is durable ([`WriteError::durable`]). A failed
//!   write (ENOSPC, EFBIG, EIO) is cut off by truncating to the end of the
//!   last complete record (if even that fails, the next open repairs the
//!   torn tail). A failed `fdatasync` poisons the writer: it refuses further
//!   appends rather than retrying the sync and trusting it — after a failed
//!   fsync, Linux may have marked the dirty pages clean, so a retry can
//!   "succeed" without the data ever reaching the disk. Reopen to recover.
//!
//! # Repair
//!
//! [`LockedLog`] opens a log under the writer lock and inspects it without
//! changing it; [`LockedLog::repair`] carries out a [`RepairPlan`]: truncate
//! a torn tail, or (with [`RepairOptions::drop_corrupt_tail`]) drop a final
//! record whose hash fails. Anything else is refused; [`salvage`] copies
//! every valid record into a new log instead.
//!
//! # Design notes
//!
//! * The open-time walk verifies the whole log with plog-mmap: the locked
//!   file is memory-mapped when large (nothing is copied, so opening a
//!   multi-GB log costs no memory) and hashed across the current rayon
//!   pool; the mapping is dropped before any repair truncates the file.
//!   Its findings are those of [`plog_format::Scanner`] (the tests check
//!   every open against it). [`inspect`], which runs without the lock, reads
//!   the file instead of mapping it, so a writer truncating the file
//!   meanwhile cannot fault the caller.
//! * [`Writer`] and [`GroupCommit`] are two policies over one private file
//!   writer: it checks each record (poisoned, index order, payload size,
//!   room left in a `u64`, in that order) before it joins a batch, writes a
//!   batch, cuts a failed write off, syncs and poisons the same way for
//!   both. They differ only in when they sync, and in that a group commit
//!   handle is poisoned by any failed batch (see [`GroupCommit`]).
//! * Writes are positioned (`pwrite` at the writer's own idea of the file's
//!   length), so a cut-off partial write never shifts where the next record
//!   goes.
//! * `fdatasync` rather than `fsync`: it flushes the data and the file size
//!   (all a reader needs) and skips timestamps.
//! * Group commit is the classic leader/follower scheme; see [`GroupCommit`];
//!   [`GroupCommit::stats`] tells how many appends shared each `fdatasync`.
//! * Preallocation ([`WriterOptions::preallocate`], off by default): on
//!   ext4 and its kin, an append that grows the file makes `fdatasync`
//!   commit the journal (the length is metadata), which costs about as much
//!   as the naive writer's `fsync`; appends that overwrite zeros written
//!   ahead of time only flush their data. The price is a zero-filled tail
//!   while the writer is open or after a crash (a torn tail to readers,
//!   repaired at the next open, cut off on a clean close), and a crash in
//!   the middle of an append leaves a full-length record with zeroed
//!   sectors, which FORMAT.md calls a hash mismatch and `plog verify`
//!   reports as corruption (with the zeroed sector) until the next open
//!   drops it. It is off by default so that a log on disk is always exactly
//!   what the v1 writer in the field writes.
//! * The writer only ever shrinks the file in three cases: cutting a torn
//!   tail at open (or in a repair), cutting off a failed write, and trimming
//!   preallocated zeros at close. A plog-mmap reader that mapped the file
//!   meanwhile ends its pass with the changed-file error, never a crash
//!   (what a mapping may and may not see is stated once, in plog-mmap's
//!   "Safety of the mapping"); without preallocation the first two only
//!   happen after a crash or an I/O error.
//! * Only the Unix build is tested (positioned writes use `pwrite`; other
//!   platforms fall back to seek and write, and skip the directory fsync,
//!   which they cannot do).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
#[cfg(test)]
mod faults;
mod file;
mod fsio;
mod group;
mod len;
mod open;
mod opened;
mod options;
mod repair;
mod salvage;
mod scan;
mod writer;

#[cfg(test)]
mod tests;

pub use error::WriteError;
pub use fsio::create_new_file;
pub use group::{GroupCommit, GroupStats};
pub use open::LockedLog;
pub use opened::{Exposure, OpenReport};
pub use options::{
    Appended, DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, LogPosition, SyncPolicy, WriterOptions,
};
pub use repair::{RepairOptions, RepairPlan};
pub use salvage::{SalvageOptions, SalvageProgress, SalvageReport, salvage, salvage_with};
pub use scan::inspect;
pub use writer::{MANUAL_FLUSH_BYTES, Writer};

use len::pos_u64;
