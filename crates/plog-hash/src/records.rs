//! The stored hashes of many plog records checked at once, their payloads
//! side by side in the lanes of [`verify_many_by`](crate::verify_many_by):
//! what plog-mmap's batches and plog-raft's recovery both do.

use std::vec::Vec;

use plog_format::{Corruption, Hash, Record};

/// Checks the stored hash of each of `records` on
/// [`default_backend`](crate::default_backend), many payloads side by side
/// in SIMD lanes: the position and [`Corruption::HashMismatch`] of each
/// record whose payload does not hash to its stored hash, in order (what
/// [`Record::verify`] reports for it).
///
/// ```
/// let mut bytes = plog_format::MAGIC.to_vec();
/// for index in 1..=3 {
///     plog_format::encode_record_to_vec(index, b"payload", &mut bytes);
/// }
/// bytes[plog_format::MAGIC.len() + 16] ^= 1; // the first record's stored hash
/// let records: Vec<_> = plog_format::Walker::new(&bytes)
///     .filter_map(|step| match step {
///         plog_format::Step::Record(record) => Some(record),
///         _ => None,
///     })
///     .collect();
/// let mismatches = plog_hash::hash_mismatches(&records);
/// assert_eq!(mismatches.len(), 1);
/// assert_eq!((mismatches[0].0, mismatches[0].1.index()), (0, Some(1)));
/// ```
pub fn hash_mismatches(records: &[Record<'_>]) -> Vec<(usize, Corruption)> {
    let mut mismatches = Vec::new();
    hash_mismatches_into(records, &mut mismatches);
    mismatches
}

/// [`hash_mismatches`], pushing onto `mismatches` (a caller that checks
/// batch after batch reuses one vector).
#[inline]
pub fn hash_mismatches_into(records: &[Record<'_>], mismatches: &mut Vec<(usize, Corruption)>) {
    let start = mismatches.len();
    let verified = crate::verify_many_by(
        crate::default_backend(),
        records,
        |record| record.payload(),
        |record| &record.header().hash,
        |position, computed| {
            if let Some(record) = records.get(position) {
                mismatches.push((position, Corruption::hash_mismatch(record, Hash(computed))));
            }
        },
    );
    if verified.is_err() {
        // Only an unsupported backend fails, and the default never is: hash
        // one by one all the same rather than trust unchecked records.
        mismatches.truncate(start);
        for (position, record) in records.iter().enumerate() {
            if let Err(corruption) = record.verify() {
                mismatches.push((position, corruption));
            }
        }
    }
}
