//! Peak memory of one recovery path over one log, from `/proc/self/status`.
//!
//! ```text
//! cargo run --release -p plog-testdata --example make_engenho -- LOG 100000
//! cargo run --release -p plog-benches --example recovery_memory -- naive|dropin|stream LOG [value|typed]
//! cargo run --release -p plog-benches --example recovery_memory -- stream LOG
//! ```
//!
//! * `naive`: engenho-store's reader (`plog_benches::naive_read`), one
//!   thread, every entry kept;
//! * `dropin`: `plog::PersistentLog::open` then `replay`, 2-thread pool,
//!   every entry kept;
//! * `stream`: `plog_mmap::Log::replay_each` on a
//!   2-thread pool, each entry dropped in the callback.
//!
//! Entries are decoded as `serde_json::Value` (default) or as
//! `plog_testdata::EngenhoEntry` (`typed`). Printed, in kB: `VmHWM` (peak
//! resident set: it counts the mapped log's pages too, which the kernel can
//! drop at will), `RssAnon_peak` (the highest anonymous resident set seen by
//! a thread sampling `/proc/self/status` every millisecond during the
//! recovery: heap, not file pages; a peak shorter than a millisecond can be
//! missed), and `RssAnon` / `RssFile` read right after the recovery, with
//! the replayed entries still held.
//!
//! Linux only (it reads `/proc/self/status`).
#![allow(missing_docs)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use plog_benches::{naive_read, pool};
use plog_testdata::EngenhoEntry;
use serde::de::DeserializeOwned;

const THREADS: usize = 2;

/// The value in kB of field `name` (e.g. `VmHWM`) of `/proc/self/status`.
fn status_kb(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Runs recovery path `mode` over `path`, decoding as `T`; returns how many
/// entries it replayed and what it holds until the measurement ends.
fn recover<T: DeserializeOwned + Send + 'static>(
    mode: &str,
    path: &Path,
) -> Result<(u64, Box<dyn Send>), String> {
    match mode {
        "naive" => {
            let entries = naive_read(path, |p| {
                serde_json::from_slice::<T>(p).expect("decode a payload")
            });
            Ok((entries.len() as u64, Box::new(entries)))
        }
        "dropin" => pool(THREADS).install(|| {
            let log = plog::PersistentLog::open(path).map_err(|e| e.to_string())?;
            let entries = log.replay::<T>().map_err(|e| e.to_string())?;
            Ok((entries.len() as u64, Box::new(entries) as Box<dyn Send>))
        }),
        "stream" => Ok((
            plog_benches::stream_replay::<T>(path, &pool(THREADS), None),
            Box::new(()),
        )),
        other => Err(format!(
            "expected a recovery path naive|dropin|stream, found {other:?}"
        )),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: recovery_memory naive|dropin|stream LOG [value|typed]";
    let (mode, path, decoded) = match args.as_slice() {
        [mode, path] => (mode.as_str(), Path::new(path), "value"),
        [mode, path, decoded] => (mode.as_str(), Path::new(path), decoded.as_str()),
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    // PersistentLog::open would create a missing log: refuse it first.
    if !path.is_file() {
        eprintln!("expected a log file, found nothing at {}", path.display());
        return ExitCode::FAILURE;
    }
    let peak_anon = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak_anon, stop) = (peak_anon.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = status_kb("RssAnon") {
                    peak_anon.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let start = Instant::now();
    let result = match decoded {
        "value" => recover::<serde_json::Value>(mode, path),
        "typed" => recover::<EngenhoEntry>(mode, path),
        other => Err(format!("expected value|typed, found {other:?}\n{usage}")),
    };
    let elapsed = start.elapsed();
    // Read while the entries are still held.
    let (anon, file) = (status_kb("RssAnon"), status_kb("RssFile"));
    stop.store(true, Ordering::Relaxed);
    if sampler.join().is_err() {
        eprintln!("the sampling thread panicked");
    }
    let (records, held) = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let anon = anon.unwrap_or(0);
    let peak = peak_anon.load(Ordering::Relaxed).max(anon);
    let show = |v: Option<u64>| v.map_or_else(|| "n/a".into(), |v| v.to_string());
    println!(
        "{mode} {decoded} {}: {records} records in {:.2} s; VmHWM {} kB, RssAnon_peak {peak} kB, \
         RssAnon {anon} kB, RssFile {} kB (after recovery, entries held)",
        path.display(),
        elapsed.as_secs_f64(),
        show(status_kb("VmHWM")),
        show(file),
    );
    drop(held);
    ExitCode::SUCCESS
}
