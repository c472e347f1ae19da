//! plog: read, verify and write engenho-store's persistent log (format v1).
//!
//! This crate is the front door: it re-exports, each under one path
//! (`plog::X`), what users of the reader ([plog-mmap](plog_mmap)), the
//! writer ([plog-writer](plog_writer)) and the format
//! ([plog-format](plog_format)) need, and provides [`PersistentLog`], a
//! drop-in for engenho-store's type of the same name. (The format's
//! byte-level walkers, `plog_format::Walker` and `plog_format::Scanner`, are
//! for code that parses bytes it holds: depend on plog-format for them.)
//!
//! # One way for each job
//!
//! | job | the way |
//! |---|---|
//! | iterate a log's records | `for record in log.records()? { let record = record?; }` ([`Log::records`]) |
//! | stream its findings to a callback | [`Log::for_each_event`] (verified), [`Log::for_each_step`] (structural) |
//! | replay typed entries | [`Log::replay`] (collected), [`Log::replay_each`] (streamed) |
//! | verify | [`Log::verify`] → [`VerifyReport`] ([`Summary`], [`Verdict`], [`Findings`]) |
//! | append from one thread | [`Writer`] |
//! | append from many threads | [`GroupCommit`] |
//! | engenho-store's drop-in | [`PersistentLog`] |
//! | look at damage, repair it | [`LockedLog`] ([`RepairPlan`]), [`salvage`] |
//!
//! # The format, in one paragraph
//!
//! A log is a 26-byte magic (`"engenho-persistent-log v1\n"`) followed by
//! records: a 48-byte header (index u64 LE, payload length u64 LE, BLAKE3 of
//! the payload) and the payload (engenho-store writes JSON). A file is
//! `clean`, `torn` (a crash cut the last append: the valid prefix is intact
//! and the tail can be cut) or `corrupt` (a hash mismatch, a damaged length,
//! a bad magic), exactly as `FORMAT.md` defines.
//!
//! # Moving from engenho-store: change the `use` line
//!
//! ```
//! use plog::{PersistentLog, PersistentLogError};
//! # fn main() -> Result<(), PersistentLogError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let log = PersistentLog::open(dir.path().join("data/resources.plog"))?;
//! log.append(1, &serde_json::json!({"op": "put", "key": "/registry/pods/default/web-0"}))?;
//! let entries: Vec<(u64, serde_json::Value)> = log.replay()?;
//! assert_eq!(entries[0].0, 1);
//! # Ok(()) }
//! ```
//!
//! # Replay from a snapshot index (node recovery)
//!
//! A node restored from a snapshot at index 1,000 replays only what follows,
//! applying each entry as it comes (memory holds a bounded window of
//! entries, however long the log). Records before the snapshot are walked
//! over, neither hashed nor decoded; the others are verified and decoded on
//! every core.
//!
//! ```
//! use std::ops::ControlFlow;
//! use plog::{Log, ReplayOptions, Writer, WriterOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("raft.plog");
//! # let (mut writer, _) = Writer::open(&path, WriterOptions { sync: plog::SyncPolicy::Manual, ..Default::default() })?;
//! # for i in 1..=1_200u64 { writer.append(i, &serde_json::json!({"n": i}))?; }
//! # writer.close()?;
//! #[derive(serde::Deserialize)]
//! struct Entry { n: u64 }
//!
//! let log = Log::open(&path)?;
//! let options = ReplayOptions { from_index: Some(1_001), ..ReplayOptions::default() };
//! let (mut applied, mut first) = (0, None);
//! log.replay_each(&options, |index, entry: Entry| {
//!     first.get_or_insert(entry.n);
//!     applied += 1;
//!     ControlFlow::Continue(())
//! })?;
//! assert_eq!((applied, first), (200, Some(1_001)));
//! # Ok(()) }
//! ```
//!
//! # Bulk verification
//!
//! Verify many logs and learn exactly what is damaged: every finding carries
//! its byte offset, the record's index and a stable kind.
//!
//! ```
//! use plog::{Log, Status, VerifyOptions};
//! use rayon::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let mut bytes = plog::MAGIC.to_vec();
//! # plog::encode_record_to_vec(1, b"{}", &mut bytes);
//! # plog::encode_record_to_vec(2, b"{}", &mut bytes);
//! # std::fs::write(dir.path().join("a.plog"), &bytes)?;
//! # let len = bytes.len(); bytes[len - 1] ^= 1;
//! # std::fs::write(dir.path().join("b.plog"), &bytes)?;
//! let paths = vec![dir.path().join("a.plog"), dir.path().join("b.plog")];
//! let reports: Vec<_> = paths
//!     .par_iter()
//!     .map(|path| -> Result<_, String> {
//!         let log = Log::open(path).map_err(|e| e.to_string())?;
//!         log.verify(&VerifyOptions::default()).map_err(|e| e.to_string())
//!     })
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(reports[0].status(), Status::Clean);
//! let damage = &reports[1].findings.corruptions[0];
//! assert_eq!((damage.kind(), damage.index(), damage.offset()), ("hash_mismatch", Some(2), 76));
//! # Ok(()) }
//! ```
//!
//! # Durable appends
//!
//! ```
//! use plog::{Writer, WriterOptions, IndexOrder};
//! # fn main() -> Result<(), plog::WriteError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let options = WriterOptions { index_order: IndexOrder::Contiguous, ..Default::default() };
//! let (mut writer, opened) = Writer::open(dir.path().join("raft.plog"), options)?;
//! assert!(opened.repaired.is_none()); // a torn tail left by a crash would be cut here
//! writer.append(1, &serde_json::json!({"op": "put"}))?; // written once, fdatasync'ed
//! let batch: Vec<(u64, &[u8])> = vec![(2, b"{}"), (3, b"[]")];
//! writer.append_batch_raw(batch)?; // one write, one fdatasync
//! assert!(writer.append_raw(7, b"{}").is_err()); // not contiguous: nothing written
//! assert_eq!(writer.durable().last_index, Some(3));
//! # Ok(()) }
//! ```
//!
//! # Group commit
//!
//! Many threads append through one handle; concurrent appends share one
//! write and one `fdatasync`, and each returns once its own record is
//! durable.
//!
//! ```
//! use plog::{GroupCommit, WriterOptions};
//! # fn main() -> Result<(), plog::WriteError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let (log, _) = GroupCommit::open(dir.path().join("raft.plog"), WriterOptions::default())?;
//! std::thread::scope(|s| {
//!     for thread in 0..4u64 {
//!         let log = &log;
//!         s.spawn(move || {
//!             for i in 0..25 {
//!                 log.append(thread * 1000 + i, &serde_json::json!({"thread": thread})).unwrap();
//!             }
//!         });
//!     }
//! });
//! assert_eq!(log.durable().records, 100);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod persistent;

pub use persistent::{PersistentLog, PersistentLogError};

// The format and its one model (plog-format).
pub use plog_format::{
    Corruption, Findings, IndexOrder, IndexViolation, LostRange, MAGIC, Problem, Record,
    RecoveryMode, Status, Summary, TornReason, TornTail, Verdict, encode_record_to_vec,
};
// Reading: open, iterate, verify, replay (plog-mmap).
pub use plog_mmap::{
    FileChanged, Log, MapPolicy, OpenError, OpenOptions, Parallelism, Progress, ReadError,
    RecordBuf, Records, ReplayError, ReplayOptions, Replayed, VerifyOptions, VerifyReport,
};
// Writing: one thread, many threads, repair (plog-writer).
pub use plog_writer::{
    Appended, GroupCommit, LockedLog, LogPosition, OpenReport, RepairOptions, RepairPlan,
    SalvageOptions, SalvageReport, SyncPolicy, WriteError, Writer, WriterOptions, salvage,
};
