//! Typed replay: verify and decode in parallel, deliver in file order.

use std::marker::PhantomData;
use std::ops::ControlFlow;

use plog_format::{Event, Record};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::engine::{self, BatchWork, Tuning};
use crate::report::{ReportBuilder, is_magic_corruption};
use crate::{Log, RecoveryMode, ReplayError, ReplayOptions, VerifyReport};

/// What a replay produced: the decoded entries in file order, and the report
/// of the walk (torn tail, and in salvage mode the corruptions and lost
/// ranges that were skipped).
#[derive(Debug)]
pub struct Replayed<T> {
    /// `(index, value)` of every valid record at or after
    /// [`ReplayOptions::from_index`], in file order.
    pub entries: Vec<(u64, T)>,
    /// The verification report of the whole file.
    pub report: VerifyReport,
}

/// Decodes each valid record at or after `from_index` as JSON of `T`.
struct Decode<T> {
    from_index: Option<u64>,
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

impl<'a, T: Deserialize<'a> + Send> BatchWork<'a> for Decode<T> {
    type Out = Decoded<T>;

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
    fn record(&self, record: &Record<'a>, out: &mut Decoded<T>) {
        if out.failure.is_some() || self.from_index.is_some_and(|from| record.index() < from) {
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

impl Log {
    /// Replays the whole log: every valid record's payload decoded as JSON of
    /// `T`, with its index, in file order. A torn tail is tolerated (dropped);
    /// any corruption is an error. Hashing and decoding run on the current
    /// rayon pool.
    ///
    /// # Errors
    /// The first problem in file order ([`ReplayError`] names its offset and
    /// index): a corruption, or a payload that does not decode.
    pub fn replay<T: DeserializeOwned + Send>(&self) -> Result<Vec<(u64, T)>, ReplayError> {
        self.replay_borrowed(&ReplayOptions::default())
            .map(|replayed| replayed.entries)
    }

    /// Replays the records whose index is at least `from_index` (snapshot
    /// recovery): earlier records are walked and verified, not decoded.
    ///
    /// # Errors
    /// As [`Log::replay`].
    pub fn replay_from<T: DeserializeOwned + Send>(
        &self,
        from_index: u64,
    ) -> Result<Vec<(u64, T)>, ReplayError> {
        let options = ReplayOptions {
            from_index: Some(from_index),
            ..ReplayOptions::default()
        };
        self.replay_borrowed(&options)
            .map(|replayed| replayed.entries)
    }

    /// Replays with explicit options (mode, start index, index order,
    /// threads) and returns the report with the entries.
    ///
    /// # Errors
    /// The first problem in file order that `options.mode` does not accept.
    pub fn replay_with<T: DeserializeOwned + Send>(
        &self,
        options: &ReplayOptions,
    ) -> Result<Replayed<T>, ReplayError> {
        self.replay_borrowed(options)
    }

    /// Replays decoding each payload as `T: Deserialize<'a>`, which may
    /// borrow from the log (e.g. `&'a str` fields pointing into the mapped
    /// file: no copy of the payload).
    ///
    /// ```
    /// use plog_mmap::{Log, ReplayOptions};
    /// #[derive(serde::Deserialize)]
    /// struct Entry<'a> { kind: &'a str }
    ///
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// plog_format::encode_record_to_vec(7, br#"{"kind":"Pod"}"#, &mut bytes);
    /// let log = Log::from_bytes(bytes);
    /// let replayed = log.replay_borrowed::<Entry>(&ReplayOptions::default()).unwrap();
    /// assert_eq!(replayed.entries[0].1.kind, "Pod");
    /// ```
    ///
    /// # Errors
    /// The first problem in file order that `options.mode` does not accept.
    pub fn replay_borrowed<'a, T: Deserialize<'a> + Send>(
        &'a self,
        options: &ReplayOptions,
    ) -> Result<Replayed<T>, ReplayError> {
        self.replay_tuned(options, Tuning::DEFAULT)
    }

    pub(crate) fn replay_tuned<'a, T: Deserialize<'a> + Send>(
        &'a self,
        options: &ReplayOptions,
        tuning: Tuning,
    ) -> Result<Replayed<T>, ReplayError> {
        let work = Decode::<T> {
            from_index: options.from_index,
            _type: PhantomData,
        };
        let mode = options.mode;
        let file_len = self.len();
        let mut builder =
            ReportBuilder::new(self.len(), options.index_order, mode, options.list_limit);
        let mut entries: Vec<(u64, T)> = Vec::new();
        let mut error: Option<ReplayError> = None;
        engine::run(self.walk(), &options.parallelism, tuning, &work, |batch| {
            let mut failure = batch.out.failure.take();
            let clean_run = if failure.is_none() && builder.takes_runs() {
                batch.all_valid()
            } else {
                None
            };
            if let Some((first, last, count, payload_bytes)) = clean_run {
                // Every record valid and decoded: nothing to look at one by one.
                builder.valid_run(first, last, count, payload_bytes);
            } else {
                batch.events(|event| {
                    let violation = builder.event(&event);
                    let problem = match event {
                        Event::Record(record) => {
                            if failure
                                .as_ref()
                                .is_some_and(|f| f.offset == record.offset())
                            {
                                failure.take().map(|f| ReplayError::Decode {
                                    offset: f.offset,
                                    index: f.index,
                                    source: f.source,
                                })
                            } else if mode == RecoveryMode::Salvage {
                                None
                            } else {
                                violation.map(ReplayError::IndexOrder)
                            }
                        }
                        Event::Corrupt(corruption) => (mode != RecoveryMode::Salvage
                            || is_magic_corruption(&corruption))
                        .then_some(ReplayError::Corrupt(corruption)),
                        Event::Torn(tail) => {
                            (mode == RecoveryMode::Strict).then_some(ReplayError::Torn(tail))
                        }
                    };
                    match problem {
                        Some(problem) => {
                            error = Some(problem);
                            ControlFlow::Break(())
                        }
                        None => ControlFlow::Continue(()),
                    }
                })?;
            }
            let incoming = batch.out.entries.len();
            if entries.capacity() - entries.len() < incoming {
                let seen = batch.last_record().map_or(0, Record::end_offset);
                entries.reserve(
                    estimate_total(entries.len() + incoming, seen, file_len) - entries.len(),
                );
            }
            entries.append(&mut batch.out.entries);
            ControlFlow::Continue(())
        });
        match error {
            Some(error) => Err(error),
            None => Ok(Replayed {
                entries,
                report: builder.finish(),
            }),
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
