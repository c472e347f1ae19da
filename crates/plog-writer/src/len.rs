//! The one conversion of a `usize` length to plog's `u64`.

/// Converts a `usize` length to the `u64` used in every report (lossless:
/// plog-format rejects targets whose `usize` is wider than 64 bits).
#[inline(always)]
pub(crate) const fn pos_u64(n: usize) -> u64 {
    n as u64
}

const _: () = assert!(usize::BITS <= 64);
