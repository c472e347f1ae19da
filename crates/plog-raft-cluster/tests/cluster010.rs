//! The openraft 0.10 side of the end-to-end benchmark in smoke mode (a few
//! writes): three openraft 0.10 nodes on plog-raft's 0.10 store and on the
//! fjall baseline, engenho-shaped proposals through `client_write`.

use std::time::Duration;

use plog_raft_cluster::load::{self, Plan};
use plog_raft_cluster::v010::cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_benchmark_smoke_openraft010() {
    let root = tempfile::tempdir().unwrap();
    let plan = Plan {
        clients: vec![1, 4],
        rounds: 1,
        warmup: Duration::ZERO,
        measure: Duration::from_secs(60),
        max_writes: Some(12),
        proposals: 64,
    };
    let adapters = cluster::adapters(1);
    let mut lines = 0;
    let rows = load::compare(&adapters, &plan, root.path(), |_| lines += 1)
        .await
        .unwrap();
    assert_eq!(lines, 2 * 2);
    assert_eq!(rows.len(), 4);
    for row in &rows {
        // The round stops at 12 counted writes (a client may be one past).
        let writes = row.sample.writes();
        assert!((12..=12 + row.clients as u64).contains(&writes), "{row:?}");
        assert!(row.sample.per_second() > 0.0);
        assert!(row.sample.percentile(0.5) <= row.sample.percentile(0.99));
        let report = row.store_report.as_deref().unwrap();
        assert!(report.contains("proposals forwarded"), "{report}");
        assert!(report.contains("appends of"), "{report}");
    }
    let table = load::table(&rows);
    assert!(table.contains("| 0.10 | plog-raft | 1 |"), "{table}");
    assert!(
        table.contains("plog-raft / fjall (as engenho-store)"),
        "{table}"
    );
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}
