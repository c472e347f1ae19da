//! The verification report and how it is built from the events of a walk.

use plog_format::{
    Corruption, Event, IndexChecker, IndexOrder, IndexViolation, Record, Status, TornTail,
};

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
/// (only corruptions, index violations and lost ranges are, each list
/// bounded by the options' `list_limit`, a million by default, with exact
/// counts past it: a hostile file cannot make the report outgrow memory).
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
    /// The corruptions in file order: every one, up to the options'
    /// `list_limit` ([`VerifyReport::corruption_count`] counts them all).
    pub corruptions: Vec<Corruption>,
    /// The order that indices were checked against.
    pub index_order: IndexOrder,
    /// The valid records whose index breaks `index_order`, in file order
    /// (up to `list_limit`; [`VerifyReport::index_violation_count`]).
    pub index_violations: Vec<IndexViolation>,
    /// The byte ranges (and index ranges) lost to corruption, in file order
    /// (up to `list_limit`; [`VerifyReport::lost_count`]).
    pub lost: Vec<LostRange>,
    /// The recovery mode that [`VerifyReport::passes`] judges by.
    pub mode: RecoveryMode,
    /// Entries counted but not kept, past the options' `list_limit` (all
    /// zero unless a list reached it; the kept entries are the first ones
    /// in file order).
    pub omitted: Omitted,
}

/// How many entries of each list of a [`VerifyReport`] were counted but not
/// kept (see [`VerifyOptions::list_limit`](crate::VerifyOptions::list_limit)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Omitted {
    /// Corruptions past the limit.
    pub corruptions: u64,
    /// Index violations past the limit.
    pub index_violations: u64,
    /// Lost ranges past the limit.
    pub lost: u64,
}

impl VerifyReport {
    /// How many corruptions the file holds (listed and omitted).
    pub fn corruption_count(&self) -> u64 {
        len_u64(self.corruptions.len()).saturating_add(self.omitted.corruptions)
    }

    /// How many valid records break the index order (listed and omitted).
    pub fn index_violation_count(&self) -> u64 {
        len_u64(self.index_violations.len()).saturating_add(self.omitted.index_violations)
    }

    /// How many lost ranges there are (listed and omitted).
    pub fn lost_count(&self) -> u64 {
        len_u64(self.lost.len()).saturating_add(self.omitted.lost)
    }

    /// FORMAT.md's status: `corrupt` if there is any corruption, else `torn`
    /// if there is a torn tail, else `clean`. (Index violations are not part
    /// of the format's status; see [`VerifyReport::passes`].)
    pub fn status(&self) -> Status {
        Status::from_findings(self.corruption_count() > 0, self.torn.is_some())
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
                self.corruption_count() == 0 && self.index_violation_count() == 0
            }
            RecoveryMode::Strict => {
                self.corruption_count() == 0
                    && self.index_violation_count() == 0
                    && self.torn.is_none()
            }
            // A magic corruption is the first finding and ends the walk, so
            // it is always listed.
            RecoveryMode::Salvage => !self.corruptions.iter().any(is_magic_corruption),
        }
    }
}

pub(crate) fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Keeps `item` in `list` while it holds fewer than `limit` entries, else
/// counts it in `omitted`.
#[inline]
pub(crate) fn keep<T>(list: &mut Vec<T>, omitted: &mut u64, limit: usize, item: T) {
    if list.len() < limit {
        list.push(item);
    } else {
        *omitted = omitted.saturating_add(1);
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
    /// The most entries kept per list (at least 1).
    limit: usize,
}

impl ReportBuilder {
    pub(crate) fn new(
        file_len: u64,
        index_order: IndexOrder,
        mode: RecoveryMode,
        list_limit: usize,
    ) -> Self {
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
                omitted: Omitted::default(),
            },
            checker: IndexChecker::new(index_order),
            open_loss: None,
            limit: list_limit.max(1),
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
                    keep(&mut report.lost, &mut report.omitted.lost, self.limit, loss);
                }
                let violation = self.checker.check(record.offset(), index)?;
                keep(
                    &mut report.index_violations,
                    &mut report.omitted.index_violations,
                    self.limit,
                    violation,
                );
                Some(violation)
            }
            Event::Corrupt(corruption) => {
                keep(
                    &mut report.corruptions,
                    &mut report.omitted.corruptions,
                    self.limit,
                    *corruption,
                );
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

    /// Feeds `count` consecutive valid records from `first` to `last` at
    /// once, holding `payload_bytes` bytes of payload: the same as feeding
    /// each, when no index order is checked.
    #[inline]
    pub(crate) fn valid_run(
        &mut self,
        first: &Record<'_>,
        last: &Record<'_>,
        count: u64,
        payload_bytes: u64,
    ) {
        debug_assert_eq!(self.report.index_order, IndexOrder::Any);
        let report = &mut self.report;
        report.records = report.records.saturating_add(count);
        report.payload_bytes = report.payload_bytes.saturating_add(payload_bytes);
        report.first_index.get_or_insert(first.index());
        report.last_index = Some(last.index());
        report.last_record_end = Some(last.end_offset());
        if let Some(mut loss) = self.open_loss.take() {
            loss.next_index = Some(first.index());
            keep(&mut report.lost, &mut report.omitted.lost, self.limit, loss);
        }
    }

    /// Whether [`ReportBuilder::valid_run`] may be used.
    pub(crate) fn takes_runs(&self) -> bool {
        self.report.index_order == IndexOrder::Any
    }

    pub(crate) fn finish(mut self) -> VerifyReport {
        if let Some(loss) = self.open_loss.take() {
            let report = &mut self.report;
            keep(&mut report.lost, &mut report.omitted.lost, self.limit, loss);
        }
        self.report
    }
}

/// JSON (or any serde format) of a report, with stable field names and the
/// `kind` strings of plog-format; hashes are lowercase hex, and `status`
/// and `passes` are included.
///
/// ```
/// use plog_mmap::{Log, VerifyOptions};
/// let mut bytes = plog_format::MAGIC.to_vec();
/// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
/// bytes.extend_from_slice(&[0; 10]);
/// let report = Log::from_bytes(bytes).verify(&VerifyOptions::default()).unwrap();
/// let json = serde_json::to_value(&report).unwrap();
/// assert_eq!(json["status"], "torn");
/// assert_eq!(json["torn"]["reason"], "zero_fill");
/// assert_eq!(json["records"], 1);
/// ```
impl serde::Serialize for VerifyReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json::Report::from(self).serialize(serializer)
    }
}

/// Serde mirrors of the report's plog-format types (which carry no serde
/// derive: plog-format is `no_std` and serde-free).
mod json {
    use plog_format::{Corruption, IndexViolation, TornReason, TornTail};
    use serde::Serialize;

    use super::{LostRange, Omitted, VerifyReport};

    #[derive(Serialize)]
    pub(super) struct Report {
        status: &'static str,
        passes: bool,
        mode: &'static str,
        file_len: u64,
        records: u64,
        payload_bytes: u64,
        first_index: Option<u64>,
        last_index: Option<u64>,
        last_record_end: Option<u64>,
        valid_end: u64,
        torn: Option<Torn>,
        corruptions: Vec<Damage>,
        index_order: &'static str,
        index_violations: Vec<Violation>,
        lost: Vec<Lost>,
        omitted: Omitted,
    }

    impl From<&VerifyReport> for Report {
        fn from(r: &VerifyReport) -> Self {
            Report {
                status: r.status().as_str(),
                passes: r.passes(),
                mode: r.mode.as_str(),
                file_len: r.file_len,
                records: r.records,
                payload_bytes: r.payload_bytes,
                first_index: r.first_index,
                last_index: r.last_index,
                last_record_end: r.last_record_end,
                valid_end: r.valid_end,
                torn: r.torn.map(Torn::from),
                corruptions: r.corruptions.iter().map(Damage::from).collect(),
                index_order: r.index_order.as_str(),
                index_violations: r.index_violations.iter().map(Violation::from).collect(),
                lost: r.lost.iter().map(Lost::from).collect(),
                omitted: r.omitted,
            }
        }
    }

    #[derive(Serialize)]
    struct Torn {
        offset: u64,
        bytes: u64,
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload_len: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        available: Option<u64>,
    }

    impl From<TornTail> for Torn {
        fn from(t: TornTail) -> Self {
            let (index, payload_len, available) = match t.reason {
                TornReason::PartialPayload {
                    index,
                    payload_len,
                    available,
                } => (Some(index), Some(payload_len), Some(available)),
                _ => (None, None, None),
            };
            Torn {
                offset: t.offset,
                bytes: t.bytes,
                reason: t.reason.as_str(),
                index,
                payload_len,
                available,
            }
        }
    }

    #[derive(Serialize, Default)]
    struct Damage {
        kind: &'static str,
        offset: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload_len: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        available: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resync_offset: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stored: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        computed: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        found: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        message: String,
    }

    impl From<&Corruption> for Damage {
        fn from(c: &Corruption) -> Self {
            let base = Damage {
                kind: c.kind(),
                offset: c.offset(),
                index: c.index(),
                resync_offset: c.resync_offset(),
                message: c.to_string(),
                ..Damage::default()
            };
            match *c {
                Corruption::BadMagic { found } => Damage {
                    found: Some(found.to_string()),
                    ..base
                },
                Corruption::UnsupportedVersion { version } => Damage {
                    version: Some(version),
                    ..base
                },
                Corruption::Length {
                    payload_len,
                    available,
                    ..
                } => Damage {
                    payload_len: Some(payload_len),
                    available: Some(available),
                    ..base
                },
                Corruption::HashMismatch {
                    payload_len,
                    stored,
                    computed,
                    ..
                } => Damage {
                    payload_len: Some(payload_len),
                    stored: Some(stored.to_string()),
                    computed: Some(computed.to_string()),
                    ..base
                },
            }
        }
    }

    #[derive(Serialize)]
    struct Violation {
        kind: &'static str,
        offset: u64,
        index: u64,
        previous_index: u64,
    }

    impl From<&IndexViolation> for Violation {
        fn from(v: &IndexViolation) -> Self {
            Violation {
                kind: v.kind_str(),
                offset: v.offset,
                index: v.index,
                previous_index: v.previous_index,
            }
        }
    }

    #[derive(Serialize)]
    struct Lost {
        offset: u64,
        end: u64,
        bytes: u64,
        corruptions: u64,
        previous_index: Option<u64>,
        next_index: Option<u64>,
        lost_indices: Option<(u64, u64)>,
    }

    impl From<&LostRange> for Lost {
        fn from(l: &LostRange) -> Self {
            Lost {
                offset: l.offset,
                end: l.end,
                bytes: l.bytes(),
                corruptions: l.corruptions,
                previous_index: l.previous_index,
                next_index: l.next_index,
                lost_indices: l.lost_indices(),
            }
        }
    }
}
