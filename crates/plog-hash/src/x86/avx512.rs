//! Sixteen lanes of `__m512i` (AVX-512F; AVX-512VL is required too, as
//! every AVX-512 CPU but the Xeon Phi has it).
//!
//! Everything is intrinsics: with 32 vector registers the compiler keeps the
//! sixteen state words, the chaining values' inputs and the message words it
//! is about to use in registers (the AVX2 kernel needs assembly because 16
//! registers do not hold the state and a scratch register), and every
//! rotation is one `vprord`, so there are no rotation masks. Per-lane block
//! lengths and flags come from one compare into a mask register.

use core::arch::x86_64::*;

use crate::engine::Job;

type V = __m512i;
pub(super) const LANES: usize = 16;

/// Nothing: AVX-512 rotates words without shuffle masks. (A unit struct, so
/// that the shared kernel's `masks()` and `compress(.., &k, ..)` need no
/// special case.)
#[derive(Clone, Copy)]
struct Masks;

#[inline(always)]
fn masks() -> Masks {
    Masks
}

#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn add(a: V, b: V) -> V {
    _mm512_add_epi32(a, b)
}

#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn xor(a: V, b: V) -> V {
    _mm512_xor_si512(a, b)
}

/// Each word rotated right by 16.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn rot16(a: V, _: &Masks) -> V {
    _mm512_ror_epi32::<16>(a)
}

/// Each word rotated right by 8.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn rot8(a: V, _: &Masks) -> V {
    _mm512_ror_epi32::<8>(a)
}

#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn rot12(a: V) -> V {
    _mm512_ror_epi32::<12>(a)
}

#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn rot7(a: V) -> V {
    _mm512_ror_epi32::<7>(a)
}

#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn splat(x: u32) -> V {
    _mm512_set1_epi32(x as i32)
}

/// Bit i set where word i of `a` equals word i of `b`.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn eq(a: V, b: V) -> __mmask16 {
    _mm512_cmpeq_epi32_mask(a, b)
}

/// `yes` in the words whose bit of `mask` is set, else `no`.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn select(mask: __mmask16, yes: V, no: V) -> V {
    _mm512_mask_blend_epi32(mask, no, yes)
}

/// `a` in the words whose bit of `mask` is set, else zero.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn and(mask: __mmask16, a: V) -> V {
    _mm512_maskz_mov_epi32(mask, a)
}

#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn or(a: V, b: V) -> V {
    _mm512_or_si512(a, b)
}

#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn from_u32s(x: &[u32; LANES]) -> V {
    // SAFETY: `x` is 64 readable bytes; loadu has no alignment requirement.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

/// The 16 message words of each lane's block, word j of every lane in
/// vector j.
///
/// Each 16-byte quarter q of lanes j, j + 4, j + 8 and j + 12 is loaded
/// into the four 128-bit parts of one vector, so that a 4x4 transpose
/// within each part (8 in-part shuffles a quarter, no lane-crossing one)
/// leaves word 4 q + w of lanes 4 p .. 4 p + 3 in part p of vector 4 q + w:
/// the lanes in order.
///
/// # Safety
///
/// Every pointer must be readable for 64 bytes.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
unsafe fn load_transposed(blocks: &[*const u8; LANES]) -> [V; 16] {
    let mut m = [_mm512_setzero_si512(); 16];
    for q in 0..4 {
        let mut r = [_mm512_setzero_si512(); 4];
        for (j, row) in r.iter_mut().enumerate() {
            // SAFETY: the caller guarantees 64 readable bytes at each
            // pointer, `16 q + 16 <= 64` and `j + 12 < LANES`; loadu has no
            // alignment requirement.
            *row = unsafe {
                let quarter = |lane: usize| _mm_loadu_si128(blocks[lane].add(16 * q).cast());
                let v = _mm512_castsi128_si512(quarter(j));
                let v = _mm512_inserti32x4::<1>(v, quarter(j + 4));
                let v = _mm512_inserti32x4::<2>(v, quarter(j + 8));
                _mm512_inserti32x4::<3>(v, quarter(j + 12))
            };
        }
        // Within each part: t0 = words 0, 1 of rows 0, 1 interleaved, t1 =
        // words 2, 3 of rows 0, 1, t2 and t3 the same of rows 2, 3.
        let t0 = _mm512_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm512_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm512_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm512_unpackhi_epi32(r[2], r[3]);
        m[4 * q] = _mm512_unpacklo_epi64(t0, t2);
        m[4 * q + 1] = _mm512_unpackhi_epi64(t0, t2);
        m[4 * q + 2] = _mm512_unpacklo_epi64(t1, t3);
        m[4 * q + 3] = _mm512_unpackhi_epi64(t1, t3);
    }
    m
}

/// Each lane's chaining value as 32 little-endian bytes.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn store_transposed(cv: &[V; 8], rows: &mut [[u8; 32]; LANES]) {
    // Within each 128-bit part p: lo[j] holds words 0-3 of lane 4 p + j,
    // hi[j] its words 4-7 (the 4x4 transposes of `load_transposed`).
    let quads = |c: [V; 4]| {
        let t0 = _mm512_unpacklo_epi32(c[0], c[1]);
        let t1 = _mm512_unpackhi_epi32(c[0], c[1]);
        let t2 = _mm512_unpacklo_epi32(c[2], c[3]);
        let t3 = _mm512_unpackhi_epi32(c[2], c[3]);
        [
            _mm512_unpacklo_epi64(t0, t2),
            _mm512_unpackhi_epi64(t0, t2),
            _mm512_unpacklo_epi64(t1, t3),
            _mm512_unpackhi_epi64(t1, t3),
        ]
    };
    let lo = quads([cv[0], cv[1], cv[2], cv[3]]);
    let hi = quads([cv[4], cv[5], cv[6], cv[7]]);
    // 64-bit indices: parts 0 and 1 of `lo[j]` and `hi[j]` interleaved
    // (lanes j and 4 + j, whole), then parts 2 and 3 (lanes 8 + j, 12 + j).
    let first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    let second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for j in 0..4 {
        let a = _mm512_permutex2var_epi64(lo[j], first, hi[j]);
        let b = _mm512_permutex2var_epi64(lo[j], second, hi[j]);
        for (lane, v) in [
            (j, _mm512_castsi512_si256(a)),
            (j + 4, _mm512_extracti64x4_epi64::<1>(a)),
            (j + 8, _mm512_castsi512_si256(b)),
            (j + 12, _mm512_extracti64x4_epi64::<1>(b)),
        ] {
            // SAFETY: `lane < 16 = LANES`, and `rows[lane]` is 32 writable
            // bytes; storeu has no alignment requirement.
            unsafe { _mm256_storeu_si256(rows[lane].as_mut_ptr().cast(), v) };
        }
    }
}

intrinsics_compress!("avx512f,avx512vl");
lanes_kernel!("avx512f,avx512vl");
