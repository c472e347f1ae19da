//! plog-raft against its physical limits and two baselines, in the same run,
//! on engenho-shaped entries: openraft `Entry`s whose application data is
//! engenho-store's journal entry (Kubernetes objects; plog-testdata's
//! engenho log: median ~1.1 KB of serde_json, up to ~4.5 KB).
//!
//! * `append_flush/{1,64,1024}`: append a batch of entries (owned openraft
//!   entries, built outside the timing) and wait until it is durable; every
//!   store serializes the entries itself and drops them (as openraft hands
//!   them over) within the timing. `plog_raft` is the synchronous
//!   `append_with` (written on the caller's thread when the I/O thread is
//!   idle), `plog_raft_async` openraft's path (`append_async` on a
//!   current-thread runtime: nothing blocks the task). Limits: `floor_grow`, one `pwrite`
//!   at the end of a growing file + one `fdatasync` of the same record bytes
//!   (what a log that appends must pay); `floor_overwrite`, the same into a
//!   file whose blocks are already written (what a preallocated journal
//!   pays, as fjall's is); `floor_keep_size`, the growing file with its
//!   blocks allocated ahead (`FALLOC_FL_KEEP_SIZE`); `serialize`,
//!   `serde_json::to_vec` of the batch alone. Baselines: `fjall_engenho`,
//!   fjall written exactly as engenho-store writes its Raft log
//!   (`FjallStore::append_entries_durable`: each entry's serde_json
//!   inserted under its big-endian index into the `log` partition, then
//!   `persist(SyncAll)`); `fjall` (the same values in one write batch,
//!   `persist(SyncData)`); raft-log (`append` + `flush(sync = true)`,
//!   waiting for its callback). Each step prints its median and p99.
//!   `PLOG_RAFT_BENCH_STEPS=plog_raft,floor_overwrite` keeps only the
//!   steps named (another store's background threads then do not run
//!   beside them).
//! * `recovery`: open the log and read every entry into openraft entries,
//!   in chunks of 8,192 (dropped as a state machine would apply them), on a
//!   2-thread rayon pool; `plog_raft_open` is the open alone (the
//!   recovery scan: list, read and verify every segment). Limit: `decode_limit`, the same payloads already in
//!   memory decoded into openraft entries with rayon on the same 2 threads,
//!   by the fastest decoder here (sonic-rs, plog-raft's own).
//!   Baselines: fjall and raft-log open, then iterate and decode every
//!   value on one thread (what a `RaftLogReader` on them does), and with the
//!   decoding spread over the same 2 threads (`*_par`).
//!   `PLOG_RAFT_BENCH_STEPS` keeps only the steps named here too.
//! * `read_1000`: `try_get_log_entries` of 1,000 consecutive entries
//!   anywhere in the log; the baselines read the same range and decode the
//!   same serde_json. Limit: `decode_limit`, the same 1,000 payloads
//!   already in memory decoded by sonic-rs on the same 2 threads (no I/O,
//!   no hashing, no index) and dropped by the caller, as every store's
//!   entries are. `PLOG_RAFT_BENCH_STEPS` keeps only the steps named.
//! * `purge` (printed, not criterion): what the caller of `purge_to` waits
//!   for, in logs of 1,000 and 1,000,000 small entries (1 MiB segments): ten
//!   purges each, of a twentieth of the log, 300 ms apart (the unlinking of
//!   the previous one, in the background, is done).
//! * `sustained` (printed, not criterion): entries in batches of 64, each
//!   durable before the next, a purge every 100,000 entries (keeping the
//!   last 10,000) and a truncate of the last 1,000 every 250,000; throughput
//!   and bytes written (the process's `write_bytes` in `/proc/self/io`, and
//!   the size left on disk).
//!
//! Sizes: `PLOG_RAFT_BENCH_ENTRIES` entries in the recovery and read logs
//! (default 100,000, ~170 MB per store; the 1,000,000 makes each
//! recovery step 10 to 30 s on a 2-core machine, about 40 minutes for the
//! group: set it for a long run), `PLOG_RAFT_BENCH_SUSTAINED` entries in
//! the sustained run (default 1,000,000);
//! `PLOG_RAFT_BENCH_ONLY=append,recovery,read,purge,sustained` picks groups,
//! `PLOG_RAFT_BENCH_BATCHES=1,64,1024` the append batch sizes;
//! `PLOG_RAFT_BENCH_ROUNDS` (default 200) and
//! `PLOG_RAFT_BENCH_RECOVERY_ROUNDS` (default 3) set the rounds of the
//! interleaved comparisons;
//! `PLOG_BENCH_DIR` is where the files go (default: the temporary
//! directory).

use std::fs::File;
use std::io::{self, Cursor};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openraft::{Entry, LogId, RaftLogReader};
use plog_format::Walker;
use plog_raft::{Options, PlogLogStore};
use plog_testdata::{JournalEntry, engenho_payload};
use raft_log::api::raft_log_writer::RaftLogWriter;
use rayon::prelude::*;

openraft::declare_raft_types!(
    /// engenho-store's shape: journal entries as application data.
    pub Eng: D = JournalEntry, R = ()
);

type E = Entry<Eng>;

/// The engenho log's seed.
const SEED: u64 = 15;
/// Distinct entries the append benchmarks and the sustained run cycle
/// through (indices rewritten).
const POOL: usize = 4096;
/// Entries per read when recovering.
const CHUNK: u64 = 8192;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn selected(group: &str) -> bool {
    std::env::var("PLOG_RAFT_BENCH_ONLY").map_or(true, |only| only.split(',').any(|g| g == group))
}

/// Entry `index` of the engenho log, as an openraft entry.
fn engenho(index: u64) -> E {
    serde_json::from_slice(&engenho_payload(SEED, index)).expect("an engenho payload is an Entry")
}

fn pool() -> &'static [E] {
    static POOL_ENTRIES: OnceLock<Vec<E>> = OnceLock::new();
    POOL_ENTRIES.get_or_init(|| {
        let entries: Vec<E> = (1..=POOL as u64).into_par_iter().map(engenho).collect();
        // The openraft entry serializes to the engenho payload byte for
        // byte: the stores write engenho-shaped bytes.
        for e in &entries[..64] {
            assert_eq!(
                serde_json::to_vec(e).unwrap(),
                engenho_payload(SEED, e.log_id.index)
            );
        }
        entries
    })
}

/// Entries `first..first + n`: the pool's, with their index rewritten.
fn batch(first: u64, n: u64) -> Vec<E> {
    let pool = pool();
    (first..first + n)
        .map(|i| {
            let mut e = pool[((i - 1) % POOL as u64) as usize].clone();
            e.log_id.index = i;
            e
        })
        .collect()
}

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(pool()[0].log_id.leader_id, index)
}

fn json(e: &E) -> Vec<u8> {
    serde_json::to_vec(e).unwrap()
}

fn decode(bytes: &[u8]) -> E {
    serde_json::from_slice(bytes).unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct RlTypes;

impl raft_log::Types for RlTypes {
    type LogId = (u64, u64);
    type LogPayload = Vec<u8>;
    type Vote = (u64, u64);
    type UserData = String;
    type Callback = SyncSender<io::Result<()>>;

    fn log_index(log_id: &Self::LogId) -> u64 {
        log_id.1
    }

    fn payload_size(payload: &Self::LogPayload) -> u64 {
        payload.len() as u64
    }
}

fn plog_append(store: &mut PlogLogStore<Eng>, entries: Vec<E>) {
    let (tx, rx) = sync_channel(1);
    store
        .append_with(entries, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
    rx.recv().unwrap().unwrap();
}

fn fjall_append(ks: &fjall::Keyspace, part: &fjall::PartitionHandle, entries: &[E]) {
    let mut batch = ks.batch();
    for e in entries {
        batch.insert(part, e.log_id.index.to_be_bytes(), json(e));
    }
    batch.commit().unwrap();
    ks.persist(fjall::PersistMode::SyncData).unwrap();
}

/// fjall written exactly as engenho-store's `FjallStore` writes its Raft
/// log (`append_entries_durable`): each entry's `serde_json::to_vec`
/// inserted under its big-endian index into the `log` partition, then
/// `persist(SyncAll)` before the append returns. The same function writes
/// the end-to-end benchmark's fjall log store (plog-raft-cluster).
fn fjall_engenho_append(ks: &fjall::Keyspace, part: &fjall::PartitionHandle, entries: &[E]) {
    plog_raft_cluster::fjall_log::append_as_engenho(
        ks,
        part,
        entries.iter().map(|e| (e.log_id.index, e)),
    )
    .unwrap();
}

fn raft_log_flush(log: &mut raft_log::RaftLog<RlTypes>) {
    let (tx, rx) = sync_channel(1);
    log.flush(true, Some(tx)).unwrap();
    rx.recv().unwrap().unwrap();
}

fn raft_log_append(log: &mut raft_log::RaftLog<RlTypes>, entries: &[E]) {
    RaftLogWriter::append(log, entries.iter().map(|e| ((1, e.log_id.index), json(e)))).unwrap();
    raft_log_flush(log);
}

fn open_fjall(dir: &Path) -> (fjall::Keyspace, fjall::PartitionHandle) {
    let ks = fjall::Config::new(dir).open().unwrap();
    let part = ks
        .open_partition("log", fjall::PartitionCreateOptions::default())
        .unwrap();
    (ks, part)
}

fn open_raft_log(dir: &Path) -> raft_log::RaftLog<RlTypes> {
    std::fs::create_dir_all(dir).unwrap();
    let config = raft_log::Config::new(dir.display());
    raft_log::RaftLog::open(Arc::new(config)).unwrap()
}

/// Where the benchmark's files go: `PLOG_BENCH_DIR`, else the temporary
/// directory.
fn bench_root() -> PathBuf {
    std::env::var_os("PLOG_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from)
}

/// plog-raft scans and reads on the global rayon pool, called from the
/// caller's task (openraft's, never a rayon thread): the global pool gets
/// the same two threads as the baselines' decoding pool. (Called from
/// inside a pool of two, a read would block one of the two threads in the
/// runtime's `block_on` while the other decodes alone.)
fn global_pool_of_two() {
    // Fails only when the pool already exists (built by an earlier group).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
    assert_eq!(
        rayon::current_num_threads(),
        2,
        "plog-raft must read on 2 threads, as the baselines decode: run with RAYON_NUM_THREADS=2"
    );
}

fn two_threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

/// One measured step: does one unit of work and returns how long the part
/// that counts took.
type Step = Box<dyn FnMut() -> Duration>;

/// Runs every step once per round, in turn, so that a change of load (the
/// machine is shared) hits all of them alike, and prints each one's median
/// and its ratio to the first step's.
fn interleaved(title: &str, rounds: usize, steps: &mut [(String, Step)]) {
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); steps.len()];
    // Each round runs the steps in a new order: a step's time depends on
    // what the device and the file system were left doing by the step
    // before it (a journal commit, another store's background flush), and
    // a fixed order would hand the same neighbour to the same step every
    // round.
    let mut order: Vec<usize> = (0..steps.len()).collect();
    let mut rng = plog_testdata::SplitMix64(0x5eed);
    for _ in 0..rounds {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for &k in &order {
            times[k].push((steps[k].1)());
        }
    }
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    let p99s: Vec<Duration> = times
        .iter()
        .map(|t| t[(t.len() * 99 / 100).min(t.len() - 1)])
        .collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "interleaved {title} ({rounds} rounds, load average {}):",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (((name, _), median), p99) in steps.iter().zip(&medians).zip(&p99s) {
        println!(
            "  {name:<16} median {median:>12.3?}  p99 {p99:>12.3?}  (this / first: median {:.2}, p99 {:.2})",
            median.as_secs_f64() / medians[0].as_secs_f64(),
            p99.as_secs_f64() / p99s[0].as_secs_f64(),
        );
    }
}

/// Each step of `steps` as a criterion benchmark in `group`.
fn bench_steps(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    parameter: u64,
    steps: &mut [(String, Step)],
) {
    for (name, step) in steps.iter_mut() {
        group.bench_function(BenchmarkId::new(name.as_str(), parameter), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| step()).sum())
        });
    }
}

/// Times `f`.
fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// A floor step: the next of `batches` (in turn) written with one `pwrite`
/// after the previous one, then one `fdatasync`. With `wrap_at`, a batch
/// that would end past it starts again at offset 0 (overwriting what the
/// file already holds) instead.
fn flush_floor(file: File, batches: Arc<Vec<Vec<u8>>>, wrap_at: Option<u64>) -> Step {
    let (mut at, mut k) = (0u64, 0usize);
    Box::new(move || {
        let bytes = &batches[k % batches.len()];
        k += 1;
        if wrap_at.is_some_and(|cap| at + bytes.len() as u64 > cap) {
            at = 0;
        }
        let t = timed(|| {
            file.write_all_at(bytes, at).unwrap();
            file.sync_data().unwrap();
        });
        at += bytes.len() as u64;
        t
    })
}

/// The append steps for batches of `n` entries: plog-raft, the floors,
/// serializing alone, and the baselines, each in its own files under `root`.
fn append_steps(root: &Path, n: u64) -> Vec<(String, Step)> {
    std::fs::create_dir_all(root).unwrap();
    let mut steps: Vec<(String, Step)> = Vec::new();

    /// Prints how the store's writes went when the step is dropped.
    struct Reporting(PlogLogStore<Eng>, u64);
    impl Drop for Reporting {
        fn drop(&mut self) {
            let stats = self.0.write_stats();
            println!(
                "  plog_raft/{}: {} writes into preallocated zeros, {} that grew the file",
                self.1, stats.overwrites, stats.growths
            );
        }
    }
    let mut store = Reporting(
        PlogLogStore::<Eng>::open(root.join(format!("plog-{n}")), Options::default()).unwrap(),
        n,
    );
    let mut next = 1;
    steps.push((
        "plog_raft".into(),
        Box::new(move || {
            let entries = batch(next, n);
            next += n;
            timed(|| plog_append(&mut store.0, entries))
        }),
    ));
    // openraft's path: `append` on a runtime's task, which never blocks
    // (serializing off the task from 16 entries, the write on the I/O
    // thread, the callback from it).
    let mut store = Reporting(
        PlogLogStore::<Eng>::open(root.join(format!("plog-async-{n}")), Options::default())
            .unwrap(),
        n,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut next = 1;
    steps.push((
        "plog_raft_async".into(),
        Box::new(move || {
            let entries = batch(next, n);
            next += n;
            timed(|| {
                runtime.block_on(async {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    store
                        .0
                        .append_async(entries, move |r| {
                            let _ = tx.send(r);
                        })
                        .await
                        .unwrap();
                    rx.await.unwrap().unwrap();
                })
            })
        }),
    ));

    // The floors: the same record bytes (the pool's batches in turn), one
    // pwrite and one fdatasync.
    let batches: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..POOL as u64 / n)
            .map(|k| {
                let mut bytes = Vec::new();
                for e in batch(1 + k * n, n) {
                    plog_format::encode_record_to_vec(e.log_id.index, &json(&e), &mut bytes);
                }
                bytes
            })
            .collect(),
    );
    let file = File::create(root.join(format!("floor-grow-{n}"))).unwrap();
    steps.push((
        "floor_grow".into(),
        flush_floor(file, Arc::clone(&batches), None),
    ));
    // The same growing file with its blocks allocated ahead
    // (`fallocate(FALLOC_FL_KEEP_SIZE)`: the size still grows with each
    // write, so a crash never shows the allocated tail).
    let file = File::create(root.join(format!("floor-keep-size-{n}"))).unwrap();
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; fallocate only reads its arguments.
        let rc =
            unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, 1 << 30) };
        assert_eq!(rc, 0, "fallocate: {}", io::Error::last_os_error());
    }
    steps.push((
        "floor_keep_size".into(),
        flush_floor(file, Arc::clone(&batches), None),
    ));
    const CAP: u64 = 64 << 20;
    let file = File::create(root.join(format!("floor-overwrite-{n}"))).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for k in 0..CAP >> 20 {
        file.write_all_at(&zeros, k << 20).unwrap();
    }
    file.sync_all().unwrap();
    steps.push((
        "floor_overwrite".into(),
        flush_floor(file, batches, Some(CAP)),
    ));

    let entries = batch(1, POOL as u64);
    let mut k = 0;
    steps.push((
        "serialize".into(),
        Box::new(move || {
            let chunk = &entries[k * n as usize % POOL..][..n as usize];
            k += 1;
            timed(|| {
                std::hint::black_box(chunk.iter().map(|e| json(e).len()).sum::<usize>());
            })
        }),
    ));

    let (ks, part) = open_fjall(&root.join(format!("fjall-{n}")));
    let mut next = 1;
    steps.push((
        "fjall".into(),
        Box::new(move || {
            let entries = batch(next, n);
            next += n;
            timed(|| {
                fjall_append(&ks, &part, &entries);
                drop(entries);
            })
        }),
    ));

    let (ks, part) = open_fjall(&root.join(format!("fjall-engenho-{n}")));
    let mut next = 1;
    steps.push((
        "fjall_engenho".into(),
        Box::new(move || {
            let entries = batch(next, n);
            next += n;
            timed(|| {
                fjall_engenho_append(&ks, &part, &entries);
                drop(entries);
            })
        }),
    ));

    let mut log = open_raft_log(&root.join(format!("raft-log-{n}")));
    let mut next = 1;
    steps.push((
        "raft_log".into(),
        Box::new(move || {
            let entries = batch(next, n);
            next += n;
            timed(|| {
                raft_log_append(&mut log, &entries);
                drop(entries);
            })
        }),
    ));
    steps
}

fn append_flush(c: &mut Criterion) {
    if !selected("append") {
        return;
    }
    let mut group = c.benchmark_group("append_flush");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let root = tempfile::tempdir_in(bench_root()).unwrap();
    let rounds = env_u64("PLOG_RAFT_BENCH_ROUNDS", 200) as usize;
    let sizes = std::env::var("PLOG_RAFT_BENCH_BATCHES").unwrap_or_else(|_| "1,64,1024".into());
    for n in sizes.split(',').filter_map(|n| n.parse::<u64>().ok()) {
        group.throughput(Throughput::Elements(n));
        let mut steps = append_steps(&root.path().join(n.to_string()), n);
        if let Ok(only) = std::env::var("PLOG_RAFT_BENCH_STEPS") {
            steps.retain(|(name, _)| only.split(',').any(|s| s == name));
        }
        bench_steps(&mut group, n, &mut steps);
        let rounds = if n == 1024 { rounds / 4 } else { rounds };
        interleaved(&format!("append_flush/{n}"), rounds.max(1), &mut steps);
    }
    group.finish();
}

/// The three logs of the engenho entries `1..=count`, built once.
struct Logs {
    _root: tempfile::TempDir,
    count: u64,
    plog: PathBuf,
    fjall: PathBuf,
    raft_log: PathBuf,
}

static LOGS: OnceLock<Logs> = OnceLock::new();

/// Removes the logs' files once their groups have run (a static is never
/// dropped).
fn remove_logs() {
    if let Some(logs) = LOGS.get() {
        let _ = std::fs::remove_dir_all(logs._root.path());
    }
}

fn logs() -> &'static Logs {
    LOGS.get_or_init(|| {
        let count = env_u64("PLOG_RAFT_BENCH_ENTRIES", 100_000);
        let started = Instant::now();
        let root = tempfile::tempdir_in(bench_root()).unwrap();
        let plog = root.path().join("plog");
        let fjall = root.path().join("fjall");
        let raft_log = root.path().join("raft-log");
        const BATCH: u64 = 10_000;
        let mut store = PlogLogStore::<Eng>::open(&plog, Options::default()).unwrap();
        let (ks, part) = open_fjall(&fjall);
        let mut log = open_raft_log(&raft_log);
        for first in (1..=count).step_by(BATCH as usize) {
            let last = (first + BATCH - 1).min(count);
            let entries: Vec<E> = (first..=last).into_par_iter().map(engenho).collect();
            fjall_append(&ks, &part, &entries);
            raft_log_append(&mut log, &entries);
            plog_append(&mut store, entries);
        }
        drop(store);
        drop((part, ks));
        drop(log);
        eprintln!(
            "built three logs of {count} engenho entries in {:.1?}",
            started.elapsed()
        );
        Logs {
            _root: root,
            count,
            plog,
            fjall,
            raft_log,
        }
    })
}

/// Every payload of a plog-raft directory, in memory: per segment, its
/// bytes and each payload's range.
fn payloads_in_memory(dir: &Path) -> Vec<(Vec<u8>, Vec<Range<usize>>)> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "plog") && p.file_name().unwrap() != "state.plog"
        })
        .collect();
    segments.sort();
    segments
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).unwrap();
            let base = bytes.as_ptr() as usize;
            let ranges = Walker::new(&bytes)
                .filter_map(|s| match s {
                    plog_format::Step::Record(r) => {
                        let start = r.payload().as_ptr() as usize - base;
                        Some(start..start + r.payload().len())
                    }
                    _ => None,
                })
                .collect();
            (bytes, ranges)
        })
        .collect()
}

/// The fastest decoder of an entry there is here (sonic-rs, what plog-raft
/// itself decodes with): the decode limits use it, so that no store's
/// figure can beat its limit by a faster parser.
fn decode_fastest(bytes: &[u8]) -> E {
    sonic_rs::from_slice(bytes).unwrap()
}

/// Decodes raw payloads on the current rayon pool.
fn par_decode(raw: &[impl AsRef<[u8]> + Sync]) -> Vec<E> {
    raw.par_iter()
        .with_min_len(64)
        .map(|v| decode(v.as_ref()))
        .collect()
}

fn plog_read_all(store: &mut PlogLogStore<Eng>, rt: &tokio::runtime::Runtime, count: u64) {
    let mut read = 0;
    for first in (1..=count).step_by(CHUNK as usize) {
        let end = (first + CHUNK).min(count + 1);
        let entries = rt.block_on(store.try_get_log_entries(first..end)).unwrap();
        assert_eq!(entries.len() as u64, end - first);
        read += entries.len() as u64;
    }
    assert_eq!(read, count);
}

fn fjall_read_all(part: &fjall::PartitionHandle, parallel: bool) -> u64 {
    let mut read = 0u64;
    let mut raw = Vec::with_capacity(CHUNK as usize);
    let mut flush = |raw: &mut Vec<fjall::Slice>| {
        let n = if parallel {
            par_decode(raw).len()
        } else {
            raw.iter().map(|v| decode(v)).collect::<Vec<E>>().len()
        };
        read += n as u64;
        raw.clear();
    };
    for kv in part.iter() {
        raw.push(kv.unwrap().1);
        if raw.len() as u64 == CHUNK {
            flush(&mut raw);
        }
    }
    flush(&mut raw);
    read
}

fn raft_log_read_all(log: &raft_log::RaftLog<RlTypes>, count: u64, parallel: bool) -> u64 {
    let mut read = 0u64;
    for first in (1..=count).step_by(CHUNK as usize) {
        let end = (first + CHUNK).min(count + 1);
        let raw: Vec<Vec<u8>> = log.read(first, end).map(|r| r.unwrap().1).collect();
        let n = if parallel {
            par_decode(&raw).len()
        } else {
            raw.iter().map(|v| decode(v)).collect::<Vec<E>>().len()
        };
        read += n as u64;
    }
    read
}

fn recovery(c: &mut Criterion) {
    if !selected("recovery") {
        return;
    }
    global_pool_of_two();
    let logs = logs();
    let count = logs.count;
    let pool = Arc::new(two_threads());
    let rt = Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
    );
    let mut steps: Vec<(String, Step)> = Vec::new();
    {
        let rt = Arc::clone(&rt);
        steps.push((
            "plog_raft".into(),
            Box::new(move || {
                timed(|| {
                    let mut store =
                        PlogLogStore::<Eng>::open(&logs.plog, Options::default()).unwrap();
                    assert_eq!(store.recovery().records, count);
                    plog_read_all(&mut store, &rt, count);
                })
            }),
        ));
    }
    {
        steps.push((
            "plog_raft_open".into(),
            Box::new(move || {
                timed(|| {
                    let store = PlogLogStore::<Eng>::open(&logs.plog, Options::default()).unwrap();
                    assert_eq!(store.recovery().records, count);
                })
            }),
        ));
    }
    let memory = payloads_in_memory(&logs.plog);
    assert_eq!(
        memory.iter().map(|(_, r)| r.len() as u64).sum::<u64>(),
        count
    );
    {
        let pool = Arc::clone(&pool);
        steps.push((
            "decode_limit".into(),
            Box::new(move || {
                timed(|| {
                    pool.install(|| {
                        let mut read = 0;
                        for (bytes, ranges) in &memory {
                            for chunk in ranges.chunks(CHUNK as usize) {
                                let entries: Vec<E> = chunk
                                    .par_iter()
                                    .with_min_len(64)
                                    .map(|r| decode_fastest(&bytes[r.clone()]))
                                    .collect();
                                read += entries.len() as u64;
                            }
                        }
                        assert_eq!(read, count);
                    })
                })
            }),
        ));
    }
    for parallel in [false, true] {
        let suffix = if parallel { "_par" } else { "" };
        let p = Arc::clone(&pool);
        steps.push((
            format!("fjall{suffix}"),
            Box::new(move || {
                timed(|| {
                    p.install(|| {
                        let (_ks, part) = open_fjall(&logs.fjall);
                        assert_eq!(fjall_read_all(&part, parallel), count);
                    })
                })
            }),
        ));
        let p = Arc::clone(&pool);
        steps.push((
            format!("raft_log{suffix}"),
            Box::new(move || {
                timed(|| {
                    p.install(|| {
                        let log = open_raft_log(&logs.raft_log);
                        assert_eq!(raft_log_read_all(&log, count, parallel), count);
                    })
                })
            }),
        ));
    }
    if let Ok(only) = std::env::var("PLOG_RAFT_BENCH_STEPS") {
        steps.retain(|(name, _)| only.split(',').any(|s| s == name));
    }
    let mut group = c.benchmark_group("recovery");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(count));
    bench_steps(&mut group, count, &mut steps);
    group.finish();
    let rounds = env_u64("PLOG_RAFT_BENCH_RECOVERY_ROUNDS", 3) as usize;
    interleaved(&format!("recovery/{count}"), rounds.max(1), &mut steps);
}

fn read_1000(c: &mut Criterion) {
    if !selected("read") {
        return;
    }
    global_pool_of_two();
    let logs = logs();
    let count = logs.count;
    // Ranges spread over the log, the same sequence for everyone.
    let starts: Arc<Vec<u64>> = Arc::new(
        (0..64u64)
            .map(|k| 1 + (k * 15_485_863) % (count - 1000))
            .collect(),
    );
    let mut steps: Vec<(String, Step)> = Vec::new();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut store = PlogLogStore::<Eng>::open(&logs.plog, Options::default()).unwrap();
    let (mut k, s) = (0, Arc::clone(&starts));
    steps.push((
        "plog_raft".into(),
        Box::new(move || {
            let start = s[k % s.len()];
            k += 1;
            timed(|| {
                let entries = rt
                    .block_on(store.try_get_log_entries(start..start + 1000))
                    .unwrap();
                assert_eq!(entries.len(), 1000);
            })
        }),
    ));

    // The least a read of 1,000 entries can take here: the same payloads
    // already in memory (no I/O, no hash, no index), decoded with the
    // fastest decoder on the same two threads, and dropped by the caller
    // as every store's entries are.
    let memory = payloads_in_memory(&logs.plog);
    let in_order: Vec<(usize, Range<usize>)> = memory
        .iter()
        .enumerate()
        .flat_map(|(segment, (_, ranges))| ranges.iter().map(move |r| (segment, r.clone())))
        .collect();
    assert_eq!(in_order.len() as u64, count);
    let limit_pool = two_threads();
    let (mut k, s) = (0, Arc::clone(&starts));
    steps.push((
        "decode_limit".into(),
        Box::new(move || {
            let start = s[k % s.len()] as usize;
            k += 1;
            timed(|| {
                let entries: Vec<E> = limit_pool.install(|| {
                    in_order[start - 1..start - 1 + 1000]
                        .par_iter()
                        .with_min_len(64)
                        .map(|(segment, r)| decode_fastest(&memory[*segment].0[r.clone()]))
                        .collect()
                });
                assert_eq!(entries.len(), 1000);
                assert_eq!(entries[0].log_id.index, start as u64);
            })
        }),
    ));

    let (ks, part) = open_fjall(&logs.fjall);
    let (mut k, s) = (0, Arc::clone(&starts));
    steps.push((
        "fjall".into(),
        Box::new(move || {
            let start = s[k % s.len()];
            k += 1;
            let _keyspace = &ks;
            timed(|| {
                let entries: Vec<E> = part
                    .range(start.to_be_bytes()..(start + 1000).to_be_bytes())
                    .map(|kv| decode(&kv.unwrap().1))
                    .collect();
                assert_eq!(entries.len(), 1000);
            })
        }),
    ));

    let log = open_raft_log(&logs.raft_log);
    let (mut k, s) = (0, Arc::clone(&starts));
    steps.push((
        "raft_log".into(),
        Box::new(move || {
            let start = s[k % s.len()];
            k += 1;
            timed(|| {
                let entries: Vec<E> = log
                    .read(start, start + 1000)
                    .map(|r| decode(&r.unwrap().1))
                    .collect();
                assert_eq!(entries.len(), 1000);
            })
        }),
    ));

    if let Ok(only) = std::env::var("PLOG_RAFT_BENCH_STEPS") {
        steps.retain(|(name, _)| only.split(',').any(|s| s == name));
    }
    let mut group = c.benchmark_group("read_1000");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1000));
    bench_steps(&mut group, count, &mut steps);
    group.finish();
    let rounds = env_u64("PLOG_RAFT_BENCH_ROUNDS", 200) as usize;
    interleaved("read_1000", rounds.max(1), &mut steps);
}

/// The operations of the sustained run, for each store.
trait Sustained {
    fn append(&mut self, entries: Vec<E>);
    /// Purge entries up to `index` (inclusive), durably.
    fn purge(&mut self, index: u64);
    /// Remove entry `index` and every later one, durably.
    fn truncate(&mut self, index: u64);
}

impl Sustained for PlogLogStore<Eng> {
    fn append(&mut self, entries: Vec<E>) {
        plog_append(self, entries);
    }
    fn purge(&mut self, index: u64) {
        self.purge_to(log_id(index)).unwrap();
    }
    fn truncate(&mut self, index: u64) {
        self.truncate_from(index).unwrap();
    }
}

/// fjall, with the index range it holds.
struct FjallLog {
    ks: fjall::Keyspace,
    part: fjall::PartitionHandle,
    first: u64,
    next: u64,
}

impl Sustained for FjallLog {
    fn append(&mut self, entries: Vec<E>) {
        fjall_append(&self.ks, &self.part, &entries);
        self.next = entries.last().map_or(self.next, |e| e.log_id.index + 1);
    }
    fn purge(&mut self, index: u64) {
        let mut batch = self.ks.batch();
        for i in self.first..=index {
            batch.remove(&self.part, i.to_be_bytes());
        }
        batch.commit().unwrap();
        self.ks.persist(fjall::PersistMode::SyncData).unwrap();
        self.first = index + 1;
    }
    fn truncate(&mut self, index: u64) {
        let mut batch = self.ks.batch();
        for i in index..self.next {
            batch.remove(&self.part, i.to_be_bytes());
        }
        batch.commit().unwrap();
        self.ks.persist(fjall::PersistMode::SyncData).unwrap();
        self.next = index;
    }
}

impl Sustained for raft_log::RaftLog<RlTypes> {
    fn append(&mut self, entries: Vec<E>) {
        raft_log_append(self, &entries);
    }
    fn purge(&mut self, index: u64) {
        RaftLogWriter::purge(self, (1, index)).unwrap();
        raft_log_flush(self);
    }
    fn truncate(&mut self, index: u64) {
        RaftLogWriter::truncate(self, index).unwrap();
        raft_log_flush(self);
    }
}

/// The process's bytes written to storage so far (`write_bytes` of
/// `/proc/self/io`: counted when pages are dirtied, so buffered writes that
/// are still in the page cache count too).
fn write_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for item in std::fs::read_dir(dir).unwrap() {
        let item = item.unwrap();
        let meta = item.metadata().unwrap();
        total += if meta.is_dir() {
            du(&item.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

/// Runs the sustained workload of `total` entries on `store`; returns the
/// seconds it took and the bytes it wrote.
fn sustained_run(store: &mut impl Sustained, total: u64) -> (f64, u64) {
    const BATCH: u64 = 64;
    let before = write_bytes();
    let started = Instant::now();
    let mut next = 1u64;
    let mut appended = 0u64;
    while appended < total {
        let entries = batch(next, BATCH);
        store.append(entries);
        next += BATCH;
        appended += BATCH;
        if appended / 100_000 != (appended - BATCH) / 100_000 && next > 10_001 {
            store.purge(next - 10_001);
        }
        if appended / 250_000 != (appended - BATCH) / 250_000 {
            next -= 1000;
            store.truncate(next);
        }
    }
    (started.elapsed().as_secs_f64(), write_bytes() - before)
}

/// The caller's cost of `purge_to` against the size of the log.
fn purge(_: &mut Criterion) {
    if !selected("purge") {
        return;
    }
    let root = tempfile::tempdir_in(bench_root()).unwrap();
    let small = |index: u64| -> E {
        let mut e = pool()[0].clone();
        e.log_id.index = index;
        e.payload = openraft::EntryPayload::Blank;
        e
    };
    for count in [1_000u64, 1_000_000] {
        let dir = root.path().join(count.to_string());
        let options = Options {
            segment_bytes: 1 << 20,
            ..Options::default()
        };
        let mut store = PlogLogStore::<Eng>::open(&dir, options).unwrap();
        let started = Instant::now();
        for first in (1..=count).step_by(10_000) {
            let last = (first + 9_999).min(count);
            plog_append(&mut store, (first..=last).map(small).collect());
        }
        let built = started.elapsed();
        let segments = std::fs::read_dir(&dir).unwrap().count();
        // Purges are spaced as a Raft node spaces them (one per snapshot):
        // the previous purge's unlinking, in the background, is done.
        let mut times: Vec<Duration> = (1..=10)
            .map(|k| {
                std::thread::sleep(Duration::from_millis(300));
                timed(|| store.purge_to(log_id(count * k / 20)).unwrap())
            })
            .collect();
        times.sort();
        println!(
            "purge/{count}: {segments} files after building ({built:.1?}); purge_to of a \
             twentieth of the log, 10 times: median {:?}, max {:?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}

fn sustained(_: &mut Criterion) {
    // The recovery and read groups, which run before this one, are done.
    remove_logs();
    if !selected("sustained") {
        return;
    }
    let total = env_u64("PLOG_RAFT_BENCH_SUSTAINED", 1_000_000);
    let root = tempfile::tempdir_in(bench_root()).unwrap();
    // What building the entries costs (part of every store's time).
    let started = Instant::now();
    let mut built = 0;
    for first in (1..=total).step_by(64) {
        built += batch(first, 64).len();
    }
    let build = started.elapsed().as_secs_f64();
    println!(
        "sustained/{total}: building {built} entries alone takes {build:.2} s (included below)"
    );
    let report = |name: &str, (secs, bytes): (f64, u64), dir: &Path| {
        println!(
            "sustained/{total}/{name}: {secs:.2} s, {:.0} entries/s, {:.0} MB written (write_bytes), {:.0} MB on disk at the end",
            total as f64 / secs,
            bytes as f64 / 1e6,
            du(dir) as f64 / 1e6
        );
    };
    let dir = root.path().join("plog");
    let mut store = PlogLogStore::<Eng>::open(&dir, Options::default()).unwrap();
    let result = sustained_run(&mut store, total);
    drop(store);
    report("plog_raft", result, &dir);

    let dir = root.path().join("fjall");
    let (ks, part) = open_fjall(&dir);
    let mut log = FjallLog {
        ks,
        part,
        first: 1,
        next: 1,
    };
    let result = sustained_run(&mut log, total);
    drop(log);
    report("fjall", result, &dir);

    let dir = root.path().join("raft-log");
    let mut log = open_raft_log(&dir);
    let result = sustained_run(&mut log, total);
    drop(log);
    report("raft_log", result, &dir);
}

criterion_group!(benches, append_flush, recovery, read_1000, purge, sustained);
criterion_main!(benches);
