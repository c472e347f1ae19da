//! The one conversion of a `usize` length to plog's `u64`.

/// A `usize` length or position as plog's `u64` (lossless: plog-format
/// refuses targets whose `usize` is wider than 64 bits).
#[inline(always)]
pub(crate) const fn len_u64(n: usize) -> u64 {
    n as u64
}
