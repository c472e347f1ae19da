//! `OpenOptions::release_behind`: a pass drops the mapped pages it has
//! finished with (the mapping's resident size stays small), and every pass
//! over such a log, first or later, gives what a log without it gives.

use std::ops::ControlFlow;
use std::path::Path;

use plog_mmap::{Event, Log, OpenOptions, Parallelism, RELEASE_STEP, ReplayOptions, VerifyOptions};
use plog_testdata::{build_log, k8s_payload};

/// 40 MiB of records from 100 B to 8 KiB, with one damaged hash near the end
/// (so that the report is not trivially "clean").
fn write_log(path: &Path) -> usize {
    let payloads: Vec<Vec<u8>> = (0..10_000u64)
        .map(|i| k8s_payload(i, 100 + (i as usize * 7919) % 8_000))
        .collect();
    let mut bytes = build_log(
        payloads
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u64 + 1, &p[..])),
    );
    let damaged = bytes.len() - 3_000;
    bytes[damaged] ^= 0x20;
    std::fs::write(path, &bytes).expect("write the log");
    bytes.len()
}

fn open(path: &Path, release_behind: bool) -> Log {
    let log = Log::open_with(
        path,
        &OpenOptions {
            min_map_len: 1,
            release_behind,
            ..OpenOptions::default()
        },
    )
    .expect("open");
    assert!(log.is_mapped());
    log
}

/// The resident bytes of this process's mappings of `path`, from
/// `/proc/self/smaps` (`None` where that file does not exist).
fn resident_bytes_of(path: &Path) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let name = path.to_str()?;
    let mut in_mapping = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's first line: its range, ..., then its path.
            in_mapping = line.ends_with(name);
        } else if in_mapping && first == "Rss:" {
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            total += kib * 1024;
        }
    }
    Some(total)
}

fn events(log: &Log) -> Vec<String> {
    let mut seen = Vec::new();
    let _flow = log
        .for_each_event(
            0,
            &Parallelism::Threads(std::num::NonZeroUsize::new(2).expect("a thread count above 0")),
            |event| {
                seen.push(match event {
                    Event::Record(record) => format!("{} {}", record.index(), record.offset()),
                    other => format!("{other:?}"),
                });
                ControlFlow::Continue(())
            },
        )
        .expect("events");
    seen
}

#[test]
fn passes_over_a_released_log_equal_those_over_a_kept_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("release.plog");
    let len = write_log(&path);
    let options = VerifyOptions {
        parallelism: Parallelism::Threads(
            std::num::NonZeroUsize::new(2).expect("a thread count above 0"),
        ),
        ..VerifyOptions::default()
    };
    let kept = open(&path, false);
    let want = kept.verify(&options).expect("verify");
    assert_eq!(want.summary.file_len, len as u64);
    assert_eq!(want.findings.corruptions.len(), 1, "the damaged record");

    let released = open(&path, true);
    // Twice: the second pass reads pages the first one released.
    for pass in 0..2 {
        assert_eq!(
            released.verify(&options).expect("verify"),
            want,
            "pass {pass}"
        );
    }
    assert_eq!(events(&released), events(&kept));
    let replay = ReplayOptions {
        verify: options.clone(),
        ..ReplayOptions::default()
    };
    let replay_each = |log: &Log| {
        let mut entries = Vec::new();
        let result = log.replay_each::<serde_json::Value, _>(&replay, |index, value| {
            entries.push((index, value));
            ControlFlow::Continue(())
        });
        (entries, format!("{result:?}"))
    };
    let (entries, result) = replay_each(&released);
    assert!(
        entries.len() > 9_000,
        "{} entries before the damage",
        entries.len()
    );
    assert_eq!((entries, result), replay_each(&kept));
}

#[test]
fn a_released_pass_leaves_little_of_the_mapping_resident() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("resident.plog");
    let len = write_log(&path) as u64;
    let options = VerifyOptions {
        parallelism: Parallelism::Threads(
            std::num::NonZeroUsize::new(2).expect("a thread count above 0"),
        ),
        ..VerifyOptions::default()
    };
    let kept = open(&path, false);
    kept.verify(&options).expect("verify");
    let Some(kept_resident) = resident_bytes_of(&path) else {
        return; // no /proc/self/smaps: nothing to measure
    };
    // Without release, the pass leaves (nearly) the whole file mapped: the
    // measurement can tell the two apart.
    assert!(kept_resident > len * 3 / 4, "{kept_resident} of {len}");
    drop(kept);

    let released = open(&path, true);
    released.verify(&options).expect("verify");
    let resident = resident_bytes_of(&path).expect("smaps");
    // What is left: the last step not yet released, plus the batches in
    // flight and read-ahead past it (well under another step).
    assert!(
        resident <= 2 * RELEASE_STEP,
        "{resident} bytes resident after a released pass over {len}"
    );
}
