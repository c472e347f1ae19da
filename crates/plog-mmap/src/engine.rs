//! The parallel verification pipeline.
//!
//! One thread walks the structure ([`Walk`], no hashing) and cuts the steps
//! into *batches* of about [`BATCH_COST`] bytes of payload. [`run`] spawns
//! each batch as a FIFO task as soon as it is cut (a bounded number in
//! flight) and hands hashed batches to its sink in file order;
//! [`run_local`], whose sink stays on the calling thread, hashes *windows*
//! of batches while it cuts the next window. Either way the sink sees the
//! batches in file order and [`Batch::events`] yields their findings in file
//! order, so the result does not depend on the thread count.
//! [`run_ordered`] (streaming replay) has no cutting thread: each pool
//! thread cuts a batch from the shared walk, processes it and hands it to
//! the sink itself when its turn in file order comes.
//!
//! Memory: a bounded number of batches is alive at a time, and their vectors
//! are reused. Nothing is allocated per record except a [`Corruption`] per
//! hash mismatch.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use plog_format::{Corruption, Event, Hash, Record, Step, ValidRun};
use rayon::ThreadPool;
use rayon::prelude::*;

use crate::{Parallelism, Walk};

/// The payload bytes (plus [`RECORD_COST`] per record) in one batch: one
/// task of the pool. Large enough that scheduling costs nothing next to
/// hashing, small enough that a window of several batches per thread keeps
/// every thread busy to the end of the window.
pub(crate) const BATCH_COST: usize = 256 * 1024;

/// What one record costs beyond its payload, in bytes of hashing: its
/// header, the per-call cost of BLAKE3 and the bookkeeping. It also caps a
/// batch of empty payloads at `BATCH_COST / RECORD_COST` records.
pub(crate) const RECORD_COST: usize = 128;

/// Batches per thread in flight ([`run`]) or in a window ([`run_local`]).
///
/// Few enough that a batch is hashed soon after the walk fetched its lines
/// (4 batches a thread: the window is 2 MiB at 2 threads, and the walk's
/// lines are still in the caches when a thread hashes them); enough that a
/// thread always finds a batch to take. With 16, `plog verify` of the
/// engenho-shaped dataset spent about 4 % more CPU and wall time (session
/// 5, `BENCHMARKS.md`).
pub(crate) const BATCHES_PER_THREAD: usize = 4;

/// Payloads at least this long are hashed with BLAKE3's own parallelism
/// (`Hasher::update_rayon`) instead of on one thread.
pub(crate) const PARALLEL_HASH_MIN: usize = 2 * 1024 * 1024;

/// The batch and window sizes (tests make them tiny to cross many batch
/// boundaries with small inputs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tuning {
    /// See [`BATCH_COST`].
    pub(crate) batch_cost: usize,
    /// See [`BATCHES_PER_THREAD`].
    pub(crate) batches_per_thread: usize,
}

impl Tuning {
    pub(crate) const DEFAULT: Tuning = Tuning {
        batch_cost: BATCH_COST,
        batches_per_thread: BATCHES_PER_THREAD,
    };
}

/// What is done, in parallel, with each record whose hash matched.
pub(crate) trait BatchWork: Sync {
    /// Per-batch output (reused from window to window).
    type Out: Send;
    /// Whether each batch's bytes are copied out of the file before its
    /// records are hashed and handed on: true for every pass whose records
    /// (or values made from them) reach a caller, so that what is handed on
    /// is exactly what was checked, in memory that no other process can
    /// change (see the crate docs, "Safety of the mapping").
    const COPIES: bool;
    /// Whether payload hashes are checked (a replay of a log verified at
    /// open may trust them).
    fn checks_hashes(&self) -> bool {
        true
    }
    /// Whether a record takes part in the pass. Records that do not (before
    /// a replay's start index) are walked over: neither hashed, nor handed
    /// on, nor reported.
    fn wants(&self, _record: &Record<'_>) -> bool {
        true
    }
    /// A fresh output.
    fn new_out(&self) -> Self::Out;
    /// Empties an output for reuse.
    fn clear(&self, out: &mut Self::Out);
    /// Handles one valid record, in batch order.
    fn record(&self, record: &Record<'_>, out: &mut Self::Out);
}

/// No per-record work: plain verification, hashing the file's bytes where
/// they lie (nothing reaches a caller but the report).
pub(crate) struct HashOnly;

impl BatchWork for HashOnly {
    type Out = ();
    const COPIES: bool = false;
    fn new_out(&self) {}
    fn clear(&self, _: &mut ()) {}
    #[inline]
    fn record(&self, _: &Record<'_>, _: &mut ()) {}
}

/// Copies every batch and hashes the copy: the events a caller sees.
pub(crate) struct CopyAndHash {
    /// Whether hashes are checked (`false`: structural steps only).
    pub(crate) hashes: bool,
}

impl BatchWork for CopyAndHash {
    type Out = ();
    const COPIES: bool = true;
    fn checks_hashes(&self) -> bool {
        self.hashes
    }
    fn new_out(&self) {}
    fn clear(&self, _: &mut ()) {}
    #[inline]
    fn record(&self, _: &Record<'_>, _: &mut ()) {}
}

/// A run of consecutive steps of the walk, hashed by one task.
///
/// Records are kept apart from the rare other steps so that the vector the
/// hashing runs over is dense (32 bytes per record).
pub(crate) struct Batch<'a, O> {
    /// The whole file, as walked (a window of it, for a stream).
    data: &'a [u8],
    /// The offset in the file of `data[0]`.
    base: u64,
    /// The records as the walk found them (in the file's bytes).
    records: Vec<Record<'a>>,
    /// The steps that are not records: (number of records before it, step).
    others: Vec<(usize, Step<'a>)>,
    /// The records whose hash does not match: (position in `records`,
    /// finding), in order.
    mismatches: Vec<(usize, Corruption)>,
    /// The valid records, summarised by the task that hashed them (complete
    /// when the batch holds nothing else).
    run: ValidRun,
    /// For a work that copies: the bytes from the first record's header to
    /// the end of the last record, copied when the batch is processed.
    copy: Vec<u8>,
    /// The copy no longer parses as the walk found it: the file changed
    /// between the walk and the copy.
    pub(crate) changed: bool,
    /// Where the walk stood after the batch's last step.
    pub(crate) end: u64,
    /// The work's output.
    pub(crate) out: O,
}

impl<'a, O> Batch<'a, O> {
    /// The record at `position` as the pass sees it: in the copy when the
    /// batch was copied, in the file's bytes otherwise. `None` only for a
    /// batch that [changed](Batch::changed).
    #[inline]
    fn view(&self, position: usize) -> Option<Record<'_>> {
        let record = self.records.get(position)?;
        if self.copy.is_empty() {
            return Some(*record);
        }
        view_in(&self.copy, &self.records, record)
    }

    /// The batch's last record's end (valid or not).
    pub(crate) fn last_record_end(&self) -> Option<u64> {
        self.records.last().map(Record::end_offset)
    }

    /// When every step of the batch is a record whose hash matched: their
    /// summary, so that a report can take the batch at once.
    #[inline]
    pub(crate) fn all_valid(&self) -> Option<&ValidRun> {
        (self.others.is_empty()
            && self.mismatches.is_empty()
            && !self.changed
            && !self.run.is_empty())
        .then_some(&self.run)
    }

    /// The batch's findings in file order, as the sequential
    /// [`Scanner`](plog_format::Scanner) would yield them (the records'
    /// bytes are the copy's when the batch was copied). Nothing for a batch
    /// that [changed](Batch::changed): its pass ends with an error.
    #[inline]
    pub(crate) fn events(
        &self,
        mut visit: impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if self.changed {
            return ControlFlow::Continue(());
        }
        let mut others = self.others.iter().peekable();
        let mut mismatches = self.mismatches.iter().peekable();
        for position in 0..self.records.len() {
            while let Some((_, step)) = others.next_if(|(at, _)| *at == position) {
                visit(Event::from(*step))?;
            }
            match mismatches.next_if(|(at, _)| *at == position) {
                Some(&(_, corruption)) => visit(Event::Corrupt(corruption))?,
                None => {
                    if let Some(record) = self.view(position) {
                        visit(Event::Record(record))?;
                    }
                }
            }
        }
        for (_, step) in others {
            visit(Event::from(*step))?;
        }
        ControlFlow::Continue(())
    }

    /// The batch's structural steps in file order (records unhashed, from
    /// the copy), for a batch cut by a work that does not check hashes.
    pub(crate) fn steps(
        &self,
        mut visit: impl FnMut(Step<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if self.changed {
            return ControlFlow::Continue(());
        }
        let mut others = self.others.iter().peekable();
        for position in 0..self.records.len() {
            while let Some((_, step)) = others.next_if(|(at, _)| *at == position) {
                visit(*step)?;
            }
            if let Some(record) = self.view(position) {
                visit(Step::Record(record))?;
            }
        }
        for (_, step) in others {
            visit(*step)?;
        }
        ControlFlow::Continue(())
    }

    /// Copies the batch's bytes when the work asks for it, then hashes each
    /// record (from the copy) and hands the valid ones to the work.
    fn process<W: BatchWork<Out = O>>(&mut self, work: &W, large: LargePayloads) {
        if W::COPIES && !self.copy_out() {
            self.changed = true;
            return;
        }
        // The records as the pass sees them: re-parsed from the copy when
        // the batch was copied, else where the walk found them.
        let mut copied: Vec<Record<'_>> = Vec::new();
        let records: &[Record<'_>] = if self.copy.is_empty() {
            &self.records
        } else {
            for record in &self.records {
                match view_in(&self.copy, &self.records, record) {
                    Some(view) => copied.push(view),
                    None => {
                        self.changed = true;
                        return;
                    }
                }
            }
            &copied
        };
        let mut mismatches = std::mem::take(&mut self.mismatches);
        if work.checks_hashes() {
            hash_records(records, large, &mut mismatches);
        }
        let mut out = std::mem::replace(&mut self.out, work.new_out());
        let mut run = ValidRun::new();
        let mut next_mismatch = mismatches.iter().map(|(at, _)| *at).peekable();
        for (position, record) in records.iter().enumerate() {
            if next_mismatch.next_if_eq(&position).is_some() {
                continue;
            }
            run.push(record);
            work.record(record, &mut out);
        }
        self.mismatches = mismatches;
        self.out = out;
        self.run = run;
    }

    /// Copies the bytes of the batch's records into `copy`; whether the
    /// records still lie inside the file's bytes as walked.
    fn copy_out(&mut self) -> bool {
        self.copy.clear();
        let (Some(first), Some(last)) = (self.records.first(), self.records.last()) else {
            return true;
        };
        let at = |offset: u64| usize::try_from(offset.checked_sub(self.base)?).ok();
        let range = at(first.offset()).zip(at(last.end_offset()));
        match range.and_then(|(start, end)| self.data.get(start..end)) {
            Some(bytes) => {
                self.copy.extend_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

/// `record` (one of `records`, whose bytes from the first record's header on
/// were copied into `copy`) re-parsed from the copy: `None` when the copy no
/// longer holds a record of the same length there (the file changed).
#[inline]
fn view_in<'c>(copy: &'c [u8], records: &[Record<'_>], record: &Record<'_>) -> Option<Record<'c>> {
    let base = records.first()?.offset();
    let start = usize::try_from(record.offset().checked_sub(base)?).ok()?;
    let copied = Record::parse_prefix(copy.get(start..)?, record.offset()).ok()?;
    (copied.payload_len() == record.payload_len()).then_some(copied)
}

/// The records among `records` whose payload's BLAKE3 differs from the hash
/// in their header, as `(position in records, finding)` in order: the check
/// every pass of this crate makes, many payloads side by side in SIMD lanes
/// (plog-hash), on the calling thread. Spread a long slice over threads
/// with `par_chunks`.
///
/// ```
/// let mut bytes = plog_format::MAGIC.to_vec();
/// for index in 1..=3 {
///     plog_format::encode_record_to_vec(index, b"payload", &mut bytes);
/// }
/// bytes[plog_format::MAGIC.len() + 16] ^= 1; // the first record's stored hash
/// let records: Vec<_> = plog_mmap::Records::new(&bytes).collect();
/// let mismatches = plog_mmap::hash_mismatches(&records);
/// assert_eq!(mismatches.len(), 1);
/// assert_eq!((mismatches[0].0, mismatches[0].1.index()), (0, Some(1)));
/// ```
pub fn hash_mismatches(records: &[Record<'_>]) -> Vec<(usize, Corruption)> {
    let mut mismatches = Vec::new();
    hash_records(records, LargePayloads::OnThisThread, &mut mismatches);
    mismatches
}

/// How a batch hashes a payload of [`PARALLEL_HASH_MIN`] or more.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LargePayloads {
    /// With BLAKE3's own parallelism (`update_rayon`), so that a log of a
    /// few huge payloads still uses every core.
    Parallel,
    /// On the batch's thread alone. [`run_ordered`] needs it: a rayon join
    /// lets a waiting thread run other jobs, and one of them could be
    /// another ordered run's thread waiting for a turn that this thread's
    /// suspended batch holds. Its threads work on different batches at
    /// once, so the cores stay busy anyway.
    OnThisThread,
}

/// Checks the hashes of `records`, pushing each mismatch (position, finding)
/// in order: many payloads side by side in SIMD lanes (plog-hash), and a
/// payload of [`PARALLEL_HASH_MIN`] or more with BLAKE3's own parallelism.
/// (A batch ends with its first such payload: its cost passes the batch's.)
fn hash_records(
    records: &[Record<'_>],
    large: LargePayloads,
    mismatches: &mut Vec<(usize, Corruption)>,
) {
    let (lanes, last) = match records.split_last() {
        Some((last, before))
            if large == LargePayloads::Parallel && last.payload().len() >= PARALLEL_HASH_MIN =>
        {
            (before, Some(last))
        }
        _ => (records, None),
    };
    let verified = plog_hash::verify_many_by(
        plog_hash::default_backend(),
        lanes,
        |record| record.payload(),
        |record| &record.header().hash,
        |position, computed| {
            if let Some(record) = lanes.get(position) {
                mismatches.push((position, Corruption::hash_mismatch(record, Hash(computed))));
            }
        },
    );
    if verified.is_err() {
        // Only an unsupported backend fails, and the default never is: hash
        // one by one all the same rather than trust unchecked records.
        mismatches.clear();
        for (position, record) in lanes.iter().enumerate() {
            if let Some(corruption) = check_hash(record) {
                mismatches.push((position, corruption));
            }
        }
    }
    if let Some(last) = last
        && let Some(corruption) = check_hash(last)
    {
        mismatches.push((lanes.len(), corruption));
    }
}

/// `None` when the record's payload hashes to its stored hash, else the
/// [`Corruption::HashMismatch`] that [`Record::verify`] reports.
#[inline]
pub(crate) fn check_hash(record: &Record<'_>) -> Option<Corruption> {
    let payload = record.payload();
    if payload.len() < PARALLEL_HASH_MIN {
        return record.verify().err();
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update_rayon(payload);
    record
        .check_computed(Hash(*hasher.finalize().as_bytes()))
        .err()
}

/// Where the parallel part runs.
enum Runner {
    /// The current pool (global, or the worker's own).
    Current,
    /// A given pool.
    Pool(std::sync::Arc<ThreadPool>),
}

impl Runner {
    fn new(parallelism: &Parallelism) -> Runner {
        match parallelism {
            Parallelism::Current | Parallelism::Threads(0) => Runner::Current,
            Parallelism::Threads(threads) => {
                match rayon::ThreadPoolBuilder::new()
                    .num_threads(*threads)
                    .build()
                {
                    Ok(pool) => Runner::Pool(std::sync::Arc::new(pool)),
                    // The system refused threads: verify with the current
                    // pool rather than fail (results do not depend on it).
                    Err(_) => Runner::Current,
                }
            }
            Parallelism::Pool(pool) => Runner::Pool(pool.clone()),
        }
    }

    fn threads(&self) -> usize {
        match self {
            Runner::Current => rayon::current_num_threads(),
            Runner::Pool(pool) => pool.current_num_threads(),
        }
        .max(1)
    }

    /// Runs `job` on the calling thread, its joins in the pool.
    fn run<R: Send>(&self, job: impl FnOnce() -> R + Send) -> R {
        match self {
            Runner::Current => job(),
            Runner::Pool(pool) => pool.install(job),
        }
    }

    /// Runs `job` once on every thread of the pool (the calling thread
    /// takes part when it is one of them).
    fn broadcast(&self, job: impl Fn() + Sync) {
        match self {
            Runner::Current => {
                rayon::broadcast(|_| job());
            }
            Runner::Pool(pool) => {
                pool.broadcast(|_| job());
            }
        }
    }

    /// Runs `job` on a thread of the pool (the calling thread when it is
    /// one), so that its joins do not each cross from outside the pool.
    fn run_inside(&self, job: impl FnOnce() + Send) {
        match self {
            Runner::Current if rayon::current_thread_index().is_some() => job(),
            Runner::Current => rayon::scope(|_| job()),
            Runner::Pool(pool) => pool.install(job),
        }
    }
}

/// The window size (batches) and batch cost (bytes) for `runner`.
fn sizes(runner: &Runner, tuning: Tuning) -> (usize, usize) {
    let window = runner
        .threads()
        .saturating_mul(tuning.batches_per_thread)
        .max(1);
    (window, tuning.batch_cost.max(1))
}

/// Walks from `walker`, hashes in parallel and hands each hashed batch to
/// `sink` in file order, until the walk ends or `sink` breaks.
///
/// No barrier: the thread that runs this function cuts batches and spawns
/// each as a task (FIFO) as soon as it is cut, keeping at most
/// `threads × batches_per_thread` in flight; whenever the oldest batch is
/// hashed it goes to `sink`, and when the limit is reached the thread helps
/// hash (`rayon::yield_now`) instead of waiting. `sink` therefore runs on a
/// pool thread (one call at a time, in file order) and must be `Send`; see
/// [`run_local`] for a sink that must stay on the calling thread.
///
/// Returns the offset the walk reached (at most `threads ×
/// batches_per_thread` batches past the last batch handed to `sink`).
pub(crate) fn run<'a, W, S>(
    mut walker: Walk<'a>,
    parallelism: &Parallelism,
    tuning: Tuning,
    work: &W,
    mut sink: S,
) -> u64
where
    W: BatchWork,
    S: FnMut(&mut Batch<'a, W::Out>) -> ControlFlow<()> + Send,
{
    let runner = Runner::new(parallelism);
    let (in_flight_limit, batch_cost) = sizes(&runner, tuning);
    runner.run_inside(|| {
        rayon::scope_fifo(|scope| {
            let mut spare: Vec<Batch<'a, W::Out>> = Vec::new();
            let mut free_slots: Vec<Arc<Slot<'a, W::Out>>> = Vec::new();
            let mut in_flight: VecDeque<Arc<Slot<'a, W::Out>>> = VecDeque::new();
            let mut walked_to_end = false;
            loop {
                // Hand every hashed batch at the front to the sink, in order.
                while let Some(mut batch) = in_flight.front().and_then(|slot| slot.take()) {
                    if let Some(slot) = in_flight.pop_front() {
                        free_slots.push(slot);
                    }
                    if sink(&mut batch).is_break() {
                        // Batches still in flight finish at the end of the
                        // scope; their results are dropped.
                        return;
                    }
                    spare.push(batch);
                }
                if walked_to_end && in_flight.is_empty() {
                    return;
                }
                if !walked_to_end && in_flight.len() < in_flight_limit {
                    match cut_batch(&mut walker, batch_cost, &mut spare, work) {
                        Some(mut batch) => {
                            let slot = free_slots.pop().unwrap_or_default();
                            let done = Arc::clone(&slot);
                            in_flight.push_back(slot);
                            scope.spawn_fifo(move |_| {
                                batch.process(work, LargePayloads::Parallel);
                                done.put(batch);
                            });
                        }
                        None => walked_to_end = true,
                    }
                    continue;
                }
                // The oldest batch is not hashed yet: help, or let the
                // thread hashing it run.
                match rayon::yield_now() {
                    Some(rayon::Yield::Executed) => {}
                    _ => std::thread::yield_now(),
                }
            }
        });
    });
    walker.offset()
}

/// [`run`] for a sink that runs where each batch was processed: every
/// thread of the pool cuts a batch from the shared walk, processes it
/// (copy, hash, the work's per-record part) and, when the batch's turn in
/// file order has come, hands it to `sink` itself, one call at a time.
///
/// For a work whose output is costly to give up (a replay's decoded
/// values, freed by the sink's caller), this keeps each value on the thread
/// that made it, from allocation to drop: no third thread competes with the
/// pool for the cores, and no thread frees memory another one is allocating
/// from. A thread whose batch is ready before its turn (the batch before it
/// is still being processed, or its thread was preempted) does not wait: it
/// parks the batch, which the thread that hands on the batch before it
/// hands on too, and cuts the next one. It waits only when
/// [`parked_limit`] batches are parked, so memory stays bounded: at most one
/// batch per thread in progress plus the parked ones.
///
/// No thread ever waits for a batch still in the walk, and a panic in the
/// work or the sink stops every thread, so it cannot deadlock. It runs on
/// every thread of the pool ([`rayon::broadcast`]); a caller that is a
/// worker of the pool takes part.
///
/// Returns the offset the walk reached (at most [`parked_limit`] plus one
/// batch per thread past the last batch handed to `sink`).
pub(crate) fn run_ordered<'a, W, S>(
    walker: Walk<'a>,
    parallelism: &Parallelism,
    tuning: Tuning,
    work: &W,
    sink: S,
) -> u64
where
    W: BatchWork,
    S: FnMut(&mut Batch<'a, W::Out>) -> ControlFlow<()> + Send,
{
    let runner = Runner::new(parallelism);
    let batch_cost = tuning.batch_cost.max(1);
    let walk = Mutex::new(SharedWalk {
        walker,
        cut: 0,
        ended: false,
    });
    let order = Order {
        state: Mutex::new(OrderState {
            next: 0,
            stopped: false,
            parked: VecDeque::new(),
            parked_limit: parked_limit(runner.threads()),
            sink,
        }),
        moved: Condvar::new(),
        stopped: AtomicBool::new(false),
    };
    let order = &order;
    runner.broadcast(|| {
        let mut spare: Vec<Batch<'a, W::Out>> = Vec::new();
        while !order.stopped.load(Ordering::Acquire) {
            let Some((turn, mut batch)) = lock(&walk).cut(batch_cost, &mut spare, work) else {
                return;
            };
            let stop_on_unwind = StopOnUnwind(order);
            // No rayon join while this thread holds a batch (see
            // `LargePayloads`).
            batch.process(work, LargePayloads::OnThisThread);
            order.hand_on(turn, batch, &mut spare);
            std::mem::forget(stop_on_unwind);
            // A thread that hands on parked batches gets their vectors: keep
            // a few, or the thread that parks would allocate new ones while
            // this one's pile grew with the log.
            spare.truncate(SPARE_PER_THREAD);
        }
    });
    walk.into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .walker
        .offset()
}

/// Emptied batches a thread of [`run_ordered`] keeps for reuse.
const SPARE_PER_THREAD: usize = 2;

/// How many processed batches may wait for their turn in a
/// [`run_ordered`] on `threads` threads before a thread waits instead of
/// cutting another.
fn parked_limit(threads: usize) -> usize {
    threads.saturating_mul(2)
}

/// The walk that the threads of [`run_ordered`] cut batches from.
struct SharedWalk<'a> {
    walker: Walk<'a>,
    /// Batches cut so far (the next batch's turn).
    cut: u64,
    ended: bool,
}

impl<'a> SharedWalk<'a> {
    /// The next batch and its turn; `None` at the end of the walk.
    fn cut<W: BatchWork>(
        &mut self,
        batch_cost: usize,
        spare: &mut Vec<Batch<'a, W::Out>>,
        work: &W,
    ) -> Option<(u64, Batch<'a, W::Out>)> {
        if self.ended {
            return None;
        }
        let Some(batch) = cut_batch(&mut self.walker, batch_cost, spare, work) else {
            self.ended = true;
            return None;
        };
        let turn = self.cut;
        self.cut += 1;
        Some((turn, batch))
    }
}

/// The order in which [`run_ordered`] hands batches to its sink.
struct Order<S, B> {
    state: Mutex<OrderState<S, B>>,
    /// Signalled whenever `next` moves or the run stops.
    moved: Condvar,
    /// Set with `state.stopped`, read without the lock.
    stopped: AtomicBool,
}

struct OrderState<S, B> {
    /// The turn of the next batch to hand on.
    next: u64,
    /// The sink broke, or a thread panicked: nothing more is handed on.
    stopped: bool,
    /// Processed batches waiting for their turn, by turn (all after
    /// `next`: the batch whose turn it is is never parked).
    parked: VecDeque<(u64, B)>,
    parked_limit: usize,
    sink: S,
}

impl<S, B> Order<S, B> {
    /// Hands `batch` (processed, of turn `turn`) to the sink when its turn
    /// has come, then every parked batch whose turn follows; parks it when
    /// its turn has not come and there is room; waits for its turn
    /// otherwise. Batches this thread is done with go to `spare`.
    fn hand_on(&self, turn: u64, batch: B, spare: &mut Vec<B>)
    where
        S: FnMut(&mut B) -> ControlFlow<()>,
    {
        let mut state = lock(&self.state);
        while state.next != turn && !state.stopped {
            if state.parked.len() < state.parked_limit {
                let at = state.parked.partition_point(|(parked, _)| *parked < turn);
                state.parked.insert(at, (turn, batch));
                return;
            }
            state = self
                .moved
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let mut batch = batch;
        loop {
            if !state.stopped && (state.sink)(&mut batch).is_break() {
                self.stop(&mut state);
            }
            state.next += 1;
            spare.push(batch);
            match state.parked.front() {
                Some((parked, _)) if *parked == state.next => {}
                _ => break,
            }
            match state.parked.pop_front() {
                Some((_, parked)) => batch = parked,
                None => break,
            }
        }
        if state.stopped {
            // Nothing more is handed on: the parked batches go too.
            spare.extend(state.parked.drain(..).map(|(_, parked)| parked));
        }
        drop(state);
        self.moved.notify_all();
    }

    fn stop(&self, state: &mut OrderState<S, B>) {
        state.stopped = true;
        self.stopped.store(true, Ordering::Release);
    }
}

/// Stops a [`run_ordered`] when its thread unwinds before handing its batch
/// on (a panic in the work or the sink), so that no thread waits for a turn
/// that will never come; the panic then reaches the caller.
struct StopOnUnwind<'o, S, B>(&'o Order<S, B>);

impl<S, B> Drop for StopOnUnwind<'_, S, B> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        self.0.stop(&mut state);
        drop(state);
        self.0.moved.notify_all();
    }
}

/// Locks `mutex`; a poisoned lock only means another thread panicked, whose
/// panic reaches the caller anyway.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a spawned batch is left once hashed.
struct Slot<'a, O> {
    batch: Mutex<Option<Batch<'a, O>>>,
}

impl<O> Default for Slot<'_, O> {
    fn default() -> Self {
        Slot {
            batch: Mutex::new(None),
        }
    }
}

impl<'a, O> Slot<'a, O> {
    fn put(&self, batch: Batch<'a, O>) {
        *lock(&self.batch) = Some(batch);
    }

    fn take(&self) -> Option<Batch<'a, O>> {
        lock(&self.batch).take()
    }
}

/// [`run`] with `sink` on the calling thread (it need not be `Send`): the
/// sink does not overlap the hashing.
///
/// Returns the offset the walk reached (at most one window, `threads ×
/// batches_per_thread` batches, past the window handed to `sink`).
pub(crate) fn run_local<'a, W: BatchWork>(
    mut walker: Walk<'a>,
    parallelism: &Parallelism,
    tuning: Tuning,
    work: &W,
    mut sink: impl FnMut(&mut Batch<'a, W::Out>) -> ControlFlow<()>,
) -> u64 {
    let runner = Runner::new(parallelism);
    let sizes = sizes(&runner, tuning);
    let mut spare: Vec<Batch<'a, W::Out>> = Vec::new();
    let mut current: Vec<Batch<'a, W::Out>> = Vec::with_capacity(sizes.0);
    let mut next: Vec<Batch<'a, W::Out>> = Vec::with_capacity(sizes.0);
    fill_window(&mut walker, sizes, &mut spare, &mut current, work);
    while !current.is_empty() {
        runner.run(|| {
            rayon::join(
                || fill_window(&mut walker, sizes, &mut spare, &mut next, work),
                || {
                    current
                        .par_iter_mut()
                        .for_each(|batch| batch.process(work, LargePayloads::Parallel))
                },
            )
        });
        for batch in &mut current {
            if sink(batch).is_break() {
                return walker.offset();
            }
        }
        spare.append(&mut current);
        std::mem::swap(&mut current, &mut next);
    }
    walker.offset()
}

/// Cuts up to `window` batches of about `batch_cost` from the walk into
/// `into`, reusing batches from `spare`.
fn fill_window<'a, W: BatchWork>(
    walker: &mut Walk<'a>,
    (window, batch_cost): (usize, usize),
    spare: &mut Vec<Batch<'a, W::Out>>,
    into: &mut Vec<Batch<'a, W::Out>>,
    work: &W,
) {
    while into.len() < window {
        match cut_batch(walker, batch_cost, spare, work) {
            Some(batch) => into.push(batch),
            None => return,
        }
    }
}

/// Cuts the next batch of about `batch_cost` from the walk, reusing a batch
/// from `spare`; `None` at the end of the walk.
fn cut_batch<'a, W: BatchWork>(
    walker: &mut Walk<'a>,
    batch_cost: usize,
    spare: &mut Vec<Batch<'a, W::Out>>,
    work: &W,
) -> Option<Batch<'a, W::Out>> {
    let mut batch = match spare.pop() {
        Some(mut batch) => {
            batch.run = ValidRun::new();
            batch.records.clear();
            batch.others.clear();
            batch.mismatches.clear();
            batch.copy.clear();
            batch.changed = false;
            batch.data = walker.data();
            batch.base = walker.base();
            work.clear(&mut batch.out);
            batch
        }
        None => Batch {
            data: walker.data(),
            base: walker.base(),
            records: Vec::new(),
            others: Vec::new(),
            mismatches: Vec::new(),
            run: ValidRun::new(),
            copy: Vec::new(),
            changed: false,
            end: 0,
            out: work.new_out(),
        },
    };
    let mut cost = 0usize;
    for step in walker.by_ref() {
        match step {
            Step::Record(record) => {
                if !work.wants(&record) {
                    // Walked over: costs nothing downstream.
                    continue;
                }
                cost = cost
                    .saturating_add(RECORD_COST)
                    .saturating_add(record.payload().len());
                batch.records.push(record);
            }
            other => {
                cost = cost.saturating_add(RECORD_COST);
                batch.others.push((batch.records.len(), other));
            }
        }
        if cost >= batch_cost {
            break;
        }
    }
    if batch.records.is_empty() && batch.others.is_empty() {
        spare.push(batch);
        return None;
    }
    batch.end = walker.offset();
    Some(batch)
}
