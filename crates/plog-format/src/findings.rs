//! The bounded lists a report prints beside a [`Summary`](crate::Summary):
//! corruptions, index violations and lost ranges, fed by the same
//! [`Finding`]s as the [`Fold`](crate::Fold).

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

#[cfg(feature = "alloc")]
use crate::{Corruption, Finding, IndexOrder, IndexViolation, ValidRun, len_u64};

/// A byte range whose records are lost to corruption, with the indices of
/// the valid records around it.
///
/// Consecutive corruptions (with no valid record between them) form one
/// range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LostRange {
    /// Where the lost bytes start (the first damaged header).
    pub offset: u64,
    /// Where they end: the furthest [`Corruption::lost_range`](crate::Corruption::lost_range)
    /// end of its corruptions (the next valid record, the torn tail, or the
    /// end of the file for a bad magic).
    pub end: u64,
    /// How many corruptions the range covers.
    pub corruptions: u64,
    /// The index of the last valid record before the range.
    pub previous_index: Option<u64>,
    /// The index of the first valid record after it.
    pub next_index: Option<u64>,
}

impl LostRange {
    /// How many bytes are lost.
    pub const fn bytes(&self) -> u64 {
        self.end.saturating_sub(self.offset)
    }

    /// The indices lost, `(first, last)` inclusive, when the valid records
    /// around the range say so: both neighbours are known and indices were
    /// skipped between them. (For a contiguous log this is exactly what is
    /// lost; for others it is what the neighbours imply. The index fields
    /// of the damaged headers themselves are in the corruptions.)
    pub fn lost_indices(&self) -> Option<(u64, u64)> {
        let first = self.previous_index?.checked_add(1)?;
        let last = self.next_index?.checked_sub(1)?;
        (first <= last).then_some((first, last))
    }
}

/// How many entries of each list of a [`Findings`] were counted but not kept
/// (past its list limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Omitted {
    /// Corruptions past the limit.
    pub corruptions: u64,
    /// Index violations past the limit.
    pub index_violations: u64,
    /// Lost ranges past the limit.
    pub lost: u64,
}

/// Pushes `item` onto `list` while it holds fewer than `limit` entries, else
/// counts it in `omitted`: how every bounded list of plog keeps its first
/// entries in file order and an exact count of the rest.
#[cfg(feature = "alloc")]
#[inline]
pub(crate) fn push_bounded<T>(list: &mut Vec<T>, omitted: &mut u64, limit: usize, item: T) {
    if list.len() < limit {
        list.push(item);
    } else {
        *omitted = omitted.saturating_add(1);
    }
}

/// The lists beside a [`Summary`](crate::Summary): every corruption, every
/// valid record that breaks `index_order`, and the byte ranges lost to
/// corruption, in file order, each up to a list limit (at least 1) with
/// exact counts of the rest in `omitted`.
///
/// Fed with the [`Finding`]s that [`Fold::event`](crate::Fold::event)
/// returns (and with [`ValidRun`]s where they hold no violation), then
/// [`Findings::finish`]ed.
///
/// ```
/// use plog_format::{encode_record_to_vec, Findings, Fold, IndexOrder, Scanner, MAGIC};
/// let mut log = MAGIC.to_vec();
/// encode_record_to_vec(1, b"{}", &mut log);
/// let damaged = log.len();
/// encode_record_to_vec(2, b"{}", &mut log);
/// encode_record_to_vec(3, b"{}", &mut log);
/// log[damaged + 48] ^= 1; // the payload of record 2
/// let mut fold = Fold::new(log.len() as u64);
/// let mut findings = Findings::new(log.len() as u64, IndexOrder::Contiguous, 100);
/// for event in Scanner::new(&log) {
///     findings.push(&fold.event(&event));
/// }
/// let findings = findings.finish();
/// assert_eq!(findings.corruptions.len(), 1);
/// assert_eq!(findings.index_violations[0].kind.as_str(), "index_gap"); // 1 then 3
/// assert_eq!(findings.lost[0].lost_indices(), Some((2, 2)));
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Findings {
    /// The corruptions, in file order.
    pub corruptions: Vec<Corruption>,
    /// The valid records whose index breaks [`Findings::index_order`], in
    /// file order (each with `order` set to it).
    pub index_violations: Vec<IndexViolation>,
    /// The byte ranges (and index ranges) lost to corruption, in file order.
    pub lost: Vec<LostRange>,
    /// Entries counted but not kept, past the list limit.
    pub omitted: Omitted,
    index_order: IndexOrder,
    limit: usize,
    file_len: u64,
    /// The index of the last valid record fed.
    previous_index: Option<u64>,
    /// The lost range being extended (no valid record since it started).
    open_loss: Option<LostRange>,
}

#[cfg(feature = "alloc")]
impl Findings {
    /// Empty lists for a `file_len`-byte file, listing violations of
    /// `index_order` and keeping at most `list_limit` entries per list (at
    /// least 1, so that the first of each is always kept).
    pub fn new(file_len: u64, index_order: IndexOrder, list_limit: usize) -> Findings {
        Findings {
            corruptions: Vec::new(),
            index_violations: Vec::new(),
            lost: Vec::new(),
            omitted: Omitted::default(),
            index_order,
            limit: list_limit.max(1),
            file_len,
            previous_index: None,
            open_loss: None,
        }
    }

    /// Sets the file's length once it is known: a stream's is known only
    /// at its end. Only a lost range that runs to the end of the file (after
    /// a bad or unsupported magic) uses it, and a walk of a stream learns
    /// the length before it finds one of those.
    pub fn set_file_len(&mut self, file_len: u64) {
        self.file_len = file_len;
    }

    /// The order whose violations are listed.
    pub const fn index_order(&self) -> IndexOrder {
        self.index_order
    }

    /// The most entries kept per list.
    pub const fn list_limit(&self) -> usize {
        self.limit
    }

    /// Adds the next finding (in file order).
    #[inline]
    pub fn push(&mut self, finding: &Finding) {
        match *finding {
            Finding::Record {
                index, violation, ..
            } => {
                self.close_loss(Some(index));
                if let Some(violation) = violation.and_then(|v| v.under(self.index_order)) {
                    push_bounded(
                        &mut self.index_violations,
                        &mut self.omitted.index_violations,
                        self.limit,
                        violation,
                    );
                }
            }
            Finding::Corrupt(corruption) => {
                push_bounded(
                    &mut self.corruptions,
                    &mut self.omitted.corruptions,
                    self.limit,
                    corruption,
                );
                let (start, end) = corruption.lost_range();
                let end = end.unwrap_or(self.file_len);
                match &mut self.open_loss {
                    Some(loss) => {
                        loss.end = loss.end.max(end);
                        loss.corruptions = loss.corruptions.saturating_add(1);
                    }
                    None => {
                        self.open_loss = Some(LostRange {
                            offset: start,
                            end,
                            corruptions: 1,
                            previous_index: self.previous_index,
                            next_index: None,
                        });
                    }
                }
            }
            Finding::Torn(_) => {}
        }
    }

    /// Adds a run of consecutive valid records at once, when that is exact:
    /// when none of them (counting the boundary with the record before the
    /// run) breaks [`Findings::index_order`]. Returns `false` and changes
    /// nothing otherwise: then feed the run's records one by one with
    /// [`Findings::push`].
    #[must_use]
    pub fn valid_run(&mut self, run: &ValidRun) -> bool {
        let (Some(first_index), Some(last_index)) = (run.first_index(), run.last_index()) else {
            return true;
        };
        if run
            .indices_after(self.previous_index)
            .violations(self.index_order)
            > 0
        {
            return false;
        }
        self.close_loss(Some(first_index));
        self.previous_index = Some(last_index);
        true
    }

    /// A valid record with index `index` follows: it ends the open lost
    /// range, if any.
    fn close_loss(&mut self, index: Option<u64>) {
        if let Some(mut loss) = self.open_loss.take() {
            loss.next_index = index;
            push_bounded(&mut self.lost, &mut self.omitted.lost, self.limit, loss);
        }
        if index.is_some() {
            self.previous_index = index;
        }
    }

    /// Ends the lists after the last finding (a lost range still open runs
    /// to the end of the walk).
    pub fn finish(mut self) -> Findings {
        self.close_loss(None);
        self
    }

    /// How many corruptions were fed (kept and omitted).
    pub fn corruption_count(&self) -> u64 {
        len_u64(self.corruptions.len()).saturating_add(self.omitted.corruptions)
    }

    /// How many index violations were fed (kept and omitted).
    pub fn index_violation_count(&self) -> u64 {
        len_u64(self.index_violations.len()).saturating_add(self.omitted.index_violations)
    }

    /// How many lost ranges there are (kept and omitted).
    pub fn lost_count(&self) -> u64 {
        len_u64(self.lost.len()).saturating_add(self.omitted.lost)
    }
}
