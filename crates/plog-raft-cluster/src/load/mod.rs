//! The end-to-end benchmark's driver: clients proposing engenho journal
//! entries through a cluster's leader, their latencies and the writes per
//! second, for several log stores (and openraft versions) in the same run,
//! and the table against the baseline.
//!
//! Nothing here knows openraft: a cluster is reached through [`Target`] and
//! started through an [`Adapter`]. [`openraft09`] is the openraft 0.9
//! adapter (plog-raft, or fjall as engenho-store writes it, under the same
//! state machine); an openraft 0.10 adapter is another [`Adapter`] beside
//! it, listed in the same `compare` call, and is compared against the
//! baseline of its own version.

pub mod openraft09;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use plog_testdata::JournalEntry;

/// A boxed future that can move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A running cluster under test.
pub trait Target: Send + Sync {
    /// Proposes (a copy of) `command` through the leader's
    /// `client_write`; resolves once the leader answers (the entry is
    /// committed and applied). A proposal refused by a node that no longer
    /// leads goes to the new leader, within the same latency.
    fn propose<'a>(&'a self, command: &'a JournalEntry) -> BoxFuture<'a, Result<(), String>>;

    /// One line on what the first leader's log store did since the cluster
    /// started (calls, entries per append, time in each call, leader
    /// changes), if known.
    fn store_report(&self) -> Option<String>;

    /// Stops the cluster (once; later calls do nothing).
    fn stop(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// One openraft version on one log store: how to start a three-node
/// cluster of it.
pub trait Adapter: Send + Sync {
    /// The openraft version, e.g. `"0.9"`.
    fn openraft(&self) -> &str;

    /// The log store's name, e.g. `"plog-raft"`.
    fn store(&self) -> &str;

    /// Whether this is the baseline the other stores of the same openraft
    /// version are compared with.
    fn is_baseline(&self) -> bool;

    /// For a store that is not a candidate but a reference (a floor such
    /// as a log in memory, or a diagnostic variant of the baseline): what
    /// it is, shown beside its ratios instead of the targets.
    fn note(&self) -> Option<&str> {
        None
    }

    /// Starts a cluster whose nodes keep their logs under `dir` (new and
    /// empty), and returns once it has a leader.
    fn start<'a>(&'a self, dir: &'a Path) -> BoxFuture<'a, Result<Arc<dyn Target>, String>>;
}

/// How long one round of clients runs.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Concurrent clients, each proposing one entry at a time.
    pub clients: usize,
    /// Before measuring: proposals made but not counted.
    pub warmup: Duration,
    /// How long proposals are counted for.
    pub measure: Duration,
    /// If set, the round instead ends after this many counted proposals
    /// (the smoke mode; `measure` is then only a limit).
    pub max_writes: Option<u64>,
}

/// What a round (or several, merged) measured.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Each counted proposal's latency, from `client_write` to its answer.
    pub latencies: Vec<Duration>,
    /// The time over which they completed (summed over rounds).
    pub elapsed: Duration,
}

impl Sample {
    /// Adds `other`'s proposals and time to this one.
    pub fn merge(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
    }

    /// Counted proposals.
    pub fn writes(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// Counted proposals per second.
    pub fn per_second(&self) -> f64 {
        self.writes() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency below which a fraction `q` of the proposals completed
    /// (the nearest rank); zero when there are none.
    pub fn percentile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
        sorted[rank]
    }
}

/// Runs `spec.clients` clients against `target`, each proposing the next
/// of `proposals` (in turn, shared) as soon as its previous one is
/// answered, until the measured time (or the number of writes) is reached.
/// Client tasks run on the caller's tokio runtime.
///
/// # Errors
/// The first proposal that failed, or a client task that panicked.
pub async fn drive(
    target: Arc<dyn Target>,
    proposals: Arc<Vec<JournalEntry>>,
    spec: &Spec,
) -> Result<Sample, String> {
    if proposals.is_empty() {
        return Err("no proposals to make".into());
    }
    let started = Instant::now();
    let counting = started + spec.warmup;
    let end = counting + spec.measure;
    let next = Arc::new(AtomicU64::new(0));
    let counted = Arc::new(AtomicU64::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..spec.clients.max(1) {
        let (target, proposals) = (Arc::clone(&target), Arc::clone(&proposals));
        let (next, counted) = (Arc::clone(&next), Arc::clone(&counted));
        let max = spec.max_writes;
        clients.spawn(async move {
            let mut latencies = Vec::new();
            let mut last_done = counting;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let counts = now >= counting;
                if counts
                    && let Some(max) = max
                    && counted.fetch_add(1, Ordering::Relaxed) >= max
                {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed) as usize % proposals.len();
                let sent = Instant::now();
                target.propose(&proposals[k]).await?;
                let done = Instant::now();
                if counts {
                    latencies.push(done - sent);
                    last_done = done;
                }
            }
            Ok::<_, String>((latencies, last_done))
        });
    }
    let mut sample = Sample::default();
    let mut last = counting;
    let mut failure = None;
    while let Some(joined) = clients.join_next().await {
        match joined {
            Ok(Ok((latencies, done))) => {
                sample.latencies.extend(latencies);
                last = last.max(done);
            }
            Ok(Err(e)) => failure = failure.or(Some(format!("a proposal failed: {e}"))),
            Err(e) => failure = failure.or(Some(format!("a client task failed: {e}"))),
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    sample.elapsed = last.saturating_duration_since(counting);
    Ok(sample)
}

/// What a comparison runs: client counts, rounds and their lengths.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The numbers of concurrent clients, each measured separately.
    pub clients: Vec<usize>,
    /// Rounds per client count: each store runs once per round, in
    /// turn, so a change of load on a shared machine hits them alike.
    pub rounds: usize,
    /// Each round of each store: warm-up, measured time, optional write
    /// count.
    pub warmup: Duration,
    /// Measured time per round.
    pub measure: Duration,
    /// If set, rounds end after this many writes (smoke mode).
    pub max_writes: Option<u64>,
    /// Distinct engenho journal entries the clients cycle through.
    pub proposals: usize,
}

impl Plan {
    /// The benchmark's plan, from the environment:
    /// `PLOG_RAFT_CLUSTER_CLIENTS` (default `1,64`),
    /// `PLOG_RAFT_CLUSTER_SECS` (measured seconds per store and client
    /// count, default 10), `PLOG_RAFT_CLUSTER_ROUNDS` (default 5),
    /// `PLOG_RAFT_CLUSTER_WARMUP_MS` (per round, default 300) and
    /// `PLOG_RAFT_CLUSTER_WRITES` (writes per round instead of a time: the
    /// smoke mode).
    pub fn from_env() -> Self {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let clients = std::env::var("PLOG_RAFT_CLUSTER_CLIENTS")
            .ok()
            .map(|v| {
                v.split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .filter(|&n| n > 0)
                    .collect::<Vec<usize>>()
            })
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| vec![1, 64]);
        let rounds = number("PLOG_RAFT_CLUSTER_ROUNDS", 5).max(1);
        let secs = number("PLOG_RAFT_CLUSTER_SECS", 10).max(1);
        let max_writes = std::env::var("PLOG_RAFT_CLUSTER_WRITES")
            .ok()
            .and_then(|v| v.trim().parse().ok());
        Self {
            clients,
            rounds: rounds as usize,
            warmup: Duration::from_millis(number("PLOG_RAFT_CLUSTER_WARMUP_MS", 300)),
            measure: Duration::from_secs(secs) / rounds as u32,
            max_writes,
            proposals: 4096,
        }
    }
}

/// One row of the comparison: a store at a client count.
#[derive(Debug)]
pub struct Row {
    /// The openraft version.
    pub openraft: String,
    /// The log store.
    pub store: String,
    /// Whether it is its version's baseline.
    pub baseline: bool,
    /// What it is, if it is a reference rather than a candidate.
    pub note: Option<String>,
    /// Concurrent clients.
    pub clients: usize,
    /// All rounds, merged.
    pub sample: Sample,
    /// The leader's log store report at the end, if any.
    pub store_report: Option<String>,
}

/// Runs `plan` on every adapter: for each client count, a fresh cluster
/// per adapter (in its own new directory under `root`), then the rounds,
/// every adapter once per round (the order rotating), then the clusters
/// stopped and their directories removed. `progress` hears one line per
/// step.
///
/// # Errors
/// A cluster that would not start or stop, or a failed proposal.
pub async fn compare(
    adapters: &[Box<dyn Adapter>],
    plan: &Plan,
    root: &Path,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Row>, String> {
    let proposals = Arc::new(crate::engenho::proposals(
        crate::engenho::SEED,
        plan.proposals.max(1),
    ));
    let mut rows = Vec::new();
    for &clients in &plan.clients {
        let mut running = Vec::new();
        for (k, adapter) in adapters.iter().enumerate() {
            let dir = root.join(format!("{clients}-{k}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            let target = adapter.start(&dir).await.map_err(|e| {
                format!(
                    "start openraft {} on {}: {e}",
                    adapter.openraft(),
                    adapter.store()
                )
            })?;
            running.push((target, dir, Sample::default()));
        }
        let spec = Spec {
            clients,
            warmup: plan.warmup,
            measure: plan.measure,
            max_writes: plan.max_writes,
        };
        for round in 0..plan.rounds {
            for turn in 0..adapters.len() {
                let k = (round + turn) % adapters.len();
                let (target, _, sample) = &mut running[k];
                let got = drive(Arc::clone(target), Arc::clone(&proposals), &spec).await?;
                progress(&format!(
                    "  round {}/{} openraft {} {} {clients} client(s): {} writes, p50 {:?}",
                    round + 1,
                    plan.rounds,
                    adapters[k].openraft(),
                    adapters[k].store(),
                    got.writes(),
                    got.percentile(0.5)
                ));
                sample.merge(got);
            }
        }
        for (adapter, (target, dir, sample)) in adapters.iter().zip(running) {
            let store_report = target.store_report();
            target.stop().await?;
            drop(target);
            let _ = std::fs::remove_dir_all(&dir);
            rows.push(Row {
                openraft: adapter.openraft().to_owned(),
                store: adapter.store().to_owned(),
                baseline: adapter.is_baseline(),
                note: adapter.note().map(str::to_owned),
                clients,
                sample,
                store_report,
            });
        }
    }
    Ok(rows)
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The targets: plog-raft's p50 at 1 client at most this fraction
/// of the baseline's…
pub const TARGET_P50_RATIO: f64 = 0.75;
/// …and its writes per second at 64 clients at least this multiple.
pub const TARGET_THROUGHPUT_RATIO: f64 = 1.5;

/// The rows as a Markdown table, then each store's ratios to its version's
/// baseline at each client count (p50 and p99 latency: store / baseline,
/// lower is better; writes per second: store / baseline, higher is
/// better), with the targets at 1 and 64 clients, then the store reports.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| openraft | log store | clients | writes | writes/s | p50 | p99 | max |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let s = &row.sample;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} |\n",
            row.openraft,
            row.store,
            row.clients,
            s.writes(),
            s.per_second(),
            micros(s.percentile(0.5)),
            micros(s.percentile(0.99)),
            micros(s.percentile(1.0)),
        ));
    }
    out.push('\n');
    for row in rows.iter().filter(|r| !r.baseline) {
        let Some(base) = rows
            .iter()
            .find(|b| b.baseline && b.openraft == row.openraft && b.clients == row.clients)
        else {
            continue;
        };
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
        let p50 = ratio(row.sample.percentile(0.5), base.sample.percentile(0.5));
        let p99 = ratio(row.sample.percentile(0.99), base.sample.percentile(0.99));
        let tput = row.sample.per_second() / base.sample.per_second().max(1e-12);
        let mut line = format!(
            "- openraft {}, {} clients: {} / {}: p50 {p50:.2}x, p99 {p99:.2}x, writes/s {tput:.2}x",
            row.openraft, row.clients, row.store, base.store
        );
        if let Some(note) = &row.note {
            line.push_str(&format!(" ({note})"));
        } else if row.clients == 1 {
            let met = if p50 <= TARGET_P50_RATIO {
                "met"
            } else {
                "NOT met"
            };
            line.push_str(&format!(" (target p50 <= {TARGET_P50_RATIO}x: {met})"));
        }
        if row.clients == 64 && row.note.is_none() {
            let met = if tput >= TARGET_THROUGHPUT_RATIO {
                "met"
            } else {
                "NOT met"
            };
            line.push_str(&format!(
                " (target writes/s >= {TARGET_THROUGHPUT_RATIO}x: {met})"
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    for row in rows {
        if let Some(report) = &row.store_report {
            out.push_str(&format!(
                "- node 1's log store (the first leader), openraft {} {} at {} clients: {report}\n",
                row.openraft, row.store, row.clients
            ));
        }
    }
    out
}
