// The crash test: a child appends in a loop and acknowledges each record once
// its append returned; it is killed with SIGKILL at random moments. After each
// kill the log must reopen (repairing a torn tail if any), hold every
// acknowledged record, verify, and take more appends.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::time::{Duration, Instant};

use plog_format::Status;
use plog_testdata::SplitMix64;
use plog_writer::{Writer, WriterOptions};

use crate::child;

#[test]
fn sigkill_at_random_moments_never_loses_an_acknowledged_record() {
    const ROUNDS: usize = 60;
    let seed = plog_testdata::crash_seed("PLOG_CRASH_SEED");
    let mut rng = SplitMix64(seed);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let modes = ["every", "prealloc", "batch", "manual", "group"];
    let mut acked_total: BTreeSet<u64> = BTreeSet::new();
    let mut repairs = 0;
    let mut cut_appends = 0;
    let mut acks_per_mode = [0usize; 5];

    for round in 0..ROUNDS {
        let mode_at = round % modes.len();
        let mode = modes[mode_at];
        // Each mode keeps its own log, so that contiguous modes stay contiguous.
        let path = dir.path().join(format!("{mode}.plog"));
        let (mut child, mut stdout) = child::spawn(mode, &path);
        child::wait_for_line(&mut stdout, "ready");
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        let mut acked = Vec::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            if let Some(index) = line.strip_prefix("ack ") {
                acked.push(index.parse::<u64>().unwrap());
            }
        }
        child.wait().unwrap();
        acks_per_mode[mode_at] += acked.len();

        // Reopen: torn tails (and, over preallocated zeros, a final record
        // whose write the kill cut between pages) are repaired, corruption
        // would be refused.
        let (mut writer, report) = Writer::open(&path, WriterOptions::default())
            .unwrap_or_else(|e| panic!("round {round} ({mode}, seed {seed}): {e}"));
        if report.repaired.is_some() {
            repairs += 1;
        }
        if report.dropped_torn_append.is_some() {
            cut_appends += 1;
        }
        let oracle = crate::read_back(&path);
        assert_eq!(oracle.status(), Status::Clean, "round {round} ({mode})");
        let present: BTreeSet<u64> = oracle.records.iter().map(|r| r.index).collect();
        for index in &acked {
            assert!(
                present.contains(index),
                "round {round} ({mode}, seed {seed}): acknowledged record {index} is missing"
            );
        }
        if mode != "group" {
            // Contiguous writers: the log is exactly 1..=last.
            let indices: Vec<u64> = oracle.records.iter().map(|r| r.index).collect();
            let expected: Vec<u64> = (1..=indices.len() as u64).collect();
            assert_eq!(indices, expected, "round {round} ({mode})");
        }
        // Appending continues after the crash.
        let next = report.last_index.map_or(1, |i| i + 1);
        writer.append_raw(next, b"{\"after_crash\":true}").unwrap();
        drop(writer);
        acked_total.extend(acked.iter().map(|i| (mode_at as u64) << 40 | i));
    }
    eprintln!(
        "crash test: {ROUNDS} rounds, {} acknowledged records (per mode {acks_per_mode:?}), \
         {repairs} torn tails repaired, {cut_appends} appends cut over zeros dropped, {:?}",
        acked_total.len(),
        started.elapsed()
    );
    // The kills landed while appends were going on, in every mode.
    assert!(acks_per_mode.iter().all(|&n| n > 0), "{acks_per_mode:?}");
}
