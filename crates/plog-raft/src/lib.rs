//! An [openraft](https://docs.rs/openraft) log store on plog v1 files, for
//! openraft 0.9 and 0.10.
//!
//! # openraft versions
//!
//! Each version has its own adapter behind a cargo feature; the store
//! itself (segments, the I/O thread, recovery, the index, the state file)
//! is the same code for both, and both features may be on together.
//!
//! | feature | openraft | types |
//! | --- | --- | --- |
//! | `openraft-09` (default) | `0.9.22` or a later 0.9, features `serde`, `storage-v2` | `PlogLogStore`, `PlogLogReader` |
//! | `openraft-010` | `=0.10.0-alpha.37`, feature `serde` | `v010::PlogLogStore`, `v010::PlogLogReader` |
//!
//! Each store implements that version's `RaftLogStorage` and its reader
//! `RaftLogReader`, for any `RaftTypeConfig` (entries are serialized with
//! serde_json: openraft's `serde` feature). Under 0.10 the errors are
//! `std::io::Error`, the vote is read through the reader, and
//! `truncate_after` keeps the log id it is given. openraft 0.9's core
//! awaits each append's flush before the next append (`PlogLogStore`);
//! 0.10's submits and goes on, and appends that arrive while a flush is in
//! flight are written by the next single `fdatasync` (module `v010`).
//!
//! A directory's files are the same for both versions. With openraft's
//! default leader ids (0.9's `LeaderId`, 0.10's `leader_id_adv`) log ids,
//! votes and entries serialize alike, so a directory written under 0.9
//! opens under 0.10 with the same application data (tested). Another
//! leader id type (0.9's `single-term-leader`, 0.10's `leader_id_std`)
//! writes other JSON; the open then refuses the directory
//! ([`RaftLogError::BadEntry`] or [`RaftLogError::BadState`]) rather than
//! misread it.
//!
//! # On disk
//!
//! A log directory holds:
//!
//! * segment files named by their first Raft index,
//!   `00000000000000000001.plog`, each a valid plog v1 log (`plog verify`,
//!   `plog dump` and `plog repair` work on them as they are). Each record's
//!   index field is the Raft index and its payload is the JSON of the
//!   openraft entry (log id inside; written and read by sonic-rs, which
//!   writes the bytes serde_json writes 2.7x faster and reads them 1.26x
//!   faster); reads check one against the other. The
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
//! off its task and awaits it), puts them in the in-memory index (they are
//! readable when it returns) and hands them to one I/O thread; it does not
//! wait for the flush. The I/O thread, when it starts a write, takes every
//! append queued by then, writes them with one positioned write and one
//! `fdatasync` per segment (group commit), and only then calls each
//! append's callback (`LogFlushed` in 0.9, `IOFlushed` in 0.10), in the
//! order of the appends. The synchronous `append_with`, whose caller may
//! block, writes on the caller's thread instead when the I/O thread is
//! idle (no hand-off there and back). A background thread keeps written,
//! synced zeros
//! ahead of the write offset, so that the write overwrites blocks the file
//! owns and the flush carries no size change ([`WriteStats`] counts both
//! kinds). Serializing the next batch overlaps the previous one's
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
//! Every segment is read into memory and verified by plog-mmap
//! (`Log::for_each_event`: the walk and every hash, in parallel on the rayon
//! pool, in file order). Only the last segment may end in a torn append, as the tail rule
//! of `RAFT-SEGMENTS.md` tells it from damage (it is cut and synced; the
//! zeros after each segment's last record are trimmed); any other damage,
//! a missing segment, a gap or a non-contiguous index, a foreign file or a
//! segment whose log ids go backwards refuses to open with a
//! [`RaftLogError`] that names the segment, offset and index, and nothing
//! is changed. An open waits (up to [`Options::lock_wait`]) for a store of
//! the same directory in this process that is being dropped.
//!
//! With openraft 0.9 (for 0.10, see the `v010` module):
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
// Without an openraft feature only `inspect` (and the file names) remain:
// the store is there but nothing public reaches it.
#![cfg_attr(
    not(any(feature = "openraft-09", feature = "openraft-010")),
    allow(dead_code, unused_imports)
)]

mod append;
mod error;
mod flavor;
mod index;
pub mod inspect;
mod io_thread;
mod lock;
mod options;
mod prealloc;
mod read;
mod reader;
mod recover;
mod scan;
mod shared;
mod state;
mod store;
#[cfg(feature = "openraft-010")]
pub mod v010;
#[cfg(feature = "openraft-09")]
mod v09;

pub use error::RaftLogError;
pub use lock::LOCK_FILE;
pub use options::{Options, WriteStats};
pub use recover::RecoveryReport;
pub use scan::TailCut;
pub use state::STATE_FILE;
#[cfg(feature = "openraft-09")]
pub use v09::{PlogLogReader, PlogLogStore};

// The names the I/O thread uses.
pub(crate) use index::Payload;
pub(crate) use lock::set_mode;
pub(crate) use shared::Shared;
