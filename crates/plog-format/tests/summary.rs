//! The one model (Fold, Summary, ValidRun, RecoveryPolicy, Verdict, Findings)
//! against a literal reading: the events collected into vectors and every
//! number computed the obvious way.

use plog_format::{
    Corruption, Event, Finding, Findings, Fold, IndexChecker, IndexOrder, IndexStats,
    IndexViolation, IndexViolationKind, LostRange, MAGIC, MAGIC_LEN, Problem, Record, RecoveryMode,
    RecoveryPolicy, Scanner, Summary, TornTail, ValidRun, Verdict, classify, summarize,
};
use proptest::prelude::*;

mod common;
use common::{build, damaged_log, indices, payload};

const ORDERS: [IndexOrder; 3] = [
    IndexOrder::Any,
    IndexOrder::Increasing,
    IndexOrder::Contiguous,
];
const MODES: [RecoveryMode; 3] = [
    RecoveryMode::TolerateTorn,
    RecoveryMode::Strict,
    RecoveryMode::Salvage,
];

fn policies() -> impl Iterator<Item = RecoveryPolicy> {
    MODES.into_iter().flat_map(|mode| {
        ORDERS
            .into_iter()
            .map(move |order| RecoveryPolicy::new(mode, order))
    })
}

/// The events of a walk, split by kind.
struct Collected<'a> {
    events: Vec<Event<'a>>,
    records: Vec<Record<'a>>,
    corruptions: Vec<Corruption>,
    torn: Option<TornTail>,
}

fn collect(data: &[u8]) -> Collected<'_> {
    let events: Vec<Event<'_>> = Scanner::new(data).collect();
    let records = events
        .iter()
        .filter_map(|e| match e {
            Event::Record(r) => Some(*r),
            _ => None,
        })
        .collect();
    let corruptions = events
        .iter()
        .filter_map(|e| match e {
            Event::Corrupt(c) => Some(*c),
            _ => None,
        })
        .collect();
    let torn = events.iter().find_map(|e| match e {
        Event::Torn(t) => Some(*t),
        _ => None,
    });
    Collected {
        events,
        records,
        corruptions,
        torn,
    }
}

fn is_magic(c: &Corruption) -> bool {
    matches!(
        c,
        Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
    )
}

/// How `next` follows `previous`, in u128 so nothing wraps.
fn naive_kind(previous: u64, next: u64) -> Option<IndexViolationKind> {
    let (p, n) = (u128::from(previous), u128::from(next));
    if n == p + 1 {
        None
    } else if n > p + 1 {
        Some(IndexViolationKind::Gap)
    } else {
        Some(IndexViolationKind::Order)
    }
}

/// Whether `next` after `previous` breaks `order`, read from its definition.
fn naive_breaks(order: IndexOrder, previous: u64, next: u64) -> bool {
    match order {
        IndexOrder::Any => false,
        IndexOrder::Increasing => next <= previous,
        IndexOrder::Contiguous => u128::from(next) != u128::from(previous) + 1,
        other => panic!("an index order this oracle does not define: {other:?}"),
    }
}

fn naive_violation(order: IndexOrder, pair: &[Record<'_>]) -> Option<IndexViolation> {
    let (previous, next) = (pair[0].index(), pair[1].index());
    naive_breaks(order, previous, next).then(|| IndexViolation {
        offset: pair[1].offset(),
        index: next,
        previous_index: previous,
        order,
        kind: naive_kind(previous, next).expect("a broken order is a gap or an order"),
    })
}

/// The summary, computed from the collected events the obvious way.
fn naive_summary(data: &[u8]) -> Summary {
    let c = collect(data);
    let magic_ok = data.starts_with(&MAGIC);
    let mut indices = IndexStats::default();
    for pair in c.records.windows(2) {
        let (p, n) = (pair[0].index(), pair[1].index());
        let violation = naive_violation(IndexOrder::Contiguous, pair);
        if u128::from(n) > u128::from(p) + 1 {
            indices.gaps += 1;
            indices.indices_skipped = indices.indices_skipped.saturating_add(n - p - 1);
            indices.first_gap = indices.first_gap.or(violation);
        } else if n == p {
            indices.repeats += 1;
            indices.first_order = indices.first_order.or(violation);
        } else if n < p {
            indices.decreases += 1;
            indices.first_order = indices.first_order.or(violation);
        }
    }
    indices.min_index = c.records.iter().map(|r| r.index()).min();
    indices.max_index = c.records.iter().map(|r| r.index()).max();
    Summary {
        file_len: data.len() as u64,
        records: c.records.len() as u64,
        payload_bytes: c.records.iter().map(|r| r.payload_len()).sum(),
        first_index: c.records.first().map(|r| r.index()),
        last_index: c.records.last().map(|r| r.index()),
        records_end: match (magic_ok, c.records.last()) {
            (false, _) => 0,
            (true, None) => MAGIC_LEN as u64,
            (true, Some(r)) => r.end_offset(),
        },
        torn: c.torn,
        corruptions: c.corruptions.len() as u64,
        first_corruption: c.corruptions.first().copied(),
        last_corruption: c.corruptions.last().copied(),
        records_after_last_corruption: match c.corruptions.last() {
            Some(last) => c
                .records
                .iter()
                .filter(|r| r.offset() > last.offset())
                .count() as u64,
            None => c.records.len() as u64,
        },
        indices,
    }
}

/// FORMAT.md plus the policy's wording, read literally over the events.
fn naive_verdict(data: &[u8], policy: RecoveryPolicy) -> Verdict {
    let c = collect(data);
    let (mode, order) = (policy.mode, policy.index_order);
    let salvage = mode == RecoveryMode::Salvage;
    let mut previous: Option<Record<'_>> = None;
    let mut broke_order = false;
    for event in &c.events {
        match event {
            Event::Record(r) => {
                if let Some(p) = previous
                    && let Some(v) = naive_violation(order, &[p, *r])
                {
                    broke_order = true;
                    if !salvage {
                        return Verdict::Rejected(Problem::Index(v));
                    }
                }
                previous = Some(*r);
            }
            Event::Corrupt(corruption) => {
                if !salvage || is_magic(corruption) {
                    return Verdict::Rejected(Problem::Corrupt(*corruption));
                }
            }
            Event::Torn(tail) => {
                if mode == RecoveryMode::Strict {
                    return Verdict::Rejected(Problem::Torn(*tail));
                }
            }
        }
    }
    match (salvage, c.torn) {
        (true, torn) if !c.corruptions.is_empty() || broke_order || torn.is_some() => {
            Verdict::Salvaged
        }
        (true, _) => Verdict::Clean,
        (false, Some(tail)) => Verdict::TornTolerated(tail),
        (false, None) => Verdict::Clean,
    }
}

/// The fold of every event one by one, and the findings it returned.
fn fold_events(data: &[u8]) -> (Summary, Vec<Finding>) {
    let mut fold = Fold::new(data.len() as u64);
    let findings = Scanner::new(data).map(|e| fold.event(&e)).collect();
    (fold.finish(), findings)
}

/// Groups corruptions with no valid record between them (the lost-range
/// rule, read over the collected events).
fn naive_lost(data: &[u8]) -> Vec<LostRange> {
    let c = collect(data);
    let mut out: Vec<LostRange> = Vec::new();
    for corruption in &c.corruptions {
        let (start, end) = corruption.lost_range();
        let end = end.unwrap_or(data.len() as u64);
        let before = c.records.partition_point(|r| r.offset() < start);
        if let Some(last) = out.last_mut()
            && c.records.partition_point(|r| r.offset() < last.offset) == before
        {
            last.end = last.end.max(end);
            last.corruptions += 1;
            continue;
        }
        out.push(LostRange {
            offset: start,
            end,
            corruptions: 1,
            previous_index: before.checked_sub(1).map(|i| c.records[i].index()),
            next_index: c.records.get(before).map(|r| r.index()),
        });
    }
    out
}

/// Cuts `list` to `limit` and returns how many were cut.
fn cut<T>(mut list: Vec<T>, limit: usize) -> (Vec<T>, u64) {
    let omitted = list.len().saturating_sub(limit) as u64;
    list.truncate(limit);
    (list, omitted)
}

/// Folds the events with runs: records go into runs cut where `splits`
/// says (cycled), every other event one by one. Returns the summary, and
/// for each run the stats `valid_run` returned with the findings the
/// one-by-one fold gave for its records.
fn fold_in_runs<'a>(
    data: &'a [u8],
    splits: &[bool],
    mut each_run: impl FnMut(&ValidRun, IndexStats, &[Record<'a>]),
) -> Summary {
    let mut fold = Fold::new(data.len() as u64);
    let mut run = ValidRun::new();
    let mut members: Vec<Record<'a>> = Vec::new();
    let mut flush = |fold: &mut Fold, run: &mut ValidRun, members: &mut Vec<Record<'a>>| {
        let joined = fold.valid_run(run);
        if !run.is_empty() {
            each_run(run, joined, members);
        }
        *run = ValidRun::new();
        members.clear();
    };
    let mut splits = splits.iter().copied().cycle();
    for event in Scanner::new(data) {
        match event {
            Event::Record(record) => {
                if splits.next().unwrap_or(false) {
                    flush(&mut fold, &mut run, &mut members);
                }
                run.push(&record);
                members.push(record);
            }
            other => {
                flush(&mut fold, &mut run, &mut members);
                fold.event(&other);
            }
        }
    }
    flush(&mut fold, &mut run, &mut members);
    fold.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn fold_equals_the_literal_summary(data in damaged_log()) {
        let (summary, findings) = fold_events(&data);
        prop_assert_eq!(summary, naive_summary(&data));
        prop_assert_eq!(summary.magic_ok(), summary.records_end != 0);
        prop_assert_eq!(summary.magic_ok(), data.starts_with(&MAGIC));
        if summary.corruptions == 0 {
            let end = summary.torn.map_or(summary.file_len, |t| t.offset);
            prop_assert_eq!(summary.records_end, end);
        }
        // The findings are in file order.
        for pair in findings.windows(2) {
            prop_assert!(pair[0].offset() < pair[1].offset());
        }
        // Each order's violations are exactly its kinds.
        let s = summary.indices;
        prop_assert_eq!(s.violations(IndexOrder::Any), 0);
        prop_assert_eq!(s.violations(IndexOrder::Increasing), s.repeats + s.decreases);
        prop_assert_eq!(s.violations(IndexOrder::Contiguous), s.gaps + s.repeats + s.decreases);
        // ... and agree with IndexChecker (IndexOrder::admits) record by record.
        let records = collect(&data).records;
        for order in ORDERS {
            let mut checker = IndexChecker::new(order);
            let want: Vec<IndexViolation> = records
                .iter()
                .filter_map(|r| checker.check(r.offset(), r.index()))
                .collect();
            prop_assert_eq!(s.violations(order), want.len() as u64);
            prop_assert_eq!(s.first_violation(order), want.first().copied());
        }
    }

    #[test]
    fn judge_equals_the_literal_verdict_and_the_streaming_rejection(data in damaged_log()) {
        let (summary, findings) = fold_events(&data);
        for policy in policies() {
            let verdict = summary.judge(policy);
            prop_assert_eq!(verdict, naive_verdict(&data, policy), "{:?}", policy);
            let streamed = findings.iter().find_map(|f| policy.reject(f));
            prop_assert_eq!(verdict.problem(), streamed, "{:?}", policy);
            prop_assert_eq!(summary.first_rejection(policy), streamed);
            prop_assert_eq!(verdict.passes(), streamed.is_none());
        }
    }

    #[test]
    fn folding_runs_equals_folding_records(data in damaged_log(), splits in proptest::collection::vec(any::<bool>(), 1..20)) {
        let (one_by_one, findings) = fold_events(&data);
        let by_offset: std::collections::HashMap<u64, Finding> =
            findings.iter().map(|f| (f.offset(), *f)).collect();
        let mut runs = 0;
        let in_runs = fold_in_runs(&data, &splits, |run, joined, members| {
            runs += 1;
            assert_eq!(run.count(), members.len() as u64);
            assert_eq!(run.end(), members.last().map(|r| r.end_offset()));
            // The joined stats hold exactly the run's records' violations
            // (boundary included), as the one-by-one fold found them.
            let violations: Vec<IndexViolation> = members
                .iter()
                .filter_map(|r| match by_offset[&r.offset()] {
                    Finding::Record { violation, .. } => violation,
                    _ => None,
                })
                .collect();
            for order in ORDERS {
                let under: Vec<_> = violations.iter().filter_map(|v| v.under(order)).collect();
                assert_eq!(joined.violations(order), under.len() as u64);
                assert_eq!(joined.first_violation(order), under.first().copied());
            }
            for policy in policies() {
                let want = violations
                    .iter()
                    .find_map(|v| policy.reject(&Finding::from(*v)));
                assert_eq!(policy.reject_indices(&joined), want);
            }
        });
        prop_assert_eq!(in_runs, one_by_one);
        prop_assert!(runs <= one_by_one.records);
    }

    #[test]
    fn findings_equal_the_literal_lists(data in damaged_log(), limit in 0usize..5) {
        let c = collect(&data);
        for order in ORDERS {
            let mut fold = Fold::new(data.len() as u64);
            let mut findings = Findings::new(data.len() as u64, order, limit);
            for event in &c.events {
                findings.push(&fold.event(event));
            }
            let findings = findings.finish();
            let limit = limit.max(1);
            let mut checker = IndexChecker::new(order);
            let violations: Vec<IndexViolation> = c
                .records
                .iter()
                .filter_map(|r| checker.check(r.offset(), r.index()))
                .collect();
            let (corruptions, omitted_corruptions) = cut(c.corruptions.clone(), limit);
            let (violations, omitted_violations) = cut(violations, limit);
            let (lost, omitted_lost) = cut(naive_lost(&data), limit);
            prop_assert_eq!(&findings.corruptions, &corruptions);
            prop_assert_eq!(&findings.index_violations, &violations);
            prop_assert_eq!(&findings.lost, &lost);
            prop_assert_eq!(findings.omitted.corruptions, omitted_corruptions);
            prop_assert_eq!(findings.omitted.index_violations, omitted_violations);
            prop_assert_eq!(findings.omitted.lost, omitted_lost);
            prop_assert_eq!(findings.corruption_count(), c.corruptions.len() as u64);
        }
    }

    #[test]
    fn findings_take_runs_exactly(data in damaged_log(), splits in proptest::collection::vec(any::<bool>(), 1..20)) {
        for order in ORDERS {
            let mut fold = Fold::new(data.len() as u64);
            let mut want = Findings::new(data.len() as u64, order, usize::MAX);
            for event in Scanner::new(&data) {
                want.push(&fold.event(&event));
            }
            let mut got = Findings::new(data.len() as u64, order, usize::MAX);
            let mut fold = Fold::new(data.len() as u64);
            let mut taken = 0;
            let mut run_members: Vec<Record<'_>> = Vec::new();
            let mut splits = splits.iter().copied().cycle();
            let mut flush = |got: &mut Findings, fold: &mut Fold, members: &mut Vec<Record<'_>>| {
                let mut run = ValidRun::new();
                members.iter().for_each(|r| run.push(r));
                if got.valid_run(&run) {
                    fold.valid_run(&run);
                    taken += 1;
                } else {
                    for r in members.iter() {
                        got.push(&fold.event(&Event::Record(*r)));
                    }
                }
                members.clear();
            };
            for event in Scanner::new(&data) {
                match event {
                    Event::Record(r) => {
                        if splits.next().unwrap_or(false) {
                            flush(&mut got, &mut fold, &mut run_members);
                        }
                        run_members.push(r);
                    }
                    other => {
                        flush(&mut got, &mut fold, &mut run_members);
                        got.push(&fold.event(&other));
                    }
                }
            }
            flush(&mut got, &mut fold, &mut run_members);
            prop_assert_eq!(got.finish(), want.finish());
            if order == IndexOrder::Any {
                prop_assert!(taken > 0);
            }
        }
    }

    #[test]
    fn index_kinds_agree_with_admits(previous in prop_oneof![Just(u64::MAX), Just(u64::MAX - 1), Just(0u64), any::<u64>()],
                                     next in prop_oneof![Just(u64::MAX), Just(0u64), Just(1u64), any::<u64>()]) {
        let mut stats = IndexStats::new();
        let violation = stats.push(Some(previous), 100, next);
        for order in ORDERS {
            prop_assert_eq!(
                violation.and_then(|v| v.under(order)).map(|v| v.kind),
                order.admits(Some(previous), next).err()
            );
        }
        prop_assert_eq!(stats.repeats, u64::from(next == previous));
        prop_assert_eq!(stats.decreases, u64::from(next < previous));
        prop_assert_eq!(stats.gaps, u64::from(u128::from(next) > u128::from(previous) + 1));
    }

    #[test]
    fn valid_logs_with_any_indices(indices in indices(0..30), payload in payload()) {
        let entries: Vec<_> = indices.iter().map(|&i| (i, payload.clone())).collect();
        let (log, _) = build(&entries);
        let (summary, _) = fold_events(&log);
        prop_assert_eq!(summary, naive_summary(&log));
        prop_assert_eq!(summary.records, indices.len() as u64);
        for policy in policies() {
            prop_assert_eq!(summary.judge(policy), naive_verdict(&log, policy));
        }
    }
}

#[test]
fn after_u64_max_an_equal_index_repeats_and_anything_else_decreases() {
    let mut stats = IndexStats::new();
    assert!(stats.push(None, 26, u64::MAX).is_none());
    let repeat = stats.push(Some(u64::MAX), 80, u64::MAX).unwrap();
    let back = stats.push(Some(u64::MAX), 130, 0).unwrap();
    assert_eq!((stats.repeats, stats.decreases, stats.gaps), (1, 1, 0));
    assert_eq!(repeat.kind, IndexViolationKind::Order);
    assert_eq!(back.kind, IndexViolationKind::Order);
    assert_eq!(
        IndexOrder::Contiguous.admits(Some(u64::MAX), 0),
        Err(IndexViolationKind::Order)
    );
    assert_eq!(stats.violations(IndexOrder::Increasing), 2);
    assert_eq!(stats.violations(IndexOrder::Contiguous), 2);
    assert_eq!(
        stats
            .first_violation(IndexOrder::Increasing)
            .map(|v| (v.offset, v.order)),
        Some((80, IndexOrder::Increasing))
    );
}

#[test]
fn every_corpus_file_folds_and_is_judged_as_expected() {
    for file in plog_testdata::corpus() {
        let name = &file.name;
        let want = &file.expected;
        let (summary, _) = fold_events(&file.bytes);
        assert_eq!(summary, summarize(&file.bytes), "{name}: summarize");
        let classification = classify(&file.bytes);
        assert_eq!(classification.status(), summary.status(), "{name}");
        assert_eq!(classification.torn, summary.torn, "{name}");
        assert_eq!(summary.status().as_str(), want.status, "{name}: status");
        assert_eq!(summary.file_len, want.file_len, "{name}: file_len");
        assert_eq!(
            summary.records, want.valid_records as u64,
            "{name}: records"
        );
        assert_eq!(summary.first_index, want.indices.first().copied(), "{name}");
        assert_eq!(summary.last_index, want.indices.last().copied(), "{name}");
        assert_eq!(
            summary.torn.map(|t| t.offset),
            want.torn_offset,
            "{name}: torn"
        );
        assert_eq!(summary.corruptions, want.corrupt.len() as u64, "{name}");
        assert_eq!(
            summary.first_corruption.map(|c| (c.kind(), c.offset())),
            want.corrupt.first().map(|c| (c.kind.as_str(), c.offset)),
            "{name}: first corruption"
        );
        let magic_bad = want
            .corrupt
            .iter()
            .any(|c| c.kind == "bad_magic" || c.kind == "unsupported_version");
        let magic_torn = want.torn_offset == Some(0) && want.file_len < MAGIC_LEN as u64;
        let records_end = match want.offsets.last() {
            Some(&last) => Record::parse_at(&file.bytes, last).unwrap().end_offset(),
            None if magic_bad || magic_torn => 0,
            None => MAGIC_LEN as u64,
        };
        assert_eq!(summary.records_end, records_end, "{name}: records_end");
        let after = match want.corrupt.last() {
            Some(last) => want.offsets.iter().filter(|&&o| o > last.offset).count(),
            None => want.valid_records,
        };
        assert_eq!(
            summary.records_after_last_corruption, after as u64,
            "{name}"
        );
        for policy in policies() {
            // The first record of expected.json whose index breaks the order.
            let violation = (1..want.indices.len())
                .find(|&i| naive_breaks(policy.index_order, want.indices[i - 1], want.indices[i]))
                .map(|i| want.offsets[i]);
            let corrupt = want.corrupt.first().map(|c| c.offset);
            let strict_torn = want
                .torn_offset
                .filter(|_| policy.mode == RecoveryMode::Strict);
            let first_problem = [corrupt, violation, strict_torn]
                .into_iter()
                .flatten()
                .min();
            let verdict = summary.judge(policy);
            let (expected, problem_at) = match policy.mode {
                RecoveryMode::Salvage if magic_bad => ("rejected", Some(0)),
                RecoveryMode::Salvage if want.status == "clean" && violation.is_none() => {
                    ("clean", None)
                }
                RecoveryMode::Salvage => ("salvaged", None),
                _ if first_problem.is_some() => ("rejected", first_problem),
                _ if want.torn_offset.is_some() => ("torn_tolerated", None),
                _ => ("clean", None),
            };
            assert_eq!(verdict.as_str(), expected, "{name}: {policy:?}");
            assert_eq!(verdict.problem().map(|p| p.offset()), problem_at, "{name}");
        }
    }
}

#[test]
fn problems_name_their_offset_and_index() {
    let (mut log, offsets) = build(&[(1, b"a".to_vec()), (2, b"b".to_vec()), (5, b"c".to_vec())]);
    let (summary, _) = fold_events(&log);
    let contiguous = RecoveryPolicy::new(RecoveryMode::TolerateTorn, IndexOrder::Contiguous);
    let problem = summary.judge(contiguous).problem().unwrap();
    assert_eq!(
        (problem.kind(), problem.offset(), problem.index()),
        ("index_gap", offsets[2], Some(5))
    );
    let message = problem.to_string();
    assert!(
        message.contains(&format!("offset {}", offsets[2])),
        "{message}"
    );
    assert!(message.contains("found 5"), "{message}");

    let last = log.len() - 1;
    log[last] ^= 1;
    log.extend_from_slice(&[1, 2, 3]);
    let (summary, _) = fold_events(&log);
    let problem = summary.judge(RecoveryPolicy::default()).problem().unwrap();
    assert_eq!(
        (problem.kind(), problem.offset(), problem.index()),
        ("hash_mismatch", offsets[2], Some(5))
    );
    let strict = RecoveryPolicy::new(RecoveryMode::Strict, IndexOrder::Any);
    assert_eq!(summary.judge(strict).problem(), Some(problem));
    let salvage = RecoveryPolicy::new(RecoveryMode::Salvage, IndexOrder::Any);
    assert_eq!(summary.judge(salvage), Verdict::Salvaged);
    assert_eq!(summary.judge(salvage).as_str(), "salvaged");
    let torn = summary.torn.unwrap();
    let message = Problem::Torn(torn).to_string();
    assert!(
        message.contains(&format!("offset {}", torn.offset)),
        "{message}"
    );
}
