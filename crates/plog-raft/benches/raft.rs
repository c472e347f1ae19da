//! plog-raft against its physical limits and two baselines, in the same run.
//!
//! * `append_flush/{1,64,1024}`: append a batch of entries and wait until it
//!   is durable. Limit: `flush_floor`, one `write` + one `fdatasync` of the
//!   same record bytes. Baselines: fjall (keys = big-endian index, values =
//!   the same serde_json, `persist(SyncData)` per batch) and raft-log
//!   (`append` + `flush(sync = true)`, waiting for its callback).
//! * `recovery_1m`: open a 1,000,000-entry log on a 2-thread rayon pool.
//!   Limit: `decode_limit`, reading every segment and checking every
//!   record's BLAKE3 on the same 2 threads (what any verified recovery must
//!   do). Baselines: fjall's open (+ last key) and raft-log's open.
//! * `read_1000`: `try_get_log_entries` of 1,000 consecutive entries from
//!   the 1M log, decoded to openraft entries; the baselines read the same
//!   range and decode the same serde_json.
//!
//! The 1M-entry logs are built once per run in a temporary directory (about
//! 200 MB each).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader};
use plog_format::{Step, Walker};
use plog_raft::{Options, PlogLogStore};
use raft_log::api::raft_log_writer::RaftLogWriter;
use rayon::prelude::*;

#[path = "../tests/raft/support.rs"]
mod support;
use support::{Config, Request};

const ONE_MILLION: u64 = 1_000_000;

fn entry(index: u64) -> Entry<Config> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
        payload: EntryPayload::Normal(Request {
            key: format!("pods/default/web-{index}"),
            value: format!(
                "{{\"phase\":\"Running\",\"node\":\"n{}\",\"rv\":{index}}}",
                index % 7
            ),
        }),
    }
}

fn json(index: u64) -> Vec<u8> {
    serde_json::to_vec(&entry(index)).unwrap()
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

fn plog_append_wait(store: &mut PlogLogStore<Config>, first: u64, n: u64) {
    let (tx, rx) = sync_channel(1);
    store
        .append_with((first..first + n).map(entry), move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
    rx.recv().unwrap().unwrap();
}

fn fjall_append(ks: &fjall::Keyspace, part: &fjall::PartitionHandle, first: u64, n: u64) {
    let mut batch = ks.batch();
    for i in first..first + n {
        batch.insert(part, i.to_be_bytes(), json(i));
    }
    batch.commit().unwrap();
    ks.persist(fjall::PersistMode::SyncData).unwrap();
}

fn raft_log_append(log: &mut raft_log::RaftLog<RlTypes>, first: u64, n: u64) {
    log.append((first..first + n).map(|i| ((1, i), json(i))))
        .unwrap();
    let (tx, rx) = sync_channel(1);
    log.flush(true, Some(tx)).unwrap();
    rx.recv().unwrap().unwrap();
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

fn append_flush(c: &mut Criterion) {
    let mut group = c.benchmark_group("append_flush");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let root = tempfile::tempdir_in(bench_root()).unwrap();
    for batch in [1u64, 64, 1024] {
        group.throughput(Throughput::Elements(batch));

        let dir = root.path().join(format!("plog-{batch}"));
        let mut store = PlogLogStore::<Config>::open(&dir, Options::default()).unwrap();
        let mut next = 1;
        group.bench_function(BenchmarkId::new("plog_raft", batch), |b| {
            b.iter(|| {
                plog_append_wait(&mut store, next, batch);
                next += batch;
            })
        });
        drop(store);

        // The floor: the same record bytes, one write and one fdatasync.
        let mut bytes = Vec::new();
        for i in 1..=batch {
            plog_format::encode_record_to_vec(i, &json(i), &mut bytes);
        }
        let file = File::create(root.path().join(format!("floor-{batch}"))).unwrap();
        let mut end = 0u64;
        group.bench_function(BenchmarkId::new("flush_floor", batch), |b| {
            b.iter(|| {
                file.write_all_at(&bytes, end).unwrap();
                file.sync_data().unwrap();
                end += bytes.len() as u64;
            })
        });

        let (ks, part) = open_fjall(&root.path().join(format!("fjall-{batch}")));
        let mut next = 1;
        group.bench_function(BenchmarkId::new("fjall", batch), |b| {
            b.iter(|| {
                fjall_append(&ks, &part, next, batch);
                next += batch;
            })
        });
        drop((part, ks));

        let mut log = open_raft_log(&root.path().join(format!("raft-log-{batch}")));
        let mut next = 1;
        group.bench_function(BenchmarkId::new("raft_log", batch), |b| {
            b.iter(|| {
                raft_log_append(&mut log, next, batch);
                next += batch;
            })
        });
    }
    group.finish();
}

/// Where the benchmark's files go: `PLOG_BENCH_DIR`, else the temporary
/// directory.
fn bench_root() -> PathBuf {
    std::env::var_os("PLOG_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from)
}

/// The three 1M-entry logs, built once.
struct Million {
    _root: tempfile::TempDir,
    plog: PathBuf,
    fjall: PathBuf,
    raft_log: PathBuf,
}

fn million() -> &'static Million {
    static LOGS: OnceLock<Million> = OnceLock::new();
    LOGS.get_or_init(|| {
        let root = tempfile::tempdir_in(bench_root()).unwrap();
        let plog = root.path().join("plog");
        let fjall = root.path().join("fjall");
        let raft_log = root.path().join("raft-log");
        const BATCH: u64 = 10_000;
        let mut store = PlogLogStore::<Config>::open(&plog, Options::default()).unwrap();
        let (ks, part) = open_fjall(&fjall);
        let mut log = open_raft_log(&raft_log);
        for first in (1..=ONE_MILLION).step_by(BATCH as usize) {
            plog_append_wait(&mut store, first, BATCH);
            fjall_append(&ks, &part, first, BATCH);
            raft_log_append(&mut log, first, BATCH);
        }
        Million {
            _root: root,
            plog,
            fjall,
            raft_log,
        }
    })
}

fn two_threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

/// Reads every segment and checks every record's hash: the work any
/// verified recovery does, and nothing else.
fn decode_limit(dir: &Path) -> u64 {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "plog"))
        .collect();
    segments.sort();
    segments
        .par_iter()
        .map(|path| {
            let bytes = std::fs::read(path).unwrap();
            let records: Vec<_> = Walker::new(&bytes)
                .filter_map(|s| match s {
                    Step::Record(r) => Some(r),
                    _ => None,
                })
                .collect();
            records.par_iter().filter(|r| r.hash_matches()).count() as u64
        })
        .sum()
}

fn recovery(c: &mut Criterion) {
    let logs = million();
    let pool = two_threads();
    let mut group = c.benchmark_group("recovery_1m");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(ONE_MILLION));
    group.bench_function("plog_raft", |b| {
        b.iter(|| {
            pool.install(|| {
                let store = PlogLogStore::<Config>::open(&logs.plog, Options::default()).unwrap();
                assert_eq!(store.recovery().records, ONE_MILLION);
            })
        })
    });
    group.bench_function("decode_limit", |b| {
        b.iter(|| assert_eq!(pool.install(|| decode_limit(&logs.plog)), ONE_MILLION))
    });
    group.bench_function("fjall", |b| {
        b.iter(|| {
            let (_ks, part) = open_fjall(&logs.fjall);
            let (key, _) = part.last_key_value().unwrap().unwrap();
            assert_eq!(&*key, &ONE_MILLION.to_be_bytes());
        })
    });
    group.bench_function("raft_log", |b| {
        b.iter(|| {
            let log = open_raft_log(&logs.raft_log);
            drop(log);
        })
    });
    group.finish();
}

fn read_1000(c: &mut Criterion) {
    let logs = million();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("read_1000");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1000));
    // Ranges spread over the log, the same sequence for everyone.
    let starts: Vec<u64> = (0..64u64)
        .map(|k| 1 + (k * 15_485_863) % (ONE_MILLION - 1000))
        .collect();

    let mut store = PlogLogStore::<Config>::open(&logs.plog, Options::default()).unwrap();
    let mut k = 0;
    group.bench_function("plog_raft", |b| {
        b.iter(|| {
            let start = starts[k % starts.len()];
            k += 1;
            let entries = rt
                .block_on(store.try_get_log_entries(start..start + 1000))
                .unwrap();
            assert_eq!(entries.len(), 1000);
        })
    });
    drop(store);

    let (ks, part) = open_fjall(&logs.fjall);
    let mut k = 0;
    group.bench_function("fjall", |b| {
        b.iter(|| {
            let start = starts[k % starts.len()];
            k += 1;
            let entries: Vec<Entry<Config>> = part
                .range(start.to_be_bytes()..(start + 1000).to_be_bytes())
                .map(|kv| serde_json::from_slice(&kv.unwrap().1).unwrap())
                .collect();
            assert_eq!(entries.len(), 1000);
        })
    });
    drop((part, ks));

    let log = open_raft_log(&logs.raft_log);
    let mut k = 0;
    group.bench_function("raft_log", |b| {
        b.iter(|| {
            let start = starts[k % starts.len()];
            k += 1;
            let entries: Vec<Entry<Config>> = log
                .read(start, start + 1000)
                .map(|r| serde_json::from_slice(&r.unwrap().1).unwrap())
                .collect();
            assert_eq!(entries.len(), 1000);
        })
    });
    group.finish();
}

criterion_group!(benches, append_flush, recovery, read_1000);
criterion_main!(benches);
