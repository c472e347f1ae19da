//! The report that the sequential oracle (`plog_format::classify`) implies,
//! built independently of plog-mmap's `ReportBuilder`.
//!
//! Shared by the crate's property tests (`src/tests.rs`, which see it
//! through `extern crate self as plog_mmap`) and the integration tests
//! (`tests/read.rs`), so that both compare against one oracle.

use plog_format::{Classification, Corruption, HEADER_LEN, IndexChecker, IndexOrder, classify};
use plog_mmap::{LostRange, Omitted, RecoveryMode, VerifyReport};

/// The [`VerifyReport`] that `classify(data)` implies for `order` and `mode`.
pub fn oracle_report(data: &[u8], order: IndexOrder, mode: RecoveryMode) -> VerifyReport {
    let c: Classification = classify(data);
    let mut checker = IndexChecker::new(order);
    let index_violations = c
        .records
        .iter()
        .filter_map(|r| checker.check(r.offset, r.index))
        .collect();
    let magic_bad = c.corruptions.iter().any(|c| {
        matches!(
            c,
            Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
        )
    });
    VerifyReport {
        file_len: c.file_len,
        records: c.records.len() as u64,
        payload_bytes: c.records.iter().map(|r| r.payload_len).sum(),
        first_index: c.first_index(),
        last_index: c.last_index(),
        last_record_end: c
            .records
            .last()
            .map(|r| r.offset + HEADER_LEN as u64 + r.payload_len),
        valid_end: match (c.torn, magic_bad) {
            (Some(t), _) => t.offset,
            (None, true) => 0,
            (None, false) => c.file_len,
        },
        torn: c.torn,
        lost: oracle_lost(&c),
        corruptions: c.corruptions,
        index_order: order,
        index_violations,
        mode,
        omitted: Omitted::default(),
    }
}

/// Groups corruptions with no valid record between them.
fn oracle_lost(c: &Classification) -> Vec<LostRange> {
    let mut out: Vec<LostRange> = Vec::new();
    for corruption in &c.corruptions {
        let (start, end) = corruption.lost_range();
        let end = end.unwrap_or(c.file_len);
        let records_before = c.records.partition_point(|r| r.offset < start);
        if let Some(last) = out.last_mut() {
            let records_before_last = c.records.partition_point(|r| r.offset < last.offset);
            if records_before_last == records_before {
                last.end = last.end.max(end);
                last.corruptions += 1;
                continue;
            }
        }
        out.push(LostRange {
            offset: start,
            end,
            corruptions: 1,
            previous_index: records_before.checked_sub(1).map(|i| c.records[i].index),
            next_index: c.records.get(records_before).map(|r| r.index),
        });
    }
    out
}

/// `report` with each list cut to its first `limit` entries (at least one)
/// and the rest counted in `omitted`: what a `list_limit` must give.
pub fn limited(mut report: VerifyReport, limit: usize) -> VerifyReport {
    fn cut<T>(list: &mut Vec<T>, limit: usize) -> u64 {
        let omitted = list.len().saturating_sub(limit) as u64;
        list.truncate(limit);
        omitted
    }
    let limit = limit.max(1);
    report.omitted = Omitted {
        corruptions: cut(&mut report.corruptions, limit),
        index_violations: cut(&mut report.index_violations, limit),
        lost: cut(&mut report.lost, limit),
    };
    report
}
