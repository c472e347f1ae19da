//! The repair a log's [`Summary`] calls for ([`RepairPlan`]) and what the
//! caller allows ([`RepairOptions`]).

use core::fmt;

use plog_format::{Corruption, Summary, TornReason, TornTail};

/// Options of an explicit repair (`plog repair`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RepairOptions {
    /// Drop a final record whose hash does not match (the only corruption
    /// of the file, with no valid record after it).
    pub drop_corrupt_tail: bool,
}

/// What a repair does (or would do) to a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Drop the final record of a write over preallocated zeros that a crash
    /// cut: its hash does not match, one of its 512-byte sectors is all
    /// zeros, and nothing but zeros follows it. Such a record was never
    /// acknowledged (its append had not returned), so every open and every
    /// repair drops it, as it truncates a torn tail.
    DropTornAppend {
        /// The final record's hash mismatch (with its zeroed sector).
        corruption: Corruption,
        /// The new file length (the record's offset).
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
    /// What a repair with `options` would do to the file `summary`
    /// describes (plog-format's one model of a log). Computing the plan
    /// changes nothing.
    ///
    /// * A clean file needs nothing.
    /// * A torn tail (cut header, cut payload, zero-filled tail, cut magic)
    ///   is truncated to the end of the last valid record (a cut magic is
    ///   rewritten).
    /// * A final record cut by a crash while it was written over
    ///   preallocated zeros (a hash mismatch, the only corruption, with an
    ///   all-zero sector and nothing but zeros after it) is dropped: it was
    ///   never acknowledged.
    /// * A file whose only other corruption is a hash mismatch in its final
    ///   record (no valid record after it) loses that record when
    ///   `options.drop_corrupt_tail` is set.
    /// * Any other corruption is refused: valid data is never cut; salvage
    ///   the valid records into a new log instead.
    pub fn new(summary: &Summary, options: RepairOptions) -> RepairPlan {
        if let Some(first) = summary.first_corruption {
            let last = summary.last_corruption.unwrap_or(first);
            let final_record_mismatch = summary.corruptions == 1
                && matches!(last, Corruption::HashMismatch { .. })
                && summary.records_after_last_corruption == 0;
            let cut_over_zeros = matches!(
                last,
                Corruption::HashMismatch {
                    zeroed_sector: Some(_),
                    ..
                }
            ) && summary
                .torn
                .is_none_or(|tail| tail.reason == TornReason::ZeroFill);
            if final_record_mismatch && cut_over_zeros {
                let truncate_to = last.offset();
                return RepairPlan::DropTornAppend {
                    corruption: last,
                    truncate_to,
                    bytes: summary.file_len.saturating_sub(truncate_to),
                };
            }
            if options.drop_corrupt_tail && final_record_mismatch {
                let truncate_to = last.offset();
                return RepairPlan::DropCorruptTail {
                    corruption: last,
                    truncate_to,
                    bytes: summary.file_len.saturating_sub(truncate_to),
                };
            }
            return RepairPlan::Refuse {
                corruption: first,
                corruptions: summary.corruptions,
                final_record_only: final_record_mismatch,
            };
        }
        match summary.torn {
            Some(tail) => RepairPlan::TruncateTornTail { tail },
            None => RepairPlan::Nothing,
        }
    }

    /// The stable name: `"nothing"`, `"truncate_torn_tail"`,
    /// `"drop_torn_append"`, `"drop_corrupt_tail"` or `"refuse"`.
    pub const fn kind(&self) -> &'static str {
        match self {
            RepairPlan::Nothing => "nothing",
            RepairPlan::TruncateTornTail { .. } => "truncate_torn_tail",
            RepairPlan::DropTornAppend { .. } => "drop_torn_append",
            RepairPlan::DropCorruptTail { .. } => "drop_corrupt_tail",
            RepairPlan::Refuse { .. } => "refuse",
        }
    }

    /// Whether carrying out the plan changes the file.
    pub const fn changes_file(&self) -> bool {
        matches!(
            self,
            RepairPlan::TruncateTornTail { .. }
                | RepairPlan::DropTornAppend { .. }
                | RepairPlan::DropCorruptTail { .. }
        )
    }

    /// The file's length after the repair (`None` when it is refused).
    pub fn new_len(&self, summary: &Summary) -> Option<u64> {
        match self {
            RepairPlan::Nothing => Some(summary.file_len),
            RepairPlan::TruncateTornTail { tail } if tail.reason == TornReason::Magic => {
                Some(crate::pos_u64(plog_format::MAGIC_LEN))
            }
            RepairPlan::TruncateTornTail { tail } => Some(tail.offset),
            RepairPlan::DropTornAppend { truncate_to, .. }
            | RepairPlan::DropCorruptTail { truncate_to, .. } => Some(*truncate_to),
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
            RepairPlan::DropTornAppend {
                corruption,
                truncate_to,
                bytes,
            } => write!(
                f,
                "{corruption}; a write over preallocated zeros that a crash cut (never \
                 acknowledged): drop it, truncate to offset {truncate_to} (drop {bytes} bytes)"
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
