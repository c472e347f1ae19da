//! Runs every committed fuzz input through its target on stable Rust: the
//! seed and minimized corpora in `fuzz/corpus/<target>/` and the minimized
//! crash inputs in `fuzz/regressions/<target>/`.
//!
//! This is how `cargo test` exercises the fuzz inputs without nightly or
//! cargo-fuzz. A missing or empty corpus directory fails the test, so a
//! target cannot silently lose its corpus.

use std::fs;
use std::path::{Path, PathBuf};

use plog_fuzz_checks::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every regular file of `dir` (not README files), sorted by name.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .filter(|path| {
            path.extension()
                .is_none_or(|ext| !ext.eq_ignore_ascii_case("md"))
        })
        .collect();
    files.sort();
    files
}

fn replay(target: &str, body: fn(&[u8]), path: &Path) {
    let data = fs::read(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let outcome = std::panic::catch_unwind(|| body(&data));
    if let Err(panic) = outcome {
        eprintln!("target {target} failed on {}", path.display());
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn every_corpus_input_passes_its_target() {
    for &(target, body) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let files = inputs(&dir);
        assert!(
            !files.is_empty(),
            "the corpus of target {target} ({}) is empty",
            dir.display()
        );
        for path in &files {
            replay(target, body, path);
        }
    }
}

#[test]
fn every_regression_input_passes_its_target() {
    let root = fuzz_dir().join("regressions");
    for &(target, body) in TARGETS {
        let dir = root.join(target);
        if !dir.exists() {
            continue; // No crash has been found in this target.
        }
        for path in inputs(&dir) {
            replay(target, body, &path);
        }
    }
}

#[test]
fn every_corpus_directory_belongs_to_a_target() {
    for sub in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(sub);
        for entry in
            fs::read_dir(&dir).unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                assert!(
                    plog_fuzz_checks::target(name).is_some(),
                    "{} has no target called {name}",
                    dir.display()
                );
            }
        }
    }
}
