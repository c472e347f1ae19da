//! An engenho-store-shaped Raft log: openraft entries carrying Kubernetes
//! objects, generated deterministically from a seed.
//!
//! engenho-store's log holds one openraft 0.9 `Entry` per record, serialized
//! as JSON: a log id and a payload that is `"Blank"` (a new leader's first
//! entry), a `Membership`, or a `Normal` journal entry that puts, patches or
//! deletes a Kubernetes object. [`EngenhoEntry`] mirrors that shape with
//! serde; [`engenho_entry`] builds entry `i` of the log of a given seed and
//! [`engenho_payload`] serializes it. The mix of objects (Pods with status,
//! Deployments, EndpointSlices, ConfigMaps of varying size, Lease renewals,
//! merge patches, deletes) spreads payloads from under 100 bytes to about
//! 4.5 KB, with a median near 1.1 KB and a 90th percentile near 3.3 KB, as
//! measured on a real engenho-store log of 200,000 records (whose median
//! was ~1.1 KB, p90 ~3.4 KB, max ~4.4 KB). The mean is ~1.65 KB, against
//! ~1.5 KB in that log: 200,000 records make ~340 MB here, 307 MB there.
//!
//! Every entry is a pure function of `(seed, index)`: the log of a seed can
//! be written in any order or in parts and stays the same.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// openraft's `LeaderId` (0.9, without `single-term-leader`): the leader's
/// term and node id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderId {
    /// The term.
    pub term: u64,
    /// The leader's node id.
    pub node_id: u64,
}

/// openraft's `LogId`: who appended the entry, and its index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogId {
    /// The leader that appended the entry.
    pub leader_id: LeaderId,
    /// The entry's log index (equal to the record's index field).
    pub index: u64,
}

/// openraft's `BasicNode`: a member's address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicNode {
    /// `host:port` of the member's Raft endpoint.
    pub addr: String,
}

/// openraft's `Membership`: one voter set, or two during a joint change,
/// and every member's node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The voter sets (two while a joint configuration is in effect).
    pub configs: Vec<BTreeSet<u64>>,
    /// Every member (voters and learners) by node id.
    pub nodes: BTreeMap<u64, BasicNode>,
}

/// An openraft entry's payload, externally tagged as openraft serializes
/// it: `"Blank"`, `{"Membership": ...}` or `{"Normal": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPayload {
    /// The empty entry a new leader appends at the start of its term.
    Blank,
    /// A membership change.
    Membership(Membership),
    /// An application entry: engenho-store's journal entry.
    Normal(JournalEntry),
}

/// Which Kubernetes object a journal entry is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceKey {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

/// engenho-store's journal entry, internally tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JournalEntry {
    /// Create or replace an object.
    Put {
        /// The object.
        key: ResourceKey,
        /// The whole object as stored.
        value: Value,
        /// The resource version the write expects to replace (`None`: create).
        expected: Option<u64>,
        /// Who wrote it and why, for the audit trail.
        reason: Option<String>,
    },
    /// Apply a JSON merge patch to an object.
    Patch {
        /// The object.
        key: ResourceKey,
        /// The merge patch.
        patch: Value,
        /// The resource version the patch expects.
        expected: Option<u64>,
        /// Who wrote it and why.
        reason: Option<String>,
    },
    /// Delete an object.
    Delete {
        /// The object.
        key: ResourceKey,
        /// The resource version the delete expects.
        expected: Option<u64>,
        /// Who deleted it and why.
        reason: Option<String>,
    },
}

/// One record of engenho-store's Raft log: an openraft 0.9 `Entry` whose
/// application data is a [`JournalEntry`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngenhoEntry {
    /// The entry's log id.
    pub log_id: LogId,
    /// What the entry carries.
    pub payload: EntryPayload,
}

/// Records per term: the term increases slowly, once every this many
/// entries; each term starts with a `Blank` entry then a `Membership`.
pub const ENGENHO_TERM_SPAN: u64 = 40_000;

/// Entry `index` (from 1) of the engenho-shaped log of `seed`.
///
/// A pure function of its arguments. Index 0 (which a log never holds)
/// gives the same entry as index 1 except for its log index.
pub fn engenho_entry(seed: u64, index: u64) -> EngenhoEntry {
    let position = index.saturating_sub(1);
    let term = 1 + position / ENGENHO_TERM_SPAN;
    let in_term = position % ENGENHO_TERM_SPAN;
    let log_id = LogId {
        leader_id: LeaderId {
            term,
            node_id: 1 + (term.wrapping_add(seed)) % 3,
        },
        index,
    };
    let payload = match in_term {
        0 => EntryPayload::Blank,
        1 => EntryPayload::Membership(membership(term)),
        _ => EntryPayload::Normal(journal_entry(&mut Rng::new(seed, index), index)),
    };
    EngenhoEntry { log_id, payload }
}

/// The JSON payload of entry `index` of the log of `seed`: what
/// engenho-store writes for [`engenho_entry`]`(seed, index)`.
pub fn engenho_payload(seed: u64, index: u64) -> Vec<u8> {
    serde_json::to_vec(&engenho_entry(seed, index)).expect("an EngenhoEntry always serializes")
}

/// Writes the whole engenho-shaped log of `seed` — the magic, then records
/// 1 to `records`, each record's index equal to its entry's log index — to
/// `out`, one record at a time (pass a buffered writer). Returns the bytes
/// written.
///
/// # Errors
/// Any error of `out`.
pub fn write_engenho_log(mut out: impl Write, seed: u64, records: u64) -> io::Result<u64> {
    out.write_all(&plog_format::MAGIC)?;
    let mut written = plog_format::MAGIC.len() as u64;
    let mut record = Vec::new();
    for index in 1..=records {
        record.clear();
        plog_format::encode_record_to_vec(index, &engenho_payload(seed, index), &mut record);
        out.write_all(&record)?;
        written += record.len() as u64;
    }
    out.flush()?;
    Ok(written)
}

/// [`write_engenho_log`] into a new file at `path` (replacing any), through a
/// 1 MiB buffer. Returns the file's length.
///
/// # Errors
/// When the file cannot be created or written.
pub fn write_engenho_log_file(path: impl AsRef<Path>, seed: u64, records: u64) -> io::Result<u64> {
    let file = File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let written = write_engenho_log(&mut out, seed, records)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(written)
}

/// A small deterministic generator (SplitMix64): each entry gets its own
/// stream from `(seed, index)`, so no entry depends on another.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64) -> Rng {
        let mut rng = Rng(seed ^ 0x6A09_E667_F3BC_C908);
        let mixed = rng.next() ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Rng(mixed)
    }

    fn next(&mut self) -> u64 {
        let mut inner = crate::SplitMix64(self.0);
        let value = inner.next_u64();
        self.0 = inner.0;
        value
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// `len` characters of the alphabet Kubernetes uses for generated names.
    fn suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from_digit((self.next() % 16) as u32, 16).unwrap_or('0'))
            .collect()
    }

    fn uid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
}

const NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "payments",
    "checkout",
    "search",
    "monitoring",
    "ingress-nginx",
    "data-pipeline",
];
const APPS: &[&str] = &[
    "api",
    "web",
    "worker",
    "cache",
    "gateway",
    "indexer",
    "scheduler",
    "billing",
    "notifier",
    "auth",
    "frontend",
    "ledger",
];
const TEAMS: &[&str] = &["platform", "commerce", "growth", "infra", "data"];
const WORDS: &[&str] = &[
    "timeout",
    "retries",
    "batch",
    "cache",
    "pool",
    "buffer",
    "threshold",
    "window",
    "backoff",
    "endpoint",
    "region",
    "replica",
];

fn membership(term: u64) -> Membership {
    let node = |id: u64| BasicNode {
        addr: format!("10.0.{}.{}:7001", id / 250, 10 + id % 250),
    };
    let voters: BTreeSet<u64> = [1, 2, 3].into();
    // Every other term is a joint change that adds node 4 as a voter.
    let (configs, members) = if term.is_multiple_of(2) {
        let joint: BTreeSet<u64> = [1, 2, 3, 4].into();
        (vec![voters, joint], 4)
    } else {
        (vec![voters], 3)
    };
    Membership {
        configs,
        nodes: (1..=members).map(|id| (id, node(id))).collect(),
    }
}

/// What every object of an entry shares: where and when.
struct Ctx {
    index: u64,
    namespace: &'static str,
    app: &'static str,
    team: &'static str,
}

impl Ctx {
    /// An RFC 3339 time `back` seconds before this entry was written (the log
    /// advances a quarter second per entry from 2025-03-01).
    fn time(&self, back: u64) -> String {
        rfc3339((1_740_787_200 + self.index / 4).saturating_sub(back))
    }

    fn image(&self, rng: &mut Rng) -> String {
        format!(
            "registry.example.com/{}/{}:v1.{}.{}",
            self.team,
            self.app,
            rng.range(0, 40),
            rng.range(0, 20)
        )
    }
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days,
/// proleptic Gregorian).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

fn journal_entry(rng: &mut Rng, index: u64) -> JournalEntry {
    let ctx = Ctx {
        index,
        namespace: rng.pick(NAMESPACES),
        app: rng.pick(APPS),
        team: rng.pick(TEAMS),
    };
    let expected = Some(index.saturating_sub(rng.range(1, 5_000)));
    match rng.range(0, 99) {
        0..=11 => {
            let (key, value) = lease(rng, &ctx);
            JournalEntry::Put {
                key,
                value,
                expected,
                reason: Some("kubelet: lease renewal".into()),
            }
        }
        12..=28 => {
            let (key, patch) = pod_status_patch(rng, &ctx);
            JournalEntry::Patch {
                key,
                patch,
                expected,
                reason: Some("kubelet: pod status".into()),
            }
        }
        29..=36 => {
            let (key, reason) = match rng.range(0, 9) {
                0..=6 => (
                    key("", "v1", "Pod", &ctx, pod_name(rng, &ctx)),
                    "replicaset-controller: scale down",
                ),
                7 | 8 => (
                    key("", "v1", "ConfigMap", &ctx, configmap_name(rng, &ctx)),
                    "kubectl: delete",
                ),
                _ => (
                    key("apps", "v1", "Deployment", &ctx, ctx.app.to_string()),
                    "kubectl: delete",
                ),
            };
            JournalEntry::Delete {
                key,
                expected,
                reason: Some(reason.into()),
            }
        }
        37..=50 => {
            let (key, value) = configmap(rng, &ctx);
            JournalEntry::Put {
                key,
                value,
                expected: None,
                reason: Some("kubectl: apply".into()),
            }
        }
        51..=56 => {
            let (key, patch) = deployment_patch(rng, &ctx);
            JournalEntry::Patch {
                key,
                patch,
                expected,
                reason: Some("deployment-controller: rollout".into()),
            }
        }
        57..=61 => {
            let (key, value) = deployment(rng, &ctx);
            JournalEntry::Put {
                key,
                value,
                expected,
                reason: Some("kubectl: apply".into()),
            }
        }
        62..=73 => {
            let (key, value) = endpoint_slice(rng, &ctx);
            JournalEntry::Put {
                key,
                value,
                expected,
                reason: Some("endpointslice-controller: sync".into()),
            }
        }
        _ => {
            let (key, value, created) = pod(rng, &ctx);
            JournalEntry::Put {
                key,
                value,
                expected: if created { None } else { expected },
                reason: Some(
                    if created {
                        "replicaset-controller: create"
                    } else {
                        "kubelet: pod status"
                    }
                    .into(),
                ),
            }
        }
    }
}

fn key(group: &str, version: &str, kind: &str, ctx: &Ctx, name: String) -> ResourceKey {
    ResourceKey {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        namespace: Some(ctx.namespace.into()),
        name,
    }
}

fn pod_name(rng: &mut Rng, ctx: &Ctx) -> String {
    format!("{}-{}-{}", ctx.app, rng.hex(9), rng.suffix(5))
}

fn configmap_name(rng: &mut Rng, ctx: &Ctx) -> String {
    format!("{}-config-{}", ctx.app, rng.suffix(4))
}

fn labels(rng: &mut Rng, ctx: &Ctx, extra: usize) -> Value {
    let mut labels = Map::new();
    labels.insert("app".into(), ctx.app.into());
    labels.insert("app.kubernetes.io/part-of".into(), ctx.team.into());
    let optional = [
        (
            "app.kubernetes.io/version",
            format!("1.{}", rng.range(0, 40)),
        ),
        ("tier", rng.pick(&["backend", "frontend", "data"]).into()),
        ("pod-template-hash", rng.hex(9)),
        ("environment", rng.pick(&["prod", "staging"]).into()),
    ];
    for (name, value) in optional.into_iter().take(extra) {
        labels.insert(name.into(), value.into());
    }
    Value::Object(labels)
}

fn metadata(rng: &mut Rng, ctx: &Ctx, name: &str, labels: Value) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("name".into(), name.into());
    meta.insert("namespace".into(), ctx.namespace.into());
    meta.insert("uid".into(), rng.uid().into());
    meta.insert(
        "resourceVersion".into(),
        ctx.index.saturating_sub(rng.range(0, 3)).to_string().into(),
    );
    meta.insert(
        "creationTimestamp".into(),
        ctx.time(rng.range(60, 2_000_000)).into(),
    );
    meta.insert("labels".into(), labels);
    meta
}

fn lease(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let node = format!("node-{}", rng.range(1, 120));
    let mut meta = Map::new();
    meta.insert("name".into(), node.clone().into());
    meta.insert("namespace".into(), "kube-node-lease".into());
    meta.insert("uid".into(), rng.uid().into());
    meta.insert("resourceVersion".into(), ctx.index.to_string().into());
    meta.insert(
        "creationTimestamp".into(),
        ctx.time(rng.range(86_400, 9_000_000)).into(),
    );
    meta.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": "v1", "kind": "Node", "name": node, "uid": rng.uid()}]),
    );
    let value = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": 40,
            "renewTime": ctx.time(0).replace('Z', ".000000Z"),
        },
    });
    let key = ResourceKey {
        group: "coordination.k8s.io".into(),
        version: "v1".into(),
        kind: "Lease".into(),
        namespace: Some("kube-node-lease".into()),
        name: node,
    };
    (key, value)
}

fn condition(ctx: &Ctx, kind: &str, status: &str, back: u64) -> Value {
    json!({
        "type": kind,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": ctx.time(back),
    })
}

/// A running container's status; after a restart, with how the previous
/// run ended.
fn container_status(
    rng: &mut Rng,
    ctx: &Ctx,
    name: &str,
    image: &str,
    ready: bool,
    restarted: bool,
) -> Value {
    let started = rng.range(30, 90_000);
    let mut status = json!({
        "name": name,
        "image": image,
        "imageID": format!("{}@sha256:{}", image.split(':').next().unwrap_or(image), rng.hex(64)),
        "containerID": format!("containerd://{}", rng.hex(64)),
        "ready": ready,
        "started": true,
        "restartCount": if restarted { rng.range(1, 5) } else { 0 },
        "state": {"running": {"startedAt": ctx.time(started)}},
    });
    if restarted {
        status["lastState"] = json!({"terminated": {
            "containerID": format!("containerd://{}", rng.hex(64)),
            "exitCode": ([1, 137, 143][(rng.next() % 3) as usize]),
            "reason": rng.pick(&["Error", "OOMKilled", "Completed"]),
            "startedAt": ctx.time(started + rng.range(60, 9_000)),
            "finishedAt": ctx.time(started + 1),
        }});
    }
    status
}

fn pod_status_patch(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = pod_name(rng, ctx);
    let ready = rng.chance(80);
    let flag = if ready { "True" } else { "False" };
    let mut status = Map::new();
    status.insert(
        "conditions".into(),
        json!([
            condition(ctx, "Ready", flag, 0),
            condition(ctx, "ContainersReady", flag, 0),
        ]),
    );
    if rng.chance(50) {
        let image = ctx.image(rng);
        let restarted = rng.chance(50);
        status.insert(
            "containerStatuses".into(),
            json!([container_status(
                rng, ctx, ctx.app, &image, ready, restarted
            )]),
        );
    }
    let patch = json!({ "status": status });
    (key("", "v1", "Pod", ctx, name), patch)
}

fn deployment_patch(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let patch = match rng.range(0, 2) {
        0 => json!({"spec": {"replicas": rng.range(1, 12)}}),
        1 => json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": ctx.time(0),
        }}}}}),
        _ => json!({"status": {
            "observedGeneration": rng.range(1, 90),
            "replicas": 3, "updatedReplicas": 3, "readyReplicas": rng.range(1, 3),
            "availableReplicas": rng.range(1, 3),
        }}),
    };
    (
        key("apps", "v1", "Deployment", ctx, ctx.app.to_string()),
        patch,
    )
}

/// A ConfigMap whose data is 1 to 3 properties files, 2 to 120 lines in all.
fn configmap(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = configmap_name(rng, ctx);
    let labels = labels(rng, ctx, 1);
    let meta = metadata(rng, ctx, &name, labels);
    let mut data = Map::new();
    let files = rng.range(1, 3);
    let lines = match rng.range(0, 99) {
        0..=49 => rng.range(2, 20),
        50..=84 => rng.range(20, 60),
        _ => rng.range(60, 120),
    };
    for file in 0..files {
        let mut text = String::new();
        for line in 0..lines / files {
            let word = rng.pick(WORDS);
            let value = rng.range(1, 100_000);
            text.push_str(&format!("{}.{word}.{line}={value}\n", ctx.app));
        }
        data.insert(format!("application-{file}.properties"), text.into());
    }
    let value = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": data,
    });
    (key("", "v1", "ConfigMap", ctx, name), value)
}

/// A container spec: the main one in full, a sidecar with its image and
/// resources only.
fn container(rng: &mut Rng, name: &str, image: &str, main: bool) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), name.into());
    c.insert("image".into(), image.into());
    c.insert("imagePullPolicy".into(), "IfNotPresent".into());
    if main {
        c.insert(
            "ports".into(),
            json!([{"containerPort": 8080, "name": "http", "protocol": "TCP"}]),
        );
        let mut env = vec![
            json!({"name": "LOG_LEVEL", "value": rng.pick(&["info", "debug", "warn"])}),
            json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}),
        ];
        for n in 0..rng.range(0, 3) {
            env.push(json!({
                "name": format!("{}_{}", rng.pick(WORDS).to_uppercase(), n),
                "value": rng.range(1, 10_000).to_string(),
            }));
        }
        c.insert("env".into(), env.into());
        c.insert(
            "readinessProbe".into(),
            json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                   "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3}),
        );
        c.insert(
            "volumeMounts".into(),
            json!([{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "name": "kube-api-access", "readOnly": true}]),
        );
        c.insert(
            "terminationMessagePath".into(),
            "/dev/termination-log".into(),
        );
        c.insert("terminationMessagePolicy".into(), "File".into());
    }
    let requests = json!({"cpu": format!("{}m", rng.range(1, 10) * 50), "memory": format!("{}Mi", rng.range(1, 8) * 64)});
    let resources = if main {
        json!({
            "limits": {"cpu": format!("{}m", rng.range(2, 20) * 100), "memory": format!("{}Mi", rng.range(1, 16) * 128)},
            "requests": requests,
        })
    } else {
        json!({ "requests": requests })
    };
    c.insert("resources".into(), resources);
    Value::Object(c)
}

/// A Pod: just created by its ReplicaSet (Pending, unscheduled), or running
/// with its status. Returns whether it is the creation.
fn pod(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value, bool) {
    let name = pod_name(rng, ctx);
    let created = rng.chance(40);
    let containers = match rng.range(0, 99) {
        0..=69 => 1,
        70..=91 => 2,
        _ => 3,
    };
    let extra = rng.range(1, 4) as usize;
    let labels = labels(rng, ctx, extra);
    let mut meta = metadata(rng, ctx, &name, labels);
    meta.insert(
        "generateName".into(),
        name[..name.len() - 5].to_string().into(),
    );
    meta.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": &name[..name.len() - 6],
                "uid": rng.uid(), "controller": true, "blockOwnerDeletion": true}]),
    );
    if rng.chance(40) {
        meta.insert(
            "annotations".into(),
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}),
        );
    }
    if !created && containers == 1 && rng.chance(30) {
        meta.insert(
            "managedFields".into(),
            json!([{"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                    "time": ctx.time(rng.range(10, 5_000)), "fieldsType": "FieldsV1", "subresource": "status",
                    "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {},
                                  "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}]),
        );
    }
    let main_image = ctx.image(rng);
    let sidecars = [
        ("envoy", "registry.example.com/infra/envoy:v1.29.1"),
        ("log-shipper", "registry.example.com/infra/fluent-bit:2.2.0"),
    ];
    let mut specs = vec![container(rng, ctx.app, &main_image, true)];
    let mut names_images = vec![(ctx.app.to_string(), main_image.clone())];
    for (sidecar, image) in sidecars.iter().take(containers - 1) {
        specs.push(container(rng, sidecar, image, false));
        names_images.push((sidecar.to_string(), image.to_string()));
    }
    let node = format!("node-{}", rng.range(1, 120));
    let mut spec = Map::new();
    spec.insert("containers".into(), specs.into());
    spec.insert(
        "volumes".into(),
        json!([{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        ]}}]),
    );
    spec.insert(
        "tolerations".into(),
        json!([
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
        ]),
    );
    spec.insert("restartPolicy".into(), "Always".into());
    spec.insert("dnsPolicy".into(), "ClusterFirst".into());
    spec.insert("serviceAccountName".into(), "default".into());
    spec.insert("schedulerName".into(), "default-scheduler".into());
    spec.insert("terminationGracePeriodSeconds".into(), 30.into());
    let status = if created {
        json!({"phase": "Pending", "qosClass": "Burstable"})
    } else {
        spec.insert("nodeName".into(), node.into());
        let ready = rng.chance(90);
        let flag = if ready { "True" } else { "False" };
        let started = rng.range(60, 90_000);
        let statuses: Vec<Value> = names_images
            .iter()
            .map(|(n, i)| container_status(rng, ctx, n, i, ready, false))
            .collect();
        json!({
            "phase": "Running",
            "conditions": [
                condition(ctx, "Initialized", "True", started),
                condition(ctx, "Ready", flag, started - 20),
                condition(ctx, "ContainersReady", flag, started - 20),
                condition(ctx, "PodScheduled", "True", started + 1),
            ],
            "hostIP": format!("10.1.{}.{}", rng.range(0, 9), rng.range(2, 250)),
            "podIP": format!("10.244.{}.{}", rng.range(0, 200), rng.range(2, 250)),
            "startTime": ctx.time(started),
            "containerStatuses": statuses,
            "qosClass": "Burstable",
        })
    };
    let value = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": status,
    });
    (key("", "v1", "Pod", ctx, name), value, created)
}

/// An EndpointSlice of a Service with 1 to 9 ready or not-ready endpoints.
fn endpoint_slice(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = format!("{}-{}", ctx.app, rng.suffix(5));
    let mut labels = Map::new();
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        "endpointslice-controller.k8s.io".into(),
    );
    labels.insert("kubernetes.io/service-name".into(), ctx.app.into());
    let mut meta = metadata(rng, ctx, &name, Value::Object(labels));
    meta.insert("generateName".into(), format!("{}-", ctx.app).into());
    meta.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": "v1", "kind": "Service", "name": ctx.app, "uid": rng.uid(),
                "controller": true, "blockOwnerDeletion": true}]),
    );
    let endpoints: Vec<Value> = (0..rng.range(1, 9))
        .map(|_| {
            let ready = rng.chance(90);
            json!({
                "addresses": [format!("10.244.{}.{}", rng.range(0, 200), rng.range(2, 250))],
                "conditions": {"ready": ready, "serving": ready, "terminating": false},
                "nodeName": format!("node-{}", rng.range(1, 120)),
                "targetRef": {"kind": "Pod", "name": pod_name(rng, ctx), "namespace": ctx.namespace,
                              "uid": rng.uid()},
                "zone": rng.pick(&["zone-a", "zone-b", "zone-c"]),
            })
        })
        .collect();
    let value = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta,
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    });
    (
        key("discovery.k8s.io", "v1", "EndpointSlice", ctx, name),
        value,
    )
}

fn deployment(rng: &mut Rng, ctx: &Ctx) -> (ResourceKey, Value) {
    let name = ctx.app.to_string();
    let labels = labels(rng, ctx, 2);
    let mut meta = metadata(rng, ctx, &name, labels);
    meta.insert("generation".into(), rng.range(1, 90).into());
    meta.insert(
        "annotations".into(),
        json!({"deployment.kubernetes.io/revision": rng.range(1, 60).to_string()}),
    );
    let image = ctx.image(rng);
    let replicas = rng.range(1, 6);
    let value = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": ctx.app}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": ctx.app, "app.kubernetes.io/part-of": ctx.team}},
                "spec": {
                    "containers": [container(rng, ctx.app, &image, true)],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {
            "observedGeneration": rng.range(1, 90),
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastUpdateTime": ctx.time(3_000), "lastTransitionTime": ctx.time(3_000)},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{}-{}\" has successfully progressed.", ctx.app, rng.hex(9)),
                 "lastUpdateTime": ctx.time(600), "lastTransitionTime": ctx.time(90_000)},
            ],
        },
    });
    (key("apps", "v1", "Deployment", ctx, name), value)
}
