//! Property tests: the parallel pipeline against the sequential oracle
//! (`plog_format::Scanner` / `classify`) on random logs with random damage,
//! for 1 to 4 threads and batch sizes small enough to cross many batch and
//! window boundaries.

use std::ops::ControlFlow;
use std::sync::{Arc, LazyLock};

use plog_format::{Corruption, Event, IndexChecker, IndexOrder, MAGIC, encode_record_to_vec};
use proptest::prelude::*;
use rayon::ThreadPool;

use crate::batch::{self, HashOnly, Tuning};
use crate::hashing;
use crate::schedule;
use crate::{Log, Parallelism, RecoveryMode, ReplayError, ReplayOptions, VerifyOptions};

static POOLS: LazyLock<Vec<Arc<ThreadPool>>> = LazyLock::new(|| {
    (1..=4)
        .map(|threads| {
            Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a test pool"),
            )
        })
        .collect()
});

fn pool(threads: usize) -> Parallelism {
    Parallelism::Pool(POOLS[threads - 1].clone())
}

#[path = "../tests/support/oracle.rs"]
mod oracle;
use oracle::{oracle_report, oracle_report_limited};

/// What a replay must give, computed by a plain sequential loop.
type Outcome = Result<(Vec<(u64, serde_json::Value)>, u64), (&'static str, u64, Option<u64>)>;

fn oracle_replay(data: &[u8], options: &ReplayOptions) -> Outcome {
    let (entries, result) = oracle_replay_until_error(data, options);
    result.map(|records| (entries, records))
}

/// The sequential replay: the entries decoded before the first problem (all
/// of them when there is none) and the number of valid records, or the
/// problem.
#[allow(clippy::type_complexity)]
fn oracle_replay_until_error(
    data: &[u8],
    options: &ReplayOptions,
) -> (
    Vec<(u64, serde_json::Value)>,
    Result<u64, (&'static str, u64, Option<u64>)>,
) {
    let mode = options.verify.mode;
    let mut checker = IndexChecker::new(options.verify.index_order);
    let mut entries = Vec::new();
    let mut records = 0;
    // Records before `from_index` are walked over: not hashed, not counted.
    let events = plog_format::Walker::new(data).filter_map(|step| match step {
        plog_format::Step::Record(r) if options.from_index.is_some_and(|from| r.index() < from) => {
            None
        }
        plog_format::Step::Record(r) if !options.check_hashes => Some(Event::Record(r)),
        plog_format::Step::Record(r) => Some(match r.verify() {
            Ok(()) => Event::Record(r),
            Err(corruption) => Event::Corrupt(corruption),
        }),
        plog_format::Step::Corrupt(c) => Some(Event::Corrupt(c)),
        plog_format::Step::Torn(t) => Some(Event::Torn(t)),
    });
    for event in events {
        match event {
            Event::Record(r) => {
                records += 1;
                let violation = checker.check(r.offset(), r.index());
                let value = match serde_json::from_slice(r.payload()) {
                    Ok(value) => value,
                    Err(_) => return (entries, Err(("decode", r.offset(), Some(r.index())))),
                };
                if let Some(v) = violation
                    && mode != RecoveryMode::Salvage
                {
                    return (entries, Err((v.kind.as_str(), v.offset, Some(v.index))));
                }
                entries.push((r.index(), value));
            }
            Event::Corrupt(c) => {
                let magic = matches!(
                    c,
                    Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
                );
                if mode != RecoveryMode::Salvage || magic {
                    return (entries, Err((c.kind(), c.offset(), c.index())));
                }
            }
            Event::Torn(t) => {
                if mode == RecoveryMode::Strict {
                    return (entries, Err(("torn", t.offset, None)));
                }
            }
        }
    }
    (entries, Ok(records))
}

fn outcome(result: Result<crate::Replayed<serde_json::Value>, ReplayError>) -> Outcome {
    match result {
        Ok(replayed) => Ok((replayed.entries, replayed.report.summary.records)),
        Err(error) => Err((
            error.kind(),
            error.offset().unwrap_or(u64::MAX),
            match error {
                ReplayError::Torn(_) => None,
                other => other.index(),
            },
        )),
    }
}

#[derive(Clone, Debug)]
enum Damage {
    /// Flip bit `bit` of the byte at `at` (modulo the length).
    BitFlip { at: usize, bit: u8 },
    /// Cut the file to `at` (modulo the length + 1).
    Cut { at: usize },
    /// Append `len` zero bytes.
    ZeroTail { len: usize },
    /// Overwrite record `record`'s length field (modulo the record count).
    Length { record: usize, value: u64 },
    /// Overwrite record `record`'s index field.
    Index { record: usize, value: u64 },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Damage::BitFlip { at, bit }),
        any::<usize>().prop_map(|at| Damage::Cut { at }),
        (1usize..200).prop_map(|len| Damage::ZeroTail { len }),
        (
            any::<usize>(),
            prop_oneof![
                any::<u64>(),
                0u64..400,
                Just(u64::MAX),
                Just(1 << 63),
                Just(1 << 40)
            ]
        )
            .prop_map(|(record, value)| Damage::Length { record, value }),
        (any::<usize>(), 0u64..50).prop_map(|(record, value)| Damage::Index { record, value }),
    ]
}

/// A payload: mostly JSON (so that replays get far), sometimes raw bytes.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => "[a-z0-9 ]{0,120}".prop_map(|s| serde_json::to_vec(&s).expect("json")),
        1 => (0u32..1_000_000).prop_map(|n| n.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Index steps: mostly +1, sometimes a gap, a repeat or a step back.
fn index_step() -> impl Strategy<Value = i64> {
    prop_oneof![8 => Just(1i64), 1 => 2i64..5, 1 => -3i64..=0]
}

prop_compose! {
    fn damaged_log()(
        records in proptest::collection::vec((index_step(), payload()), 0..40),
        damages in proptest::collection::vec(damage(), 0..4),
    ) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        let mut offsets = Vec::new();
        let mut index: u64 = 10;
        for (step, payload) in &records {
            index = index.saturating_add_signed(*step);
            offsets.push(bytes.len());
            encode_record_to_vec(index, payload, &mut bytes);
        }
        for damage in damages {
            match damage {
                Damage::BitFlip { at, bit } if !bytes.is_empty() => {
                    let at = at % bytes.len();
                    bytes[at] ^= 1 << bit;
                }
                Damage::Cut { at } => bytes.truncate(at % (bytes.len() + 1)),
                Damage::ZeroTail { len } => bytes.resize(bytes.len() + len, 0),
                Damage::Length { record, value } if !offsets.is_empty() => {
                    let at = offsets[record % offsets.len()] + 8;
                    if let Some(field) = bytes.get_mut(at..at + 8) {
                        field.copy_from_slice(&value.to_le_bytes());
                    }
                }
                Damage::Index { record, value } if !offsets.is_empty() => {
                    let at = offsets[record % offsets.len()];
                    if let Some(field) = bytes.get_mut(at..at + 8) {
                        field.copy_from_slice(&value.to_le_bytes());
                    }
                }
                _ => {}
            }
        }
        bytes
    }
}

fn tuning() -> impl Strategy<Value = Tuning> {
    (prop_oneof![1usize..300, 300usize..4000], 1usize..4).prop_map(
        |(batch_cost, batches_per_thread)| Tuning {
            batch_cost,
            batches_per_thread,
        },
    )
}

fn order() -> impl Strategy<Value = IndexOrder> {
    prop_oneof![
        Just(IndexOrder::Any),
        Just(IndexOrder::Increasing),
        Just(IndexOrder::Contiguous)
    ]
}

fn mode() -> impl Strategy<Value = RecoveryMode> {
    prop_oneof![
        Just(RecoveryMode::TolerateTorn),
        Just(RecoveryMode::Strict),
        Just(RecoveryMode::Salvage)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn verify_equals_the_oracle_for_1_to_4_threads(
        bytes in damaged_log(),
        tuning in tuning(),
        order in order(),
        mode in mode(),
        list_limit in prop_oneof![Just(crate::DEFAULT_LIST_LIMIT), 0..4usize],
    ) {
        let want = oracle_report_limited(&bytes, order, mode, list_limit);
        let log = Log::from_bytes(bytes);
        for threads in 1..=4 {
            let options = VerifyOptions {
                index_order: order,
                mode,
                parallelism: pool(threads),
                list_limit,
                progress: None,
            };
            let got = log.verify_tuned(&options, tuning).unwrap();
            prop_assert_eq!(&got, &want, "{} threads", threads);
            // The verdicts do not depend on what is listed.
            let full = oracle_report(log.in_memory().unwrap(), order, mode);
            prop_assert_eq!(got.status(), full.status());
            prop_assert_eq!(got.passes(), full.passes());
            prop_assert_eq!(got.findings.corruption_count(), full.findings.corruptions.len() as u64);
            prop_assert_eq!(got.findings.index_violation_count(), full.findings.index_violations.len() as u64);
            prop_assert_eq!(got.findings.lost_count(), full.findings.lost.len() as u64);
        }
    }

    #[test]
    fn the_event_streams_equal_the_scanner_and_the_walker(bytes in damaged_log(), tuning in tuning()) {
        let log = Log::from_bytes(bytes.clone());
        let want: Vec<Event<'_>> = plog_format::Scanner::new(&bytes).collect();
        let want_steps: Vec<plog_format::Step<'_>> = plog_format::Walker::new(&bytes).collect();
        // The same bytes mapped (when this process may map): its events
        // come from a copy of each batch.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mapped.plog");
        std::fs::write(&path, &bytes).expect("write");
        let map_all = crate::OpenOptions { min_map_len: 1, ..Default::default() };
        let mapped = Log::open_with(&path, &map_all).ok().filter(Log::is_mapped);
        for threads in [1, 3] {
            // Hashed where the bytes lie (verification).
            let mut got = Vec::new();
            schedule::run_local(log.walk_data(), &pool(threads), tuning, &HashOnly, |batch| {
                batch.events(|event| {
                    got.push(format!("{event:?}"));
                    ControlFlow::Continue(())
                })
            });
            let want_debug: Vec<String> = want.iter().map(|e| format!("{e:?}")).collect();
            prop_assert_eq!(&got, &want_debug);
            // What a caller is handed: the same events, hashed where they
            // lie for a log in memory, copied then hashed for a mapping.
            let mut handed = Vec::new();
            let flow = log.for_each_event(0, &pool(threads), |event| {
                handed.push(format!("{event:?}"));
                ControlFlow::Continue(())
            });
            prop_assert!(flow.is_ok());
            prop_assert_eq!(&handed, &want_debug);
            if let Some(mapped) = &mapped {
                let mut copied = Vec::new();
                let flow = mapped.for_each_event(0, &pool(threads), |event| {
                    copied.push(format!("{event:?}"));
                    ControlFlow::Continue(())
                });
                prop_assert!(flow.is_ok());
                prop_assert_eq!(&copied, &want_debug);
            }
            let mut steps = Vec::new();
            let flow = log.for_each_step(0, &pool(threads), |step| {
                steps.push(format!("{step:?}"));
                ControlFlow::Continue(())
            });
            prop_assert!(flow.is_ok());
            let want_steps: Vec<String> = want_steps.iter().map(|s| format!("{s:?}")).collect();
            prop_assert_eq!(&steps, &want_steps);
        }
    }

    #[test]
    fn replay_equals_a_sequential_decode(
        bytes in damaged_log(),
        tuning in tuning(),
        order in order(),
        mode in mode(),
        from_index in proptest::option::of(0u64..60),
        check_hashes in proptest::bool::weighted(0.8),
    ) {
        let log = Log::from_bytes(bytes);
        let mut options = ReplayOptions {
            verify: VerifyOptions { index_order: order, mode, ..VerifyOptions::default() },
            from_index,
            check_hashes,
        };
        let want = oracle_replay(log.in_memory().unwrap(), &options);
        for threads in 1..=4 {
            options.verify.parallelism = pool(threads);
            let got = outcome(log.replay_tuned::<serde_json::Value>(&options, tuning));
            prop_assert_eq!(&got, &want, "{} threads", threads);
            // Streaming: the same entries, in order, and the same first
            // error, whether the caller is outside the pool or one of its
            // workers (then it takes part in the decoding).
            let mut streamed = Vec::new();
            let result = log.replay_each_tuned(&options, tuning, |index, value: serde_json::Value| {
                streamed.push((index, value));
                ControlFlow::Continue(())
            });
            let got_stream = match result {
                Ok(report) => Ok((streamed.clone(), report.summary.records)),
                Err(error) => outcome(Err(error)),
            };
            prop_assert_eq!(&got_stream, &want, "{} threads, streamed", threads);
            if want.is_err() {
                // Every entry before the problem was applied.
                let (before, _) = oracle_replay_until_error(log.in_memory().unwrap(), &options);
                prop_assert_eq!(&streamed, &before);
            }
            if let Parallelism::Pool(pool) = &options.verify.parallelism {
                let mut inside = Vec::new();
                let result = pool.install(|| {
                    log.replay_each_tuned(&options, tuning, |index, value: serde_json::Value| {
                        inside.push((index, value));
                        ControlFlow::Continue(())
                    })
                });
                let got_inside = match result {
                    Ok(report) => Ok((inside, report.summary.records)),
                    Err(error) => outcome(Err(error)),
                };
                prop_assert_eq!(&got_inside, &want, "{} threads, inside the pool", threads);
            }
        }
    }

    #[test]
    fn the_read_path_equals_the_map_path(bytes in damaged_log()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.plog");
        std::fs::write(&path, &bytes).expect("write");
        let mapped = Log::open_with(&path, &crate::OpenOptions { min_map_len: 1, ..Default::default() }).expect("open");
        let read = Log::open_with(&path, &crate::OpenOptions { map: crate::MapPolicy::Never, ..Default::default() }).expect("open");
        prop_assert_eq!(mapped.is_mapped(), !bytes.is_empty());
        prop_assert!(!read.is_mapped());
        let options = VerifyOptions { parallelism: pool(2), ..VerifyOptions::default() };
        prop_assert_eq!(mapped.verify(&options).unwrap(), read.verify(&options).unwrap());
    }
}

#[test]
fn a_large_payload_is_hashed_in_parallel_and_checked() {
    let big = vec![7u8; hashing::PARALLEL_HASH_MIN + 12_345];
    let mut bytes = MAGIC.to_vec();
    encode_record_to_vec(1, &big, &mut bytes);
    encode_record_to_vec(2, &big, &mut bytes);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let log = Log::from_bytes(bytes.clone());
    let report = log
        .verify(&VerifyOptions {
            parallelism: pool(2),
            ..VerifyOptions::default()
        })
        .unwrap();
    assert_eq!(
        report,
        oracle_report(&bytes, IndexOrder::Any, RecoveryMode::TolerateTorn)
    );
    assert_eq!(report.summary.records, 1);
    assert_eq!(report.findings.corruptions[0].kind(), "hash_mismatch");
}

/// A log of `records` small JSON payloads `{"n":index}`.
fn numbered_log(records: u64) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    for index in 1..=records {
        encode_record_to_vec(index, format!("{{\"n\":{index}}}").as_bytes(), &mut bytes);
    }
    bytes
}

/// Decodes like `u64` but panics on `panic_on`, as a faulty `Deserialize`
/// impl would.
struct PanicsOn<const N: u64>;

impl<'de, const N: u64> serde::Deserialize<'de> for PanicsOn<N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        assert_ne!(value["n"].as_u64(), Some(N), "decoding {N} panics");
        Ok(PanicsOn)
    }
}

#[test]
fn a_panic_in_apply_or_in_decode_reaches_the_caller_without_a_hang() {
    let log = Log::from_bytes(numbered_log(2_000));
    let tuning = Tuning {
        batch_cost: 512,
        batches_per_thread: 1,
    };
    for threads in 1..=4 {
        let options = ReplayOptions {
            verify: VerifyOptions {
                parallelism: pool(threads),
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        };
        let mut applied = 0u64;
        let apply_panics = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            log.replay_each_tuned(&options, tuning, |index, _: serde_json::Value| {
                assert_ne!(index, 700, "apply panics");
                applied += 1;
                ControlFlow::Continue(())
            })
        }));
        assert!(apply_panics.is_err(), "{threads} threads");
        // Every entry before the panicking one was applied, none after.
        assert_eq!(applied, 699, "{threads} threads");
        let decode_panics = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            log.replay_each_tuned(&options, tuning, |_, _: PanicsOn<1500>| {
                ControlFlow::Continue(())
            })
        }));
        assert!(decode_panics.is_err(), "{threads} threads");
        // The pool is still usable: a later replay completes.
        let report = log
            .replay_each_tuned(&options, tuning, |_, _: serde_json::Value| {
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(report.summary.records, 2_000);
    }
}

#[test]
fn streaming_checks_a_large_payload_on_the_batch_thread() {
    let big = format!("[{}1]", "1,".repeat(hashing::PARALLEL_HASH_MIN / 2 + 10));
    let mut bytes = numbered_log(100);
    encode_record_to_vec(101, big.as_bytes(), &mut bytes);
    let big_end = bytes.len();
    encode_record_to_vec(102, b"{\"n\":102}", &mut bytes);
    let options = ReplayOptions {
        verify: VerifyOptions {
            parallelism: pool(2),
            ..VerifyOptions::default()
        },
        ..ReplayOptions::default()
    };
    let mut indices = Vec::new();
    Log::from_bytes(bytes.clone())
        .replay_each(&options, |index, _: serde_json::Value| {
            indices.push(index);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(indices, (1..=102).collect::<Vec<u64>>());
    // The same log with the large payload's last byte flipped: the replay
    // stops at it, after applying every entry before it.
    bytes[big_end - 2] ^= 1;
    indices.clear();
    let error = Log::from_bytes(bytes)
        .replay_each(&options, |index, _: serde_json::Value| {
            indices.push(index);
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(
        matches!(
            error,
            ReplayError::Corrupt(Corruption::HashMismatch { index: 101, .. })
        ),
        "{error:?}"
    );
    assert_eq!(indices, (1..=100).collect::<Vec<u64>>());
}

/// The bound of the crate docs ("A pass stops where the file stopped"): how
/// far past the first vanished byte a pass on `threads` threads may walk,
/// for records of at most `largest_record` bytes.
fn walk_bound(threads: usize, largest_record: u64) -> u64 {
    let batches = 2 * threads as u64 * batch::BATCHES_PER_THREAD as u64;
    batches * (batch::BATCH_COST as u64 + largest_record)
}

/// Truncates a mapped 40 MB log, ahead of each pass, once the pass has
/// handed on a record some MiB before the new end: every pass ends with the
/// changed-file error, its walk stops within the bound past the new end,
/// and nothing it hands on after the truncation lies past the new end. Two
/// cuts: in the middle (not on a page boundary: the walk faults on the next
/// page), and one byte off the end (inside the last page: no fault at all,
/// the zero byte reads like any other, and only the length check before
/// each batch keeps the last record's mismatch from being handed on).
#[test]
fn a_pass_over_a_truncated_file_stops_within_the_bound_and_hands_on_nothing_past_it() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let mut bytes = MAGIC.to_vec();
    let mut ends = vec![0u64]; // ends[index]: where record `index` ends
    for index in 1..=80_000u64 {
        let payload = format!("{{\"n\":{index},\"pad\":\"{}\"}}", "x".repeat(450));
        encode_record_to_vec(index, payload.as_bytes(), &mut bytes);
        ends.push(bytes.len() as u64);
    }
    let largest = ends.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    let bound = walk_bound(2, largest);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.plog");
    let options = crate::OpenOptions {
        min_map_len: 1,
        ..crate::OpenOptions::default()
    };
    let truncate = |path: &std::path::Path, new_end: u64| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(new_end)
            .unwrap();
    };
    let len = bytes.len() as u64;
    assert_ne!((len - 1) % 4096, 0, "the last byte shares its page");
    let cuts = [(4 << 20, (24 << 20) + 123), (len - (8 << 20), len - 1)];
    for (pass, (trigger, new_end)) in ["events", "steps", "replay_each", "verify"]
        .into_iter()
        .flat_map(|pass| cuts.map(|cut| (pass, cut)))
    {
        std::fs::write(&path, &bytes).unwrap();
        let log = Log::open_with(&path, &options).unwrap();
        assert!(log.is_mapped());
        let cut = Arc::new(AtomicBool::new(false));
        // Called with the end of each record handed on: truncates at the
        // trigger, then checks that nothing past the new end is handed on.
        let handed_on = |end: u64| {
            if cut.load(Ordering::Relaxed) {
                assert!(end <= new_end, "{pass}: handed on a record ending at {end}");
            } else if end >= trigger {
                truncate(&path, new_end);
                cut.store(true, Ordering::Relaxed);
            }
        };
        let error = match pass {
            "events" => log
                .for_each_event(0, &pool(2), |event| {
                    match event {
                        Event::Record(record) => handed_on(record.end_offset()),
                        other => panic!("{pass}: {other:?}"),
                    }
                    ControlFlow::Continue(())
                })
                .map(drop),
            "steps" => log
                .for_each_step(0, &pool(2), |step| {
                    match step {
                        plog_format::Step::Record(record) => handed_on(record.end_offset()),
                        other => panic!("{pass}: {other:?}"),
                    }
                    ControlFlow::Continue(())
                })
                .map(drop),
            "replay_each" => {
                let options = ReplayOptions {
                    verify: VerifyOptions {
                        parallelism: pool(2),
                        ..VerifyOptions::default()
                    },
                    ..ReplayOptions::default()
                };
                let result = log.replay_each(&options, |index, _: serde_json::Value| {
                    handed_on(ends[index as usize]);
                    ControlFlow::Continue(())
                });
                match result {
                    Err(ReplayError::Read(error)) => Err(error),
                    other => panic!("{pass}: {other:?}"),
                }
            }
            _ => {
                let (cut, path) = (Arc::clone(&cut), path.clone());
                let options = VerifyOptions {
                    parallelism: pool(2),
                    progress: Some(crate::Progress::new(move |offset| {
                        if offset >= trigger && !cut.swap(true, Ordering::Relaxed) {
                            truncate(&path, new_end);
                        }
                    })),
                    ..VerifyOptions::default()
                };
                log.verify(&options).map(drop)
            }
        };
        assert!(
            cut.load(Ordering::Relaxed),
            "{pass} {new_end}: never truncated"
        );
        assert!(
            matches!(error, Err(crate::ReadError::Changed(_))),
            "{pass} {new_end}: {error:?}"
        );
        let walked = log.last_walk_end();
        assert!(
            walked <= new_end + bound,
            "{pass}: walked to {walked}, past {new_end} + {bound}"
        );
    }
}

/// A reader that yields at most `step` bytes a call (a pipe's short reads).
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    step: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A log read from a stream with a `window`-byte window.
fn streamed(bytes: &[u8], window: usize, step: usize, held_limit: u64) -> Log {
    let reader = Trickle {
        bytes: bytes.to_vec(),
        at: 0,
        step,
    };
    Log::from_stream_tuned(Box::new(reader), window, held_limit)
}

/// Every pass's result over `log`, as text (a stream log is read once, so
/// `make` makes a fresh one for each pass).
/// A log in memory is private already: the records its event pass hands on
/// borrow its own bytes (no copy), and are exactly the sequential
/// scanner's.
#[test]
fn events_of_a_log_in_memory_borrow_its_own_bytes() {
    let mut bytes = MAGIC.to_vec();
    for index in 1..=3_000u64 {
        encode_record_to_vec(index, format!("{{\"n\":{index}}}").as_bytes(), &mut bytes);
    }
    // One damaged payload in the middle: its event is a corruption.
    let last = bytes.len() - 2;
    bytes[last / 2] ^= 0x55;
    let want: Vec<String> = plog_format::Scanner::new(&bytes)
        .map(|e| format!("{e:?}"))
        .collect();
    let log = Log::from_bytes(bytes);
    let own = log.in_memory().expect("in memory").as_ptr_range();
    let (mut got, mut borrowed) = (Vec::new(), 0);
    for threads in [1, 2] {
        got.clear();
        let flow = log.for_each_event(0, &pool(threads), |event| {
            if let Event::Record(record) = &event {
                let payload = record.payload().as_ptr_range();
                assert!(own.start <= payload.start && payload.end <= own.end);
                borrowed += 1;
            }
            got.push(format!("{event:?}"));
            ControlFlow::Continue(())
        });
        assert!(flow.is_ok());
        assert_eq!(got, want);
    }
    assert!(borrowed > 2 * 2_900, "{borrowed} records seen");
}

fn every_pass(make: &dyn Fn() -> Log, options: &ReplayOptions, tuning: Tuning) -> Vec<String> {
    let mut results = Vec::new();
    results.push(format!(
        "{:?}",
        make().verify_tuned(&options.verify, tuning)
    ));
    for hashes in [true, false] {
        let mut seen = Vec::new();
        let log = make();
        let flow = if hashes {
            log.for_each_event(0, &pool(2), |event| {
                seen.push(format!("{event:?}"));
                ControlFlow::Continue(())
            })
        } else {
            log.for_each_step(0, &pool(2), |step| {
                seen.push(format!("{step:?}"));
                ControlFlow::Continue(())
            })
        };
        results.push(format!("{flow:?} {seen:?} {}", log.len()));
    }
    let replayed = make().replay_tuned::<serde_json::Value>(options, tuning);
    results.push(format!("{replayed:?}"));
    let mut applied = Vec::new();
    let report = make().replay_each_tuned(options, tuning, |index, value: serde_json::Value| {
        applied.push((index, value));
        ControlFlow::Continue(())
    });
    results.push(format!("{report:?} {applied:?}"));
    results
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// A log read from a stream through a small window (short reads, zero
    /// runs longer than the window in the middle or at the end) gives every
    /// pass exactly what the whole file gives.
    #[test]
    fn the_stream_path_equals_the_whole_file(
        bytes in damaged_log(),
        zeros in prop_oneof![Just(0usize), 1usize..3000],
        zeros_at in any::<usize>(),
        window in 96usize..700,
        step in prop_oneof![Just(usize::MAX), 1usize..200],
        tuning in tuning(),
        order in order(),
        mode in mode(),
        from_index in prop_oneof![Just(None), (0u64..30).prop_map(Some)],
    ) {
        let mut bytes = bytes;
        let at = zeros_at % (bytes.len() + 1);
        bytes.splice(at..at, std::iter::repeat_n(0u8, zeros));
        let options = ReplayOptions {
            verify: VerifyOptions {
                parallelism: pool(2),
                index_order: order,
                mode,
                ..VerifyOptions::default()
            },
            from_index,
            ..ReplayOptions::default()
        };
        let whole = every_pass(&|| Log::from_bytes(bytes.clone()), &options, tuning);
        let stream = every_pass(&|| streamed(&bytes, window, step, 1 << 20), &options, tuning);
        prop_assert_eq!(&stream, &whole);
        // A file read in windows (MapPolicy::Windowed), from a handle.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("windowed.plog");
        std::fs::write(&path, &bytes).expect("write");
        let windowed = crate::OpenOptions { map: crate::MapPolicy::Windowed, ..Default::default() };
        let open = || Log::open_with(&path, &windowed).expect("open").with_window(window);
        prop_assert!(open().in_memory().is_none() && !open().is_mapped());
        let file = every_pass(&open, &options, tuning);
        prop_assert_eq!(&file, &whole);
    }
}

#[test]
fn a_stream_holds_a_long_record_whole_up_to_its_limit() {
    let mut bytes = MAGIC.to_vec();
    encode_record_to_vec(1, &vec![b'7'; 5_000], &mut bytes);
    encode_record_to_vec(2, b"[2]", &mut bytes);
    let whole = Log::from_bytes(bytes.clone())
        .verify(&VerifyOptions::default())
        .unwrap();
    // A 200-byte window grows to hold the 5,000-byte record.
    let got = streamed(&bytes, 200, 64, 1 << 20)
        .verify(&VerifyOptions::default())
        .unwrap();
    assert_eq!(got, whole);
    assert_eq!(got.summary.records, 2);
    // Past the limit it stops with an error naming the record's offset.
    let error = streamed(&bytes, 200, 64, 1_000)
        .verify(&VerifyOptions::default())
        .unwrap_err();
    assert!(
        matches!(&error, crate::ReadError::Stream { offset: 26, detail } if detail.contains("5048")),
        "{error}"
    );
    // A damaged length claiming more than the limit, in a stream that ends
    // within it, is walked exactly as in the file (resync to record 2).
    let mut damaged = bytes.clone();
    damaged[26 + 8..26 + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let whole = Log::from_bytes(damaged.clone())
        .verify(&VerifyOptions::default())
        .unwrap();
    let got = streamed(&damaged, 200, 64, 10_000)
        .verify(&VerifyOptions::default())
        .unwrap();
    assert_eq!(got, whole);
    assert_eq!(got.findings.corruptions.len(), 1);
}

#[test]
fn a_stream_with_a_bad_magic_reports_its_whole_length() {
    let bytes = vec![b'x'; 10_000];
    let whole = Log::from_bytes(bytes.clone())
        .verify(&VerifyOptions::default())
        .unwrap();
    let log = streamed(&bytes, 200, 100, 1 << 20);
    let got = log.verify(&VerifyOptions::default()).unwrap();
    assert_eq!(got, whole);
    assert_eq!((got.summary.file_len, log.len()), (10_000, 10_000));
}

/// A pipe named by a path (`plog verify /dev/stdin`, a FIFO) is read as a
/// stream under [`crate::MapPolicy::Auto`], never held whole, with the result
/// the whole file gives; [`crate::MapPolicy::Never`] still holds its bytes.
#[test]
fn a_pipe_opened_as_a_file_is_read_as_a_stream_unless_the_caller_asks_for_memory() {
    let mut bytes = MAGIC.to_vec();
    for index in 1..=2_000u64 {
        encode_record_to_vec(index, format!("[{index}]").as_bytes(), &mut bytes);
    }
    bytes.extend_from_slice(&[0; 7]);
    let whole = Log::from_bytes(bytes.clone())
        .verify(&VerifyOptions::default())
        .unwrap();
    for map in [crate::MapPolicy::Auto, crate::MapPolicy::Never] {
        let (reader, mut writer) = std::io::pipe().expect("pipe");
        let feed = bytes.clone();
        let feeder = std::thread::spawn(move || std::io::Write::write_all(&mut writer, &feed));
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(reader));
        let options = crate::OpenOptions {
            map,
            ..Default::default()
        };
        let log = Log::from_file(file, "a-pipe", &options).expect("open the pipe");
        assert_eq!(
            log.in_memory().is_some(),
            map == crate::MapPolicy::Never,
            "{map:?}"
        );
        let got = log.verify(&VerifyOptions::default()).unwrap();
        feeder.join().unwrap().expect("feed the pipe");
        assert_eq!(got, whole, "{map:?}");
        assert_eq!(got.summary.records, 2_000);
    }
}
