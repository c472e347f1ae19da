//! The one conversion of a `usize` length to plog's `u64`.

/// Converts a `usize` length or position to the `u64` used for every offset
/// and length in plog (file offsets, payload lengths, counts).
///
/// plog supports targets whose `usize` is at most 64 bits wide (checked at
/// compile time below), so this conversion is lossless; it is the one place
/// where plog-format turns a `usize` into a `u64`.
#[inline(always)]
pub(crate) const fn len_u64(n: usize) -> u64 {
    n as u64
}

const _: () = assert!(
    usize::BITS <= 64,
    "plog-format needs usize of at most 64 bits"
);
