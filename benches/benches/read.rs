//! Reader benchmarks (plog-mmap), each beside its baseline in the same run.
//!
//! ```text
//! cargo bench -p plog-benches --bench read
//! ```
//!
//! Datasets, generated into a temporary directory at the start of the run:
//!
//! * S: 1,000,000 records with ~220-byte K8s-like JSON payloads (~270 MB);
//! * L: ~2 GiB of 64 KiB payloads (32,768 records).
//!
//! Baselines:
//!
//! * `naive_*`: what engenho-store's replay does: every field read with
//!   `read_exact` from an unbuffered `File`, a `Vec` per payload, BLAKE3 per
//!   payload (and `serde_json` decode for replay), on one thread;
//! * `hash_limit_1t`: `blake3::hash` of each payload in a tight loop over the
//!   mapped file on one thread (the per-payload hashing limit of N threads is
//!   N times its rate); `hash_limit_2t` runs the same loop on two threads,
//!   each over half of the payload bytes;
//! * `replay_*` decode each payload as `Entry` (owned strings, as a
//!   consumer keeping entries does; the naive replay decodes the same type);
//!   `replay_each_2t` streams the same entries to a callback that drops
//!   each (recovery that applies entries one at a time);
//! * for L, `update_rayon_2t`: the whole file hashed as one buffer with
//!   `Hasher::update_rayon` on two threads;
//! * `read_lines_limit`: one byte of every 64-byte cache line of the mapped
//!   S file, read in order on one thread: the memory-read limit of a walk
//!   (a header can sit in any line, so the walk's read-ahead touches them
//!   all).
//!
//! At the end the run prints the ratios that BENCHMARKS.md records, from
//! the medians of criterion's estimates of this run (a benchmark filtered
//! out or skipped shows `n/a`, never an older run's figure). Set `PLOG_BENCH_S_RECORDS` / `PLOG_BENCH_L_MIB` to
//! smaller values for a quick run, `PLOG_BENCH_SKIP_L=1` to skip L.
#![allow(missing_docs)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use plog_benches::{env_u64, median_ns, naive_read, pool, print_ratio, ratio};
use plog_format::{HEADER_LEN, MAGIC, RecordHeader};
use plog_mmap::{Log, OpenOptions, Parallelism, ReplayOptions, VerifyOptions};
use plog_testdata::k8s_payload;
use serde::Deserialize;

const THREADS: usize = 2;

/// The entry type replayed (owned fields, as engenho-store decodes).
#[derive(Deserialize)]
#[allow(dead_code)]
struct Entry {
    op: String,
    kind: String,
    namespace: String,
    name: String,
    #[serde(rename = "resourceVersion")]
    resource_version: u64,
    labels: Labels,
    spec: Spec,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Labels {
    app: String,
    tier: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Spec {
    replicas: u32,
    image: String,
    pad: String,
}

fn write_log(path: &Path, records: u64, mut payload: impl FnMut(u64) -> Vec<u8>) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    out.write_all(&MAGIC).unwrap();
    let mut bytes = MAGIC.len() as u64;
    for i in 1..=records {
        let payload = payload(i);
        out.write_all(RecordHeader::new(i, &payload).as_bytes())
            .unwrap();
        out.write_all(&payload).unwrap();
        bytes += (HEADER_LEN + payload.len()) as u64;
    }
    out.flush().unwrap();
    bytes
}

/// The bytes of a log the bench wrote itself.
fn bench_bytes(log: &Log) -> &[u8] {
    // SAFETY: the file is the bench's own, in a private temporary directory;
    // nothing truncates or rewrites it while the bench runs.
    unsafe { log.bytes_unchecked() }
}

/// The structurally complete records of `bytes`: plog-format's walk (the
/// read-ahead of plog-mmap's passes is private to them since issue #23).
fn records_of(bytes: &[u8]) -> impl Iterator<Item = plog_format::Record<'_>> {
    plog_format::Walker::new(bytes).filter_map(|step| match step {
        plog_format::Step::Record(record) => Some(record),
        _ => None,
    })
}

/// Payload slices of a log, in order.
fn payloads(log: &Log) -> Vec<&[u8]> {
    records_of(bench_bytes(log)).map(|r| r.payload()).collect()
}

/// Splits `payloads` in two runs of about equal bytes.
fn halves<'a>(payloads: &'a [&'a [u8]]) -> (&'a [&'a [u8]], &'a [&'a [u8]]) {
    let total: usize = payloads.iter().map(|p| p.len()).sum();
    let mut acc = 0;
    let mid = payloads
        .iter()
        .position(|p| {
            acc += p.len();
            acc >= total / 2
        })
        .unwrap_or(0);
    payloads.split_at(mid)
}

/// Reads one byte of every 64-byte line of `bytes`, in order.
fn touch_lines(bytes: &[u8]) -> u8 {
    bytes
        .chunks(64)
        .fold(0u8, |acc, line| acc ^ line.first().copied().unwrap_or(0))
}

fn hash_all(payloads: &[&[u8]]) -> u8 {
    payloads
        .iter()
        .fold(0u8, |acc, p| acc ^ blake3::hash(p).as_bytes()[0])
}

fn bench_s(c: &mut Criterion, dir: &Path) {
    let records = env_u64("PLOG_BENCH_S_RECORDS", 1_000_000);
    let path = dir.join("s.plog");
    let bytes = write_log(&path, records, |i| k8s_payload(i, 220));
    eprintln!("dataset S: {records} records, {bytes} bytes");
    let log = Log::open(&path).unwrap();
    assert!(log.is_mapped());
    let slices = payloads(&log);
    let two = pool(THREADS);

    let mut group = c.benchmark_group("read_S");
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("walk", |b| {
        b.iter(|| {
            records_of(bench_bytes(&log))
                .map(|r| r.payload_len())
                .sum::<u64>()
        })
    });
    group.bench_function("read_lines_limit", |b| {
        b.iter(|| touch_lines(bench_bytes(&log)))
    });
    group.bench_function("hash_limit_1t", |b| b.iter(|| hash_all(&slices)));
    group.bench_function("hash_limit_2t", |b| {
        let (a, z) = halves(&slices);
        b.iter(|| two.install(|| rayon::join(|| hash_all(a), || hash_all(z))))
    });
    for threads in [1, THREADS] {
        let options = VerifyOptions {
            parallelism: Parallelism::Pool(pool(threads)),
            ..VerifyOptions::default()
        };
        group.bench_function(format!("verify_{threads}t"), |b| {
            b.iter(|| {
                let report = log.verify(&options).unwrap();
                assert_eq!(report.summary.records, records);
            })
        });
    }
    group.bench_function("verify_open_2t", |b| {
        let options = VerifyOptions {
            parallelism: Parallelism::Pool(two.clone()),
            ..VerifyOptions::default()
        };
        b.iter(|| {
            let log = Log::open_with(&path, &OpenOptions::default()).unwrap();
            assert_eq!(log.verify(&options).unwrap().summary.records, records);
        })
    });
    group.bench_function("naive_verify", |b| {
        b.iter(|| assert_eq!(naive_read(&path, |_| ()).len() as u64, records))
    });
    let replay_options = ReplayOptions {
        verify: VerifyOptions {
            parallelism: Parallelism::Pool(two.clone()),
            ..VerifyOptions::default()
        },
        ..ReplayOptions::default()
    };
    group.bench_function("replay_2t", |b| {
        b.iter_batched(
            || (),
            |()| {
                let entries = log.replay::<Entry>(&replay_options).unwrap().entries;
                assert_eq!(entries.len() as u64, records);
                entries
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("replay_each_2t", |b| {
        b.iter(|| {
            let mut count = 0u64;
            log.replay_each(&replay_options, |_, entry: Entry| {
                count += 1;
                drop(entry);
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(count, records);
        })
    });
    group.bench_function("naive_replay", |b| {
        b.iter_batched(
            || (),
            |()| {
                let entries = naive_read(&path, |p| serde_json::from_slice::<Entry>(p).unwrap());
                assert_eq!(entries.len() as u64, records);
                entries
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn bench_l(c: &mut Criterion, dir: &Path) {
    let mib = env_u64("PLOG_BENCH_L_MIB", 2048);
    let records = mib * 16;
    let path = dir.join("l.plog");
    let mut block = vec![0u8; 64 * 1024];
    let bytes = write_log(&path, records, |i| {
        // Cheap varied bytes: each payload differs.
        for (j, chunk) in block.chunks_mut(8).enumerate() {
            chunk
                .copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ j as u64).to_le_bytes());
        }
        block.clone()
    });
    eprintln!("dataset L: {records} records, {bytes} bytes");
    let log = Log::open(&path).unwrap();
    assert!(log.is_mapped());
    let slices = payloads(&log);
    let two = pool(THREADS);

    let mut group = c.benchmark_group("read_L");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(4));
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("hash_limit_1t", |b| b.iter(|| hash_all(&slices)));
    group.bench_function("update_rayon_2t", |b| {
        b.iter(|| {
            two.install(|| {
                let mut hasher = blake3::Hasher::new();
                hasher.update_rayon(bench_bytes(&log));
                hasher.finalize()
            })
        })
    });
    let options = VerifyOptions {
        parallelism: Parallelism::Pool(two.clone()),
        ..VerifyOptions::default()
    };
    group.bench_function("verify_2t", |b| {
        b.iter(|| assert_eq!(log.verify(&options).unwrap().summary.records, records))
    });
    group.bench_function("naive_verify", |b| {
        b.iter(|| assert_eq!(naive_read(&path, |_| ()).len() as u64, records))
    });
    group.finish();
}

fn report_ratios(out: &Path, since: SystemTime) {
    let s = |name| median_ns(out, since, "read_S", name);
    let l = |name| median_ns(out, since, "read_L", name);
    let records = env_u64("PLOG_BENCH_S_RECORDS", 1_000_000) as f64;
    println!("\n== plog-mmap reader: ratios (higher is better) ==");
    let line = print_ratio;
    line(
        "verify S 2t vs naive reader (x)",
        ratio(s("naive_verify"), s("verify_2t")),
        ">= 12",
    );
    line(
        "verify S 2t vs per-payload hash limit x2 (fraction)",
        ratio(
            s("hash_limit_1t").map(|t| t / THREADS as f64),
            s("verify_2t"),
        ),
        ">= 0.85",
    );
    line(
        "verify S 2t vs hash_limit_2t measured (fraction)",
        ratio(s("hash_limit_2t"), s("verify_2t")),
        "-",
    );
    line(
        "verify S 2t, opening the file each time, vs naive (x)",
        ratio(s("naive_verify"), s("verify_open_2t")),
        "-",
    );
    line(
        "walk S (million records/s)",
        s("walk").map(|t| records / t * 1e3),
        ">= 100",
    );
    line(
        "walk S vs reading every cache line once (fraction)",
        ratio(s("read_lines_limit"), s("walk")),
        "-",
    );
    line(
        "replay S 2t vs naive reader with decode (x)",
        ratio(s("naive_replay"), s("replay_2t")),
        ">= 6",
    );
    line(
        "replay_each S 2t (streamed, each entry dropped) vs naive with decode (x)",
        ratio(s("naive_replay"), s("replay_each_2t")),
        "-",
    );
    line(
        "verify L 2t vs whole-buffer update_rayon 2t (fraction)",
        ratio(l("update_rayon_2t"), l("verify_2t")),
        ">= 0.9",
    );
    line(
        "verify L 2t vs per-payload hash limit x2 (fraction)",
        ratio(
            l("hash_limit_1t").map(|t| t / THREADS as f64),
            l("verify_2t"),
        ),
        "-",
    );
    line(
        "verify L 2t vs naive reader (x)",
        ratio(l("naive_verify"), l("verify_2t")),
        "-",
    );
}

fn main() {
    let (mut c, out, since) = plog_benches::criterion_run();
    let dir = tempfile::tempdir().unwrap();
    bench_s(&mut c, dir.path());
    if std::env::var_os("PLOG_BENCH_SKIP_L").is_none() {
        bench_l(&mut c, dir.path());
    }
    c.final_summary();
    report_ratios(&out, since);
}
