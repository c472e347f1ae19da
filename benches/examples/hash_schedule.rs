//! The scheduling simulation of BENCHMARKS.md: how busy the SIMD lanes stay
//! when `plog verify` hashes a log, for kernels of 8 and 16 lanes.
//!
//! Reads the log's payload lengths (engenho-store's reader,
//! `plog_benches::naive_read`), cuts them into batches as plog-mmap's
//! verification does (256 KiB of payload plus 128 B per record), each batch
//! into `verify_many_by`'s windows of 256 records, and runs plog-hash's own
//! engine over each window with a kernel that counts instead of hashing
//! (`plog_hash::schedule`). Prints, per lane count, the compressions done
//! in the lanes, the lane-steps they took (busy = compressions / lane-steps),
//! the kernel calls, the one-step parent calls and the steps per call.
//!
//! ```text
//! cargo run --release -p plog-testdata --example make_engenho -- /tmp/e.plog 200000
//! cargo run --release -p plog-benches --example hash_schedule -- /tmp/e.plog
//! ```
#![allow(missing_docs)]

use plog_hash::{Schedule, schedule};

/// plog-mmap's batch size (`BATCH_COST`) and per-record cost (`RECORD_COST`).
const BATCH_COST: usize = 256 * 1024;
const RECORD_COST: usize = 128;
/// `verify_many_by`'s window.
const WINDOW: usize = 256;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: hash_schedule LOG");
        std::process::exit(2);
    };
    let records = plog_benches::naive_read(std::path::Path::new(&path), |p| p.len());
    let lengths: Vec<usize> = records.iter().map(|&(_, len)| len).collect();
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let buf = vec![0u8; longest];
    let mut batches = Vec::new();
    let mut start = 0;
    let mut cost = 0;
    for (i, &len) in lengths.iter().enumerate() {
        cost += len + RECORD_COST;
        if cost >= BATCH_COST {
            batches.push(start..i + 1);
            start = i + 1;
            cost = 0;
        }
    }
    if start < lengths.len() {
        batches.push(start..lengths.len());
    }
    println!(
        "{} records, {} batches of about {} KiB",
        lengths.len(),
        batches.len(),
        BATCH_COST / 1024
    );
    println!(
        "{:>5} {:>12} {:>12} {:>7} {:>9} {:>12} {:>10}",
        "lanes", "compressions", "lane-steps", "busy", "calls", "parent calls", "steps/call"
    );
    for lanes in [8, 16] {
        let mut total = Schedule::default();
        for batch in &batches {
            for window in lengths[batch.clone()].chunks(WINDOW) {
                let inputs: Vec<&[u8]> = window.iter().map(|&len| &buf[..len]).collect();
                let s = schedule(lanes, &inputs);
                total.calls += s.calls;
                total.parent_calls += s.parent_calls;
                total.steps += s.steps;
                total.lane_steps += s.lane_steps;
                total.compressions += s.compressions;
            }
        }
        println!(
            "{lanes:>5} {:>12} {:>12} {:>6.1}% {:>9} {:>12} {:>10.1}",
            total.compressions,
            total.lane_steps,
            100.0 * total.busy(),
            total.calls,
            total.parent_calls,
            total.steps as f64 / total.calls.max(1) as f64
        );
    }
}
