//! [`Log::records`]: the lazy iterator over a log's records, the first thing
//! a Rust caller reaches for.
//!
//! Sound under the mapping contract (crate docs, "Safety of the mapping"):
//! it is a sequence of [`Log::for_each_event`] passes, each resumed at the
//! record boundary where the last one stopped, and every record it yields is
//! an owned copy ([`RecordBuf`]) made from that pass's verified private copy
//! of a batch. So nothing it yields borrows the mapping, and a file changed
//! under it ends the iteration with [`ReadError::Changed`].

use std::collections::VecDeque;
use std::ops::ControlFlow;

use plog_format::{Event, Fold, HEADER_LEN, RecoveryPolicy};

use crate::{Log, Parallelism, ReadError, ReplayError};

/// The bytes (payload plus header) one pass copies out before it stops and
/// hands them over: large enough that starting a pass costs nothing next to
/// it, small enough to bound what the iterator holds.
const REFILL_BYTES: usize = 4 * 1024 * 1024;

/// The records one pass copies out at most (a log of tiny records).
const REFILL_RECORDS: usize = 16 * 1024;

/// A record of a log, copied out of it: its offset, index and payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordBuf {
    offset: u64,
    index: u64,
    payload: Vec<u8>,
}

impl RecordBuf {
    /// Offset of the record's header in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The record's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The record's payload (its hash was checked).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, without copying it again.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

/// The records of a [`Log`], lazily, in file order: made by
/// [`Log::records`].
///
/// Each item is a valid record, or the error that ends the iteration: the
/// first corruption ([`ReplayError::Corrupt`]), or a file that changed while
/// it was read ([`ReplayError::Read`]). A torn tail ends it quietly, as it
/// does a replay in the default [`RecoveryMode`](crate::RecoveryMode) (use
/// [`Log::verify`] to learn of it). After an error the iterator is done.
#[derive(Debug)]
pub struct Records<'l> {
    log: &'l Log,
    /// The offset the next pass starts at: 0, or the end of the last record
    /// held.
    next: u64,
    held: VecDeque<RecordBuf>,
    fold: Fold,
    policy: RecoveryPolicy,
    /// The error that ends the iteration, once `held` is drained.
    error: Option<ReplayError>,
    /// No pass is left to run.
    done: bool,
}

impl Log {
    /// The log's records, lazily, in file order, each an owned copy whose
    /// hash was checked:
    ///
    /// ```
    /// use plog_mmap::Log;
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
    /// plog_format::encode_record_to_vec(2, b"[1]", &mut bytes);
    /// let log = Log::from_bytes(bytes);
    /// let mut sizes = Vec::new();
    /// for record in log.records()? {
    ///     let record = record?;
    ///     sizes.push((record.index(), record.payload().len()));
    /// }
    /// assert_eq!(sizes, [(1, 2), (2, 3)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Memory stays bounded (about 4 MiB of records are copied out at a
    /// time, by a pass over the current rayon pool). For the fastest
    /// whole-file passes use [`Log::verify`], [`Log::replay`] or
    /// [`Log::replay_each`].
    ///
    /// # Errors
    /// [`ReadError::Stream`] for a log read from a stream
    /// ([`Log::from_stream`]): it is read once, by one pass, so iterate it
    /// with [`Log::for_each_event`] or [`Log::replay_each`] instead.
    pub fn records(&self) -> Result<Records<'_>, ReadError> {
        if self.is_read_once() {
            return Err(ReadError::Stream {
                offset: 0,
                detail: "a stream is read once, by one pass: iterate it with for_each_event \
                         or replay_each"
                    .to_string(),
            });
        }
        Ok(Records {
            log: self,
            next: 0,
            held: VecDeque::new(),
            fold: Fold::new(self.len()),
            policy: RecoveryPolicy::default(),
            error: None,
            done: false,
        })
    }
}

impl Records<'_> {
    /// Runs one pass from `self.next`, copying out records until about
    /// [`REFILL_BYTES`] are held, the walk ends, or a finding is rejected.
    fn refill(&mut self) {
        let (held, fold, policy) = (&mut self.held, &mut self.fold, self.policy);
        let (next, error) = (&mut self.next, &mut self.error);
        let mut bytes = 0usize;
        let mut full = false;
        let pass = self
            .log
            .for_each_event(*next, &Parallelism::Current, |event| {
                let finding = fold.event(&event);
                if let Some(problem) = policy.reject(&finding) {
                    *error = Some(ReplayError::from(problem));
                    return ControlFlow::Break(());
                }
                if let Event::Record(record) = event {
                    held.push_back(RecordBuf {
                        offset: record.offset(),
                        index: record.index(),
                        payload: record.payload().to_vec(),
                    });
                    *next = record.end_offset();
                    bytes = bytes.saturating_add(record.payload().len() + HEADER_LEN);
                    if bytes >= REFILL_BYTES || held.len() >= REFILL_RECORDS {
                        full = true;
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
        match pass {
            Err(read) => self.error = Some(ReplayError::Read(read)),
            Ok(_) if full && self.error.is_none() => {}
            Ok(_) => self.done = true,
        }
        if self.error.is_some() {
            self.done = true;
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<RecordBuf, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.held.pop_front() {
                return Some(Ok(record));
            }
            if let Some(error) = self.error.take() {
                return Some(Err(error));
            }
            if self.done {
                return None;
            }
            self.refill();
        }
    }
}

impl std::iter::FusedIterator for Records<'_> {}
