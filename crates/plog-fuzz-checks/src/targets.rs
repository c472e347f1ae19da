//! The registry of targets: each body by the name of its cargo-fuzz target.

use crate::{differential, hash, parse, parse_body, replay, writer};

/// A fuzz target's body: takes the fuzzer's bytes, panics on a broken invariant.
pub type TargetFn = fn(&[u8]);

/// Every target, by its cargo-fuzz name (`fuzz/fuzz_targets/<name>.rs`, and
/// the corpus in `fuzz/corpus/<name>/`).
pub const TARGETS: &[(&str, TargetFn)] = &[
    ("parse", parse),
    ("parse_body", parse_body),
    ("differential", differential),
    ("replay", replay),
    ("writer", writer),
    ("hash", hash),
];

/// The target called `name`, if there is one.
pub fn target(name: &str) -> Option<TargetFn> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|&(_, body)| body)
}
