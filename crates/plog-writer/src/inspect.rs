//! The open-time walk of a whole log, and the repair it calls for.

use core::fmt;

use plog_format::{
    Corruption, Event, IndexChecker, IndexOrder, IndexViolation, MAGIC_LEN, Magic, Scanner, Status,
    TornReason, TornTail, check_magic,
};

/// What a log holds, as seen by the open-time walk: the valid records, the
/// corruption and the torn tail (FORMAT.md's classification).
///
/// Made by [`inspect`](crate::inspect) (read-only, no lock) and
/// [`LockedLog::open`](crate::LockedLog::open) (under the writer lock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The file's length in bytes.
    pub file_len: u64,
    /// Valid records (structure intact, hash matches).
    pub records: u64,
    /// Index of the first valid record.
    pub first_index: Option<u64>,
    /// Index of the last valid record.
    pub last_index: Option<u64>,
    /// Offset just past the last valid record: the magic's length when there
    /// is none, 0 when the magic itself is torn or wrong.
    pub valid_end: u64,
    /// How many corruptions the file holds.
    pub corruptions: u64,
    /// The first corruption in file order.
    pub first_corruption: Option<Corruption>,
    /// The last corruption in file order.
    pub last_corruption: Option<Corruption>,
    /// Valid records after the last corruption.
    pub records_after_last_corruption: u64,
    /// The torn tail, if the file ends in one.
    pub torn: Option<TornTail>,
    /// Valid records whose index is not greater than the previous one's.
    pub increasing_violations: ViolationCount,
    /// Valid records whose index is not the previous one's plus one.
    pub contiguous_violations: ViolationCount,
}

/// How often the valid records break an index order, and where first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViolationCount {
    /// How many records break it.
    pub count: u64,
    /// The first of them.
    pub first: Option<IndexViolation>,
}

impl ViolationCount {
    fn record(&mut self, violation: Option<IndexViolation>) {
        if let Some(violation) = violation {
            self.count = self.count.saturating_add(1);
            self.first.get_or_insert(violation);
        }
    }
}

impl Inspection {
    /// `corrupt`, `torn` or `clean` (FORMAT.md).
    pub fn status(&self) -> Status {
        Status::from_findings(self.corruptions > 0, self.torn.is_some())
    }

    /// The violations of `order` among the valid records (none for
    /// [`IndexOrder::Any`]).
    pub fn index_violations(&self, order: IndexOrder) -> ViolationCount {
        match order {
            IndexOrder::Any => ViolationCount::default(),
            IndexOrder::Increasing => self.increasing_violations,
            IndexOrder::Contiguous => self.contiguous_violations,
        }
    }

    /// What a repair with `options` would do to this file. Computing the
    /// plan changes nothing.
    ///
    /// * A clean file needs nothing.
    /// * A torn tail (cut header, cut payload, zero-filled tail, cut magic)
    ///   is truncated to the end of the last valid record (a cut magic is
    ///   rewritten).
    /// * A file whose only corruption is a hash mismatch in its final record
    ///   (no valid record after it) loses that record when
    ///   `options.drop_corrupt_tail` is set.
    /// * Any other corruption is refused: valid data is never cut; salvage
    ///   the valid records into a new log instead.
    pub fn plan(&self, options: RepairOptions) -> RepairPlan {
        if let Some(first) = self.first_corruption {
            let last = self.last_corruption.unwrap_or(first);
            let final_record_mismatch = self.corruptions == 1
                && matches!(last, Corruption::HashMismatch { .. })
                && self.records_after_last_corruption == 0;
            if options.drop_corrupt_tail && final_record_mismatch {
                let truncate_to = last.offset();
                return RepairPlan::DropCorruptTail {
                    corruption: last,
                    truncate_to,
                    bytes: self.file_len.saturating_sub(truncate_to),
                };
            }
            return RepairPlan::Refuse {
                corruption: first,
                corruptions: self.corruptions,
                final_record_only: final_record_mismatch,
            };
        }
        match self.torn {
            Some(tail) => RepairPlan::TruncateTornTail { tail },
            None => RepairPlan::Nothing,
        }
    }
}

/// Options of an explicit repair (`plog repair`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RepairOptions {
    /// Drop a final record whose hash does not match (the only corruption
    /// of the file, with no valid record after it).
    pub drop_corrupt_tail: bool,
}

/// What a repair does (or would do) to a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepairPlan {
    /// The log is clean: nothing to do.
    Nothing,
    /// Truncate the torn tail: the file is cut at `tail.offset` (the end of
    /// the last valid record) and synced. A torn magic is rewritten.
    TruncateTornTail {
        /// The torn tail.
        tail: TornTail,
    },
    /// Drop the damaged final record (`--drop-corrupt-tail`).
    DropCorruptTail {
        /// The hash mismatch of the final record.
        corruption: Corruption,
        /// The new file length (the damaged record's offset).
        truncate_to: u64,
        /// How many bytes are dropped.
        bytes: u64,
    },
    /// The damage is not a torn tail: repairing would cut valid data, so the
    /// repair refuses and changes nothing.
    Refuse {
        /// The first corruption.
        corruption: Corruption,
        /// How many corruptions the file holds.
        corruptions: u64,
        /// Whether the only damage is a hash mismatch in the final record
        /// (so that `drop_corrupt_tail` would repair it).
        final_record_only: bool,
    },
}

impl RepairPlan {
    /// The stable name: `"nothing"`, `"truncate_torn_tail"`,
    /// `"drop_corrupt_tail"` or `"refuse"`.
    pub const fn kind(&self) -> &'static str {
        match self {
            RepairPlan::Nothing => "nothing",
            RepairPlan::TruncateTornTail { .. } => "truncate_torn_tail",
            RepairPlan::DropCorruptTail { .. } => "drop_corrupt_tail",
            RepairPlan::Refuse { .. } => "refuse",
        }
    }

    /// Whether carrying out the plan changes the file.
    pub const fn changes_file(&self) -> bool {
        matches!(
            self,
            RepairPlan::TruncateTornTail { .. } | RepairPlan::DropCorruptTail { .. }
        )
    }

    /// The file's length after the repair (`None` when it is refused).
    pub fn new_len(&self, inspection: &Inspection) -> Option<u64> {
        match self {
            RepairPlan::Nothing => Some(inspection.file_len),
            RepairPlan::TruncateTornTail { tail } if tail.reason == TornReason::Magic => {
                Some(crate::pos_u64(MAGIC_LEN))
            }
            RepairPlan::TruncateTornTail { tail } => Some(tail.offset),
            RepairPlan::DropCorruptTail { truncate_to, .. } => Some(*truncate_to),
            RepairPlan::Refuse { .. } => None,
        }
    }
}

impl fmt::Display for RepairPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepairPlan::Nothing => f.write_str("clean: nothing to repair"),
            RepairPlan::TruncateTornTail { tail } if tail.reason == TornReason::Magic => {
                write!(f, "{tail}; rewrite the magic (the file holds no record)")
            }
            RepairPlan::TruncateTornTail { tail } => write!(
                f,
                "{tail}; truncate to offset {} (drop {} bytes)",
                tail.offset, tail.bytes
            ),
            RepairPlan::DropCorruptTail {
                corruption,
                truncate_to,
                bytes,
            } => write!(
                f,
                "{corruption}; drop the damaged final record: truncate to offset {truncate_to} \
                 (drop {bytes} bytes)"
            ),
            RepairPlan::Refuse {
                corruption,
                corruptions,
                final_record_only,
            } => {
                write!(
                    f,
                    "{corruption} ({corruptions} corruption(s) in all); refusing to cut valid data"
                )?;
                if *final_record_only {
                    f.write_str(
                        "; only the final record is damaged: `--drop-corrupt-tail` drops it",
                    )
                } else {
                    f.write_str("; `--salvage OUT` copies every valid record to a new log")
                }
            }
        }
    }
}

/// The open-time walk: FORMAT.md's reference classification of a whole
/// file, reduced to what a writer and a repair need.
///
/// This is the one place that walks a log at open; it reads a byte slice
/// with [`plog_format::Scanner`] so that it can later be swapped for a
/// parallel verifier over a mapping without touching its callers.
pub(crate) fn scan_log(data: &[u8]) -> Inspection {
    let mut out = Inspection {
        file_len: crate::pos_u64(data.len()),
        records: 0,
        first_index: None,
        last_index: None,
        valid_end: 0,
        corruptions: 0,
        first_corruption: None,
        last_corruption: None,
        records_after_last_corruption: 0,
        torn: None,
        increasing_violations: ViolationCount::default(),
        contiguous_violations: ViolationCount::default(),
    };
    if check_magic(data) == Magic::V1 {
        out.valid_end = crate::pos_u64(MAGIC_LEN);
    }
    let mut increasing = IndexChecker::new(IndexOrder::Increasing);
    let mut contiguous = IndexChecker::new(IndexOrder::Contiguous);
    for event in Scanner::new(data) {
        match event {
            Event::Record(record) => {
                out.records += 1;
                out.records_after_last_corruption += 1;
                out.first_index.get_or_insert(record.index());
                out.last_index = Some(record.index());
                out.valid_end = record.end_offset();
                out.increasing_violations
                    .record(increasing.check(record.offset(), record.index()));
                out.contiguous_violations
                    .record(contiguous.check(record.offset(), record.index()));
            }
            Event::Corrupt(corruption) => {
                out.corruptions += 1;
                out.first_corruption.get_or_insert(corruption);
                out.last_corruption = Some(corruption);
                out.records_after_last_corruption = 0;
            }
            Event::Torn(tail) => out.torn = Some(tail),
        }
    }
    out
}
