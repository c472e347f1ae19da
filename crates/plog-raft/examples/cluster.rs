//! A three-node openraft cluster in one process on plog-raft log stores
//! (in-memory network and state machines, real log directories).
//!
//! It writes 10,000 commands, stops node 3 half-way, writes on while the
//! leader snapshots and purges its log, restarts node 3 from its directory
//! and shows it catching up: its own log replayed, then the leader's
//! snapshot, then the log after the snapshot.
//!
//! ```sh
//! cargo run --release -p plog-raft --example cluster [DIR]
//! ```
//!
//! The state machines live in memory: node 3 rebuilds its state from its
//! own log at restart (its snapshot policy is `Never`, so it keeps its whole
//! log), while nodes 1 and 2 snapshot every 2,000 entries and purge. The
//! state machine, the network and the cluster are plog-raft-cluster's (the
//! workspace's development crate), the same the tests and the end-to-end
//! benchmark use; each node runs on its own runtime, as if in its own
//! process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::storage::RaftLogStorage;
use openraft::{Raft, SnapshotPolicy};
use plog_raft::{Options, PlogLogStore};
use plog_raft_cluster::cluster::wait_for;
use plog_raft_cluster::kv::{Config, Request};
use plog_raft_cluster::{BoxError, Cluster};

type Node = Raft<Config>;

/// Running node `id` of `cluster`.
fn node(cluster: &Cluster<Config>, id: u64) -> Result<&plog_raft_cluster::Node<Config>, BoxError> {
    cluster
        .node(id)
        .ok_or_else(|| format!("node {id} is not running").into())
}

/// Opens node `id`'s log in `dir` and starts the node on it.
async fn start(
    cluster: &mut Cluster<Config>,
    id: u64,
    dir: &std::path::Path,
) -> Result<(), BoxError> {
    let config = openraft::Config {
        // Generous: fsync on a shared VM can stall for a while.
        heartbeat_interval: 200,
        election_timeout_min: 2_000,
        election_timeout_max: 4_000,
        snapshot_policy: if id == 3 {
            SnapshotPolicy::Never
        } else {
            SnapshotPolicy::LogsSinceLast(2_000)
        },
        max_in_snapshot_log_to_keep: 500,
        purge_batch_size: 1,
        ..Default::default()
    };
    let config = Arc::new(config.validate()?);
    let path = dir.join(format!("node{id}"));
    // openraft drops the previous incarnation's store a moment after
    // `shutdown` returns: the open waits for it (Options::lock_wait).
    let started = Instant::now();
    let mut store = PlogLogStore::<Config>::open(&path, Options::default())?;
    let open_time = started.elapsed();
    let report = store.recovery().clone();
    let state = store.get_log_state().await?;
    let vote = store.read_vote().await?;
    let committed = store.read_committed().await?;
    println!(
        "node {id}: opened {} in {open_time:.2?}: {} segment(s), {} record(s), indices {:?}, \
         torn tail cut: {}, purged {:?}, last {:?}, vote {:?}, committed {:?}",
        path.display(),
        report.segments,
        report.records,
        report.index_range,
        report.torn_cut.is_some(),
        state.last_purged_log_id.map(|l| l.index),
        state.last_log_id.map(|l| l.index),
        vote.map(|v| v.leader_id.term),
        committed.map(|l| l.index),
    );
    cluster.start(id, config, store).await?;
    Ok(())
}

/// Writes commands `range` through the leader, 256 at a time in flight.
async fn write(leader: &Node, range: std::ops::Range<u64>) -> Result<(), BoxError> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in range {
        let leader = leader.clone();
        tasks.spawn(async move {
            leader
                .client_write(Request {
                    key: format!("key-{i:05}"),
                    value: format!("value-{i}"),
                })
                .await
                .map(|_| ())
        });
        if tasks.len() >= 256
            && let Some(done) = tasks.join_next().await
        {
            done??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let keep = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let temp = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| temp.path().to_path_buf());
    // Each node on its own 2-thread runtime, as if in its own process.
    let mut cluster = Cluster::<Config>::new(2);
    for id in 1..=3 {
        start(&mut cluster, id, &dir).await?;
    }
    cluster.initialize(1, Duration::from_secs(60)).await?;
    let leader = node(&cluster, 1)?.raft.clone();

    let started = Instant::now();
    write(&leader, 0..5_000).await?;
    println!("wrote 5,000 commands in {:.2?}", started.elapsed());

    println!("stopping node 3");
    cluster.stop(3).await?;

    let started = Instant::now();
    write(&leader, 5_000..10_000).await?;
    let m = leader.metrics().borrow().clone();
    println!(
        "wrote 5,000 more in {:.2?}; leader: last log {:?}, snapshot {:?}, purged {:?}",
        started.elapsed(),
        m.last_log_index,
        m.snapshot.map(|l| l.index),
        m.purged.map(|l| l.index)
    );

    println!("restarting node 3 from its directory");
    let started = Instant::now();
    start(&mut cluster, 3, &dir).await?;
    let target = leader.metrics().borrow().last_log_index;
    let node3 = node(&cluster, 3)?;
    let raft3 = node3.raft.clone();
    wait_for("node 3 to catch up", Duration::from_secs(60), || {
        raft3.metrics().borrow().last_applied.map(|l| l.index) >= target
    })
    .await?;
    let m3 = raft3.metrics().borrow().clone();
    let installed = node3.sm.snapshot_meta();
    let data3 = node3.sm.data();
    let data1 = node(&cluster, 1)?.sm.data();
    println!(
        "node 3 caught up in {:.2?}: applied {:?}, snapshot installed from the leader: {:?}, \
         its log now {:?}..={:?}; {} keys, equal to the leader's: {}",
        started.elapsed(),
        m3.last_applied.map(|l| l.index),
        installed.map(|m| m.last_log_id.map(|l| l.index)),
        m3.purged.map(|l| l.index + 1),
        m3.last_log_index,
        data3.kv.len(),
        data3.kv == data1.kv,
    );
    if data3.kv != data1.kv || data3.kv.len() != 10_000 {
        return Err("node 3 does not hold the 10,000 commands".into());
    }
    cluster.shutdown().await?;
    // What an operator's tool sees (`plog verify DIR`, `plog dump --raft
    // DIR`): each directory checked as one log, read-only, and its first
    // entries with their log ids and kinds.
    for id in 1..=3 {
        let path = dir.join(format!("node{id}"));
        let check = plog_raft::inspect::check_dir(&path)?;
        println!(
            "{}: one log of {} entries {:?}, purged up to {:?}, {} segment(s), torn: {}",
            path.display(),
            check.entries,
            check.range,
            check.purged,
            check.segments.len(),
            check.segments.iter().any(|s| s.torn.is_some()),
        );
    }
    for entry in plog_raft::inspect::entries(&dir.join("node3"))?.take(3) {
        let entry = entry?;
        println!(
            "  node3 entry {} term {} leader {} {}: {}",
            entry.index,
            entry.term,
            entry.node,
            entry.kind.as_str(),
            entry.payload
        );
    }
    Ok(())
}
