//! Writer benchmarks (plog-writer), each beside its baseline in the same run.
//!
//! ```text
//! cargo bench -p plog-benches --bench write
//! ```
//!
//! Every record carries a K8s-like JSON payload of about 200 bytes (about 248 on disk).
//! Logs are written to files in the system's temporary directory (a real
//! disk, not tmpfs: set `TMPDIR` to measure another file system); each
//! criterion sample starts a fresh log, and deletes it afterwards.
//!
//! * `durable_single/naive_open_fields_sync_all` — the baseline: what
//!   engenho-store does per append: open the file, write index, length, hash
//!   and payload with four `write_all`s, `sync_all`, close.
//! * `durable_single/writer_every_append` — [`Writer`] with the default
//!   policy: one `pwrite` and one `fdatasync` per append.
//! * `batch_1000/writer_append_batch_raw` — 1,000 records per call: one
//!   write, one `fdatasync`.
//! * `group_commit/threads_1` and `group_commit/threads_8` — [`GroupCommit`]
//!   with 1 and 8 threads, each appending in a loop and waiting for its own
//!   record to be durable.
//! * `no_sync/naive_bufwriter_fields` — a second baseline for the manual
//!   policy: the same four field writes per record into a `BufWriter`, no
//!   sync; `no_sync/writer_manual` — [`Writer`] with [`SyncPolicy::Manual`]
//!   (appends encoded into its buffer and written in 256 KiB writes). Both
//!   include handing the last bytes to the OS (flush), not an fsync.
//!
//! `PLOG_BENCH_ROUNDS` (default 15) sets the rounds of the paired
//! measurement, `PLOG_BENCH_PAIRED_ONLY=<words of a title>` runs one of its
//! parts, `PLOG_BENCH_SKIP_PAIRED=1` skips it.
//!
//! At the end the run prints the rates (records/s) and the ratios that
//! BENCHMARKS.md records. Rates are total records over total measured time
//! of criterion's measurement samples of that benchmark (warm-up excluded).
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use plog_format::MAGIC;
use plog_testdata::k8s_payload;
use plog_writer::{GroupCommit, SyncPolicy, Writer, WriterOptions};

const PAYLOAD_LEN: usize = 200;
const BATCH: usize = 1_000;
const THREADS: usize = 8;
const PREALLOCATE: u64 = 1 << 20;

fn payloads() -> &'static [Vec<u8>] {
    static PAYLOADS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PAYLOADS.get_or_init(|| {
        (0..BATCH as u64)
            // plog-testdata's one K8s-like generator: 200 bytes, or a few
            // more where an entry's fields alone are longer.
            .map(|i| k8s_payload(i, PAYLOAD_LEN))
            .collect()
    })
}

fn payload(i: u64) -> &'static [u8] {
    &payloads()[(i % BATCH as u64) as usize]
}

/// Criterion's samples per benchmark (all groups use the same).
const SAMPLES: usize = 10;

/// Every `iter_custom` call per benchmark: (records, measured time). The
/// warm-up calls come first; the last [`SAMPLES`] are the measurement.
type Calls = BTreeMap<&'static str, Vec<(u64, Duration)>>;

fn calls() -> &'static Mutex<Calls> {
    static CALLS: OnceLock<Mutex<Calls>> = OnceLock::new();
    CALLS.get_or_init(Default::default)
}

fn account(name: &'static str, records: u64, elapsed: Duration) {
    calls()
        .lock()
        .unwrap()
        .entry(name)
        .or_default()
        .push((records, elapsed));
}

/// Records per second over the measurement samples (warm-up excluded).
fn rate(name: &str) -> f64 {
    let calls = calls().lock().unwrap();
    let samples = calls.get(name).map(Vec::as_slice).unwrap_or_default();
    let measured = &samples[samples.len().saturating_sub(SAMPLES)..];
    let records: u64 = measured.iter().map(|c| c.0).sum();
    let elapsed: Duration = measured.iter().map(|c| c.1).sum();
    records as f64 / elapsed.as_secs_f64()
}

/// Scratch directories of synced logs, kept until the end of the run.
///
/// Deleting a synced log frees its blocks, and the journal commit that
/// frees them (with `discard`, as on the CI machine, an online discard) is
/// paid by the next `fsync` of whatever runs next: deleting logs during the
/// run would bill one contender for another's cleanup.
fn kept() -> &'static Mutex<Vec<tempfile::TempDir>> {
    static KEPT: OnceLock<Mutex<Vec<tempfile::TempDir>>> = OnceLock::new();
    KEPT.get_or_init(Default::default)
}

/// A fresh log path in its own temporary directory.
struct Scratch {
    path: PathBuf,
    /// Set for logs deleted as soon as the benchmark is done with them
    /// (never synced, so deleting them costs the disk nothing).
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    /// For a log that will be synced: kept until the end of the run.
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.plog");
        kept().lock().unwrap().push(dir);
        Scratch { path, dir: None }
    }

    /// For a log that is never synced: deleted on drop.
    fn unsynced() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        Scratch {
            path: dir.path().join("bench.plog"),
            dir: Some(dir),
        }
    }

    fn path(&self) -> PathBuf {
        let _ = &self.dir;
        self.path.clone()
    }
}

/// engenho-store's append: open, four field writes, `sync_all`, close.
fn naive_append(path: &Path, index: u64, payload: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().append(true).open(path)?;
    file.write_all(&index.to_le_bytes())?;
    file.write_all(&(payload.len() as u64).to_le_bytes())?;
    file.write_all(blake3::hash(payload).as_bytes())?;
    file.write_all(payload)?;
    file.sync_all()
}

fn naive_create(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(&MAGIC).unwrap();
    file.sync_all().unwrap();
}

/// The default options plus 1 MiB preallocation chunks.
fn preallocated() -> WriterOptions {
    WriterOptions {
        preallocate: Some(PREALLOCATE),
        ..WriterOptions::default()
    }
}

fn durable_single(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_single");
    group.throughput(Throughput::Elements(1));
    group.sample_size(SAMPLES);
    group.measurement_time(Duration::from_secs(4));
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("naive_open_fields_sync_all", |b| {
        b.iter_custom(|iters| {
            let scratch = Scratch::new();
            let path = scratch.path();
            naive_create(&path);
            let started = Instant::now();
            for i in 0..iters {
                naive_append(&path, i, payload(i)).unwrap();
            }
            let elapsed = started.elapsed();
            account("naive_durable", iters, elapsed);
            elapsed
        })
    });
    for (name, key, options) in [
        (
            "writer_every_append",
            "writer_durable",
            WriterOptions::default(),
        ),
        (
            "writer_every_append_preallocated",
            "writer_durable_prealloc",
            preallocated(),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let scratch = Scratch::new();
                let mut writer = Writer::create(scratch.path(), options).unwrap();
                let started = Instant::now();
                for i in 0..iters {
                    writer.append_raw(i, payload(i)).unwrap();
                }
                let elapsed = started.elapsed();
                account(key, iters, elapsed);
                elapsed
            })
        });
    }
    group.finish();
}

fn batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_1000");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(SAMPLES);
    // Each batch writes 248 KB: keep the total (kept until the end) modest.
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("writer_append_batch_raw", |b| {
        b.iter_custom(|iters| {
            let scratch = Scratch::new();
            let mut writer = Writer::create(scratch.path(), WriterOptions::default()).unwrap();
            let started = Instant::now();
            for n in 0..iters {
                let first = n * BATCH as u64;
                writer
                    .append_batch_raw((first..first + BATCH as u64).map(|i| (i, payload(i))))
                    .unwrap();
            }
            let elapsed = started.elapsed();
            account("writer_batch", iters * BATCH as u64, elapsed);
            elapsed
        })
    });
    group.finish();
}

/// Appends per batch of the group-commit runs: (appends, batches).
fn batching() -> &'static Mutex<BTreeMap<&'static str, (u64, u64)>> {
    static BATCHING: OnceLock<Mutex<BTreeMap<&'static str, (u64, u64)>>> = OnceLock::new();
    BATCHING.get_or_init(Default::default)
}

/// `threads` threads, each appending `iters` records through one handle.
fn run_group_commit(
    key: &'static str,
    options: WriterOptions,
    threads: usize,
    iters: u64,
) -> Duration {
    let scratch = Scratch::new();
    let log = GroupCommit::create(scratch.path(), options).unwrap();
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|t| {
                let (log, start) = (&log, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..iters {
                        let index = t * 1_000_000_000 + i;
                        log.append_raw(index, payload(index)).unwrap();
                    }
                })
            })
            .collect();
        start.wait();
        let started = Instant::now();
        for handle in handles {
            handle.join().unwrap();
        }
        let elapsed = started.elapsed();
        let stats = log.stats();
        let mut batching = batching().lock().unwrap();
        let entry = batching.entry(key).or_default();
        entry.0 += stats.appends;
        entry.1 += stats.batches;
        elapsed
    })
}

fn appends_per_batch(key: &str) -> f64 {
    let batching = batching().lock().unwrap();
    let (appends, batches) = batching.get(key).copied().unwrap_or_default();
    appends as f64 / batches as f64
}

fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_commit");
    group.sample_size(SAMPLES);
    group.measurement_time(Duration::from_secs(4));
    group.sampling_mode(SamplingMode::Flat);
    for (threads, name, key, options) in [
        (1, "threads_1", "group_1", WriterOptions::default()),
        (THREADS, "threads_8", "group_8", WriterOptions::default()),
        (
            1,
            "threads_1_preallocated",
            "group_1_prealloc",
            preallocated(),
        ),
        (
            THREADS,
            "threads_8_preallocated",
            "group_8_prealloc",
            preallocated(),
        ),
    ] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let elapsed = run_group_commit(key, options, threads, iters);
                account(key, iters * threads as u64, elapsed);
                elapsed
            })
        });
    }
    group.finish();
}

fn no_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("no_sync");
    group.throughput(Throughput::Elements(1));
    group.sample_size(SAMPLES);
    group.measurement_time(Duration::from_secs(3));
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("naive_bufwriter_fields", |b| {
        b.iter_custom(|iters| {
            let scratch = Scratch::unsynced();
            let path = scratch.path();
            naive_create(&path);
            let file = OpenOptions::new().append(true).open(&path).unwrap();
            let mut out = BufWriter::with_capacity(256 * 1024, file);
            let started = Instant::now();
            for i in 0..iters {
                let payload = payload(i);
                out.write_all(&i.to_le_bytes()).unwrap();
                out.write_all(&(payload.len() as u64).to_le_bytes())
                    .unwrap();
                out.write_all(blake3::hash(payload).as_bytes()).unwrap();
                out.write_all(payload).unwrap();
            }
            out.flush().unwrap();
            let elapsed = started.elapsed();
            account("naive_buffered", iters, elapsed);
            elapsed
        })
    });
    group.bench_function("writer_manual", |b| {
        b.iter_custom(|iters| {
            let scratch = Scratch::unsynced();
            let options = WriterOptions {
                sync: SyncPolicy::Manual,
                ..WriterOptions::default()
            };
            let mut writer = Writer::create(scratch.path(), options).unwrap();
            let started = Instant::now();
            for i in 0..iters {
                writer.append_raw(i, payload(i)).unwrap();
            }
            writer.flush().unwrap();
            let elapsed = started.elapsed();
            account("writer_manual", iters, elapsed);
            elapsed
        })
    });
    group.finish();
}

fn report() {
    let naive = rate("naive_durable");
    let single = rate("writer_durable");
    let single_pre = rate("writer_durable_prealloc");
    let batch = rate("writer_batch");
    let buffered = rate("naive_buffered");
    let manual = rate("writer_manual");
    println!();
    println!("plog-writer: records/s (200-byte payloads) and ratios");
    println!("  naive (open, 4 writes, sync_all)     {naive:>12.0}");
    println!(
        "  durable single append                 {single:>12.0}   {:.2}x naive   (target >= 1.3x)",
        single / naive
    );
    println!(
        "  durable single append, preallocated   {single_pre:>12.0}   {:.2}x naive   (target >= 1.3x)",
        single_pre / naive
    );
    println!(
        "  batches of 1,000, one fdatasync       {batch:>12.0}   {:.0}x naive   (target >= 100x)",
        batch / naive
    );
    for (label, suffix, base) in [
        ("", "", single),
        (", preallocated", "_prealloc", single_pre),
    ] {
        let one = rate(&format!("group_1{suffix}"));
        let eight = rate(&format!("group_8{suffix}"));
        println!(
            "  group commit{label}, 1 thread {one:>12.0}   {:.2}x single durable{label}, {:.2} appends/fdatasync",
            one / base,
            appends_per_batch(&format!("group_1{suffix}"))
        );
        println!(
            "  group commit{label}, 8 threads {eight:>11.0}   {:.2}x single durable{label} (target >= 4x), \
             {:.2}x group 1 thread, {:.2} appends/fdatasync",
            eight / base,
            eight / one,
            appends_per_batch(&format!("group_8{suffix}"))
        );
    }
    println!("  naive BufWriter, no sync              {buffered:>12.0}");
    println!(
        "  manual policy, no sync                {manual:>12.0}   (target >= 1,000,000/s), {:.2}x naive BufWriter",
        manual / buffered
    );
}

/// A contender of the paired measurement: appends `n` records to a fresh
/// log, returns the time taken.
type Contender = (&'static str, fn(u64) -> Duration);

fn naive_run(n: u64) -> Duration {
    let scratch = Scratch::new();
    let path = scratch.path();
    naive_create(&path);
    let started = Instant::now();
    for i in 0..n {
        naive_append(&path, i, payload(i)).unwrap();
    }
    started.elapsed()
}

fn writer_run(options: WriterOptions, n: u64) -> Duration {
    let scratch = Scratch::new();
    let mut writer = Writer::create(scratch.path(), options).unwrap();
    let started = Instant::now();
    for i in 0..n {
        writer.append_raw(i, payload(i)).unwrap();
    }
    started.elapsed()
}

fn batch_run(n: u64) -> Duration {
    let scratch = Scratch::new();
    let mut writer = Writer::create(scratch.path(), WriterOptions::default()).unwrap();
    let started = Instant::now();
    for first in (0..n).step_by(BATCH) {
        writer
            .append_batch_raw((first..first + BATCH as u64).map(|i| (i, payload(i))))
            .unwrap();
    }
    started.elapsed()
}

/// Runs every contender once per round, in an order that rotates from
/// round to round, and prints the median rate of each and the median of
/// its per-round ratio to the first (the baseline). Under a load that
/// drifts (other processes using the disk), ratios of neighbouring runs are
/// far steadier than ratios of benchmarks run minutes apart.
fn paired(title: &str, rounds: usize, contenders: &[(Contender, u64)]) {
    if let Ok(only) = std::env::var("PLOG_BENCH_PAIRED_ONLY")
        && !title.contains(only.as_str())
    {
        return;
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 0..rounds {
        for k in 0..contenders.len() {
            let at = (round + k) % contenders.len();
            let ((_, run), records) = contenders[at];
            let elapsed = run(records);
            rates[at].push(records as f64 / elapsed.as_secs_f64());
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("  {title} ({rounds} interleaved rounds; medians)");
    for (k, ((name, _), _)) in contenders.iter().enumerate() {
        let ratios: Vec<f64> = rates[k].iter().zip(&rates[0]).map(|(r, b)| r / b).collect();
        println!(
            "    {name:<44} {:>12.0} records/s   {:>7.2}x {}",
            median(rates[k].clone()),
            median(ratios),
            contenders[0].0.0
        );
    }
}

fn paired_report() {
    let rounds = std::env::var("PLOG_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    println!();
    println!("plog-writer: paired measurement (each round runs every contender back to back)");
    paired(
        "durable single appends",
        rounds,
        &[
            (("naive (open, 4 writes, sync_all)", naive_run), 200),
            (
                ("writer, every append", |n| {
                    writer_run(WriterOptions::default(), n)
                }),
                200,
            ),
            (
                ("writer, every append, preallocated", |n| {
                    writer_run(preallocated(), n)
                }),
                200,
            ),
        ],
    );
    paired(
        "batches of 1,000 records, one fdatasync each",
        rounds,
        &[
            (("naive (open, 4 writes, sync_all)", naive_run), 200),
            (("writer, append_batch_raw", batch_run), 20 * BATCH as u64),
        ],
    );
    paired(
        "group commit, 8 threads each waiting for its record",
        rounds,
        &[
            (
                ("writer, every append (1 thread)", |n| {
                    writer_run(WriterOptions::default(), n)
                }),
                200,
            ),
            (
                ("group commit, 8 threads", |n| {
                    run_group_commit(
                        "paired_8",
                        WriterOptions::default(),
                        THREADS,
                        n / THREADS as u64,
                    )
                }),
                1600,
            ),
        ],
    );
    paired(
        "group commit, preallocated",
        rounds,
        &[
            (
                ("writer, every append, preallocated (1 thread)", |n| {
                    writer_run(preallocated(), n)
                }),
                200,
            ),
            (
                ("group commit, 8 threads, preallocated", |n| {
                    run_group_commit(
                        "paired_8_prealloc",
                        preallocated(),
                        THREADS,
                        n / THREADS as u64,
                    )
                }),
                1600,
            ),
        ],
    );
    println!(
        "    appends per fdatasync with 8 threads: {:.2} (preallocated: {:.2})",
        appends_per_batch("paired_8"),
        appends_per_batch("paired_8_prealloc")
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    durable_single(&mut criterion);
    batch(&mut criterion);
    group_commit(&mut criterion);
    no_sync(&mut criterion);
    criterion.final_summary();
    // `--test` (one iteration each) and `--list` measure nothing worth a ratio.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    if !quick {
        report();
        if std::env::var_os("PLOG_BENCH_SKIP_PAIRED").is_none() {
            paired_report();
        }
    }
    kept().lock().unwrap().clear();
}
