//! Four lanes of `__m128i`.

use core::arch::x86_64::*;

use crate::engine::Job;

type V = __m128i;
pub(super) const LANES: usize = 4;

#[target_feature(enable = "sse4.1")]
#[inline]
fn add(a: V, b: V) -> V {
    _mm_add_epi32(a, b)
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn xor(a: V, b: V) -> V {
    _mm_xor_si128(a, b)
}

/// Each word rotated right by 16 (a byte shuffle).
#[target_feature(enable = "sse4.1")]
#[inline]
fn rot16(a: V, k: &Masks) -> V {
    _mm_shuffle_epi8(a, k.rot16)
}

/// Each word rotated right by 8 (a byte shuffle).
#[target_feature(enable = "sse4.1")]
#[inline]
fn rot8(a: V, k: &Masks) -> V {
    _mm_shuffle_epi8(a, k.rot8)
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn masks() -> Masks {
    Masks {
        rot16: _mm_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13),
        rot8: _mm_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12),
    }
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn rot12(a: V) -> V {
    _mm_or_si128(_mm_srli_epi32::<12>(a), _mm_slli_epi32::<20>(a))
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn rot7(a: V) -> V {
    _mm_or_si128(_mm_srli_epi32::<7>(a), _mm_slli_epi32::<25>(a))
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn splat(x: u32) -> V {
    _mm_set1_epi32(x as i32)
}

/// All ones in the words where `a == b`.
#[target_feature(enable = "sse4.1")]
#[inline]
fn eq(a: V, b: V) -> V {
    _mm_cmpeq_epi32(a, b)
}

/// `yes` in the words where `mask` is all ones, else `no`.
#[target_feature(enable = "sse4.1")]
#[inline]
fn select(mask: V, yes: V, no: V) -> V {
    _mm_blendv_epi8(no, yes, mask)
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn and(a: V, b: V) -> V {
    _mm_and_si128(a, b)
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn or(a: V, b: V) -> V {
    _mm_or_si128(a, b)
}

#[target_feature(enable = "sse4.1")]
#[inline]
fn from_u32s(x: &[u32; LANES]) -> V {
    // SAFETY: `x` is 16 readable bytes; loadu has no alignment
    // requirement.
    unsafe { _mm_loadu_si128(x.as_ptr().cast()) }
}

/// Transposes a 4x4 matrix of words.
#[target_feature(enable = "sse4.1")]
#[inline]
fn transpose(r: [V; 4]) -> [V; 4] {
    let t0 = _mm_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm_unpackhi_epi32(r[2], r[3]);
    [
        _mm_unpacklo_epi64(t0, t2),
        _mm_unpackhi_epi64(t0, t2),
        _mm_unpacklo_epi64(t1, t3),
        _mm_unpackhi_epi64(t1, t3),
    ]
}

/// The 16 message words of each lane's block, word j of every lane in
/// vector j.
///
/// # Safety
///
/// Every pointer must be readable for 64 bytes.
#[target_feature(enable = "sse4.1")]
#[inline]
unsafe fn load_transposed(blocks: &[*const u8; LANES]) -> [V; 16] {
    let mut m = [_mm_setzero_si128(); 16];
    for q in 0..4 {
        let mut rows = [_mm_setzero_si128(); 4];
        for i in 0..LANES {
            // SAFETY: the caller guarantees 64 readable bytes at each
            // pointer and `16 q + 16 <= 64`; loadu has no alignment
            // requirement.
            rows[i] = unsafe { _mm_loadu_si128(blocks[i].add(16 * q).cast()) };
        }
        let t = transpose(rows);
        m[4 * q..4 * q + 4].copy_from_slice(&t);
    }
    m
}

/// Each lane's chaining value as 32 little-endian bytes.
#[target_feature(enable = "sse4.1")]
#[inline]
fn store_transposed(cv: &[V; 8], rows: &mut [[u8; 32]; LANES]) {
    let lo = transpose([cv[0], cv[1], cv[2], cv[3]]);
    let hi = transpose([cv[4], cv[5], cv[6], cv[7]]);
    for (i, row) in rows.iter_mut().enumerate() {
        // SAFETY: `row` is 32 writable bytes, written as two unaligned
        // 16-byte halves.
        unsafe {
            _mm_storeu_si128(row.as_mut_ptr().cast(), lo[i]);
            _mm_storeu_si128(row.as_mut_ptr().add(16).cast(), hi[i]);
        }
    }
}

intrinsics_compress!("sse4.1");
rotation_masks!();
lanes_kernel!("sse4.1");
