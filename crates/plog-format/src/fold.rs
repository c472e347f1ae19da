//! The one model of a walk: a fold of its events into a [`Summary`], in
//! O(1) space, each event becoming a [`Finding`] for the judge
//! (`judge.rs`).
//!
//! Everything here is `no_std` and allocation-free. The bounded lists that a
//! report prints beside a summary are in [`Findings`](crate::Findings)
//! (feature `alloc`).

use crate::{
    Corruption, Event, IndexOrder, IndexViolation, IndexViolationKind, MAGIC_LEN, Record, Status,
    TornReason, TornTail, len_u64,
};

/// What one event of a walk is, for judging: returned by [`Fold::event`]
/// and judged by [`RecoveryPolicy::reject`](crate::RecoveryPolicy::reject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A valid record.
    Record {
        /// Offset of its header.
        offset: u64,
        /// Its index.
        index: u64,
        /// How its index breaks contiguous order after the previous valid
        /// record (a gap, a repeat or a decrease; `order` is
        /// [`IndexOrder::Contiguous`]), or `None` when it is the first
        /// valid record or the previous index plus one. Judge it under
        /// another order with [`IndexViolation::under`].
        violation: Option<IndexViolation>,
    },
    /// A corruption.
    Corrupt(Corruption),
    /// The torn tail (always the last finding).
    Torn(TornTail),
}

impl Finding {
    /// Where the finding is in the file.
    pub const fn offset(&self) -> u64 {
        match self {
            Finding::Record { offset, .. } => *offset,
            Finding::Corrupt(corruption) => corruption.offset(),
            Finding::Torn(tail) => tail.offset,
        }
    }
}

impl From<IndexViolation> for Finding {
    /// The record that breaks the order.
    fn from(violation: IndexViolation) -> Finding {
        Finding::Record {
            offset: violation.offset,
            index: violation.index,
            violation: Some(violation),
        }
    }
}

/// How the indices of consecutive valid records follow each other, for
/// every order at once.
///
/// Each valid record after the first is exactly one of: the previous index
/// plus one, a gap (`next > previous + 1`), a repeat (`next == previous`) or
/// a decrease (`next < previous`). After `u64::MAX` no index is the
/// successor: `u64::MAX` again is a repeat, anything else a decrease (as
/// [`IndexOrder::admits`] says). So [`IndexOrder::Increasing`] is broken
/// exactly by the repeats and decreases, and [`IndexOrder::Contiguous`] by
/// the gaps, repeats and decreases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Records whose index skips ahead (`next > previous + 1`).
    pub gaps: u64,
    /// The indices skipped by the gaps: the sum of `next - previous - 1`
    /// (saturating).
    pub indices_skipped: u64,
    /// Records whose index equals the previous one.
    pub repeats: u64,
    /// Records whose index is below the previous one.
    pub decreases: u64,
    /// The first gap (its `order` is [`IndexOrder::Contiguous`]).
    pub first_gap: Option<IndexViolation>,
    /// The first repeat or decrease (kind [`IndexViolationKind::Order`], its
    /// `order` is [`IndexOrder::Contiguous`]).
    pub first_order: Option<IndexViolation>,
    /// The smallest index of a valid record.
    pub min_index: Option<u64>,
    /// The largest index of a valid record.
    pub max_index: Option<u64>,
}

impl IndexStats {
    /// No records yet.
    pub const fn new() -> IndexStats {
        IndexStats {
            gaps: 0,
            indices_skipped: 0,
            repeats: 0,
            decreases: 0,
            first_gap: None,
            first_order: None,
            min_index: None,
            max_index: None,
        }
    }

    /// Counts the valid record at `offset` with `index`, which follows a
    /// valid record with index `previous` (`None`: it is the first).
    /// Returns how it breaks contiguous order, if it does (see
    /// [`Finding::Record`]).
    ///
    /// ```
    /// use plog_format::IndexStats;
    /// let mut stats = IndexStats::new();
    /// assert!(stats.push(None, 26, 5).is_none());
    /// assert!(stats.push(Some(5), 80, 9).is_some()); // a gap of 3
    /// assert!(stats.push(Some(9), 130, 9).is_some()); // a repeat
    /// assert_eq!((stats.gaps, stats.indices_skipped, stats.repeats), (1, 3, 1));
    /// ```
    #[inline]
    pub fn push(
        &mut self,
        previous: Option<u64>,
        offset: u64,
        index: u64,
    ) -> Option<IndexViolation> {
        self.min_index = Some(self.min_index.map_or(index, |min| min.min(index)));
        self.max_index = Some(self.max_index.map_or(index, |max| max.max(index)));
        let kind = IndexOrder::Contiguous.admits(previous, index).err()?;
        let previous_index = previous?;
        let violation = IndexViolation {
            offset,
            index,
            previous_index,
            order: IndexOrder::Contiguous,
            kind,
        };
        match kind {
            IndexViolationKind::Gap => {
                self.gaps = self.gaps.saturating_add(1);
                // index > previous + 1 here, so this is at least 1.
                let skipped = index.saturating_sub(previous_index).saturating_sub(1);
                self.indices_skipped = self.indices_skipped.saturating_add(skipped);
                self.first_gap.get_or_insert(violation);
            }
            IndexViolationKind::Order => {
                if index == previous_index {
                    self.repeats = self.repeats.saturating_add(1);
                } else {
                    self.decreases = self.decreases.saturating_add(1);
                }
                self.first_order.get_or_insert(violation);
            }
        }
        Some(violation)
    }

    /// Adds the stats of records that come after these in the file (the
    /// boundary between the two must already be counted in one of them).
    pub fn merge(&mut self, later: &IndexStats) {
        self.gaps = self.gaps.saturating_add(later.gaps);
        self.indices_skipped = self.indices_skipped.saturating_add(later.indices_skipped);
        self.repeats = self.repeats.saturating_add(later.repeats);
        self.decreases = self.decreases.saturating_add(later.decreases);
        self.first_gap = self.first_gap.or(later.first_gap);
        self.first_order = self.first_order.or(later.first_order);
        self.min_index = match (self.min_index, later.min_index) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_index = match (self.max_index, later.max_index) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// How many records break `order`: none for [`IndexOrder::Any`], the
    /// repeats and decreases for `Increasing`, and the gaps too for
    /// `Contiguous`.
    pub const fn violations(&self, order: IndexOrder) -> u64 {
        match order {
            IndexOrder::Any => 0,
            IndexOrder::Increasing => self.repeats.saturating_add(self.decreases),
            IndexOrder::Contiguous => self
                .gaps
                .saturating_add(self.repeats)
                .saturating_add(self.decreases),
        }
    }

    /// The first record that breaks `order`, with its `order` field set to
    /// `order` (for `Contiguous`, the earlier of the first gap and the first
    /// repeat or decrease).
    pub fn first_violation(&self, order: IndexOrder) -> Option<IndexViolation> {
        let gap = self.first_gap.and_then(|v| v.under(order));
        let other = self.first_order.and_then(|v| v.under(order));
        match (gap, other) {
            (Some(gap), Some(other)) if other.offset < gap.offset => Some(other),
            (Some(gap), _) => Some(gap),
            (None, other) => other,
        }
    }
}

/// Everything a reader needs to know about a whole file, in O(1) space: the
/// fold of a walk's events ([`Fold`]).
///
/// Offsets, each with one meaning:
///
/// * `records_end`: the end of the last valid record; [`MAGIC_LEN`] when the
///   magic is v1 and no record is valid; 0 when the magic is torn, bad or of
///   another version. Without corruption it equals the torn offset (when
///   there is a torn tail) or the file length (when there is none).
/// * `torn.offset`: where the torn tail starts, **the** cut point of a
///   repair (truncating there removes exactly the torn bytes). It can lie
///   past `records_end` when damaged records precede the tail.
/// * `first_corruption`/`last_corruption` offsets: where the damage is
///   ([`Corruption::offset`]; 0 for the magic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The length of the file walked.
    pub file_len: u64,
    /// Valid records (structurally complete, hash matches).
    pub records: u64,
    /// The sum of the valid records' payload lengths (saturating).
    pub payload_bytes: u64,
    /// The index of the first valid record.
    pub first_index: Option<u64>,
    /// The index of the last valid record.
    pub last_index: Option<u64>,
    /// The end of the last valid record ([`MAGIC_LEN`] without one, 0 when
    /// the magic is not v1; see above).
    pub records_end: u64,
    /// The torn tail, if the file ends in one; its offset is the repair cut
    /// point.
    pub torn: Option<TornTail>,
    /// How many corruptions the file holds.
    pub corruptions: u64,
    /// The first corruption in file order.
    pub first_corruption: Option<Corruption>,
    /// The last corruption in file order.
    pub last_corruption: Option<Corruption>,
    /// Valid records after the last corruption (all of them without one).
    pub records_after_last_corruption: u64,
    /// How the valid records' indices follow each other.
    pub indices: IndexStats,
}

impl Summary {
    /// FORMAT.md's status: `corrupt` if there is any corruption, else `torn`
    /// if there is a torn tail, else `clean`. Index violations are not part
    /// of the format's status (see [`Summary::judge`]).
    pub const fn status(&self) -> Status {
        Status::from_findings(self.corruptions > 0, self.torn.is_some())
    }

    /// Whether the file starts with the v1 magic (it is not torn, bad or of
    /// another version).
    pub const fn magic_ok(&self) -> bool {
        let magic_corrupt = match &self.first_corruption {
            Some(corruption) => corruption.is_magic(),
            None => false,
        };
        let magic_torn = matches!(
            self.torn,
            Some(TornTail {
                reason: TornReason::Magic,
                ..
            })
        );
        !(magic_corrupt || magic_torn)
    }
}

/// Folds the events of a walk from offset 0 ([`Scanner`](crate::Scanner),
/// or a parallel reader yielding the same events) into a [`Summary`], in
/// O(1) space; consecutive valid records may come as [`ValidRun`]s.
///
/// ```
/// use plog_format::{encode_record_to_vec, Fold, Scanner, Status, MAGIC};
/// let mut log = MAGIC.to_vec();
/// encode_record_to_vec(7, b"{}", &mut log);
/// let mut fold = Fold::new(log.len() as u64);
/// for event in Scanner::new(&log) {
///     fold.event(&event);
/// }
/// let summary = fold.finish();
/// assert_eq!((summary.records, summary.first_index, summary.records_end), (1, Some(7), 76));
/// assert_eq!(summary.status(), Status::Clean);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fold {
    summary: Summary,
}

impl Fold {
    /// A fold of the events of a walk of a `file_len`-byte file from offset
    /// 0. Whether the magic is v1 is learnt from the events (a bad,
    /// unsupported or torn magic is always the first and only event).
    pub const fn new(file_len: u64) -> Fold {
        Fold {
            summary: Summary {
                file_len,
                records: 0,
                payload_bytes: 0,
                first_index: None,
                last_index: None,
                records_end: len_u64(MAGIC_LEN),
                torn: None,
                corruptions: 0,
                first_corruption: None,
                last_corruption: None,
                records_after_last_corruption: 0,
                indices: IndexStats::new(),
            },
        }
    }

    /// Folds the next event (in file order) and returns what it is, for
    /// [`RecoveryPolicy::reject`](crate::RecoveryPolicy::reject).
    #[inline]
    pub fn event(&mut self, event: &Event<'_>) -> Finding {
        match event {
            Event::Record(record) => self.record(record),
            Event::Corrupt(corruption) => {
                let s = &mut self.summary;
                s.corruptions = s.corruptions.saturating_add(1);
                s.first_corruption.get_or_insert(*corruption);
                s.last_corruption = Some(*corruption);
                s.records_after_last_corruption = 0;
                if corruption.is_magic() {
                    s.records_end = 0;
                }
                Finding::Corrupt(*corruption)
            }
            Event::Torn(tail) => {
                let s = &mut self.summary;
                s.torn = Some(*tail);
                if tail.reason == TornReason::Magic {
                    s.records_end = 0;
                }
                Finding::Torn(*tail)
            }
        }
    }

    /// Folds a valid record (an [`Event::Record`]).
    #[inline]
    fn record(&mut self, record: &Record<'_>) -> Finding {
        let s = &mut self.summary;
        let (offset, index) = (record.offset(), record.index());
        let violation = s.indices.push(s.last_index, offset, index);
        s.records = s.records.saturating_add(1);
        s.records_after_last_corruption = s.records_after_last_corruption.saturating_add(1);
        s.payload_bytes = s.payload_bytes.saturating_add(record.payload_len());
        s.first_index.get_or_insert(index);
        s.last_index = Some(index);
        s.records_end = record.end_offset();
        Finding::Record {
            offset,
            index,
            violation,
        }
    }

    /// Folds a run of consecutive valid records at once: the same summary as
    /// folding each of them as an [`Event::Record`]. Returns the run's
    /// [`IndexStats`] including its boundary with the valid record before it
    /// (judge them with [`RecoveryPolicy::reject_indices`](crate::RecoveryPolicy::reject_indices)).
    pub fn valid_run(&mut self, run: &ValidRun) -> IndexStats {
        let Some(first) = run.first else {
            return IndexStats::new();
        };
        let s = &mut self.summary;
        let joined = run.indices_after(s.last_index);
        s.indices.merge(&joined);
        s.records = s.records.saturating_add(run.count);
        s.records_after_last_corruption = s.records_after_last_corruption.saturating_add(run.count);
        s.payload_bytes = s.payload_bytes.saturating_add(run.payload_bytes);
        s.first_index.get_or_insert(first.index);
        s.last_index = Some(run.last_index);
        s.records_end = run.end;
        joined
    }

    /// The summary of the events folded so far.
    pub const fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The summary of all events folded.
    pub const fn finish(self) -> Summary {
        self.summary
    }
}

/// Where a [`ValidRun`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RunStart {
    offset: u64,
    index: u64,
}

/// A run of consecutive valid records, summarised apart from the [`Fold`]
/// (e.g. by a worker thread that hashed them) and folded at once with
/// [`Fold::valid_run`]. O(1) space, `Copy`.
///
/// ```
/// use plog_format::{encode_record_to_vec, Event, Fold, Scanner, ValidRun, MAGIC};
/// let mut log = MAGIC.to_vec();
/// for index in [1, 2, 4] {
///     encode_record_to_vec(index, b"{}", &mut log);
/// }
/// let mut run = ValidRun::new();
/// for event in Scanner::new(&log) {
///     if let Event::Record(record) = event { run.push(&record); }
/// }
/// assert_eq!((run.count(), run.first_index(), run.last_index()), (3, Some(1), Some(4)));
/// let mut fold = Fold::new(log.len() as u64);
/// fold.valid_run(&run);
/// assert_eq!(fold.summary().indices.gaps, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValidRun {
    first: Option<RunStart>,
    last_index: u64,
    end: u64,
    count: u64,
    payload_bytes: u64,
    indices: IndexStats,
}

impl ValidRun {
    /// An empty run.
    pub const fn new() -> ValidRun {
        ValidRun {
            first: None,
            last_index: 0,
            end: 0,
            count: 0,
            payload_bytes: 0,
            indices: IndexStats::new(),
        }
    }

    /// Adds the next valid record: it must follow the run's last record
    /// directly in the walk (no event between them) and its hash must match.
    #[inline]
    pub fn push(&mut self, record: &Record<'_>) {
        let index = record.index();
        if self.first.is_none() {
            self.first = Some(RunStart {
                offset: record.offset(),
                index,
            });
        } else {
            self.indices
                .push(Some(self.last_index), record.offset(), index);
        }
        self.last_index = index;
        self.end = record.end_offset();
        self.count = self.count.saturating_add(1);
        self.payload_bytes = self.payload_bytes.saturating_add(record.payload_len());
    }

    /// Whether the run holds no record.
    pub const fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// How many records the run holds.
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The sum of their payload lengths (saturating).
    pub const fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// The offset of the first record.
    pub fn first_offset(&self) -> Option<u64> {
        self.first.map(|first| first.offset)
    }

    /// The index of the first record.
    pub fn first_index(&self) -> Option<u64> {
        self.first.map(|first| first.index)
    }

    /// The index of the last record.
    pub fn last_index(&self) -> Option<u64> {
        self.first.map(|_| self.last_index)
    }

    /// Where the last record ends.
    pub fn end(&self) -> Option<u64> {
        self.first.map(|_| self.end)
    }

    /// How the indices follow each other inside the run (not counting the
    /// boundary with the record before the run).
    pub const fn indices(&self) -> &IndexStats {
        &self.indices
    }

    /// How the indices follow each other in the run when it comes after a
    /// valid record with index `previous` (`None`: the run starts the
    /// file's valid records): the boundary, then the run's own
    /// [`ValidRun::indices`].
    pub fn indices_after(&self, previous: Option<u64>) -> IndexStats {
        let mut joined = IndexStats::new();
        if let Some(first) = self.first {
            joined.push(previous, first.offset, first.index);
            joined.merge(&self.indices);
        }
        joined
    }
}
