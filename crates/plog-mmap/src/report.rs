//! The verification report and how it is built from the events of a walk.

use plog_format::{Corruption, Event, IndexChecker, IndexOrder, IndexViolation, Status, TornTail};

use crate::RecoveryMode;

/// A byte range whose records are lost to corruption, with the indices of
/// the valid records around it.
///
/// Consecutive corruptions (with no valid record between them) form one
/// range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LostRange {
    /// Where the lost bytes start (the first damaged header).
    pub offset: u64,
    /// Where they end: the next valid record, or the torn tail, or the end
    /// of the file.
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
    pub fn bytes(&self) -> u64 {
        self.end.saturating_sub(self.offset)
    }

    /// The indices lost, `(first, last)` inclusive, when the valid records
    /// around the range say so: both neighbours are known and indices were
    /// skipped between them. (For a contiguous log this is exactly what is
    /// lost; for others it is what the neighbours imply. The index fields
    /// of the damaged headers themselves are in
    /// [`VerifyReport::corruptions`].)
    pub fn lost_indices(&self) -> Option<(u64, u64)> {
        let first = self.previous_index?.checked_add(1)?;
        let last = self.next_index?.checked_sub(1)?;
        (first <= last).then_some((first, last))
    }
}

/// The result of verifying a whole file: every finding of FORMAT.md's
/// classification in file order, plus the opt-in index checks.
///
/// Path-independent and allocation-light: records are counted, not listed
/// (only corruptions, index violations and lost ranges are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// The length of the file as verified.
    pub file_len: u64,
    /// How many valid records (structurally complete, hash matches).
    pub records: u64,
    /// The sum of the valid records' payload lengths.
    pub payload_bytes: u64,
    /// The index of the first valid record.
    pub first_index: Option<u64>,
    /// The index of the last valid record.
    pub last_index: Option<u64>,
    /// Where the last valid record ends (`None` without valid records).
    pub last_record_end: Option<u64>,
    /// The end of valid data: where the torn tail starts, or the file length
    /// when there is none (0 when the magic is bad). Truncating the file
    /// here removes exactly the torn tail (what `plog repair` does).
    pub valid_end: u64,
    /// The torn tail, if the file ends in one.
    pub torn: Option<TornTail>,
    /// Every corruption, in file order.
    pub corruptions: Vec<Corruption>,
    /// The order that indices were checked against.
    pub index_order: IndexOrder,
    /// Every valid record whose index breaks `index_order`, in file order.
    pub index_violations: Vec<IndexViolation>,
    /// The byte ranges (and index ranges) lost to corruption, in file order.
    pub lost: Vec<LostRange>,
    /// The recovery mode that [`VerifyReport::passes`] judges by.
    pub mode: RecoveryMode,
}

impl VerifyReport {
    /// FORMAT.md's status: `corrupt` if there is any corruption, else `torn`
    /// if there is a torn tail, else `clean`. (Index violations are not part
    /// of the format's status; see [`VerifyReport::passes`].)
    pub fn status(&self) -> Status {
        Status::from_findings(!self.corruptions.is_empty(), self.torn.is_some())
    }

    /// Whether the file is acceptable in the report's [`RecoveryMode`]:
    ///
    /// * `TolerateTorn`: no corruption and no index violation;
    /// * `Strict`: also no torn tail;
    /// * `Salvage`: the magic is v1 (everything else is reported as lost or
    ///   as violations, and the valid records can be used).
    pub fn passes(&self) -> bool {
        match self.mode {
            RecoveryMode::TolerateTorn => {
                self.corruptions.is_empty() && self.index_violations.is_empty()
            }
            RecoveryMode::Strict => {
                self.corruptions.is_empty()
                    && self.index_violations.is_empty()
                    && self.torn.is_none()
            }
            RecoveryMode::Salvage => !self.corruptions.iter().any(is_magic_corruption),
        }
    }
}

/// Whether a corruption is about the magic (the file is not a v1 log).
pub(crate) fn is_magic_corruption(corruption: &Corruption) -> bool {
    matches!(
        corruption,
        Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
    )
}

/// Builds a [`VerifyReport`] from events fed in file order.
pub(crate) struct ReportBuilder {
    report: VerifyReport,
    checker: IndexChecker,
    /// The lost range being extended (no valid record since it started).
    open_loss: Option<LostRange>,
}

impl ReportBuilder {
    pub(crate) fn new(file_len: u64, index_order: IndexOrder, mode: RecoveryMode) -> Self {
        ReportBuilder {
            report: VerifyReport {
                file_len,
                records: 0,
                payload_bytes: 0,
                first_index: None,
                last_index: None,
                last_record_end: None,
                valid_end: file_len,
                torn: None,
                corruptions: Vec::new(),
                index_order,
                index_violations: Vec::new(),
                lost: Vec::new(),
                mode,
            },
            checker: IndexChecker::new(index_order),
            open_loss: None,
        }
    }

    /// Feeds the next event; returns the index violation it makes, if any.
    #[inline]
    pub(crate) fn event(&mut self, event: &Event<'_>) -> Option<IndexViolation> {
        let report = &mut self.report;
        match event {
            Event::Record(record) => {
                let index = record.index();
                report.records += 1;
                report.payload_bytes = report.payload_bytes.saturating_add(record.payload_len());
                report.first_index.get_or_insert(index);
                report.last_index = Some(index);
                report.last_record_end = Some(record.end_offset());
                if let Some(mut loss) = self.open_loss.take() {
                    loss.next_index = Some(index);
                    report.lost.push(loss);
                }
                let violation = self.checker.check(record.offset(), index)?;
                report.index_violations.push(violation);
                Some(violation)
            }
            Event::Corrupt(corruption) => {
                report.corruptions.push(*corruption);
                if is_magic_corruption(corruption) {
                    report.valid_end = 0;
                }
                let (start, end) = corruption.lost_range();
                let end = end.unwrap_or(report.file_len);
                match &mut self.open_loss {
                    Some(loss) => {
                        loss.end = loss.end.max(end);
                        loss.corruptions += 1;
                    }
                    None => {
                        self.open_loss = Some(LostRange {
                            offset: start,
                            end,
                            corruptions: 1,
                            previous_index: report.last_index,
                            next_index: None,
                        });
                    }
                }
                None
            }
            Event::Torn(tail) => {
                report.torn = Some(*tail);
                report.valid_end = tail.offset;
                None
            }
        }
    }

    pub(crate) fn finish(mut self) -> VerifyReport {
        if let Some(loss) = self.open_loss.take() {
            self.report.lost.push(loss);
        }
        self.report
    }
}
