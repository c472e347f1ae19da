//! The bodies of plog's fuzz targets.
//!
//! Each target is a plain function over bytes that panics only when one of
//! plog's invariants is broken. The same functions run in two places:
//!
//! * `fuzz/fuzz_targets/*.rs`, one-line cargo-fuzz harnesses (nightly,
//!   libFuzzer), and
//! * this crate's `tests/corpus_replay.rs`, which runs every committed corpus
//!   and regression input of `fuzz/` through them on stable, as part of
//!   `cargo test`.
//!
//! | target | what it checks |
//! | --- | --- |
//! | [`parse`] | plog-format's full classification of arbitrary bytes |
//! | [`parse_body`] | the same behind a valid magic |
//! | [`replay`] | typed and borrowed replay of arbitrary payloads against a sequential decoding |
//! | [`writer`] | appends, batches, syncs, crashes and reopens against a model of the acknowledged records |
//! | [`differential`] | plog-mmap's reading paths (in memory, read, mapped; 1, 3 and the current pool's threads) against the sequential reference |
//! | [`hash`] | plog-hash's batch hashing and verification on every supported backend against `blake3::hash` of each input |
//!
//! [`TARGETS`] lists them by the name of their cargo-fuzz target.

mod differential;
pub mod generate;
mod hash;
pub mod oracle;
mod parse;
mod replay;
mod targets;
mod writer;

pub use differential::differential;
pub use hash::hash;
pub use parse::{parse, parse_body};
pub use replay::replay;
pub use targets::{TARGETS, TargetFn, target};
pub use writer::writer;
