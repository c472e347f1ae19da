//! Checking the hashes of a batch's records: many payloads side by side in
//! SIMD lanes (`plog_hash::hash_mismatches_into`), and a huge payload with
//! BLAKE3's own parallelism.

use plog_format::{Corruption, Hash, Record};

/// Payloads at least this long are hashed with BLAKE3's own parallelism
/// (`Hasher::update_rayon`) instead of on one thread.
pub(crate) const PARALLEL_HASH_MIN: usize = 2 * 1024 * 1024;

/// How a batch hashes a payload of [`PARALLEL_HASH_MIN`] or more.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LargePayloads {
    /// With BLAKE3's own parallelism (`update_rayon`), so that a log of a
    /// few huge payloads still uses every core.
    Parallel,
    /// On the batch's thread alone. [`run_ordered`](crate::schedule::run_ordered) needs it: a rayon join
    /// lets a waiting thread run other jobs, and one of them could be
    /// another ordered run's thread waiting for a turn that this thread's
    /// suspended batch holds. Its threads work on different batches at
    /// once, so the cores stay busy anyway.
    OnThisThread,
}

/// Checks the hashes of `records`, pushing each mismatch (position, finding)
/// in order: many payloads side by side in SIMD lanes (plog-hash), and a
/// payload of [`PARALLEL_HASH_MIN`] or more with BLAKE3's own parallelism.
/// (A batch ends with its first such payload: its cost passes the batch's.)
pub(crate) fn hash_records(
    records: &[Record<'_>],
    large: LargePayloads,
    mismatches: &mut Vec<(usize, Corruption)>,
) {
    let (lanes, last) = match records.split_last() {
        Some((last, before))
            if large == LargePayloads::Parallel && last.payload().len() >= PARALLEL_HASH_MIN =>
        {
            (before, Some(last))
        }
        _ => (records, None),
    };
    plog_hash::hash_mismatches_into(lanes, mismatches);
    if let Some(last) = last
        && let Some(corruption) = check_hash(last)
    {
        mismatches.push((lanes.len(), corruption));
    }
}

/// `None` when the record's payload hashes to its stored hash, else the
/// [`Corruption::HashMismatch`] that [`Record::verify`] reports.
#[inline]
pub(crate) fn check_hash(record: &Record<'_>) -> Option<Corruption> {
    let payload = record.payload();
    if payload.len() < PARALLEL_HASH_MIN {
        return record.verify().err();
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update_rayon(payload);
    record
        .check_computed(Hash(*hasher.finalize().as_bytes()))
        .err()
}
