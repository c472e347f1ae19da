//! The v1 corpus: every file of `testdata/v1/` (written by engenho-store's
//! own writer, and damaged variants) with its entry of `expected.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
