//! End to end: three openraft nodes in one process (each on its own tokio
//! runtime, an in-memory network, one in-memory state machine of
//! Kubernetes objects), engenho-shaped proposals (plog-testdata's engenho
//! journal entries) through `client_write` on the leader, by 1 and 64
//! concurrent clients; p50 / p99 latency and writes per second. plog-raft
//! against fjall written exactly as engenho-store writes its Raft log
//! (`append`: each entry's JSON inserted, `persist(SyncAll)`, then the
//! callback; `save_committed`: insert, `persist(SyncAll)`; truncate and
//! purge key by key), in the same run, each cluster in new directories on
//! the same disk, the stores taking turns round by round.
//!
//! ```sh
//! cargo bench -p plog-raft --bench cluster
//! ```
//!
//! The environment picks the sizes: `PLOG_RAFT_CLUSTER_CLIENTS` (default
//! `1,64`), `PLOG_RAFT_CLUSTER_SECS` (measured seconds per store and client
//! count, default 10), `PLOG_RAFT_CLUSTER_ROUNDS` (default 5),
//! `PLOG_RAFT_CLUSTER_WARMUP_MS` (per round, default 300),
//! `PLOG_RAFT_CLUSTER_WRITES` (writes per round instead of a time: a quick
//! smoke run), `PLOG_RAFT_CLUSTER_WORKERS` (worker threads of each node's
//! runtime, default 2), `PLOG_RAFT_CLUSTER_STORES` (the stores to run, by
//! the start of their names: `plog,fjall,memory`, the default),
//! `PLOG_BENCH_DIR` (where the logs go; default the
//! temporary directory). The same path runs at tiny counts in
//! `cargo test -p plog-raft-cluster` (`end_to_end_benchmark_smoke`).
//!
//! The driver, the clusters and the baseline are in plog-raft-cluster
//! (`load`, `load::openraft09`, and for openraft 0.10 `v010::cluster`):
//! plog-raft and fjall on 0.10 are more adapters in the list below,
//! compared with each other, not another harness.

use std::path::PathBuf;
use std::time::Instant;

use plog_raft_cluster::load::{self, Adapter, Plan};

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours (e.g. the
    // other bench's `append_flush`) skips this one.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| "cluster".contains(f.as_str())) {
        return;
    }
    let plan = Plan::from_env();
    let workers = std::env::var("PLOG_RAFT_CLUSTER_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let root_parent =
        std::env::var_os("PLOG_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let root = tempfile::tempdir_in(&root_parent).expect("a directory for the logs");

    let mut adapters: Vec<Box<dyn Adapter>> = load::openraft09::adapters(workers);
    // openraft 0.10: plog-raft's v010 store and fjall as engenho-store.
    adapters.extend(plog_raft_cluster::v010::cluster::adapters(workers));
    if let Ok(only) = std::env::var("PLOG_RAFT_CLUSTER_STORES") {
        let words: Vec<&str> = only.split(',').map(str::trim).collect();
        adapters.retain(|a| words.iter().any(|w| a.store().starts_with(w)));
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let load_average = || {
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "cluster: {plan:?}, node runtimes of {workers} worker(s), logs under {}, CPU {cpu}, \
         load average {}",
        root.path().display(),
        load_average()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the clients' runtime");
    let started = Instant::now();
    let rows = runtime
        .block_on(load::compare(&adapters, &plan, root.path(), |line| {
            println!("{line}")
        }))
        .unwrap_or_else(|e| panic!("the end-to-end benchmark failed: {e}"));
    println!(
        "\ncluster: done in {:.1?}, load average {}\n",
        started.elapsed(),
        load_average()
    );
    print!("{}", load::table(&rows));
}
