//! Recovery benchmarks on an engenho-shaped log: what engenho-store's
//! restart does (open the log, replay every entry into memory), beside its
//! baselines in the same run.
//!
//! ```text
//! cargo bench -p plog-benches --bench recovery
//! ```
//!
//! Datasets, generated into a temporary directory at the start of the run
//! (`plog_testdata::write_engenho_log_file`, seed 1):
//!
//! * E: 200,000 openraft entries carrying Kubernetes objects (payload median
//!   ~1.1 KB, p90 ~3.3 KB, max ~4.5 KB; ~340 MB), the shape of
//!   engenho-store's real Raft log;
//! * E1M: 1,000,000 such entries (~1.7 GB), for
//!   snapshot recovery.
//!
//! Every measurement on E runs twice, decoding each payload into
//! `serde_json::Value` (group `recovery_E_value`) and into the typed
//! `plog_testdata::EngenhoEntry` (group `recovery_E_typed`):
//!
//! * `naive`: engenho-store's reader (`plog_benches::naive_read`): unbuffered
//!   `read_exact` per field, a `Vec` per payload, BLAKE3 compared,
//!   `serde_json::from_slice`, one thread;
//! * `decode_limit_1t` / `decode_limit_2t`: the payloads already in memory
//!   (one `Vec<Vec<u8>>`) decoded with rayon's `par_iter().map().collect()`
//!   on a pool of 1 / 2 threads: no I/O, no hashing. The decoder is
//!   `plog_mmap::decode_json` (what plog's replay uses: the result of
//!   `serde_json::from_slice`, faster), so the limit is the fastest decode
//!   plog could reach;
//! * `dropin_2t`: `plog::PersistentLog::open(path)` then `.replay::<T>()`,
//!   the drop-in replacement, with a 2-thread pool installed;
//! * `stream_1t` / `stream_2t` (`plog_benches::stream_replay`): `plog_mmap::Log::open(path)` then
//!   `replay_each`, each entry handed to a
//!   callback that drops it, on a pool of 1 / 2 threads.
//!
//! Whatever a measurement replays is dropped inside the timed region, as
//! the caller drops what it replays.
//!
//! On E1M (group `recovery_E1M`, typed entries, 2
//! threads): `full_2t` streams every entry, `from_last_1pct_2t` streams from
//! the index of the last 1% (`ReplayOptions::from_index`).
//!
//! At the end the run prints the ratios, from the medians of criterion's
//! estimates of this run (a benchmark filtered out or skipped shows `n/a`,
//! never an older run's figure). Set `PLOG_BENCH_E_RECORDS` /
//! `PLOG_BENCH_E1M_RECORDS` to smaller values for a quick run,
//! `PLOG_BENCH_SKIP_E1M=1` to skip E1M.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, SamplingMode, Throughput};
use plog_benches::stream_replay;
use plog_benches::{env_u64, median_ns, naive_read, pool, print_ratio, ratio};
use plog_mmap::decode_json;
use plog_testdata::{EngenhoEntry, write_engenho_log_file};
use rayon::prelude::*;
use serde::de::DeserializeOwned;

const THREADS: usize = 2;
const SEED: u64 = 1;
const DEFAULT_E_RECORDS: u64 = 200_000;
const DEFAULT_E1M_RECORDS: u64 = 1_000_000;

/// The criterion groups: E decoded into `serde_json::Value`, E decoded into
/// `EngenhoEntry`, and E1M.
const GROUP_VALUE: &str = "recovery_E_value";
const GROUP_TYPED: &str = "recovery_E_typed";
const GROUP_1M: &str = "recovery_E1M";

fn write_dataset(path: &Path, name: &str, records: u64) {
    let start = Instant::now();
    let bytes = write_engenho_log_file(path, SEED, records).expect("write the dataset");
    eprintln!(
        "dataset {name}: {records} engenho records, {bytes} bytes, written in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The pools a group runs on: one thread and `THREADS`.
struct Pools {
    one: Arc<rayon::ThreadPool>,
    two: Arc<rayon::ThreadPool>,
}

fn bench_e<T: DeserializeOwned + Send>(
    c: &mut Criterion,
    group_name: &str,
    path: &Path,
    payloads: &[Vec<u8>],
    pools: &Pools,
) {
    let records = payloads.len() as u64;
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("naive", |b| {
        b.iter(|| {
            let entries = naive_read(path, |p| {
                serde_json::from_slice::<T>(p).expect("decode a payload")
            });
            assert_eq!(entries.len() as u64, records);
            drop(entries);
        })
    });
    for (threads, pool) in [(1, &pools.one), (THREADS, &pools.two)] {
        group.bench_function(format!("decode_limit_{threads}t"), |b| {
            b.iter(|| {
                pool.install(|| {
                    let entries: Vec<T> = payloads
                        .par_iter()
                        .map(|p| decode_json::<T>(p).expect("decode a payload"))
                        .collect();
                    assert_eq!(entries.len() as u64, records);
                    drop(entries);
                })
            })
        });
    }
    group.bench_function(format!("dropin_{THREADS}t"), |b| {
        b.iter(|| {
            pools.two.install(|| {
                let log = plog::PersistentLog::open(path).expect("open the log");
                let entries = log.replay::<T>().expect("replay the log");
                assert_eq!(entries.len() as u64, records);
                drop(entries);
            })
        })
    });
    for (threads, pool) in [(1, &pools.one), (THREADS, &pools.two)] {
        group.bench_function(format!("stream_{threads}t"), |b| {
            b.iter(|| assert_eq!(stream_replay::<T>(path, pool, None), records))
        });
    }
    group.finish();
}

/// Snapshot recovery on E1M: streaming from the last 1% of the indices
/// against streaming everything.
fn bench_e1m(c: &mut Criterion, dir: &Path, pools: &Pools) {
    let records = env_u64("PLOG_BENCH_E1M_RECORDS", DEFAULT_E1M_RECORDS);
    let path = dir.join("e1m.plog");
    write_dataset(&path, "E1M", records);
    let from = records - records / 100 + 1;
    let mut group = c.benchmark_group(GROUP_1M);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function(format!("full_{THREADS}t"), |b| {
        b.iter(|| {
            assert_eq!(
                stream_replay::<EngenhoEntry>(&path, &pools.two, None),
                records
            )
        })
    });
    group.bench_function(format!("from_last_1pct_{THREADS}t"), |b| {
        b.iter(|| {
            assert_eq!(
                stream_replay::<EngenhoEntry>(&path, &pools.two, Some(from)),
                records - from + 1
            )
        })
    });
    group.finish();
    // The 1.7 GB file goes as soon as it is measured.
    if let Err(e) = std::fs::remove_file(&path) {
        eprintln!("cannot remove {}: {e}", path.display());
    }
}

fn report_ratios(out: &Path, since: SystemTime) {
    println!("\n== recovery on engenho-shaped entries: ratios (higher is better) ==");
    let line = print_ratio;
    // (label, the slower or baseline benchmark, the faster one, target):
    // each ratio is the first's median time over the second's.
    let on_e = [
        ("dropin 2t vs naive (x)", "naive", "dropin_2t", ">= 1.4"),
        (
            "dropin 2t vs decode limit 2t (fraction)",
            "decode_limit_2t",
            "dropin_2t",
            ">= 0.85",
        ),
        (
            "stream 1t vs decode limit 1t (fraction)",
            "decode_limit_1t",
            "stream_1t",
            ">= 0.85",
        ),
        (
            "stream 2t vs decode limit 2t (fraction)",
            "decode_limit_2t",
            "stream_2t",
            ">= 0.85",
        ),
        ("stream 2t vs naive (x)", "naive", "stream_2t", ">= 1.8"),
        (
            "decode limit 2t vs 1t (x)",
            "decode_limit_1t",
            "decode_limit_2t",
            "-",
        ),
    ];
    let records = env_u64("PLOG_BENCH_E_RECORDS", DEFAULT_E_RECORDS) as f64;
    for (group, decoded) in [(GROUP_VALUE, "Value"), (GROUP_TYPED, "EngenhoEntry")] {
        let m = |name: &str| median_ns(out, since, group, name);
        println!("-- decoding into {decoded} --");
        for (label, base, new, target) in on_e {
            line(label, ratio(m(base), m(new)), target);
        }
        line(
            "naive (thousand records/s)",
            m("naive").map(|t| records / t * 1e6),
            "-",
        );
    }
    let m = |name: &str| median_ns(out, since, GROUP_1M, name);
    println!("-- E1M, EngenhoEntry, 2 threads --");
    line(
        "replay from the last 1% vs full replay (x)",
        ratio(m("full_2t"), m("from_last_1pct_2t")),
        ">= 20",
    );
}

fn main() {
    let (mut c, out, since) = plog_benches::criterion_run();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let records = env_u64("PLOG_BENCH_E_RECORDS", DEFAULT_E_RECORDS);
    let path = dir.path().join("e.plog");
    write_dataset(&path, "E", records);
    let bytes = std::fs::read(&path).expect("read the dataset");
    let payloads: Vec<Vec<u8>> = plog_format::Walker::new(&bytes)
        .filter_map(|step| match step {
            plog_format::Step::Record(r) => Some(r.payload().to_vec()),
            _ => None,
        })
        .collect();
    drop(bytes);
    assert_eq!(payloads.len() as u64, records);
    let pools = Pools {
        one: pool(1),
        two: pool(THREADS),
    };
    bench_e::<serde_json::Value>(&mut c, GROUP_VALUE, &path, &payloads, &pools);
    bench_e::<EngenhoEntry>(&mut c, GROUP_TYPED, &path, &payloads, &pools);
    drop(payloads);
    if std::env::var_os("PLOG_BENCH_SKIP_E1M").is_none() {
        bench_e1m(&mut c, dir.path(), &pools);
    }
    c.final_summary();
    report_ratios(&out, since);
}
