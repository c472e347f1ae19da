//! `plog verify --json` and the library (`Log::verify`, judged by the one
//! model's verdict) agree on every corpus file and on a sweep of 1,200
//! randomly damaged files: status, counts, indices, offsets, corruption
//! kinds, and the exit status, for the default policy, `--strict` and
//! `--expect contiguous`.

use std::path::{Path, PathBuf};
use std::process::Command;

use plog_mmap::{IndexOrder, Log, RecoveryMode, VerifyOptions, VerifyReport};
use plog_testdata::{SplitMix64, build_log, corpus, k8s_payload};
use serde_json::Value;

/// A small log with indices that mostly follow, and random damage.
fn damaged_log(rng: &mut SplitMix64) -> Vec<u8> {
    let count = rng.below(40);
    let mut index = rng.below(5);
    let payloads: Vec<(u64, Vec<u8>)> = (0..count)
        .map(|i| {
            index = match rng.below(10) {
                0 => index,
                1 => index.saturating_sub(1),
                2 => index + 2 + rng.below(3),
                _ => index + 1,
            };
            (index, k8s_payload(i, 40 + rng.below(300) as usize))
        })
        .collect();
    let mut bytes = build_log(payloads.iter().map(|(i, p)| (*i, &p[..])));
    for _ in 0..rng.below(4) {
        let len = bytes.len() as u64;
        match rng.below(6) {
            0 if len > 0 => {
                let at = rng.below(len) as usize;
                bytes[at] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(rng.below(len + 1) as usize),
            2 => bytes.extend(std::iter::repeat_n(0, rng.below(200) as usize)),
            3 if len > 42 => {
                // Overwrite eight bytes (a length or index field, or text).
                let at = rng.below(len - 8) as usize;
                let value = rng.next_u64().to_le_bytes();
                bytes[at..at + 8].copy_from_slice(&value);
            }
            4 => {
                let at = rng.below(len + 1) as usize;
                let junk: Vec<u8> = (0..rng.below(60)).map(|_| rng.next_u64() as u8).collect();
                bytes.splice(at..at, junk);
            }
            _ => {}
        }
    }
    bytes
}

/// What `plog verify` must print for a file, from the library's report:
/// the status (FORMAT.md's), the verdict (the policy's), the records and
/// the first and last index.
fn expected_line(
    report: &VerifyReport,
) -> (&'static str, &'static str, u64, Option<u64>, Option<u64>) {
    let status = report.summary.status().as_str();
    let verdict = report.verdict().as_str();
    let s = &report.summary;
    (status, verdict, s.records, s.first_index, s.last_index)
}

/// The exit status the library implies for a set of reports: 1 when one
/// does not pass, then 3 when one is torn, else 0.
fn expected_exit(reports: &[VerifyReport]) -> i32 {
    if reports.iter().any(|r| !r.passes()) {
        1
    } else if reports.iter().any(|r| r.summary.torn.is_some()) {
        3
    } else {
        0
    }
}

fn check_directory(dir: &Path, files: &[PathBuf], flags: &[&str], options: &VerifyOptions) {
    let output = Command::new(env!("CARGO_BIN_EXE_plog"))
        .arg("verify")
        .arg("--json")
        .arg("--all")
        .args(flags)
        .arg(dir)
        .output()
        .unwrap();
    let lines: Vec<Value> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len(), "{flags:?}: one line per file");
    let mut reports = Vec::new();
    for (line, path) in lines.iter().zip(files) {
        let name = path.display().to_string();
        assert_eq!(line["path"], name, "{flags:?}: files in sorted order");
        let report = Log::open(path).unwrap().verify(options).unwrap();
        let (status, verdict, records, first, last) = expected_line(&report);
        assert_eq!(line["status"], status, "{name} {flags:?}: status");
        assert_eq!(line["verdict"], verdict, "{name} {flags:?}: verdict");
        assert_eq!(line["records"], records, "{name} {flags:?}: records");
        assert_eq!(line["first_index"].as_u64(), first, "{name} {flags:?}");
        assert_eq!(line["last_index"].as_u64(), last, "{name} {flags:?}");
        assert_eq!(
            line["min_index"].as_u64(),
            report.summary.indices.min_index,
            "{name} {flags:?}"
        );
        assert_eq!(
            line["max_index"].as_u64(),
            report.summary.indices.max_index,
            "{name} {flags:?}"
        );
        assert_eq!(
            line["file_len"], report.summary.file_len,
            "{name} {flags:?}"
        );
        assert_eq!(
            line["corruption_count"], report.summary.corruptions,
            "{name} {flags:?}"
        );
        assert_eq!(
            line["torn"]["offset"].as_u64(),
            report.summary.torn.map(|t| t.offset),
            "{name} {flags:?}: torn offset"
        );
        // Corruptions and index violations, each list in file order.
        let mut want: Vec<(u64, String)> = report
            .findings
            .corruptions
            .iter()
            .map(|c| (c.offset(), c.kind().to_string()))
            .chain(
                report
                    .findings
                    .index_violations
                    .iter()
                    .map(|v| (v.offset, v.kind.as_str().to_string())),
            )
            .collect();
        want.sort();
        let got: Vec<(u64, String)> = line["corruptions"]
            .as_array()
            .unwrap()
            .iter()
            .chain(line["index_violations"].as_array().unwrap())
            .map(|c| {
                (
                    c["offset"].as_u64().unwrap(),
                    c["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let mut got = got;
        got.sort();
        assert_eq!(got, want, "{name} {flags:?}: corruptions");
        assert_eq!(
            want.len() as u64,
            report.summary.corruptions
                + report.summary.indices.violations(report.policy.index_order),
            "{name} {flags:?}: the lists hold every finding the summary counts"
        );
        reports.push(report);
    }
    assert_eq!(
        output.status.code(),
        Some(expected_exit(&reports)),
        "{flags:?}: exit status"
    );
}

fn policies() -> [(&'static [&'static str], VerifyOptions); 3] {
    [
        (&[], VerifyOptions::default()),
        (
            &["--strict"],
            VerifyOptions {
                mode: RecoveryMode::Strict,
                ..VerifyOptions::default()
            },
        ),
        (
            &["--expect", "contiguous"],
            VerifyOptions {
                index_order: IndexOrder::Contiguous,
                ..VerifyOptions::default()
            },
        ),
    ]
}

#[test]
fn verify_json_equals_the_library_on_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for file in corpus() {
        let path = dir.path().join(&file.name);
        std::fs::write(&path, &file.bytes).unwrap();
        files.push(path);
    }
    files.sort();
    for (flags, options) in policies() {
        check_directory(dir.path(), &files, flags, &options);
    }
}

#[test]
fn verify_json_equals_the_library_on_1200_damaged_files() {
    let seed = 0x5eed_2026_u64;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SplitMix64(seed);
    let mut files = Vec::new();
    for i in 0..1_200 {
        let path = dir.path().join(format!("{i:04}.plog"));
        std::fs::write(&path, damaged_log(&mut rng)).unwrap();
        files.push(path);
    }
    for (flags, options) in policies() {
        check_directory(dir.path(), &files, flags, &options);
    }
    // The sweep must cover every status and kind, or it proves little.
    let mut seen = std::collections::BTreeSet::new();
    for path in &files {
        let report = Log::open(path)
            .unwrap()
            .verify(&VerifyOptions::default())
            .unwrap();
        seen.insert(report.status().as_str().to_string());
        for c in &report.findings.corruptions {
            seen.insert(c.kind().to_string());
        }
        if let Some(t) = report.summary.torn {
            seen.insert(t.reason.as_str().to_string());
        }
    }
    for want in [
        "clean",
        "torn",
        "corrupt",
        "hash_mismatch",
        "length",
        "partial_header",
        "partial_payload",
        "zero_fill",
    ] {
        assert!(
            seen.contains(want),
            "the sweep never produced {want}: {seen:?}"
        );
    }
}
