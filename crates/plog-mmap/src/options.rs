//! What a caller chooses for verification and replay.

use std::sync::Arc;

use plog_format::IndexOrder;
use rayon::ThreadPool;

/// How a damaged file is treated: defined once, in plog-format.
pub use plog_format::RecoveryMode;

/// Which threads hash and decode.
///
/// Results never depend on this (tested for 1 to 4 threads): only the speed
/// does.
#[derive(Clone, Debug, Default)]
pub enum Parallelism {
    /// The current rayon pool: the global pool, or the pool of the worker the
    /// call is made from (so that a caller verifying many files with
    /// `par_iter` shares one pool).
    #[default]
    Current,
    /// A pool of this many threads, built for the call (`0`: the current
    /// pool). Building a pool costs a few hundred microseconds; to verify
    /// many files, build one and pass [`Parallelism::Pool`].
    Threads(usize),
    /// The caller's pool.
    Pool(Arc<ThreadPool>),
}

/// How many entries each list of a [`VerifyReport`](crate::VerifyReport)
/// (corruptions, index violations, lost ranges) keeps by default: a
/// million, about 100 MB for a list of corruptions. Every real damaged log
/// fits with room to spare; a hostile file made of nothing but damaged
/// records (one per 48 bytes) would otherwise need twice its own size in
/// memory for the report. Entries past the limit are counted, not kept
/// ([`VerifyReport::omitted`](crate::VerifyReport::omitted)).
pub const DEFAULT_LIST_LIMIT: usize = 1_000_000;

/// Options of [`Log::verify`](crate::Log::verify) and the event stream.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The order that valid records' indices must follow (default: any).
    /// Violations are reported in
    /// [`VerifyReport::index_violations`](crate::VerifyReport::index_violations).
    pub index_order: IndexOrder,
    /// How damage is judged by
    /// [`VerifyReport::passes`](crate::VerifyReport::passes).
    pub mode: RecoveryMode,
    /// Which threads hash.
    pub parallelism: Parallelism,
    /// The most entries kept in each list of the report (default
    /// [`DEFAULT_LIST_LIMIT`]; at least 1, so the first finding is always
    /// listed). The counts stay exact.
    pub list_limit: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            index_order: IndexOrder::default(),
            mode: RecoveryMode::default(),
            parallelism: Parallelism::default(),
            list_limit: DEFAULT_LIST_LIMIT,
        }
    }
}

/// Options of [`Log::replay_with`](crate::Log::replay_with).
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Decode only records whose index is at least this (snapshot recovery:
    /// the records before the snapshot are still walked and verified, but
    /// not decoded). `None`: decode every record.
    pub from_index: Option<u64>,
    /// The order that valid records' indices must follow (default: any); a
    /// violation is an error except in [`RecoveryMode::Salvage`], where it is
    /// only reported.
    pub index_order: IndexOrder,
    /// What is an error.
    pub mode: RecoveryMode,
    /// Which threads verify and decode.
    pub parallelism: Parallelism,
    /// The most entries kept in each list of the replay's report (see
    /// [`VerifyOptions::list_limit`]).
    pub list_limit: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            from_index: None,
            index_order: IndexOrder::default(),
            mode: RecoveryMode::default(),
            parallelism: Parallelism::default(),
            list_limit: DEFAULT_LIST_LIMIT,
        }
    }
}
