//! Helpers for the tests that build a log directory and then damage it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use plog_raft::{Options, PlogLogStore};

use crate::child::make_entry;
use crate::support::Config;

/// Appends entries `indices` (term `term`, uid = index) and waits until
/// they are durable.
pub fn fill(store: &mut PlogLogStore<Config>, indices: std::ops::Range<u64>, term: u64) {
    let (tx, rx) = mpsc::channel();
    let entries: Vec<_> = indices.map(|i| make_entry(term, i, i)).collect();
    store
        .append_with(entries, move |r| tx.send(r).unwrap())
        .unwrap();
    rx.recv().unwrap().unwrap();
}

/// A closed log in `dir` with entries `1..=last` of term `term`, in
/// segments of `segment_bytes`, appended in batches of `batch`.
pub fn build(dir: &Path, last: u64, term: u64, segment_bytes: u64, batch: u64) {
    let mut store = PlogLogStore::<Config>::open(
        dir,
        Options {
            segment_bytes,
            ..Options::default()
        },
    )
    .unwrap();
    let mut next = 1;
    while next <= last {
        let end = (next + batch).min(last + 1);
        fill(&mut store, next..end, term);
        next = end;
    }
}

/// Every file of `dir` with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.is_file() {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

/// The segment files of `dir`, in index order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut segments: Vec<PathBuf> = snapshot(dir)
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "plog"))
        .collect();
    segments.sort();
    segments
}

/// Copies every file of `from` into the new directory `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (path, bytes) in snapshot(from) {
        std::fs::write(to.join(path.file_name().unwrap()), bytes).unwrap();
    }
}

/// A directory for the many copies: in memory where the machine has a
/// tmpfs (fsync costs nothing there; what is tested is recovery's logic, not
/// the disk), else the usual temporary directory.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}
