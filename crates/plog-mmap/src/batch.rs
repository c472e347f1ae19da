//! A batch: a run of consecutive steps of the walk, cut by one thread,
//! copied, re-parsed and hashed by a pool thread ([`Batch::process`]), then
//! handed on in file order ([`Batch::events`], [`Batch::steps`]). What a pass
//! does with each wanted record is its [`BatchWork`].

use std::ops::ControlFlow;

use plog_format::{Corruption, Event, Record, Step, ValidRun};

use crate::hashing::{LargePayloads, hash_records};
use crate::read_ahead::Walk;

/// The payload bytes (plus [`RECORD_COST`] per record) in one batch: one
/// task of the pool. Large enough that scheduling costs nothing next to
/// hashing, small enough that a window of several batches per thread keeps
/// every thread busy to the end of the window.
pub(crate) const BATCH_COST: usize = 256 * 1024;

/// What one record costs beyond its payload, in bytes of hashing: its
/// header, the per-call cost of BLAKE3 and the bookkeeping. It also caps a
/// batch of empty payloads at `BATCH_COST / RECORD_COST` records.
pub(crate) const RECORD_COST: usize = 128;

/// Batches per thread in flight ([`run`](crate::schedule::run)) or in a window ([`run_local`](crate::schedule::run_local)).
///
/// Few enough that a batch is hashed soon after the walk fetched its lines
/// (4 batches a thread: the window is 2 MiB at 2 threads, and the walk's
/// lines are still in the caches when a thread hashes them); enough that a
/// thread always finds a batch to take. With 16, `plog verify` of the
/// engenho-shaped dataset spent about 4 % more CPU and wall time (session
/// 5, `BENCHMARKS.md`).
pub(crate) const BATCHES_PER_THREAD: usize = 4;

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

/// Hashes every batch where it lies, without a copy: the events a caller
/// sees of bytes that are already private to the [`Log`](crate::Log) (a
/// log in memory, which nothing else can change while a pass borrows it).
/// Never for a mapping: another process could change its bytes between the
/// hash and the caller's read.
pub(crate) struct HashInPlace {
    /// Whether hashes are checked (`false`: structural steps only).
    pub(crate) hashes: bool,
}

impl BatchWork for HashInPlace {
    type Out = ();
    const COPIES: bool = false;
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
    pub(crate) fn process<W: BatchWork<Out = O>>(&mut self, work: &W, large: LargePayloads) {
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

/// Cuts the next batch of about `batch_cost` from the walk, reusing a batch
/// from `spare`; `None` at the end of the walk.
pub(crate) fn cut_batch<'a, W: BatchWork>(
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
