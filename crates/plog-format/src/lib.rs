//! The engenho-store persistent log, format v1, over byte slices.
//!
//! A v1 log is a 26-byte magic followed by records; each record is a 48-byte
//! header (`index` u64 LE, `payload_len` u64 LE, BLAKE3 `hash` of the payload)
//! and the payload. Records are packed with no padding, so a header may start
//! at any byte offset: [`RecordHeader`] is a `bytemuck::Pod` view with
//! alignment 1 and can be borrowed from the input anywhere.
//!
//! This crate is `#![no_std]` and contains no `unsafe`. Every value read from a
//! file is checked against the bytes that remain before it is used to index,
//! add or allocate.
//!
//! # The layers
//!
//! * [`Walker`] is the *structural* walk: it checks the magic, follows headers
//!   and lengths, classifies torn tails and damaged length fields, and yields
//!   each structurally complete [`Record`] **without hashing its payload**.
//!   (The only hashing it does is while searching for the next valid record
//!   after a damaged length, which is what the format defines a resync to be.)
//! * [`Record::verify`] checks one record's BLAKE3 hash. Keeping it separate
//!   lets a reader walk once and hash in parallel later (plog-mmap does).
//! * [`Scanner`] is the two together, sequentially: the reference
//!   classification of FORMAT.md, yielding [`Event`]s in file order. The one
//!   conversion from an unverified [`Step`] to a verified [`Event`] is
//!   `Event::from(step)`, which hashes a record step's payload.
//! * [`Record::parse_prefix`] is the one place a header's `payload_len` is
//!   read and checked before a payload is sliced (the walker, the resync
//!   search and [`Record::parse_at`] all use it).
//! * [`classify`] (feature `alloc`) collects a [`Scanner`] into a
//!   [`Classification`]: status, valid records, corruptions, torn tail.
//!   [`summarize`] folds a [`Scanner`] into a [`Summary`] without allocating.
//!
//! # One fold, one judge
//!
//! Every reader of plog reduces the events of a walk the same way: a
//! [`Fold`] takes the [`Event`]s in file order (or a [`ValidRun`] of
//! consecutive valid records summarised by a worker thread) and keeps a
//! [`Summary`] in O(1) space, with no allocation; [`Findings`] (feature
//! `alloc`) keeps the bounded lists beside it (corruptions, index
//! violations, [`LostRange`]s). Whether a file is acceptable is one rule,
//! [`RecoveryPolicy::reject`], applied to each [`Finding`] the fold returns: a
//! streaming replay stops at the first finding it rejects, and
//! [`Summary::judge`] gives the same answer for the whole file as a
//! [`Verdict`]. Each offset has one meaning: [`Summary::records_end`] is the
//! end of the last valid record ([`MAGIC_LEN`] without one, 0 when the magic
//! is not v1); [`TornTail::offset`] is where the torn tail starts, the cut
//! point of a repair (the two agree when nothing is corrupt); [`Corruption::offset`] and
//! [`IndexViolation::offset`] are the offsets of the damaged or misordered
//! headers (0 for the magic). A [`Summary`] counts index gaps, repeats and
//! decreases for every [`IndexOrder`] at once ([`IndexStats`]), so one walk
//! answers every policy.
//!
//! # Example
//!
//! ```
//! use plog_format::{classify, encode_record_to_vec, Status, MAGIC};
//!
//! let mut log = MAGIC.to_vec();
//! encode_record_to_vec(1, br#"{"kind":"Pod"}"#, &mut log);
//! encode_record_to_vec(2, br#"{"kind":"Service"}"#, &mut log);
//!
//! let report = classify(&log);
//! assert_eq!(report.status(), Status::Clean);
//! assert_eq!(report.records.len(), 2);
//!
//! // A crash in the middle of the second append leaves a torn tail:
//! let cut = &log[..log.len() - 3];
//! let report = classify(cut);
//! assert_eq!(report.status(), Status::Torn);
//! assert_eq!(report.records.len(), 1);
//! assert_eq!(report.torn.unwrap().offset, 26 + 48 + 14);
//! ```
//!
//! # Features
//!
//! * `std` (default): `std::error::Error` impls and blake3's runtime CPU
//!   feature detection; implies `alloc`.
//! * `alloc`: [`classify`], [`Classification`], [`Findings`],
//!   [`encode_record_to_vec`].
//!
//! With `--no-default-features` the crate is `no_std` without `alloc`: the
//! walker, scanner, verification, encoding into a caller's buffer, and the
//! whole model ([`Fold`], [`Summary`], [`ValidRun`], [`RecoveryPolicy`], [`Verdict`])
//! remain.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod classify;
mod damage;
mod encode;
mod event;
mod findings;
mod fold;
mod hash;
mod header;
mod index;
mod judge;
mod len;
mod magic;
mod record;
mod sector;
mod walk;

#[cfg(feature = "alloc")]
pub use classify::{Classification, RecordSummary, classify};
pub use classify::{Scanner, summarize};
pub use damage::{Corruption, Status, TornReason, TornTail};
#[cfg(feature = "alloc")]
pub use encode::encode_record_to_vec;
pub use encode::{EncodeError, encode_record, encoded_len};
pub use event::Event;
#[cfg(feature = "alloc")]
pub use findings::Findings;
pub use findings::{LostRange, Omitted};
pub use fold::{Finding, Fold, IndexStats, Summary, ValidRun};
pub use hash::Hash;
pub use header::{HEADER_LEN, RecordHeader};
pub use index::{IndexChecker, IndexOrder, IndexViolation, IndexViolationKind};
pub use judge::{Problem, RecoveryMode, RecoveryPolicy, Verdict};
use len::len_u64;
pub use magic::{MAGIC, MAGIC_FAMILY_PREFIX, MAGIC_LEN, Magic, MagicBytes, check_magic};
pub use record::{ParseError, Record};
pub use sector::{SECTOR, first_zeroed_piece, zeroed_sector_in};
pub use walk::{Step, Walker, WindowEnd, find_resync};
