//! What a caller chooses for verification and replay.

use std::num::NonZeroUsize;
use std::sync::Arc;

use plog_format::{IndexOrder, RecoveryPolicy};
use rayon::ThreadPool;

/// How a damaged file is treated: defined once, in plog-format.
pub use plog_format::RecoveryMode;

/// Which threads hash and decode.
///
/// Results never depend on this (tested for 1 to 4 threads): only the speed
/// does.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Parallelism {
    /// The current rayon pool: the global pool, or the pool of the worker the
    /// call is made from (so that a caller verifying many files with
    /// `par_iter` shares one pool).
    #[default]
    Current,
    /// A pool of this many threads, built for the call. Building a pool
    /// costs a few hundred microseconds; to verify many files, build one and
    /// pass [`Parallelism::Pool`]. (The current pool is
    /// [`Parallelism::Current`].)
    Threads(NonZeroUsize),
    /// The caller's pool.
    Pool(Arc<ThreadPool>),
}

/// How many entries each list of a [`VerifyReport`](crate::VerifyReport)
/// (corruptions, index violations, lost ranges) keeps by default: a
/// million, about 100 MB for a list of corruptions. Every real damaged log
/// fits with room to spare; a hostile file made of nothing but damaged
/// records (one per 48 bytes) would otherwise need twice its own size in
/// memory for the report. Entries past the limit are counted, not kept
/// (`findings.omitted` of a [`VerifyReport`](crate::VerifyReport)).
pub const DEFAULT_LIST_LIMIT: usize = 1_000_000;

/// Told how far a pass has got: the byte offset of the file reached, in
/// non-decreasing order, about once per batch (256 KiB) and once with the
/// file's length at the end. Runs on the thread that folds the results, so
/// it should be cheap (e.g. advance a progress bar).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use plog_mmap::{Log, Progress, VerifyOptions};
/// let mut bytes = plog_format::MAGIC.to_vec();
/// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
/// let reached = Arc::new(AtomicU64::new(0));
/// let seen = Arc::clone(&reached);
/// let options = VerifyOptions {
///     progress: Some(Progress::new(move |offset| seen.store(offset, Ordering::Relaxed))),
///     ..VerifyOptions::default()
/// };
/// Log::from_bytes(bytes.clone()).verify(&options).unwrap();
/// assert_eq!(reached.load(Ordering::Relaxed), bytes.len() as u64);
/// ```
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(u64) + Send + Sync>);

impl Progress {
    /// A progress callback.
    pub fn new(report: impl Fn(u64) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(report))
    }

    /// Tells the callback that the pass reached `offset`.
    pub(crate) fn reached(&self, offset: u64) {
        (self.0)(offset);
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Options of [`Log::verify`](crate::Log::verify) and the event stream.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The order that valid records' indices must follow (default: any).
    /// Violations are reported in
    /// `findings.index_violations` of the [`VerifyReport`](crate::VerifyReport).
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
    /// Told how far the pass has got (default: nobody).
    pub progress: Option<Progress>,
}

impl VerifyOptions {
    /// The policy a file is judged by: `mode` and `index_order`.
    pub fn policy(&self) -> RecoveryPolicy {
        RecoveryPolicy::new(self.mode, self.index_order)
    }
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            index_order: IndexOrder::default(),
            mode: RecoveryMode::default(),
            parallelism: Parallelism::default(),
            list_limit: DEFAULT_LIST_LIMIT,
            progress: None,
        }
    }
}

/// Options of [`Log::replay`](crate::Log::replay) and
/// [`Log::replay_each`](crate::Log::replay_each): those of verification
/// (what is an error, index order, threads, list limits), and where to
/// start.
///
/// ```
/// use plog_mmap::{IndexOrder, RecoveryMode, ReplayOptions, VerifyOptions};
/// let options = ReplayOptions {
///     from_index: Some(1_000),
///     verify: VerifyOptions { index_order: IndexOrder::Contiguous, ..VerifyOptions::default() },
///     ..ReplayOptions::default()
/// };
/// assert_eq!(options.verify.mode, RecoveryMode::TolerateTorn);
/// ```
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// What is an error (`mode`; an index out of `index_order` is one
    /// except in [`RecoveryMode::Salvage`]), which threads verify and
    /// decode, and the report's list limit.
    pub verify: VerifyOptions,
    /// Replay only records whose index is at least this (snapshot
    /// recovery: the records before the snapshot are walked over, neither
    /// hashed nor decoded nor reported). `None`: every record.
    pub from_index: Option<u64>,
    /// Whether payload hashes are checked (default `true`). Set it to
    /// `false` only for a log whose every record was verified since it last
    /// changed (e.g. at open, under the writer's lock, with the length
    /// unchanged since): then each byte is hashed once per open and replay.
    /// The structure (magic, lengths, torn tail) is checked either way.
    pub check_hashes: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            verify: VerifyOptions::default(),
            from_index: None,
            check_hashes: true,
        }
    }
}
