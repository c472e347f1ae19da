//! The open-time walk of a whole log, and the repair it calls for.

use core::fmt;
use std::fs::File;
use std::ops::ControlFlow;
use std::path::Path;

use plog_mmap::{Log, MapPolicy, OpenError, OpenOptions, Parallelism};

use plog_format::{
    Corruption, Event, IndexChecker, IndexOrder, IndexViolation, MAGIC_LEN, Magic, Scanner, Status,
    TornReason, TornTail, check_magic,
};

use crate::WriteError;

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

/// The open-time walk of a file the caller holds open (under the writer
/// lock): mapped when it is large, read otherwise, hashed across the
/// current rayon pool by plog-mmap, and reduced to what a writer and a
/// repair need. Its findings are FORMAT.md's classification in file order,
/// exactly those of [`plog_format::Scanner`] (plog-mmap's property tests),
/// so this equals [`scan_log`] of the file's bytes; nothing of the file is
/// copied when it is mapped.
///
/// The mapping is dropped before this returns, so a repair that truncates
/// the file afterwards never cuts pages from under it.
pub(crate) fn scan_file(file: &File, path: &Path) -> Result<Inspection, WriteError> {
    let handle = file
        .try_clone()
        .map_err(|e| WriteError::io(path, "duplicate the log's file handle", e))?;
    let log =
        Log::from_file(handle, path, &OpenOptions::default()).map_err(|e| read_error(path, e))?;
    scan_events(&log, path)
}

/// [`scan_file`] for a log read by path without the lock (a dry run): the
/// file is read, never mapped, so that a writer truncating it meanwhile
/// cannot fault this process.
pub(crate) fn scan_path(path: &Path) -> Result<Inspection, WriteError> {
    let options = OpenOptions {
        map: MapPolicy::Never,
        ..OpenOptions::default()
    };
    let log = Log::open_with(path, &options).map_err(|e| read_error(path, e))?;
    scan_events(&log, path)
}

fn read_error(path: &Path, error: OpenError) -> WriteError {
    match error {
        OpenError::Io { source, .. } => WriteError::io(path, "read the log", source),
        other => WriteError::io(path, "read the log", std::io::Error::other(other)),
    }
}

fn scan_events(log: &Log, path: &Path) -> Result<Inspection, WriteError> {
    let mut scan = Scan::new(log.len(), None);
    let _ = log
        .for_each_event(0, &Parallelism::Current, |event| {
            scan.event(event);
            ControlFlow::Continue(())
        })
        .map_err(|error| WriteError::io(path, "read the log", std::io::Error::other(error)))?;
    Ok(scan.finish())
}

/// The open-time walk of bytes in memory, with the sequential
/// [`plog_format::Scanner`] (the reference that [`scan_file`] equals).
pub(crate) fn scan_log(data: &[u8]) -> Inspection {
    let mut scan = Scan::new(crate::pos_u64(data.len()), Some(data));
    for event in Scanner::new(data) {
        scan.event(event);
    }
    scan.finish()
}

/// An [`Inspection`] built from a walk's events, in file order.
struct Scan {
    out: Inspection,
    increasing: IndexChecker,
    contiguous: IndexChecker,
}

impl Scan {
    fn new(file_len: u64, data: Option<&[u8]>) -> Scan {
        let mut out = Inspection {
            file_len,
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
        if data.is_some_and(|data| check_magic(data) == Magic::V1) {
            out.valid_end = crate::pos_u64(MAGIC_LEN);
        }
        Scan {
            out,
            increasing: IndexChecker::new(IndexOrder::Increasing),
            contiguous: IndexChecker::new(IndexOrder::Contiguous),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        let out = &mut self.out;
        match event {
            Event::Record(record) => {
                out.records += 1;
                out.records_after_last_corruption += 1;
                out.first_index.get_or_insert(record.index());
                out.last_index = Some(record.index());
                out.valid_end = record.end_offset();
                out.increasing_violations
                    .record(self.increasing.check(record.offset(), record.index()));
                out.contiguous_violations
                    .record(self.contiguous.check(record.offset(), record.index()));
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

    /// The inspection; a file with no valid record whose magic is v1 ends
    /// its valid data at the magic's end.
    fn finish(mut self) -> Inspection {
        let out = &mut self.out;
        let magic_damaged = matches!(
            out.first_corruption,
            Some(Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. })
        ) || out.torn.is_some_and(|t| t.reason == TornReason::Magic);
        if out.records == 0 && !magic_damaged && out.file_len >= crate::pos_u64(MAGIC_LEN) {
            out.valid_end = crate::pos_u64(MAGIC_LEN);
        }
        self.out
    }
}
