//! plog-mmap against the corpus, the sequential oracle and engenho-store's
//! behaviour: the map and read paths, 1 and several threads, verification
//! and replay.

use std::sync::Arc;

use plog_format::{HEADER_LEN, IndexOrder};
use plog_mmap::{
    Log, LostRange, MapPolicy, OpenOptions, Parallelism, RecoveryMode, ReplayError, ReplayOptions,
    Status, VerifyOptions, VerifyReport,
};
use plog_testdata::{CorpusFile, build_log, corpus, k8s_payload};

mod support {
    pub mod oracle;
}
use support::oracle::{oracle_report, oracle_report_limited};

fn options(threads: usize, order: IndexOrder, mode: RecoveryMode) -> VerifyOptions {
    VerifyOptions {
        index_order: order,
        mode,
        parallelism: Parallelism::Threads(
            std::num::NonZeroUsize::new(threads).expect("a thread count above 0"),
        ),
        ..VerifyOptions::default()
    }
}

fn forced_map() -> OpenOptions {
    OpenOptions {
        map: MapPolicy::Auto,
        min_map_len: 1,
        ..OpenOptions::default()
    }
}

fn never_map() -> OpenOptions {
    OpenOptions {
        map: MapPolicy::Never,
        ..OpenOptions::default()
    }
}

fn check_against_expected(file: &CorpusFile, report: &VerifyReport) {
    let name = &file.name;
    let want = &file.expected;
    assert_eq!(report.status().as_str(), want.status, "{name}: status");
    assert_eq!(report.summary.file_len, want.file_len, "{name}: file_len");
    assert_eq!(
        report.summary.records, want.valid_records as u64,
        "{name}: records"
    );
    assert_eq!(
        report.summary.first_index,
        want.indices.first().copied(),
        "{name}"
    );
    assert_eq!(
        report.summary.last_index,
        want.indices.last().copied(),
        "{name}"
    );
    assert_eq!(
        report.summary.torn.map(|t| t.offset),
        want.torn_offset,
        "{name}: torn"
    );
    let kinds: Vec<(&str, u64)> = report
        .findings
        .corruptions
        .iter()
        .map(|c| (c.kind(), c.offset()))
        .collect();
    let want_kinds: Vec<(&str, u64)> = want
        .corrupt
        .iter()
        .map(|c| (c.kind.as_str(), c.offset))
        .collect();
    assert_eq!(kinds, want_kinds, "{name}: corruptions");
}

#[test]
fn every_corpus_file_verifies_the_same_mapped_and_read_for_1_and_3_threads() {
    let mut mapped_any = false;
    for file in corpus() {
        let want = oracle_report(&file.bytes, IndexOrder::Any, RecoveryMode::TolerateTorn);
        check_against_expected(&file, &want);
        for open in [forced_map(), never_map(), OpenOptions::default()] {
            let log = Log::open_with(&file.path, &open).unwrap();
            // SAFETY: the corpus files are not changed while the tests run.
            let bytes = unsafe { log.bytes_unchecked() };
            assert_eq!(bytes, &file.bytes[..], "{}", file.name);
            mapped_any |= log.is_mapped();
            if open.map == MapPolicy::Never {
                assert!(!log.is_mapped());
            }
            for threads in [1, 3] {
                let report = log
                    .verify(&options(
                        threads,
                        IndexOrder::Any,
                        RecoveryMode::TolerateTorn,
                    ))
                    .unwrap();
                assert_eq!(report, want, "{} ({threads} threads)", file.name);
            }
        }
    }
    assert!(mapped_any, "no corpus file was mapped");
}

#[test]
fn corpus_index_checks_and_modes_match_the_oracle() {
    for file in corpus() {
        let log = Log::open_with(&file.path, &forced_map()).unwrap();
        for order in [
            IndexOrder::Any,
            IndexOrder::Increasing,
            IndexOrder::Contiguous,
        ] {
            for mode in [
                RecoveryMode::TolerateTorn,
                RecoveryMode::Strict,
                RecoveryMode::Salvage,
            ] {
                let want = oracle_report(&file.bytes, order, mode);
                let got = log.verify(&options(2, order, mode)).unwrap();
                assert_eq!(got, want, "{} {order:?} {mode:?}", file.name);
            }
        }
    }
}

#[test]
fn noncontiguous_indices_are_reported_with_offsets() {
    let file = corpus()
        .into_iter()
        .find(|f| f.name == "noncontiguous.plog")
        .unwrap();
    let log = Log::from_bytes(file.bytes.clone());
    // Indices 1, 2, 5, 4, 4.
    let offsets = &file.expected.offsets;
    let report = log
        .verify(&VerifyOptions {
            index_order: IndexOrder::Contiguous,
            ..VerifyOptions::default()
        })
        .unwrap();
    let found: Vec<(&str, u64, u64, u64)> = report
        .findings
        .index_violations
        .iter()
        .map(|v| (v.kind.as_str(), v.offset, v.previous_index, v.index))
        .collect();
    assert_eq!(
        found,
        [
            ("index_gap", offsets[2], 2, 5),
            ("index_order", offsets[3], 5, 4),
            ("index_order", offsets[4], 4, 4),
        ]
    );
    assert_eq!(report.status(), Status::Clean);
    assert!(!report.passes());
    let report = log
        .verify(&VerifyOptions {
            index_order: IndexOrder::Increasing,
            ..VerifyOptions::default()
        })
        .unwrap();
    let kinds: Vec<&str> = report
        .findings
        .index_violations
        .iter()
        .map(|v| v.kind.as_str())
        .collect();
    assert_eq!(kinds, ["index_order", "index_order"]);
}

/// What replaying a corpus file must give, from FORMAT.md: the valid records
/// when the file is clean or torn, else the first corruption.
#[test]
fn corpus_replay_follows_the_classification() {
    for file in corpus() {
        let want = &file.expected;
        for open in [forced_map(), never_map()] {
            let log = Log::open_with(&file.path, &open).unwrap();
            for threads in [1, 2] {
                let replay_options = ReplayOptions {
                    verify: VerifyOptions {
                        parallelism: Parallelism::Threads(
                            std::num::NonZeroUsize::new(threads).expect("a thread count above 0"),
                        ),
                        ..VerifyOptions::default()
                    },
                    ..ReplayOptions::default()
                };
                let got = log.replay::<serde_json::Value>(&replay_options);
                let name = &file.name;
                match want.status.as_str() {
                    "corrupt" => {
                        let error = got.expect_err(name);
                        let first = &want.corrupt[0];
                        assert_eq!(error.kind(), first.kind, "{name}");
                        assert_eq!(error.offset(), Some(first.offset), "{name}");
                        if let Some(index) = first.index {
                            assert_eq!(error.index(), Some(index), "{name}");
                        }
                        assert!(error.to_string().contains(&first.offset.to_string()));
                    }
                    _ => {
                        // Clean or torn: every valid record, unless one is
                        // not JSON (then the first such record is named).
                        let first_undecodable =
                            want.offsets
                                .iter()
                                .zip(&want.indices)
                                .find(|&(&offset, _)| {
                                    let r =
                                        plog_format::Record::parse_at(&file.bytes, offset).unwrap();
                                    serde_json::from_slice::<serde_json::Value>(r.payload())
                                        .is_err()
                                });
                        match (got, first_undecodable) {
                            (Ok(replayed), None) => {
                                let indices: Vec<u64> =
                                    replayed.entries.iter().map(|(i, _)| *i).collect();
                                assert_eq!(indices, want.indices, "{name}");
                                assert_eq!(
                                    replayed.report.summary.torn.map(|t| t.offset),
                                    want.torn_offset
                                );
                            }
                            (Err(error), Some((&offset, &index))) => {
                                assert_eq!(error.kind(), "decode", "{name}");
                                assert_eq!(
                                    (error.offset(), error.index()),
                                    (Some(offset), Some(index))
                                );
                            }
                            (got, want) => panic!("{name}: got {got:?}, expected {want:?}"),
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn strict_replay_rejects_a_torn_tail_and_salvage_keeps_every_valid_record() {
    for file in corpus() {
        let log = Log::from_bytes(file.bytes.clone());
        let strict = log.replay::<serde_json::Value>(&ReplayOptions {
            verify: VerifyOptions {
                mode: RecoveryMode::Strict,
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        });
        if file.expected.status == "torn" {
            let error = strict.expect_err(&file.name);
            assert_eq!(error.kind(), "torn");
            assert_eq!(error.offset(), file.expected.torn_offset);
        }
        let salvage = log.replay::<serde_json::Value>(&ReplayOptions {
            verify: VerifyOptions {
                mode: RecoveryMode::Salvage,
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        });
        let magic_bad = file
            .expected
            .corrupt
            .iter()
            .any(|c| c.kind == "bad_magic" || c.kind == "unsupported_version");
        let json_everywhere = !matches!(
            file.name.as_str(),
            "empty-payload.plog" | "not-json-payload.plog"
        );
        match salvage {
            Ok(replayed) => {
                assert!(json_everywhere && !magic_bad, "{}", file.name);
                let indices: Vec<u64> = replayed.entries.iter().map(|(i, _)| *i).collect();
                assert_eq!(indices, file.expected.indices, "{}", file.name);
                assert_eq!(
                    replayed.report.findings.lost.len(),
                    file.expected.corrupt.len(),
                    "{}",
                    file.name
                );
            }
            Err(error) => {
                assert!(!json_everywhere || magic_bad, "{}: {error}", file.name);
            }
        }
    }
}

#[test]
fn salvage_reports_lost_byte_and_index_ranges() {
    let payloads: Vec<Vec<u8>> = (1..=6).map(|i| k8s_payload(i, 120)).collect();
    let mut log = build_log(
        payloads
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u64 + 1, &p[..])),
    );
    let offsets: Vec<u64> = records_of(&log).map(|r| r.offset()).collect();
    let offset_of = |index: u64| offsets[index as usize - 1];
    // Flip a payload bit in records 3 and 4 (adjacent: one lost range).
    for index in [3, 4] {
        let at = (offset_of(index) + HEADER_LEN as u64 + 5) as usize;
        log[at] ^= 0x20;
    }
    let log = Log::from_bytes(log);
    let replayed = log
        .replay::<serde_json::Value>(&ReplayOptions {
            verify: VerifyOptions {
                mode: RecoveryMode::Salvage,
                parallelism: Parallelism::Threads(
                    std::num::NonZeroUsize::new(2).expect("a thread count above 0"),
                ),
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        })
        .unwrap();
    let indices: Vec<u64> = replayed.entries.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [1, 2, 5, 6]);
    assert_eq!(
        replayed.report.findings.lost,
        [LostRange {
            offset: offset_of(3),
            end: offset_of(5),
            corruptions: 2,
            previous_index: Some(2),
            next_index: Some(5),
        }]
    );
    assert_eq!(
        replayed.report.findings.lost[0].lost_indices(),
        Some((3, 4))
    );
    assert_eq!(
        replayed.report.findings.lost[0].bytes(),
        offset_of(5) - offset_of(3)
    );
    // Without salvage, the first damaged record is the error.
    let error = log
        .replay::<serde_json::Value>(&ReplayOptions::default())
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.offset(), error.index()),
        ("hash_mismatch", Some(offset_of(3)), Some(3))
    );
}

/// A log of many small records, big enough for several windows of batches.
fn many_records(count: u64) -> Vec<u8> {
    let payloads: Vec<Vec<u8>> = (0..count).map(|i| k8s_payload(i, 200)).collect();
    build_log(payloads.iter().enumerate().map(|(i, p)| (i as u64, &p[..])))
}

#[test]
fn the_first_error_in_file_order_wins_across_batches() {
    let count = 6_000;
    let mut bytes = many_records(count);
    let offsets: Vec<u64> = records_of(&bytes).map(|r| r.offset()).collect();
    // A decode error late, a hash mismatch later, and a decode error early
    // is the first: it must be named whatever the thread count.
    let corrupt_json = |bytes: &mut Vec<u8>, index: usize| {
        let at = offsets[index] as usize + HEADER_LEN;
        bytes[at] = b'!';
        let header_end = offsets[index] as usize + HEADER_LEN;
        let payload_len = u64::from_le_bytes(
            bytes[offsets[index] as usize + 8..][..8]
                .try_into()
                .unwrap(),
        ) as usize;
        let hash = blake3::hash(&bytes[header_end..header_end + payload_len]);
        bytes[offsets[index] as usize + 16..][..32].copy_from_slice(hash.as_bytes());
    };
    corrupt_json(&mut bytes, 5_000);
    bytes[offsets[5_500] as usize + HEADER_LEN + 3] ^= 1;
    let log_late = Log::from_bytes(bytes.clone());
    corrupt_json(&mut bytes, 1_234);
    let log = Log::from_bytes(bytes);
    for threads in 1..=4 {
        let options = ReplayOptions {
            verify: VerifyOptions {
                parallelism: Parallelism::Threads(
                    std::num::NonZeroUsize::new(threads).expect("a thread count above 0"),
                ),
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        };
        let error = log.replay::<serde_json::Value>(&options).unwrap_err();
        assert!(matches!(error, ReplayError::Decode { .. }));
        assert_eq!(
            (error.offset(), error.index()),
            (Some(offsets[1_234]), Some(1_234))
        );
        let error = log_late.replay::<serde_json::Value>(&options).unwrap_err();
        assert_eq!(
            (error.offset(), error.index()),
            (Some(offsets[5_000]), Some(5_000))
        );
    }
}

#[test]
fn replay_from_skips_earlier_records_and_matches_a_sequential_decode() {
    let bytes = many_records(3_000);
    let log = Log::from_bytes(bytes.clone());
    let sequential: Vec<(u64, serde_json::Value)> = plog_format::Scanner::new(&bytes)
        .map(|event| match event {
            plog_format::Event::Record(r) => {
                (r.index(), serde_json::from_slice(r.payload()).unwrap())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap(),
    );
    let all = log
        .replay::<serde_json::Value>(&ReplayOptions {
            verify: VerifyOptions {
                parallelism: Parallelism::Pool(pool),
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        })
        .unwrap();
    assert_eq!(all.entries, sequential);
    assert_eq!(all.report.summary.records, 3_000);
    let from = |index: u64| ReplayOptions {
        from_index: Some(index),
        ..ReplayOptions::default()
    };
    let replayed = log.replay::<serde_json::Value>(&from(2_500)).unwrap();
    assert_eq!(replayed.entries, sequential[2_500..]);
    assert_eq!(
        replayed.report.summary.records, 500,
        "the report covers what was replayed"
    );
    assert!(
        log.replay::<serde_json::Value>(&from(u64::MAX))
            .unwrap()
            .entries
            .is_empty()
    );
    // Records before the start index are walked over, not hashed: damage to
    // their payloads does not stop a replay from the snapshot on.
    let mut damaged = bytes.clone();
    let first = records_of(&bytes).next().unwrap();
    damaged[first.offset() as usize + HEADER_LEN + 1] ^= 1;
    let damaged = Log::from_bytes(damaged);
    assert!(
        damaged
            .replay::<serde_json::Value>(&ReplayOptions::default())
            .is_err()
    );
    let replayed = damaged.replay::<serde_json::Value>(&from(1)).unwrap();
    assert_eq!(replayed.entries, sequential[1..]);
}

#[test]
fn many_windows_verify_like_the_oracle_with_damage() {
    let mut bytes = many_records(20_000);
    let offsets: Vec<u64> = records_of(&bytes).map(|r| r.offset()).collect();
    for index in [7usize, 8_000, 8_001, 19_999] {
        bytes[offsets[index] as usize + HEADER_LEN + 10] ^= 4;
    }
    // A damaged length in the middle: resync at the next record.
    bytes[offsets[12_000] as usize + 8 + 6] = 0x7f;
    bytes.truncate(bytes.len() - 5);
    let log = Log::from_bytes(bytes.clone());
    let want = oracle_report(&bytes, IndexOrder::Contiguous, RecoveryMode::Salvage);
    assert_eq!(
        want.findings.corruptions.len(),
        4,
        "{:?}",
        want.findings.corruptions
    );
    for threads in 1..=4 {
        let got = log
            .verify(&options(
                threads,
                IndexOrder::Contiguous,
                RecoveryMode::Salvage,
            ))
            .unwrap();
        assert_eq!(got, want, "{threads} threads");
    }
}

#[test]
fn the_event_stream_equals_the_sequential_scanner() {
    let mut bytes = many_records(5_000);
    bytes[10_000] ^= 1;
    let log = Log::from_bytes(bytes.clone());
    let sequential: Vec<String> = plog_format::Scanner::new(&bytes)
        .map(|event| format!("{event:?}"))
        .collect();
    for threads in [1, 2, 4] {
        let mut parallel = Vec::new();
        let flow = log.for_each_event(
            0,
            &Parallelism::Threads(
                std::num::NonZeroUsize::new(threads).expect("a thread count above 0"),
            ),
            |event| {
                parallel.push(format!("{event:?}"));
                std::ops::ControlFlow::Continue(())
            },
        );
        assert!(flow.unwrap().is_continue());
        assert_eq!(parallel, sequential);
    }
    // Stopping early stops.
    let mut seen = 0;
    let flow = log.for_each_event(0, &Parallelism::Current, |_| {
        seen += 1;
        if seen == 100 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    assert!(flow.unwrap().is_break());
    assert_eq!(seen, 100);
}

#[test]
fn refresh_sees_appends_and_a_walk_resumes_where_it_stopped() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.plog");
    let first = many_records(500);
    std::fs::write(&path, &first).unwrap();
    for open in [forced_map(), never_map(), OpenOptions::default()] {
        std::fs::write(&path, &first).unwrap();
        let mut log = Log::open_with(&path, &open).unwrap();
        let (mut seen, mut resume) = (0usize, 0);
        let _ = log
            .for_each_step(0, &Parallelism::Current, |step| {
                if let plog_format::Step::Record(r) = step {
                    seen += 1;
                    resume = r.end_offset();
                }
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, 500);
        // Append 300 records and half of another one.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut more = Vec::new();
        for i in 500..800u64 {
            plog_format::encode_record_to_vec(i, &k8s_payload(i, 200), &mut more);
        }
        let mut cut = Vec::new();
        plog_format::encode_record_to_vec(800, &k8s_payload(800, 200), &mut cut);
        more.extend_from_slice(&cut[..100]);
        file.write_all(&more).unwrap();
        assert_eq!(
            log.len(),
            first.len() as u64,
            "the map does not grow by itself"
        );
        let refresh = log.refresh().unwrap();
        assert!(refresh.grew());
        assert_eq!(refresh.len, (first.len() + more.len()) as u64);
        let mut torn_at = None;
        let _ = log
            .for_each_step(resume, &Parallelism::Current, |step| {
                match step {
                    plog_format::Step::Record(r) => {
                        assert_eq!(r.index(), seen as u64);
                        assert!(r.hash_matches());
                        seen += 1;
                    }
                    plog_format::Step::Torn(t) => torn_at = Some(t.offset),
                    other => panic!("{other:?}"),
                }
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, 800);
        // The half record completes; the follower resumes at the torn offset.
        let resume = torn_at.unwrap();
        file.write_all(&cut[100..]).unwrap();
        log.refresh().unwrap();
        let mut rest = Vec::new();
        let _ = log
            .for_each_event(resume, &Parallelism::Current, |event| {
                match event {
                    plog_format::Event::Record(r) => rest.push(r.index()),
                    other => panic!("{other:?}"),
                }
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(rest, [800]);
        assert_eq!(
            log.verify(&VerifyOptions::default())
                .unwrap()
                .summary
                .records,
            801
        );
        let unchanged = log.refresh().unwrap();
        assert!(!unchanged.grew() && !unchanged.shrank());
    }
}

#[test]
fn pipes_and_readers_are_read_into_memory() {
    let bytes = many_records(100);
    let log = Log::read_from(&bytes[..], None).unwrap();
    assert!(!log.is_mapped());
    assert_eq!(log.in_memory(), Some(&bytes[..]));
    let error = Log::read_from(&bytes[..], Some(100)).unwrap_err();
    assert_eq!(error.kind(), "too_large");
    // A /proc file reports length 0 but has bytes: it is read, not mapped.
    if let Ok(log) = Log::open("/proc/self/status") {
        assert!(!log.is_mapped());
        assert!(!log.is_empty());
        assert_eq!(
            log.verify(&VerifyOptions::default()).unwrap().status(),
            Status::Corrupt
        );
    }
    let error = Log::open("/nonexistent/plog").unwrap_err();
    assert_eq!(error.kind(), "io");
    assert!(error.to_string().contains("/nonexistent/plog"));
}

#[test]
fn reports_serialize_with_stable_kinds() {
    let file = corpus()
        .into_iter()
        .find(|f| f.name == "corrupt-length-midfile.plog")
        .unwrap();
    let report = Log::from_bytes(file.bytes)
        .verify(&VerifyOptions {
            mode: RecoveryMode::Salvage,
            ..VerifyOptions::default()
        })
        .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "corrupt");
    assert_eq!(json["passes"], true, "salvage accepts a damaged length");
    assert_eq!(json["mode"], "salvage");
    assert_eq!(json["records"], 4);
    let corruption = &json["corruptions"][0];
    assert_eq!(corruption["kind"], "length");
    assert_eq!(corruption["offset"], 158);
    assert_eq!(corruption["resync_offset"], 291);
    assert!(corruption["message"].as_str().unwrap().contains("158"));
    assert_eq!(json["lost"][0]["offset"], 158);
    assert_eq!(json["lost"][0]["end"], 291);
    assert_eq!(json["lost"][0]["lost_indices"], serde_json::json!([2, 2]));
    assert_eq!(json["torn"], serde_json::Value::Null);
}

/// Where plog's default replay (torn tail tolerated, corruption an error)
/// differs from what engenho-store's own replay did with a corpus file
/// (`engenho_replay` in expected.json), and why. Every other file gives the
/// same outcome.
const DIFFERS_FROM_ENGENHO: &[(&str, &str, &str)] = &[
    (
        "corrupt-length-midfile.plog",
        "length",
        "engenho-store allocates the damaged length and aborts; plog names the damaged header (offset 158) and where valid records resume",
    ),
    (
        "huge-length-tail.plog",
        "ok",
        "engenho-store panics allocating 2^63 bytes; plog classifies the cut final header as a torn tail and replays the 4 records before it",
    ),
    (
        "torn-header-only.plog",
        "ok",
        "a file cut inside the magic is a torn creation (0 records), not an I/O error",
    ),
    (
        "zero-bytes.plog",
        "ok",
        "an empty file is a torn creation (0 records), not an I/O error",
    ),
    (
        "zero-tail.plog",
        "ok",
        "a zero-filled tail is what a crash leaves (torn), not a hash mismatch: the 5 records before it replay",
    ),
    (
        "unsupported-version.plog",
        "unsupported_version",
        "engenho-store reports any other magic as bad; plog says which version it found",
    ),
];

#[test]
fn replay_differs_from_engenho_store_exactly_where_listed() {
    let mut differing = Vec::new();
    for file in corpus() {
        let log = Log::from_bytes(file.bytes.clone());
        let ours = match log.replay::<serde_json::Value>(&ReplayOptions::default()) {
            Ok(_) => "ok".to_string(),
            Err(error) => error.kind().to_string(),
        };
        let listed = DIFFERS_FROM_ENGENHO
            .iter()
            .find(|(name, _, _)| *name == file.name);
        if ours != file.expected.engenho_replay {
            differing.push(file.name.clone());
            let (_, expected_ours, _) = listed.unwrap_or_else(|| {
                panic!(
                    "{}: unlisted difference: plog {ours}, engenho-store {}",
                    file.name, file.expected.engenho_replay
                )
            });
            assert_eq!(&ours, expected_ours, "{}", file.name);
        } else {
            assert!(
                listed.is_none(),
                "{} is listed but does not differ",
                file.name
            );
        }
    }
    assert_eq!(differing.len(), DIFFERS_FROM_ENGENHO.len(), "{differing:?}");
}

#[test]
fn a_pipe_opened_by_path_is_read_as_a_stream_like_a_file() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    // More than a pipe's buffer: the writer blocks until the pass reads.
    let bytes = many_records(3_000);
    let (reader, mut writer) = std::io::pipe().unwrap();
    let path = format!("/proc/self/fd/{}", reader.as_raw_fd());
    let to_write = bytes.clone();
    let feeder = std::thread::spawn(move || {
        writer.write_all(&to_write).unwrap();
        // Dropping the writer ends the stream.
    });
    let log = Log::open(&path).unwrap();
    assert!(!log.is_mapped());
    // Read once as it arrives, never held whole.
    assert_eq!(log.in_memory(), None);
    let mapped_copy = {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("copy.plog");
        std::fs::write(&file, &bytes).unwrap();
        Log::open_with(&file, &forced_map())
            .unwrap()
            .verify(&VerifyOptions::default())
            .unwrap()
    };
    assert_eq!(log.verify(&VerifyOptions::default()).unwrap(), mapped_copy);
    feeder.join().unwrap();
    drop(reader);
}

#[test]
fn a_directory_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let error = Log::open(dir.path()).unwrap_err();
    assert_eq!(error.kind(), "io");
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string())
    );
}

#[test]
fn a_truncated_file_refreshes_to_its_new_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrink.plog");
    let bytes = many_records(600);
    for open in [forced_map(), never_map()] {
        std::fs::write(&path, &bytes).unwrap();
        let mut log = Log::open_with(&path, &open).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(1_000).unwrap();
        let refresh = log.refresh().unwrap();
        assert!(refresh.shrank());
        // SAFETY: nothing changes the file while the slice is compared.
        assert_eq!(unsafe { log.bytes_unchecked() }, &bytes[..1_000]);
        let report = log.verify(&VerifyOptions::default()).unwrap();
        assert_eq!(report.status(), Status::Torn);
        assert_eq!(
            report,
            oracle_report(&bytes[..1_000], IndexOrder::Any, RecoveryMode::TolerateTorn)
        );
    }
}

#[test]
fn logs_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Log>();
    assert_send_sync::<VerifyReport>();
    assert_send_sync::<ReplayError>();
    assert_send_sync::<plog_mmap::OpenError>();
}

/// A hostile file (every other record's hash is wrong, indices all out of
/// order) with a small `list_limit`: each list keeps its first entries in
/// file order, the counts stay exact, and the verdicts and JSON agree.
#[test]
fn list_limit_keeps_the_first_findings_and_exact_counts() {
    let mut bytes = plog_format::MAGIC.to_vec();
    for i in 0..5_000u64 {
        let start = bytes.len();
        plog_format::encode_record_to_vec(10_000 - i, b"{}", &mut bytes);
        if i % 2 == 1 {
            // Break the stored hash of every other record.
            bytes[start + 16] ^= 1;
        }
    }
    let log = Log::from_bytes(bytes.clone());
    let full = oracle_report(&bytes, IndexOrder::Increasing, RecoveryMode::Salvage);
    assert_eq!(full.findings.corruptions.len(), 2_500);
    assert_eq!(full.findings.index_violations.len(), 2_499);
    assert_eq!(full.findings.lost.len(), 2_500);
    for threads in [1, 2] {
        let options = VerifyOptions {
            list_limit: 10,
            ..options(threads, IndexOrder::Increasing, RecoveryMode::Salvage)
        };
        let report = log.verify(&options).unwrap();
        assert_eq!(
            report,
            oracle_report_limited(&bytes, IndexOrder::Increasing, RecoveryMode::Salvage, 10)
        );
        assert_eq!(
            report.findings.corruptions[..],
            full.findings.corruptions[..10]
        );
        assert_eq!(
            (
                report.findings.omitted.corruptions,
                report.findings.omitted.index_violations,
                report.findings.omitted.lost
            ),
            (2_490, 2_489, 2_490)
        );
        assert_eq!(report.findings.corruption_count(), 2_500);
        assert_eq!(report.findings.index_violation_count(), 2_499);
        assert_eq!(report.findings.lost_count(), 2_500);
        assert_eq!(
            (report.status(), report.passes()),
            (full.status(), full.passes())
        );
        assert_eq!(report.summary.records, full.summary.records);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["corruptions"].as_array().unwrap().len(), 10);
        assert_eq!(json["omitted"]["corruptions"], 2_490);
        assert_eq!(json["omitted"]["lost"], 2_490);
    }
    // The default keeps everything here.
    let report = log
        .verify(&options(2, IndexOrder::Increasing, RecoveryMode::Salvage))
        .unwrap();
    assert_eq!(report, full);
}

/// Streaming recovery gives, for every corpus file, every thread count and
/// both reading paths, what the collecting replay gives (itself checked
/// against expected.json above): the same entries in order, or the same
/// first error after exactly the entries before it.
#[test]
fn corpus_streaming_replay_equals_the_collecting_replay() {
    for file in corpus() {
        for open in [forced_map(), never_map()] {
            let log = Log::open_with(&file.path, &open).unwrap();
            for threads in 1..=4 {
                let options = ReplayOptions {
                    verify: VerifyOptions {
                        parallelism: Parallelism::Threads(
                            std::num::NonZeroUsize::new(threads).expect("a thread count above 0"),
                        ),
                        ..VerifyOptions::default()
                    },
                    ..ReplayOptions::default()
                };
                let collected = log.replay::<serde_json::Value>(&options);
                let mut streamed = Vec::new();
                let result = log.replay_each(&options, |index, value: serde_json::Value| {
                    streamed.push((index, value));
                    std::ops::ControlFlow::Continue(())
                });
                let name = format!("{} ({threads} threads)", file.name);
                match (collected, result) {
                    (Ok(replayed), Ok(report)) => {
                        assert_eq!(streamed, replayed.entries, "{name}");
                        assert_eq!(report, replayed.report, "{name}");
                    }
                    (Err(want), Err(got)) => {
                        assert_eq!(
                            (got.kind(), got.offset(), got.index()),
                            (want.kind(), want.offset(), want.index()),
                            "{name}"
                        );
                        let before = want.offset().unwrap_or(0);
                        let valid_before: Vec<u64> = file
                            .expected
                            .indices
                            .iter()
                            .zip(&file.expected.offsets)
                            .filter(|&(_, &offset)| offset < before)
                            .map(|(&index, _)| index)
                            .collect();
                        let applied: Vec<u64> = streamed.iter().map(|(i, _)| *i).collect();
                        assert_eq!(applied, valid_before, "{name}: applied before the error");
                    }
                    (want, got) => panic!("{name}: collected {want:?}, streamed {got:?}"),
                }
            }
        }
    }
}

/// The structurally complete records of `bytes` (hashes not checked).
fn records_of(bytes: &[u8]) -> impl Iterator<Item = plog_format::Record<'_>> {
    plog_format::Walker::new(bytes).filter_map(|step| match step {
        plog_format::Step::Record(record) => Some(record),
        _ => None,
    })
}
