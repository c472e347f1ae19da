//! Memory-mapped, zero-copy reading of engenho-store persistent logs (plog
//! v1): the structural walk, parallel BLAKE3 verification and typed replay.
//!
//! ```no_run
//! use plog_mmap::{Log, ReplayOptions, VerifyOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let log = Log::open("node-3.plog")?;
//!
//! // The records, one at a time (each an owned, verified copy).
//! for record in log.records()? {
//!     let record = record?;
//!     println!("{} at {}: {} bytes", record.index(), record.offset(), record.payload().len());
//! }
//!
//! // Bulk verification: every finding, in file order, hashed on all cores.
//! let report = log.verify(&VerifyOptions::default())?;
//! println!("{}: {} records, status {}", log.len(), report.summary.records, report.status());
//!
//! // Recovery: typed entries from the snapshot index on, in file order,
//! // applied one at a time (memory does not grow with the log).
//! let options = ReplayOptions { from_index: Some(1_000), ..ReplayOptions::default() };
//! log.replay_each(&options, |index, entry: serde_json::Value| {
//!     println!("{index}: {}", entry["kind"]);
//!     std::ops::ControlFlow::Continue(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! # What it offers
//!
//! * [`Log`]: a whole file, memory-mapped read-only ([`Log::open`]), read
//!   by each pass through a bounded window ([`MapPolicy::Windowed`]), in
//!   memory ([`Log::from_bytes`], [`Log::read_from`], [`MapPolicy::Never`]),
//!   or a stream read once in bounded memory ([`Log::from_stream`]: standard
//!   input), with [`Log::refresh`] to see what was appended since.
//! * [`Log::verify`]: the whole classification of FORMAT.md, hashed across
//!   rayon workers (many payloads side by side in SIMD lanes, plog-hash) and
//!   folded in file order into a [`VerifyReport`]: plog-format's one model
//!   ([`Summary`], judged by [`Summary::judge`] under a [`RecoveryPolicy`]) plus the
//!   bounded [`Findings`] lists (corruptions, index violations, lost
//!   ranges). [`Log::for_each_event`] and [`Log::for_each_step`] stream the
//!   findings (verified or structural) from any record boundary, over a
//!   private copy of each batch of a file (a log in memory is private
//!   already: it is hashed and handed on where it lies, without a copy).
//! * Typed replay: [`Log::replay`] (collected) and [`Log::replay_each`]
//!   (streamed to a callback in bounded memory), verified and decoded in
//!   parallel, failing with the first problem in file order
//!   ([`ReplayError`]); records before a snapshot index are walked over.
//!   Payloads are decoded with [`decode_json`] from a private copy.
//! * [`Log::records`]: the lazy iterator, `for record in log.records()? {
//!   let record = record?; ... }`, each item an owned [`RecordBuf`] copied
//!   from a verified private copy (the first corruption ends it with an
//!   error).
//! * Zero-copy iteration over bytes the caller holds is plog-format's
//!   (`plog_format::Walker`, `plog_format::Scanner`) over
//!   [`Log::in_memory`] (or, with the caller's promise,
//!   [`Log::bytes_unchecked`]).
//! * Recovery modes ([`RecoveryMode`]): tolerate a torn tail (the default,
//!   as engenho-store does), strict, or salvage.
//!
//! Feature `json` (default): typed replay and [`decode_json`], with
//! serde_json. Without it, everything else above remains.
//!
//! # Opening: map or read
//!
//! [`MapPolicy::Auto`] maps regular files of at least
//! [`DEFAULT_MIN_MAP_LEN`] bytes and reads smaller regular files into
//! memory (a read is cheaper than a mapping), as it does files that report
//! a length they do not have (`/proc` files report 0). Files that are not
//! regular (pipes, `/dev/stdin` when it is a pipe, sockets, devices) are
//! read once as they arrive, through a bounded window, as
//! [`Log::from_stream`] reads standard input.
//! A file it may not map (the process opted out of the `SIGBUS` guard,
//! another handler replaced plog's, or [`guard::SLOTS`] mappings are live)
//! is read in windows instead, as [`MapPolicy::Windowed`] reads every file:
//! each pass reads it through [`STREAM_WINDOW`] bytes, so memory does not
//! grow with the file. Mappings of at least [`SEQUENTIAL_ADVICE_MIN_LEN`]
//! bytes are advised as sequential (`madvise`), which makes the kernel read
//! ahead aggressively. [`MapPolicy::Never`] reads every file into memory
//! (for callers of [`Log::in_memory`]). The results are identical on every
//! input for every policy and for a stream ([`Log::from_stream`]): the
//! corpus and property tests check each path against the whole file.
//!
//! # Safety of the mapping
//!
//! This is plog's one statement of the mapping contract; every other doc
//! (`Log::open`, plog-writer, the `plog` README) points here.
//!
//! **What the language promises, and what it does not.** A memory map hands
//! out bytes that another process can change: Rust assumes that the bytes
//! behind a shared reference never change, so a file truncated or rewritten
//! *in place* while it is mapped is outside what the language promises,
//! whatever a library does to contain it (memmap2 says so of every mapping,
//! and ripgrep, which maps files too, says the same). Appending to a mapped
//! file is fine. plog therefore keeps every mapping private to this crate
//! and contains a change as follows; a program that cannot accept even a
//! contained change reads instead of mapping ([`MapPolicy::Windowed`], or the
//! process-wide [`guard::disable`] / `PLOG_NO_SIGBUS_HANDLER=1`).
//!
//! What happens when another process changes a mapped file:
//!
//! * **Appends** lie past the mapping's length, fixed at open: they are not
//!   seen until [`Log::refresh`] (or a new open). A reader of an append-only
//!   log gets a consistent prefix.
//! * **Truncation**: touching a page past the new end raises `SIGBUS`. The
//!   [`guard`] flags the mapping and maps zero pages over the vanished
//!   range; the pass stops at its next batch (below) and returns
//!   [`ReadError::Changed`] ("the file changed while it was read: truncated
//!   from N to M bytes") instead of a result. No crash, and nothing made
//!   from the zeros reaches a caller.
//! * **Rewriting in place**: a pass may read old or new bytes. No code here
//!   relies on two reads of a mapped byte agreeing: lengths are checked
//!   against the slice's fixed bounds where they are used, hashing only
//!   reads, and whatever reaches a caller (records, events, decoded values)
//!   is made from a private copy of each batch that is re-parsed and hashed
//!   after the copy. Changed bytes give a different classification (a hash
//!   mismatch, a damaged length) or the changed-file error, never an
//!   out-of-bounds read or an invalid `str`.
//! * No slice of a mapping reaches safe code: [`Log::in_memory`] is `None`
//!   for a mapped log, and [`Log::bytes_unchecked`] is an `unsafe fn` whose
//!   caller promises that nobody changes the file while the slice lives.
//! * A `SIGBUS` that is not a fault on a mapping of plog's (another
//!   library's mapping, `kill -BUS`, a hardware memory error) is handed to
//!   the action in place before plog's, or kills the process as it would
//!   have without plog; plog maps only while its handler is the process's
//!   `SIGBUS` action (see [`guard`] for when it reads instead).
//!
//! Mapping a file, and the guard, are plog-mmap's `unsafe` code
//! (`source.rs`, `guard.rs`; the only other `unsafe` is a prefetch hint in
//! `walk.rs`, which reads nothing).
//!
//! # A pass stops where the file stopped
//!
//! Every pass ([`Log::verify`], [`Log::for_each_event`],
//! [`Log::for_each_step`], [`Log::replay`], [`Log::replay_each`]) asks,
//! before it uses a batch's results (hands on its events or entries, counts
//! it in a report), whether the mapping faulted (one atomic load) and
//! whether the file is still as long as the batch's end (one `fstat`, about
//! a microsecond per 256 KiB batch: a truncation inside the last page raises
//! no fault). A batch that fails either is dropped whole and the pass ends
//! with [`ReadError::Changed`]; the batches handed on before it were read
//! while the file still held them.
//!
//! **The bound.** The walk runs ahead of the batches handed on, so when a
//! pass stops, it may have walked (and hashed, but never used) up to
//! `2 × threads × 4` batches past the first vanished byte, each about
//! 256 KiB of payload plus at most one record: at most 2 MiB of payload per
//! thread plus that many records (4 MiB at the 2 threads of CI). Over the
//! zero pages of a vanished range, records read as 48-byte headers, about
//! 2,000 to a batch. The tests in `src/tests.rs` truncate files under every
//! pass and check the bound and that no event or entry past the truncation
//! is handed on.
//!
//! # How verification runs in parallel
//!
//! The walk over headers and lengths is sequential by nature (each record's
//! offset depends on the previous length) but cheap: about 10 ns per record
//! once it reads a few KiB ahead of itself (`read_ahead.rs`). Hashing is what
//! costs. So one thread walks and cuts the records into *batches* of about
//! 256 KiB of payload (not one task per record) and spawns each batch as a
//! rayon task (FIFO) as soon as it is cut; up to 16 batches per thread are in
//! flight. Whenever the oldest batch is hashed, the walking thread hands it
//! to the report, so results are stitched in file order; when the limit is
//! reached it hashes too (`rayon::yield_now`) rather than wait. There is no
//! barrier: a slow or descheduled thread delays one batch, not a window. A
//! batch whose records all hashed fine updates the report in O(1) (when no
//! index order is checked).
//!
//! The result is the same, event for event, as the sequential
//! `plog_format::Scanner`: property tests check verification, the event
//! stream and replay against it on random damaged logs (bit flips, cuts,
//! zero tails, damaged lengths and indices) for 1 to 4 threads and batch
//! sizes down to one record. A payload of 2 MiB or more is hashed with
//! BLAKE3's own parallelism (`Hasher::update_rayon`), so that a log of a few
//! huge payloads still uses every core.
//!
//! Memory: the batches' vectors are reused; nothing is allocated per record
//! (only per batch — rayon's task —, per corruption, per index violation,
//! and per decoded entry in a replay). Peak memory does not grow with the
//! record count: an integration test with a counting allocator finds peaks
//! of about 0.5 MiB per thread for both 100,000 and 300,000 records.
//!
//! [`Log::for_each_event`] runs its callback on the calling thread, which
//! need not be a pool thread, so it uses windows instead: the pool hashes a
//! window of batches while the walk cuts the next, and the callback reads
//! the hashed window in order.
//!
//! # Choosing threads
//!
//! [`Parallelism::Current`] (the default) uses the rayon pool the call is
//! made from: the global pool, or the worker's own pool when verifying many
//! files with `par_iter`. [`Parallelism::Threads`] builds a pool for one
//! call; [`Parallelism::Pool`] uses the caller's.
#![deny(missing_docs)]
// The exceptions, each with its SAFETY contract: the memory map and the
// release of its pages (`source.rs`), the `SIGBUS` guard (`guard.rs`) and
// the walk's prefetch hint (`walk.rs`); nothing else may use `unsafe`.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// Without the `json` feature there is no replay, and the parts of the batch
// model and the pool that only a replay uses go unused.
#![cfg_attr(not(feature = "json"), allow(dead_code))]

// The shared test oracle (tests/support/oracle.rs) names this crate
// `plog_mmap`, as the integration tests that also include it do.
#[cfg(test)]
extern crate self as plog_mmap;

mod batch;
#[cfg(feature = "json")]
mod decode;
mod error;
pub mod guard;
mod hashing;
mod len;
mod options;
mod pool;
mod read_ahead;
mod records;
#[cfg(feature = "json")]
mod replay;
mod report;
mod schedule;
mod source;
mod stream;
#[cfg(all(test, feature = "json"))]
mod tests;
mod verify;
mod visit;

#[cfg(feature = "json")]
pub use decode::decode_json;
pub use error::{FileChanged, OpenError, ReadError, ReplayError};
pub use options::{
    DEFAULT_LIST_LIMIT, Parallelism, Progress, RecoveryMode, ReplayOptions, VerifyOptions,
};
pub use records::{RecordBuf, Records};
#[cfg(feature = "json")]
pub use replay::Replayed;
pub use report::VerifyReport;
pub use source::{
    DEFAULT_MIN_MAP_LEN, Log, MapPolicy, OpenOptions, RELEASE_STEP, Refresh,
    SEQUENTIAL_ADVICE_MIN_LEN,
};
pub use stream::{STREAM_HELD_LIMIT, STREAM_WINDOW};

// The types of plog-format that this crate's API hands out.
pub use plog_format::{
    Corruption, Event, Findings, IndexOrder, IndexStats, IndexViolation, LostRange, Omitted,
    ParseError, Problem, Record, RecoveryPolicy, Status, Step, Summary, TornReason, TornTail,
    Verdict,
};

use len::len_u64;
