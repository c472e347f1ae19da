//! One pass over a log's events that yields its [`VerifyReport`] plus what
//! the report lacks and `plog verify` shows: the smallest and largest index,
//! and progress by bytes as the pass goes (plog-mmap's `Log::verify` has no
//! progress hook; see the report to the lead). Tested equal to
//! `Log::verify` on the corpus and on generated logs.

use std::ops::ControlFlow;

use plog_format::{Corruption, Event, IndexChecker};
use plog_mmap::{LostRange, Omitted, VerifyOptions, VerifyReport};

/// A report and the index range of the valid records.
#[derive(Debug)]
pub struct Scanned {
    /// What `Log::verify` reports.
    pub report: VerifyReport,
    /// The smallest index of a valid record.
    pub min_index: Option<u64>,
    /// The largest index of a valid record.
    pub max_index: Option<u64>,
}

/// Keeps `item` while `list` is below `limit`, else counts it as omitted.
fn keep<T>(list: &mut Vec<T>, omitted: &mut u64, limit: usize, item: T) {
    if list.len() < limit {
        list.push(item);
    } else {
        *omitted = omitted.saturating_add(1);
    }
}

/// Verifies `bytes` of a log through `for_each_event`, calling `progress`
/// with the offset reached (non-decreasing) now and then and with the file
/// length at the end.
pub fn scan(
    log: &plog_mmap::Log,
    options: &VerifyOptions,
    mut progress: impl FnMut(u64),
) -> Scanned {
    let file_len = log.len();
    let limit = options.list_limit.max(1);
    let mut report = VerifyReport {
        file_len,
        records: 0,
        payload_bytes: 0,
        first_index: None,
        last_index: None,
        last_record_end: None,
        valid_end: file_len,
        torn: None,
        corruptions: Vec::new(),
        index_order: options.index_order,
        index_violations: Vec::new(),
        lost: Vec::new(),
        mode: options.mode,
        omitted: Omitted::default(),
    };
    let (mut min_index, mut max_index) = (None::<u64>, None::<u64>);
    let mut checker = IndexChecker::new(options.index_order);
    let mut open_loss: Option<LostRange> = None;
    // Progress is reported every MiB, not per record.
    const STEP: u64 = 1 << 20;
    let mut reported = 0u64;
    let _complete = log.for_each_event(&options.parallelism, |event| {
        match event {
            Event::Record(record) => {
                let index = record.index();
                report.records += 1;
                report.payload_bytes = report.payload_bytes.saturating_add(record.payload_len());
                report.first_index.get_or_insert(index);
                report.last_index = Some(index);
                report.last_record_end = Some(record.end_offset());
                min_index = Some(min_index.map_or(index, |m| m.min(index)));
                max_index = Some(max_index.map_or(index, |m| m.max(index)));
                if let Some(mut loss) = open_loss.take() {
                    loss.next_index = Some(index);
                    keep(&mut report.lost, &mut report.omitted.lost, limit, loss);
                }
                if let Some(violation) = checker.check(record.offset(), index) {
                    keep(
                        &mut report.index_violations,
                        &mut report.omitted.index_violations,
                        limit,
                        violation,
                    );
                }
                if record.end_offset() >= reported.saturating_add(STEP) {
                    reported = record.end_offset();
                    progress(reported);
                }
            }
            Event::Corrupt(corruption) => {
                keep(
                    &mut report.corruptions,
                    &mut report.omitted.corruptions,
                    limit,
                    corruption,
                );
                if matches!(
                    corruption,
                    Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
                ) {
                    report.valid_end = 0;
                }
                let (start, end) = corruption.lost_range();
                let end = end.unwrap_or(file_len);
                match &mut open_loss {
                    Some(loss) => {
                        loss.end = loss.end.max(end);
                        loss.corruptions += 1;
                    }
                    None => {
                        open_loss = Some(LostRange {
                            offset: start,
                            end,
                            corruptions: 1,
                            previous_index: report.last_index,
                            next_index: None,
                        });
                    }
                }
            }
            Event::Torn(tail) => {
                report.torn = Some(tail);
                report.valid_end = tail.offset;
            }
        }
        ControlFlow::Continue(())
    });
    if let Some(loss) = open_loss {
        keep(&mut report.lost, &mut report.omitted.lost, limit, loss);
    }
    progress(file_len);
    Scanned {
        report,
        min_index,
        max_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plog_format::IndexOrder;
    use plog_mmap::{Log, RecoveryMode};

    fn logs() -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = plog_testdata::corpus()
            .into_iter()
            .map(|file| std::fs::read(&file.path).unwrap())
            .collect();
        // Generated: damage every fifth record one way or another.
        let mut bytes = plog_format::MAGIC.to_vec();
        for i in 0..200u64 {
            let start = bytes.len();
            plog_format::encode_record_to_vec(
                i * 7 % 23,
                format!("{{\"i\":{i}}}").as_bytes(),
                &mut bytes,
            );
            match i % 5 {
                1 => *bytes.last_mut().unwrap() ^= 1,
                3 if i % 3 == 0 => bytes[start + 9] ^= 0x40,
                _ => {}
            }
        }
        bytes.extend_from_slice(&[0, 0, 0]);
        all.push(bytes);
        all
    }

    #[test]
    fn progress_moves_within_a_file() {
        let mut bytes = plog_format::MAGIC.to_vec();
        let payload = vec![b'1'; 1 << 20];
        for i in 1..=4 {
            plog_format::encode_record_to_vec(i, &payload, &mut bytes);
        }
        let log = Log::from_bytes(bytes);
        let mut seen = Vec::new();
        let _ = scan(&log, &VerifyOptions::default(), |at| seen.push(at));
        assert!(seen.len() >= 4, "{seen:?}");
        assert!(
            seen.iter().any(|&at| at > 0 && at < log.len() / 2),
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&log.len()));
    }

    #[test]
    fn the_scan_reports_what_log_verify_reports() {
        for bytes in logs() {
            let mut sorted: Vec<u64> = plog_format::classify(&bytes)
                .records
                .iter()
                .map(|r| r.index)
                .collect();
            sorted.sort_unstable();
            let log = Log::from_bytes(bytes);
            for index_order in [
                IndexOrder::Any,
                IndexOrder::Increasing,
                IndexOrder::Contiguous,
            ] {
                for list_limit in [1, 3, 1_000_000] {
                    let options = VerifyOptions {
                        index_order,
                        mode: RecoveryMode::Salvage,
                        list_limit,
                        ..VerifyOptions::default()
                    };
                    let mut last = 0;
                    let scanned = scan(&log, &options, |at| {
                        assert!(at >= last);
                        last = at;
                    });
                    assert_eq!(last, log.len());
                    assert_eq!(scanned.report, log.verify(&options));
                    assert_eq!(scanned.min_index, sorted.first().copied());
                    assert_eq!(scanned.max_index, sorted.last().copied());
                }
            }
        }
    }
}
