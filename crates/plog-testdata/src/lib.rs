//! Test support shared by plog's crates (not published).
//!
//! * [`corpus`]: every file of `testdata/v1/` (written by engenho-store's own
//!   writer, and damaged variants) with its entry of `expected.json`.
//! * [`build_log`] and [`k8s_payload`]: well-formed logs for tests and
//!   benchmarks.
//! * [`engenho_payload`], [`EngenhoEntry`] and [`write_engenho_log`]: a log
//!   shaped like engenho-store's real Raft log (openraft entries carrying
//!   Kubernetes objects, ~1.1 KB median payload), from a seed.
//! * [`spawn_child`], [`wait_for_line`] and [`crash_seed`]: the child
//!   processes of the crash tests (the test binary re-executed).

mod changing;
mod child;
mod corpus;
mod engenho;
mod rng;
mod synthetic;

pub use changing::{FileChange, env_number, race_with_change, seeded};
pub use child::{crash_seed, spawn_child, wait_for_line};
pub use corpus::{CorpusFile, Expected, ExpectedCorruption, corpus, corpus_dir};
pub use engenho::{
    BasicNode, ENGENHO_TERM_SPAN, EngenhoEntry, EntryPayload, JournalEntry, LeaderId, LogId,
    Membership, ResourceKey, engenho_entry, engenho_payload, write_engenho_log,
    write_engenho_log_file,
};
pub use rng::SplitMix64;
pub use synthetic::{build_log, k8s_payload};
