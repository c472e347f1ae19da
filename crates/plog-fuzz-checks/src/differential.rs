//! The `differential` target: the same bytes through every reading path of
//! plog-mmap must give the report of the sequential reference.

use std::io::Write as _;
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use plog_format::{
    Classification, Corruption, Event, IndexChecker, IndexOrder, IndexStats, IndexViolation,
    IndexViolationKind, MAGIC, RecoveryPolicy, Scanner, Step, Summary, TornReason, Walker,
    classify,
};
use plog_mmap::{
    Log, LostRange, MapPolicy, Omitted, OpenError, OpenOptions, Parallelism, RecoveryMode,
    VerifyOptions, VerifyReport,
};
use rayon::ThreadPool;

use crate::generate::log_from_recipe;

/// The thread counts the parallel verifier is run with (besides the current
/// pool): one, and more than this machine's cores.
const THREAD_COUNTS: [usize; 2] = [1, 3];

/// A shared pool of `threads` threads (1 or 3), built once per process.
pub(crate) fn pool(threads: usize) -> Arc<ThreadPool> {
    static POOLS: OnceLock<Vec<Arc<ThreadPool>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        THREAD_COUNTS
            .iter()
            .map(|&threads| {
                Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .expect("build a rayon pool"),
                )
            })
            .collect()
    });
    let position = THREAD_COUNTS
        .iter()
        .position(|&count| count == threads)
        .expect("a configured thread count");
    pools[position].clone()
}

/// The file the fuzz input stands for, and the options to verify it with.
struct Case {
    file: Vec<u8>,
    index_order: IndexOrder,
    mode: RecoveryMode,
    /// After how many events the streaming check stops early.
    stop_after: usize,
}

/// Reads the first byte as a selector: the input is the file (raw), a body
/// behind the magic, or a recipe for a large damaged log
/// ([`log_from_recipe`]); and which index order and recovery mode to check.
fn case_from(data: &[u8]) -> Case {
    let (selector, rest) = match data.split_first() {
        Some((&selector, rest)) => (selector, rest),
        None => (0, data),
    };
    // Raw bytes twice as often as the other shapes: they are the most
    // general, and a recipe costs as much as a hundred small inputs.
    let file = match selector % 4 {
        0 | 2 => rest.to_vec(),
        1 => {
            let mut file = MAGIC.to_vec();
            file.extend_from_slice(rest);
            file
        }
        _ => log_from_recipe(rest),
    };
    let index_order = match (selector / 4) % 3 {
        0 => IndexOrder::Any,
        1 => IndexOrder::Increasing,
        _ => IndexOrder::Contiguous,
    };
    let mode = match (selector / 12) % 3 {
        0 => RecoveryMode::TolerateTorn,
        1 => RecoveryMode::Strict,
        _ => RecoveryMode::Salvage,
    };
    Case {
        file,
        index_order,
        mode,
        stop_after: usize::from(selector / 36),
    }
}

/// Runs one input through every reading path of plog-mmap and checks that
/// all agree with the sequential reference. Panics only when one differs.
///
/// The paths: [`Log::from_bytes`], [`Log::read_from`], a file opened with
/// [`MapPolicy::Never`] (read into memory) and with [`MapPolicy::Auto`] and
/// no minimum length (memory-mapped); the pools: 1 thread, 3 threads and the
/// current pool. Every path holds the file's bytes and verifies to the
/// expected report; on the first path, for every pool:
///
/// * [`Log::verify`] equals the report built from plog-format's sequential
///   [`classify`] and an independent reading of [`VerifyReport`]'s docs
///   (index violations, lost ranges, `valid_end`, `passes`);
/// * [`Log::for_each_event`] yields exactly the events of the sequential
///   [`Scanner`], and stopping it early yields exactly their prefix;
/// * [`Log::for_each_event`] from a record boundary yields the suffix, and
///   [`Log::for_each_step`] the structural walk;
/// * [`Log::records`] yields the classification's records up to its first
///   corruption, then that corruption.
///
/// The input's first byte picks the shape (raw bytes, a body behind the
/// magic, or a recipe for a log of thousands of records, or of large
/// payloads, with damage, so that the verifier cuts several batches and
/// windows) and the options. A read limit one byte short of the file fails
/// with `too_large`.
///
/// ```
/// plog_fuzz_checks::differential(b"\x01garbage behind a valid magic");
/// ```
pub fn differential(data: &[u8]) {
    let case = case_from(data);
    let classification = classify(&case.file);
    let expected = expected_report(&classification, case.index_order, case.mode);
    let sequential: Vec<Event<'_>> = Scanner::new(&case.file).collect();
    let logs = logs(&case.file);
    let (first, others) = logs.split_first().expect("at least one reading path");
    // Every check, on every pool, for the first log; the others hold the same
    // bytes (checked), so one verification each, on a different pool, proves
    // that the backing (a vector, a read, a mapping) changes nothing.
    let sequential: Vec<String> = sequential.iter().map(describe).collect();
    check_log(first, &case, &expected, &sequential);
    for (log, parallelism) in others.iter().zip(parallelisms().into_iter().cycle()) {
        assert_bytes(log, &case.file);
        let options = VerifyOptions {
            index_order: case.index_order,
            mode: case.mode,
            parallelism: parallelism.clone(),
            ..VerifyOptions::default()
        };
        expected.check(
            &log.verify(&options).expect("the file does not change"),
            &format!("verify ({parallelism:?}, mapped: {})", log.is_mapped()),
        );
    }
}

/// An event as owned text: its `Debug` (offsets, index, lengths, hashes)
/// and, for a record, the BLAKE3 of the payload it hands out, so that two
/// streams compare equal only if they handed out the same bytes.
fn describe(event: &Event<'_>) -> String {
    match event {
        Event::Record(record) => format!("{record:?} {}", blake3::hash(record.payload())),
        other => format!("{other:?}"),
    }
}

/// The log's bytes are the file's.
fn assert_bytes(log: &Log, file: &[u8]) {
    let bytes = match log.in_memory() {
        Some(bytes) => bytes,
        // SAFETY: the temporary file is private to this check and nothing
        // changes it while the slice is compared.
        None => unsafe { log.bytes_unchecked() },
    };
    assert_eq!(bytes, file, "a reading path changed the bytes");
}

/// The same file through every way of opening it.
fn logs(file: &[u8]) -> Vec<Log> {
    let mut logs = vec![
        Log::from_bytes(file.to_vec()),
        Log::read_from(file, None).expect("reading from a slice cannot fail"),
    ];
    let mut on_disk = tempfile::NamedTempFile::new().expect("create a temporary file");
    on_disk.write_all(file).expect("write the temporary file");
    on_disk.flush().expect("flush the temporary file");
    let read = OpenOptions {
        map: MapPolicy::Never,
        ..OpenOptions::default()
    };
    let mapped = OpenOptions {
        map: MapPolicy::Auto,
        min_map_len: 0,
        ..OpenOptions::default()
    };
    let read_log = Log::open_with(on_disk.path(), &read).expect("open the file (read)");
    assert!(!read_log.is_mapped(), "MapPolicy::Never mapped the file");
    let mapped_log = Log::open_with(on_disk.path(), &mapped).expect("open the file (mapped)");
    if !file.is_empty() {
        assert!(
            mapped_log.is_mapped(),
            "MapPolicy::Auto did not map a regular file"
        );
    }
    logs.push(read_log);
    logs.push(mapped_log);
    // A read limit is enforced to the byte.
    let len = file.len() as u64;
    let exact = OpenOptions {
        read_limit: Some(len),
        ..read
    };
    let exact_log = Log::open_with(on_disk.path(), &exact).expect("a file at the read limit opens");
    assert_eq!(exact_log.in_memory(), Some(file));
    if let Some(limit) = len.checked_sub(1) {
        let short = OpenOptions {
            read_limit: Some(limit),
            ..read
        };
        match Log::open_with(on_disk.path(), &short) {
            Err(OpenError::TooLarge { limit: found, .. }) => assert_eq!(found, limit),
            Err(other) => panic!("expected too_large past the read limit, found {other}"),
            Ok(_) => panic!("a file longer than the read limit was opened"),
        }
        assert!(matches!(
            Log::read_from(file, Some(limit)),
            Err(OpenError::TooLarge { .. })
        ));
    }
    logs
}

fn parallelisms() -> [Parallelism; 3] {
    [
        Parallelism::Pool(pool(THREAD_COUNTS[0])),
        Parallelism::Pool(pool(THREAD_COUNTS[1])),
        Parallelism::Current,
    ]
}

fn check_log(log: &Log, case: &Case, expected: &ExpectedReport, sequential: &[String]) {
    assert_bytes(log, &case.file);
    for parallelism in parallelisms() {
        let options = VerifyOptions {
            index_order: case.index_order,
            mode: case.mode,
            parallelism: parallelism.clone(),
            ..VerifyOptions::default()
        };
        let report = log.verify(&options).expect("the file does not change");
        expected.check(&report, &format!("verify ({parallelism:?})"));

        let mut streamed = Vec::with_capacity(sequential.len());
        let flow = log.for_each_event(0, &parallelism, |event| {
            streamed.push(describe(&event));
            ControlFlow::Continue(())
        });
        assert_eq!(flow, Ok(ControlFlow::Continue(())));
        assert_eq!(
            streamed, sequential,
            "for_each_event ({parallelism:?}) differs"
        );

        let stop_after = case.stop_after.min(sequential.len());
        let mut prefix = Vec::new();
        let flow = log.for_each_event(0, &parallelism, |event| {
            if prefix.len() == stop_after {
                return ControlFlow::Break(());
            }
            prefix.push(describe(&event));
            ControlFlow::Continue(())
        });
        let stopped = stop_after < sequential.len();
        assert_eq!(
            flow.expect("the file does not change").is_break(),
            stopped,
            "for_each_event's flow after {stop_after} events"
        );
        assert_eq!(
            prefix,
            sequential[..stop_after],
            "an early stop changed the events"
        );
    }
    check_resumed_stream(log, &case.file, sequential);
    check_records(&case.file);
    check_steps(log, &case.file);
}

/// `for_each_event` from the end of the first and the last record.
fn check_resumed_stream(log: &Log, file: &[u8], sequential: &[String]) {
    let boundaries: Vec<(usize, u64)> = Scanner::new(file)
        .enumerate()
        .filter_map(|(position, event)| match event {
            Event::Record(record) => Some((position + 1, record.end_offset())),
            _ => None,
        })
        .collect();
    for &(next, offset) in [boundaries.first(), boundaries.last()]
        .into_iter()
        .flatten()
    {
        let mut resumed = Vec::new();
        let flow = log
            .for_each_event(offset, &Parallelism::Pool(pool(3)), |event| {
                resumed.push(describe(&event));
                ControlFlow::Continue(())
            })
            .expect("a record boundary lies inside the file");
        assert_eq!(flow, ControlFlow::Continue(()));
        assert_eq!(
            resumed,
            sequential[next..],
            "resuming at {offset} changed the events"
        );
    }
    assert!(
        log.for_each_event(log.len() + 1, &Parallelism::Current, |_| {
            ControlFlow::Continue(())
        })
        .is_err()
    );
}

/// [`Log::for_each_step`] hands out the structural walk's steps, each
/// record's bytes included.
fn check_steps(log: &Log, file: &[u8]) {
    let describe_step = |step: &Step<'_>| match step {
        Step::Record(record) => format!("{record:?} {}", blake3::hash(record.payload())),
        other => format!("{other:?}"),
    };
    let want: Vec<String> = Walker::new(file).map(|step| describe_step(&step)).collect();
    let mut got = Vec::new();
    let flow = log
        .for_each_step(0, &Parallelism::Pool(pool(3)), |step| {
            got.push(describe_step(&step));
            ControlFlow::Continue(())
        })
        .expect("the file does not change");
    assert_eq!(flow, ControlFlow::Continue(()));
    assert_eq!(got, want, "for_each_step differs from the walk");
}

/// [`Log::records`] yields the sequential classification's valid records
/// (offset, index, payload) up to its first corruption, then that
/// corruption as its one error; a torn tail ends it quietly.
fn check_records(file: &[u8]) {
    let mut want = Vec::new();
    let mut want_error = None;
    for event in Scanner::new(file) {
        match event {
            Event::Record(r) => want.push((r.offset(), r.index(), r.payload().to_vec())),
            Event::Corrupt(corruption) => {
                want_error = Some(corruption);
                break;
            }
            Event::Torn(_) => break,
        }
    }
    let log = Log::from_bytes(file.to_vec());
    let mut found = Vec::new();
    let mut found_error = None;
    let mut items = log.records().expect("a log in memory is iterable");
    for item in items.by_ref() {
        match item {
            Ok(r) => found.push((r.offset(), r.index(), r.payload().to_vec())),
            Err(plog_mmap::ReplayError::Corrupt(corruption)) => {
                found_error = Some(corruption);
                break;
            }
            Err(other) => panic!("Log::records failed without a corruption: {other}"),
        }
    }
    assert!(
        items.next().is_none(),
        "Log::records yields nothing after its error"
    );
    assert_eq!(found, want, "Log::records differs from the classification");
    assert_eq!(
        found_error, want_error,
        "Log::records ends at another corruption"
    );
}

/// The report [`Log::verify`] must give, computed literally from the
/// sequential classification and the documentation of each field of
/// plog-format's `Summary` and `Findings` (not with their `Fold`).
#[derive(Debug)]
pub(crate) struct ExpectedReport {
    summary: Summary,
    corruptions: Vec<Corruption>,
    index_violations: Vec<IndexViolation>,
    lost: Vec<LostRange>,
    policy: RecoveryPolicy,
}

impl ExpectedReport {
    /// Panics unless `report` is this, naming `what`.
    pub(crate) fn check(&self, report: &VerifyReport, what: &str) {
        assert_eq!(report.summary, self.summary, "{what}: summary");
        assert_eq!(
            report.findings.corruptions, self.corruptions,
            "{what}: corruptions"
        );
        assert_eq!(
            report.findings.index_violations, self.index_violations,
            "{what}: index violations"
        );
        assert_eq!(report.findings.lost, self.lost, "{what}: lost ranges");
        assert_eq!(
            report.findings.omitted,
            Omitted::default(),
            "{what}: omitted"
        );
        assert_eq!(report.policy, self.policy, "{what}: policy");
        assert_eq!(report.passes(), self.passes(), "{what}: passes");
    }

    /// Forgets the lost ranges (for a replay from an index, whose skipped
    /// records the oracle cannot place).
    pub(crate) fn clear_lost(&mut self) {
        self.lost.clear();
    }

    /// Whether the file passes, from the documented rules of each mode.
    fn passes(&self) -> bool {
        let clean = self.corruptions.is_empty() && self.index_violations.is_empty();
        match self.policy.mode {
            RecoveryMode::TolerateTorn => clean,
            RecoveryMode::Strict => clean && self.summary.torn.is_none(),
            RecoveryMode::Salvage => !self.corruptions.iter().any(Corruption::is_magic),
            other => panic!("a recovery mode this oracle does not define: {other:?}"),
        }
    }
}

pub(crate) fn expected_report(
    classification: &Classification,
    index_order: IndexOrder,
    mode: RecoveryMode,
) -> ExpectedReport {
    let file_len = classification.file_len;
    let records = &classification.records;
    let corruptions = &classification.corruptions;
    let magic_damaged = corruptions.iter().any(Corruption::is_magic)
        || classification
            .torn
            .is_some_and(|tail| tail.reason == TornReason::Magic);
    let mut checker = IndexChecker::new(index_order);
    let index_violations = records
        .iter()
        .filter_map(|record| checker.check(record.offset, record.index))
        .collect();
    // Index statistics, pair by pair.
    let mut indices = IndexStats::new();
    for pair in records.windows(2) {
        let (previous, next) = (pair[0].index, pair[1].index);
        let violation = |kind| IndexViolation {
            offset: pair[1].offset,
            index: next,
            previous_index: previous,
            order: IndexOrder::Contiguous,
            kind,
        };
        if next == previous {
            indices.repeats += 1;
            indices
                .first_order
                .get_or_insert(violation(IndexViolationKind::Order));
        } else if next < previous {
            indices.decreases += 1;
            indices
                .first_order
                .get_or_insert(violation(IndexViolationKind::Order));
        } else if next - previous > 1 {
            indices.gaps += 1;
            indices.indices_skipped = indices.indices_skipped.saturating_add(next - previous - 1);
            indices
                .first_gap
                .get_or_insert(violation(IndexViolationKind::Gap));
        }
    }
    indices.min_index = records.iter().map(|r| r.index).min();
    indices.max_index = records.iter().map(|r| r.index).max();
    let last_corruption = corruptions.last().copied();
    let summary = Summary {
        file_len,
        records: records.len() as u64,
        payload_bytes: records.iter().map(|r| r.payload_len).sum(),
        first_index: records.first().map(|r| r.index),
        last_index: records.last().map(|r| r.index),
        records_end: match records.last() {
            Some(r) => r.offset + 48 + r.payload_len,
            None if magic_damaged => 0,
            None => MAGIC.len() as u64,
        },
        torn: classification.torn,
        corruptions: corruptions.len() as u64,
        first_corruption: corruptions.first().copied(),
        last_corruption,
        records_after_last_corruption: match last_corruption {
            Some(c) => records.iter().filter(|r| r.offset > c.offset()).count() as u64,
            None => records.len() as u64,
        },
        indices,
    };
    ExpectedReport {
        summary,
        corruptions: corruptions.clone(),
        index_violations,
        lost: lost_ranges(classification),
        policy: RecoveryPolicy::new(mode, index_order),
    }
}

fn lost_ranges(classification: &Classification) -> Vec<LostRange> {
    // Every finding as (offset, what), in file order.
    enum Finding {
        Record(u64),
        Corruption,
        Torn,
    }
    let mut findings: Vec<(u64, Finding)> = Vec::new();
    findings.extend(
        classification
            .records
            .iter()
            .map(|r| (r.offset, Finding::Record(r.index))),
    );
    findings.extend(
        classification
            .corruptions
            .iter()
            .map(|c| (c.offset(), Finding::Corruption)),
    );
    findings.extend(classification.torn.map(|t| (t.offset, Finding::Torn)));
    findings.sort_by_key(|(offset, _)| *offset);

    let mut ranges = Vec::new();
    let mut previous_index = None;
    let mut open: Option<LostRange> = None;
    for (offset, finding) in findings {
        match finding {
            Finding::Record(index) => {
                if let Some(mut range) = open.take() {
                    range.end = offset;
                    range.next_index = Some(index);
                    ranges.push(range);
                }
                previous_index = Some(index);
            }
            Finding::Corruption => match &mut open {
                Some(range) => range.corruptions += 1,
                None => {
                    open = Some(LostRange {
                        offset,
                        end: classification.file_len,
                        corruptions: 1,
                        previous_index,
                        next_index: None,
                    });
                }
            },
            Finding::Torn => {
                if let Some(mut range) = open.take() {
                    range.end = offset;
                    ranges.push(range);
                }
            }
        }
    }
    ranges.extend(open);
    ranges
}
