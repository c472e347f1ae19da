//! Test support shared by plog's crates (not published).
//!
//! * [`corpus`]: every file of `testdata/v1/` (written by engenho-store's own
//!   writer, and damaged variants) with its entry of `expected.json`.
//! * [`build_log`] and [`k8s_payload`]: well-formed logs for tests and
//!   benchmarks.
//! * [`engenho_payload`], [`EngenhoEntry`] and [`write_engenho_log`]: a log
//!   shaped like engenho-store's real Raft log (openraft entries carrying
//!   Kubernetes objects, ~1.1 KB median payload), from a seed.
//! * [`spawn_child`], [`wait_for_line`] and [`crash_seed`]: the child
//!   processes of the crash tests (the test binary re-executed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod changing;
mod child;
mod engenho;
mod rng;

pub use changing::{FileChange, env_number, race_with_change, seeded};
pub use child::{crash_seed, spawn_child, wait_for_line};
pub use engenho::{
    BasicNode, ENGENHO_TERM_SPAN, EngenhoEntry, EntryPayload, JournalEntry, LeaderId, LogId,
    Membership, ResourceKey, engenho_entry, engenho_payload, write_engenho_log,
    write_engenho_log_file,
};
pub use rng::SplitMix64;

/// The directory holding the v1 corpus (`testdata/v1` at the repository root).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/v1")
}

/// One corruption as `expected.json` describes it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ExpectedCorruption {
    /// Byte offset of the damage.
    pub offset: u64,
    /// `hash_mismatch`, `length`, `bad_magic` or `unsupported_version`.
    pub kind: String,
    /// The damaged record's index, where `expected.json` gives one.
    pub index: Option<u64>,
    /// Where scanning resumes after a damaged length.
    pub resync_offset: Option<u64>,
}

/// A corpus file's entry of `expected.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct Expected {
    /// What the file is.
    pub note: String,
    /// `clean`, `torn` or `corrupt`.
    pub status: String,
    /// Number of valid records.
    pub valid_records: usize,
    /// The valid records' indices, in file order.
    pub indices: Vec<u64>,
    /// The valid records' offsets, in file order.
    pub offsets: Vec<u64>,
    /// Where the torn tail starts, if there is one.
    pub torn_offset: Option<u64>,
    /// The corruptions, in file order.
    pub corrupt: Vec<ExpectedCorruption>,
    /// The file's length.
    pub file_len: u64,
    /// What engenho-store's own replay did: `ok`, an error kind, or `crash(...)`.
    pub engenho_replay: String,
}

/// A corpus file: its name, bytes and expectation.
#[derive(Clone, Debug)]
pub struct CorpusFile {
    /// File name, e.g. `torn-in-payload.plog`.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Its entry of `expected.json`.
    pub expected: Expected,
}

/// Every corpus file with its expectation, sorted by name.
///
/// # Panics
/// When the corpus cannot be read, or when a `.plog` file has no entry in
/// `expected.json` or an entry has no file (the corpus must be complete).
pub fn corpus() -> Vec<CorpusFile> {
    let dir = corpus_dir();
    let json = std::fs::read_to_string(dir.join("expected.json")).expect("read expected.json");
    let mut expected: BTreeMap<String, Expected> =
        serde_json::from_str(&json).expect("parse expected.json");
    let mut files = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read the corpus directory")
        .map(|entry| {
            entry
                .expect("corpus entry")
                .file_name()
                .into_string()
                .expect("utf-8 name")
        })
        .filter(|name| name.ends_with(".plog"))
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let bytes = std::fs::read(&path).expect("read a corpus file");
        let expected = expected
            .remove(&name)
            .unwrap_or_else(|| panic!("{name} has no entry in expected.json"));
        files.push(CorpusFile {
            name,
            path,
            bytes,
            expected,
        });
    }
    assert!(
        expected.is_empty(),
        "expected.json names files that are missing: {:?}",
        expected.keys().collect::<Vec<_>>()
    );
    assert!(
        files.len() >= 20,
        "the corpus is incomplete: {} files",
        files.len()
    );
    files
}

/// A realistic K8s-like JSON payload of roughly `target_len` bytes for entry `i`
/// (the shape engenho-store writes: a resource with metadata and a spec).
pub fn k8s_payload(i: u64, target_len: usize) -> Vec<u8> {
    let kinds = [
        "Pod",
        "Service",
        "ConfigMap",
        "Deployment",
        "Secret",
        "Node",
    ];
    let kind = kinds[(i % kinds.len() as u64) as usize];
    let mut payload = format!(
        r#"{{"op":"put","kind":"{kind}","namespace":"ns-{ns}","name":"{lower}-{i}","resourceVersion":{i},"labels":{{"app":"app-{app}","tier":"backend"}},"spec":{{"replicas":{r},"image":"registry.local/app:{v}","pad":""#,
        ns = i % 7,
        lower = kind.to_ascii_lowercase(),
        app = i % 13,
        r = i % 5 + 1,
        v = i % 17,
    );
    let pad = target_len.saturating_sub(payload.len() + 3);
    payload.extend(std::iter::repeat_n('x', pad));
    payload.push_str(r#""}}"#);
    payload.into_bytes()
}

/// A well-formed log holding `records` (index, payload) pairs, magic included.
pub fn build_log<'a>(records: impl IntoIterator<Item = (u64, &'a [u8])>) -> Vec<u8> {
    let mut log = plog_format::MAGIC.to_vec();
    for (index, payload) in records {
        plog_format::encode_record_to_vec(index, payload, &mut log);
    }
    log
}
