//! The BLAKE3 compression function on one lane, in plain Rust: the portable
//! backend, and the definition the SIMD kernels are checked against.

use crate::engine::{Job, ZERO_BLOCK};
use crate::{IV, MSG_SCHEDULE};

/// One G mixing step on the state words `a`, `b`, `c`, `d`.
#[inline(always)]
fn g(v: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, x: u32, y: u32) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(12);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(8);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(7);
}

/// One round: the four column steps, then the four diagonal steps, with the
/// message words in round `r`'s order.
#[inline(always)]
fn round(v: &mut [u32; 16], m: &[u32; 16], r: usize) {
    let s = &MSG_SCHEDULE[r];
    g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
    g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
    g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
}

/// The chaining value after compressing `block` into `cv` (the first eight
/// output words, which are also the first 32 bytes of a root output).
#[inline]
pub(crate) fn compress(
    cv: &[u32; 8],
    block: &[u8; 64],
    counter: u64,
    len: u32,
    flags: u32,
) -> [u32; 8] {
    let mut m = [0u32; 16];
    for (word, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let mut v = [
        cv[0],
        cv[1],
        cv[2],
        cv[3],
        cv[4],
        cv[5],
        cv[6],
        cv[7],
        IV[0],
        IV[1],
        IV[2],
        IV[3],
        counter as u32,
        (counter >> 32) as u32,
        len,
        flags,
    ];
    for r in 0..7 {
        round(&mut v, &m, r);
    }
    let mut out = [0u32; 8];
    for (i, word) in out.iter_mut().enumerate() {
        *word = v[i] ^ v[i + 8];
    }
    out
}

/// Runs each job to the end, one after the other.
///
/// # Safety
///
/// Each job's `input` must be readable for `len` bytes and its `out`
/// writable for 32 bytes (see [`Job`]).
pub(crate) unsafe fn hash_group(jobs: &[Job]) {
    for job in jobs {
        let blocks = job.blocks();
        let mut cv = IV;
        for b in 0..blocks {
            let mut block = ZERO_BLOCK;
            let (start, len) = job.block_range(b);
            // SAFETY: `block_range` stays within the job's `len` bytes, which
            // the caller guarantees are readable from `input`; `block` is a
            // separate local array of 64 bytes and `len <= 64`.
            unsafe {
                core::ptr::copy_nonoverlapping(job.input.add(start), block.as_mut_ptr(), len);
            }
            cv = compress(&cv, &block, job.counter, len as u32, job.flags_of(b));
        }
        let mut bytes = [0u8; 32];
        for (chunk, word) in bytes.chunks_exact_mut(4).zip(cv) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        // SAFETY: the caller guarantees `out` is writable for 32 bytes; the
        // source is a local array.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), job.out, 32) };
    }
}
