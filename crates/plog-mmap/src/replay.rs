//! Typed replay: verify and decode in parallel, deliver in file order,
//! collected ([`Log::replay`]) or streamed to the caller ([`Log::replay_each`]).
//!
//! # A replay, step by step
//!
//! This file is laid out in the order a replay runs:
//!
//! 1. **Choose the pipeline** ([`Log::replay`] and `replay_batches`,
//!    [`Log::replay_each`] and `replay_each_tuned`, below). A stream or a
//!    file read in windows goes to `replay_stream` (below), which runs steps
//!    2 to 6 window by window over `stream.rs`'s windows. A mapped or in-memory log is cut
//!    into batches by a scheduler: `schedule::run` (collected) or
//!    `schedule::run_ordered` (streamed to the caller).
//! 2. **Copy, re-parse, hash** (on a pool thread, `Batch::process` in
//!    `batch.rs`): the batch's bytes are copied out of the file, its headers
//!    parsed again from the copy, and its payloads hashed in SIMD lanes
//!    (`hashing.rs`).
//! 3. **Decode** ([`Decode`], below, on the same thread): each wanted
//!    record's payload, from the copy, as JSON of `T`; the batch keeps its
//!    first failure.
//! 4. **Check that the file did not change** (`Log::pass_sink` in
//!    `source.rs`, before a batch is used): one atomic load (a mapped page
//!    that vanished) and one `fstat` (a truncation); a changed batch stops
//!    the replay.
//! 5. **Judge, in file order** ([`Judge::batch`], below): fold the batch's
//!    events into the report (`report.rs`), stop at the first finding the
//!    policy rejects (`RecoveryPolicy::reject`) or at the first decode
//!    failure, and keep the entries before it.
//! 6. **Deliver**: append the entries to [`Replayed::entries`], or hand them
//!    to the caller's `apply`, in file order.
//! 7. **Finish** ([`Judge::finish`]): check once more that the file is
//!    unchanged, then return the first problem or the report.

use std::marker::PhantomData;
use std::ops::ControlFlow;

use plog_format::{Event, Record};
use serde::de::DeserializeOwned;

use crate::batch::{Batch, BatchWork, Tuning};
use crate::report::Reporter;
use crate::schedule;
use crate::stream::PassStream;
use crate::{Log, ReplayError, ReplayOptions, VerifyReport};

/// What a replay produced: the decoded entries in file order, and the report
/// of the walk (torn tail, and in salvage mode the corruptions and lost
/// ranges that were skipped).
#[derive(Debug)]
pub struct Replayed<T> {
    /// `(index, value)` of every valid record at or after
    /// [`ReplayOptions::from_index`], in file order.
    pub entries: Vec<(u64, T)>,
    /// The verification report of the records replayed.
    pub report: VerifyReport,
}

/// Decoded entries in the order of the file, one batch at a time.
pub(crate) type Delivery<T> = Vec<(u64, T)>;

impl Log {
    /// Replays the log: every valid record's payload (from
    /// `options.from_index` on) decoded as JSON of `T`, with its index, in
    /// file order, collected into a vector. Hashing and decoding run in
    /// parallel on `options.parallelism`; the first problem in file order
    /// that `options.mode` does not accept is the error (a corruption, a
    /// torn tail in strict mode, an index out of `options.index_order`, a
    /// payload that is not JSON of `T`), naming its offset and index.
    ///
    /// Records before `options.from_index` are walked, not hashed nor
    /// decoded (a snapshot covers them); the report covers the records
    /// replayed. Each batch of records is copied out of the file before it
    /// is hashed and decoded, so every value is made from the bytes that
    /// were checked, even if another process rewrites the file meanwhile.
    ///
    /// To apply entries one at a time without holding them all, use
    /// [`Log::replay_each`].
    ///
    /// ```
    /// use plog_mmap::{Log, ReplayOptions};
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// for index in 1..=3 {
    ///     plog_format::encode_record_to_vec(index, format!("[{index}]").as_bytes(), &mut bytes);
    /// }
    /// let log = Log::from_bytes(bytes);
    /// let options = ReplayOptions { from_index: Some(2), ..ReplayOptions::default() };
    /// let replayed = log.replay::<Vec<u32>>(&options).unwrap();
    /// assert_eq!(replayed.entries, [(2, vec![2]), (3, vec![3])]);
    /// ```
    ///
    /// # Errors
    /// The first problem in file order that `options.mode` does not accept,
    /// or [`ReplayError::Read`] when the file changed while it was read.
    pub fn replay<T: DeserializeOwned + Send>(
        &self,
        options: &ReplayOptions,
    ) -> Result<Replayed<T>, ReplayError> {
        self.replay_tuned(options, Tuning::DEFAULT)
    }

    pub(crate) fn replay_tuned<T: DeserializeOwned + Send>(
        &self,
        options: &ReplayOptions,
        tuning: Tuning,
    ) -> Result<Replayed<T>, ReplayError> {
        let file_len = self.len();
        let mut entries: Vec<(u64, T)> = Vec::new();
        let report = self.replay_batches(options, tuning, &mut |batch, seen| {
            if entries.capacity() - entries.len() < batch.len() {
                let wanted = estimate_total(entries.len() + batch.len(), seen, file_len);
                entries.reserve(wanted - entries.len());
            }
            entries.append(batch);
            ControlFlow::Continue(())
        })?;
        Ok(Replayed { entries, report })
    }

    /// Streaming recovery: replays like [`Log::replay`] but hands each
    /// `(index, value)` to `apply` in file order as soon as its batch is
    /// decoded, holding at most one batch of decoded entries per thread, so
    /// memory does not grow with the log. `apply` may stop the replay with
    /// [`ControlFlow::Break`]; the report then covers what was delivered.
    ///
    /// `apply` runs on the pool's threads, one call at a time and in file
    /// order: each thread of the pool takes the next batch of the walk,
    /// copies, hashes and decodes it, waits for the batches before it to be
    /// applied, then applies its own. A value is made, applied and dropped
    /// on one thread, so the caller's work shares the cores with the
    /// decoding instead of competing with it from another thread, and no
    /// thread frees memory that another one is allocating from. That is why
    /// `apply` must be `Send` (a closure over `&mut` state is). The calling
    /// thread waits, or takes part when it is a worker of the pool.
    ///
    /// On an error, every entry before the problem was applied and none
    /// after it.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use plog_mmap::{Log, ReplayOptions};
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// for index in 1..=100 {
    ///     plog_format::encode_record_to_vec(index, b"{\"n\":1}", &mut bytes);
    /// }
    /// let mut total = 0u64;
    /// let report = Log::from_bytes(bytes)
    ///     .replay_each(&ReplayOptions::default(), |_index, entry: serde_json::Value| {
    ///         total += entry["n"].as_u64().unwrap_or(0);
    ///         ControlFlow::Continue(())
    ///     })
    ///     .unwrap();
    /// assert_eq!((total, report.summary.records), (100, 100));
    /// ```
    ///
    /// # Errors
    /// As [`Log::replay`].
    pub fn replay_each<T, F>(
        &self,
        options: &ReplayOptions,
        apply: F,
    ) -> Result<VerifyReport, ReplayError>
    where
        T: DeserializeOwned + Send,
        F: FnMut(u64, T) -> ControlFlow<()> + Send,
    {
        self.replay_each_tuned(options, Tuning::DEFAULT, apply)
    }

    pub(crate) fn replay_each_tuned<T, F>(
        &self,
        options: &ReplayOptions,
        tuning: Tuning,
        mut apply: F,
    ) -> Result<VerifyReport, ReplayError>
    where
        T: DeserializeOwned + Send,
        F: FnMut(u64, T) -> ControlFlow<()> + Send,
    {
        let work = self.decode_work::<T>(options);
        if let Some(stream) = self.pass_stream(0) {
            let stream = stream?;
            let mut deliver = |entries: &mut Delivery<T>, _| {
                for (index, value) in entries.drain(..) {
                    apply(index, value)?;
                }
                ControlFlow::Continue(())
            };
            return self.replay_stream(stream, options, tuning, &work, true, &mut deliver);
        }
        let mut judge = Judge::new(self.len(), options);
        let walked = schedule::run_ordered(
            self.walk_data(),
            &options.verify.parallelism,
            tuning,
            &work,
            self.pass_sink(|batch| {
                judge.batch(batch, &mut |entries: &mut Delivery<T>, _| {
                    for (index, value) in entries.drain(..) {
                        apply(index, value)?;
                    }
                    ControlFlow::Continue(())
                })
            }),
        );
        self.walked(walked);
        judge.finish(self)
    }

    /// The replay's pipeline: walks, copies, hashes and decodes on the pool,
    /// and hands each batch's entries in file order to `deliver` (on a pool
    /// thread) with the offset the walk reached, stopping at the first
    /// problem.
    fn replay_batches<T: DeserializeOwned + Send>(
        &self,
        options: &ReplayOptions,
        tuning: Tuning,
        deliver: &mut (dyn FnMut(&mut Delivery<T>, u64) -> ControlFlow<()> + Send),
    ) -> Result<VerifyReport, ReplayError> {
        let work = self.decode_work::<T>(options);
        if let Some(stream) = self.pass_stream(0) {
            return self.replay_stream(stream?, options, tuning, &work, false, deliver);
        }
        let mut judge = Judge::new(self.len(), options);
        let walked = schedule::run(
            self.walk_data(),
            &options.verify.parallelism,
            tuning,
            &work,
            self.pass_sink(|batch| judge.batch(batch, deliver)),
        );
        self.walked(walked);
        judge.finish(self)
    }

    fn decode_work<T>(&self, options: &ReplayOptions) -> Decode<T> {
        Decode {
            from_index: options.from_index,
            check_hashes: options.check_hashes,
            _type: PhantomData,
        }
    }

    /// A replay of a stream: collected (`ordered == false`, [`schedule::run`])
    /// or streamed to the caller ([`schedule::run_ordered`]), window by
    /// window, one judge for the whole stream.
    pub(crate) fn replay_stream<T: DeserializeOwned + Send>(
        &self,
        mut stream: PassStream<'_>,
        options: &ReplayOptions,
        tuning: Tuning,
        work: &Decode<T>,
        ordered: bool,
        deliver: &mut (dyn FnMut(&mut Delivery<T>, u64) -> ControlFlow<()> + Send),
    ) -> Result<VerifyReport, ReplayError>
    where
        Decode<T>: BatchWork<Out = Decoded<T>>,
    {
        let known_len = stream.start()?;
        let mut judge = Judge::new(known_len.unwrap_or(0), options);
        let len = stream.run(|walk| {
            let mut flow = ControlFlow::Continue(());
            let sink = |batch: &mut Batch<'_, Decoded<T>>| {
                flow = judge.batch(batch, deliver);
                flow
            };
            let stop = if ordered {
                schedule::run_ordered(walk, &options.verify.parallelism, tuning, work, sink)
            } else {
                schedule::run(walk, &options.verify.parallelism, tuning, work, sink)
            };
            (stop, flow)
        })?;
        self.walked(len);
        let mut report = judge.finish(self)?;
        report.set_len(len);
        Ok(report)
    }
}

// Step 3: decode, on the thread that copied and hashed the batch.

/// Decodes each valid record at or after `from_index` as JSON of `T`, from
/// the batch's private copy of the file's bytes.
pub(crate) struct Decode<T> {
    from_index: Option<u64>,
    check_hashes: bool,
    _type: PhantomData<fn() -> T>,
}

/// A batch's decoded entries, and the first decode failure in it.
pub(crate) struct Decoded<T> {
    entries: Vec<(u64, T)>,
    failure: Option<DecodeFailure>,
}

struct DecodeFailure {
    offset: u64,
    index: u64,
    source: serde_json::Error,
}

impl<T: DeserializeOwned + Send> BatchWork for Decode<T> {
    type Out = Decoded<T>;
    const COPIES: bool = true;

    fn checks_hashes(&self) -> bool {
        self.check_hashes
    }

    #[inline]
    fn wants(&self, record: &Record<'_>) -> bool {
        self.from_index.is_none_or(|from| record.index() >= from)
    }

    fn new_out(&self) -> Decoded<T> {
        Decoded {
            entries: Vec::new(),
            failure: None,
        }
    }

    fn clear(&self, out: &mut Decoded<T>) {
        out.entries.clear();
        out.failure = None;
    }

    #[inline]
    fn record(&self, record: &Record<'_>, out: &mut Decoded<T>) {
        if out.failure.is_some() {
            return;
        }
        match crate::decode_json::<T>(record.payload()) {
            Ok(value) => out.entries.push((record.index(), value)),
            Err(source) => {
                out.failure = Some(DecodeFailure {
                    offset: record.offset(),
                    index: record.index(),
                    source,
                });
            }
        }
    }
}

// Step 5 to 7: judge each batch in file order, deliver, finish.

/// Takes a replay's batches in file order: folds them into the report,
/// finds the first problem the policy rejects ([`RecoveryPolicy::reject`], the one
/// rule), and delivers the entries before it.
pub(crate) struct Judge {
    reporter: Reporter,
    error: Option<ReplayError>,
    /// A batch no longer parsed as walked: the file changed.
    changed: bool,
}

impl Judge {
    pub(crate) fn new(file_len: u64, options: &ReplayOptions) -> Judge {
        Judge {
            reporter: Reporter::new(file_len, &options.verify),
            error: None,
            changed: false,
        }
    }

    pub(crate) fn batch<T>(
        &mut self,
        batch: &mut Batch<'_, Decoded<T>>,
        deliver: &mut dyn FnMut(&mut Delivery<T>, u64) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if batch.changed {
            // The file changed under the copy: `finish` reports it.
            self.changed = true;
            return ControlFlow::Break(());
        }
        let mut failure = batch.out.failure.take();
        let mut keep = batch.out.entries.len();
        let whole = failure.is_none()
            && batch
                .all_valid()
                .is_some_and(|run| self.reporter.valid_run(run));
        if !whole {
            let (reporter, error) = (&mut self.reporter, &mut self.error);
            let policy = reporter.policy();
            let mut delivered = 0usize;
            let _ = batch.events(|event| {
                let finding = reporter.event(&event);
                let decode_failed = matches!(event, Event::Record(record)
                    if failure.as_ref().is_some_and(|f| f.offset == record.offset()));
                let problem = if decode_failed {
                    failure.take().map(|f| ReplayError::Decode {
                        offset: f.offset,
                        index: f.index,
                        source: f.source,
                    })
                } else {
                    policy.reject(&finding).map(ReplayError::from)
                };
                match problem {
                    Some(problem) => {
                        *error = Some(problem);
                        ControlFlow::Break(())
                    }
                    None => {
                        delivered += usize::from(matches!(event, Event::Record(_)));
                        ControlFlow::Continue(())
                    }
                }
            });
            if self.error.is_some() {
                keep = delivered.min(keep);
            }
        }
        batch.out.entries.truncate(keep);
        let seen = batch.last_record_end().unwrap_or(0);
        if deliver(&mut batch.out.entries, seen).is_break() || self.error.is_some() {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    pub(crate) fn finish(self, log: &Log) -> Result<VerifyReport, ReplayError> {
        log.check_unchanged()?;
        if self.changed {
            return Err(log.changed_error().into());
        }
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.reporter.finish()),
        }
    }
}

/// How many entries a replay will hold in all, from the `count` held when
/// the walk reached offset `seen` of a `file_len`-byte file (so that the
/// result vector grows a few times, not twenty: every growth copies it).
/// Never less than `count`, never more than the records the file can hold.
fn estimate_total(count: usize, seen: u64, file_len: u64) -> usize {
    let most = usize::try_from(file_len / plog_format::HEADER_LEN as u64).unwrap_or(usize::MAX);
    if seen == 0 {
        return count;
    }
    let scaled = (count as u128).saturating_mul(u128::from(file_len)) / u128::from(seen);
    let with_slack = scaled.saturating_add(scaled / 32);
    usize::try_from(with_slack)
        .unwrap_or(usize::MAX)
        .min(most)
        .max(count)
}
