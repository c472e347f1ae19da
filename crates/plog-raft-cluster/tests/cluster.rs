//! Three nodes in one process on each log store, and the end-to-end
//! benchmark's driver in smoke mode (a few writes), so that neither rots.

use std::sync::Arc;
use std::time::Duration;

use openraft::{Entry, EntryPayload};
use plog_raft_cluster::cluster::wait_for;
use plog_raft_cluster::engenho::Eng;
use plog_raft_cluster::kv::{Config, Request, Response};
use plog_raft_cluster::load::{self, Plan};
use plog_raft_cluster::{Cluster, FjallLogStore};

async fn three_nodes_agree<LS: openraft::storage::RaftLogStorage<Config>>(
    open: impl Fn(u64) -> LS,
) {
    let config = Arc::new(
        plog_raft_cluster::load::openraft09::bench_config()
            .validate()
            .unwrap(),
    );
    let mut cluster = Cluster::<Config>::new(1);
    for id in 1..=3 {
        cluster
            .start(id, Arc::clone(&config), open(id))
            .await
            .unwrap();
    }
    // A running id is refused (the store given is another, unused one).
    assert!(
        cluster
            .start(2, Arc::clone(&config), open(9))
            .await
            .is_err()
    );
    cluster
        .initialize(1, Duration::from_secs(30))
        .await
        .unwrap();
    let leader = cluster.node(1).unwrap().raft.clone();
    for i in 0..50u64 {
        let reply = leader
            .client_write(Request {
                key: format!("k{}", i % 40),
                value: format!("v{i}"),
            })
            .await
            .unwrap();
        // The 10 keys written twice answer their previous value.
        let previous = (i >= 40).then(|| format!("v{}", i - 40));
        assert_eq!(reply.data, Response(previous));
    }
    let last = leader.metrics().borrow().last_log_index;
    for id in 1..=3 {
        let node = cluster.node(id).unwrap();
        let raft = node.raft.clone();
        wait_for("every node to apply", Duration::from_secs(30), || {
            raft.metrics().borrow().last_applied.map(|l| l.index) >= last
        })
        .await
        .unwrap();
        let data = node.sm.data();
        assert_eq!(data.kv.len(), 40, "node {id}");
        assert_eq!(data.kv["k5"], "v45", "node {id}");
    }
    cluster.stop(3).await.unwrap();
    assert!(cluster.stop(3).await.is_err());
    // Two of three still commit.
    leader
        .client_write(Request {
            key: "after".into(),
            value: "stop".into(),
        })
        .await
        .unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_plog_raft() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    three_nodes_agree(move |id| {
        plog_raft::PlogLogStore::open(path.join(id.to_string()), plog_raft::Options::default())
            .unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_fjall() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    three_nodes_agree(move |id| FjallLogStore::open(path.join(id.to_string())).unwrap()).await;
}

/// What the baseline writes is engenho-store's layout: the `log`
/// partition keyed by the big-endian index, each value the serde_json of
/// the openraft entry, and the vote and committed id as JSON in `meta`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fjall_baseline_writes_engenho_store_layout() {
    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(load::openraft09::bench_config().validate().unwrap());
    let mut cluster = Cluster::<Eng>::new(1);
    let mut leader_store = None;
    for id in 1..=3 {
        let store = FjallLogStore::<Eng>::open(dir.path().join(id.to_string())).unwrap();
        if id == 1 {
            leader_store = Some(store.clone());
        }
        cluster.start(id, Arc::clone(&config), store).await.unwrap();
    }
    cluster
        .initialize(1, Duration::from_secs(30))
        .await
        .unwrap();
    let leader = cluster.node(1).unwrap().raft.clone();
    let proposals = plog_raft_cluster::engenho::proposals(plog_raft_cluster::engenho::SEED, 5);
    for p in &proposals {
        leader.client_write(p.clone()).await.unwrap();
    }
    cluster.shutdown().await.unwrap();
    let store = leader_store.unwrap();
    let mut normal = Vec::new();
    // openraft 0.9 writes the initial membership at index 0.
    for (expected_index, item) in (0u64..).zip(store.log_partition().iter()) {
        let (key, value) = item.unwrap();
        let index = u64::from_be_bytes(key.as_ref().try_into().unwrap());
        assert_eq!(index, expected_index);
        let entry: Entry<Eng> = serde_json::from_slice(&value).unwrap();
        assert_eq!(entry.log_id.index, index);
        assert_eq!(serde_json::to_vec(&entry).unwrap(), value.to_vec());
        if let EntryPayload::Normal(p) = entry.payload {
            normal.push(p);
        }
    }
    assert_eq!(normal, proposals);
    let meta = store.meta_partition();
    let vote: openraft::Vote<u64> =
        serde_json::from_slice(&meta.get("vote").unwrap().unwrap()).unwrap();
    assert!(vote.is_committed());
    let committed: Option<openraft::LogId<u64>> =
        serde_json::from_slice(&meta.get("committed").unwrap().unwrap()).unwrap();
    assert!(committed.is_some_and(|c| c.index >= 1));
}

/// The benchmark's whole path at tiny counts: both openraft 0.9 stores, 1
/// and 4 clients, every write counted, the table with its ratios.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_benchmark_smoke() {
    let root = tempfile::tempdir().unwrap();
    let plan = Plan {
        clients: vec![1, 4],
        rounds: 2,
        warmup: Duration::ZERO,
        measure: Duration::from_secs(60),
        max_writes: Some(12),
        proposals: 64,
    };
    let adapters = load::openraft09::adapters(1);
    let mut lines = 0;
    let rows = load::compare(&adapters, &plan, root.path(), |_| lines += 1)
        .await
        .unwrap();
    assert_eq!(lines, 2 * 2 * 4);
    assert_eq!(rows.len(), 8);
    for row in &rows {
        // Each round stops at 12 counted writes (a client may be one past).
        let writes = row.sample.writes();
        assert!(
            (24..=24 + 2 * row.clients as u64).contains(&writes),
            "{row:?}"
        );
        assert!(row.sample.per_second() > 0.0);
        assert!(row.sample.percentile(0.5) <= row.sample.percentile(0.99));
        let report = row.store_report.as_deref().unwrap();
        assert!(report.contains("appends of"), "{report}");
        assert!(report.contains("append_entries RPCs with"), "{report}");
    }
    let table = load::table(&rows);
    assert!(table.contains("| 0.9 | plog-raft | 1 |"), "{table}");
    assert!(
        table.contains("plog-raft / fjall (as engenho-store)"),
        "{table}"
    );
    assert!(table.contains("target p50 <= 0.75x"), "{table}");
    assert!(
        table.contains("memory (no disk) / fjall (as engenho-store): p50"),
        "{table}"
    );
    assert!(table.contains("(a floor: no disk)"), "{table}");
    assert!(
        table.contains("fjall, fsyncs off the runtime / fjall"),
        "{table}"
    );
    // The directories are removed after each client count.
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

/// A proposal sent to a node that does not lead goes to the leader it
/// names, and is counted as forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_follow_the_leader() {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use plog_raft_cluster::MemLogStore;
    use plog_raft_cluster::load::openraft09::propose_forwarding;

    let config = Arc::new(load::openraft09::bench_config().validate().unwrap());
    let mut cluster = Cluster::<Eng>::new(1);
    for id in 1..=3 {
        cluster
            .start(id, Arc::clone(&config), MemLogStore::<Eng>::default())
            .await
            .unwrap();
    }
    cluster
        .initialize(1, Duration::from_secs(30))
        .await
        .unwrap();
    let rafts: BTreeMap<u64, openraft::Raft<Eng>> = cluster
        .ids()
        .into_iter()
        .map(|id| (id, cluster.node(id).unwrap().raft.clone()))
        .collect();
    let proposals = plog_raft_cluster::engenho::proposals(plog_raft_cluster::engenho::SEED, 3);
    // The clients believe node 2 leads.
    let (leader, forwarded) = (AtomicU64::new(2), AtomicU64::new(0));
    for p in &proposals {
        propose_forwarding(&rafts, &leader, &forwarded, p)
            .await
            .unwrap();
    }
    assert_eq!(leader.load(Ordering::Relaxed), 1);
    assert_eq!(forwarded.load(Ordering::Relaxed), 1);
    // The leader replicated them: RPCs with entries were counted.
    let rpcs = cluster.router().counts();
    assert!(rpcs.appends() >= 1 && rpcs.entries() >= rpcs.appends());
    let applied = cluster.node(1).unwrap().sm.len();
    assert!(applied >= 1, "{applied} objects");
    // A node that is not in the cluster is an error, not a hang.
    leader.store(7, Ordering::Relaxed);
    let error = propose_forwarding(&rafts, &leader, &forwarded, &proposals[0])
        .await
        .unwrap_err();
    assert!(error.contains("node 7"), "{error}");
    cluster.shutdown().await.unwrap();
}
