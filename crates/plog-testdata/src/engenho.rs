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

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

mod entry;
mod objects;
mod words;

use objects::{
    configmap, configmap_name, deployment, deployment_patch, endpoint_slice, key, lease, pod,
    pod_name, pod_status_patch,
};
use words::{APPS, Ctx, NAMESPACES, Rng, TEAMS};

pub use entry::{
    BasicNode, EngenhoEntry, EntryPayload, JournalEntry, LeaderId, LogId, Membership, ResourceKey,
};

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
