//! The report that the sequential reference implies: plog-format's
//! `Scanner` (FORMAT.md's classification, one record at a time) folded by
//! the one model (`Fold`, `Findings`), whose rules plog-format's own
//! property tests check against a literal reading of FORMAT.md.
//!
//! Shared by the crate's property tests (`src/tests.rs`, which see it
//! through `extern crate self as plog_mmap`) and the integration tests
//! (`tests/read.rs`), so that both compare against one oracle: the parallel
//! passes must give exactly this, whatever the threads and batches.

use plog_format::{Findings, Fold, IndexOrder, RecoveryPolicy, Scanner};
use plog_mmap::{DEFAULT_LIST_LIMIT, RecoveryMode, VerifyReport};

/// The [`VerifyReport`] of `data` under `order` and `mode`, computed
/// sequentially.
pub fn oracle_report(data: &[u8], order: IndexOrder, mode: RecoveryMode) -> VerifyReport {
    oracle_report_limited(data, order, mode, DEFAULT_LIST_LIMIT)
}

/// [`oracle_report`] keeping at most `limit` entries per list.
pub fn oracle_report_limited(
    data: &[u8],
    order: IndexOrder,
    mode: RecoveryMode,
    limit: usize,
) -> VerifyReport {
    let len = data.len() as u64;
    let mut fold = Fold::new(len);
    let mut findings = Findings::new(len, order, limit);
    for event in Scanner::new(data) {
        findings.push(&fold.event(&event));
    }
    VerifyReport {
        summary: fold.finish(),
        findings: findings.finish(),
        policy: RecoveryPolicy::new(mode, order),
    }
}
