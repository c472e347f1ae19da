//! Eight lanes of `__m256i`.

use core::arch::asm;
use core::arch::x86_64::*;

use crate::engine::Job;

type V = __m256i;
pub(super) const LANES: usize = 8;

#[target_feature(enable = "avx2")]
#[inline]
fn xor(a: V, b: V) -> V {
    _mm256_xor_si256(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn masks() -> Masks {
    Masks {
        rot16: _mm256_setr_epi8(
            2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11,
            8, 9, 14, 15, 12, 13,
        ),
        rot8: _mm256_setr_epi8(
            1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10,
            11, 8, 13, 14, 15, 12,
        ),
    }
}

#[target_feature(enable = "avx2")]
#[inline]
fn splat(x: u32) -> V {
    _mm256_set1_epi32(x as i32)
}

/// All ones in the words where `a == b`.
#[target_feature(enable = "avx2")]
#[inline]
fn eq(a: V, b: V) -> V {
    _mm256_cmpeq_epi32(a, b)
}

/// `yes` in the words where `mask` is all ones, else `no`.
#[target_feature(enable = "avx2")]
#[inline]
fn select(mask: V, yes: V, no: V) -> V {
    _mm256_blendv_epi8(no, yes, mask)
}

#[target_feature(enable = "avx2")]
#[inline]
fn and(a: V, b: V) -> V {
    _mm256_and_si256(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn or(a: V, b: V) -> V {
    _mm256_or_si256(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn from_u32s(x: &[u32; LANES]) -> V {
    // SAFETY: `x` is 32 readable bytes; loadu has no alignment
    // requirement.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

/// Transposes an 8x8 matrix of words (row i, word j -> row j, word i).
#[target_feature(enable = "avx2")]
#[inline]
fn transpose(r: [V; 8]) -> [V; 8] {
    // Pairs of rows interleaved by word, then by pairs of words: each
    // 128-bit half then holds one word of four rows.
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    // u0: word 0 of rows 0-3 | word 4 of rows 0-3; u1: words 1 | 5, ...
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    // Low halves of (rows 0-3, rows 4-7) give words 0-3, high halves
    // words 4-7.
    [
        _mm256_permute2x128_si256::<0x20>(u0, u4),
        _mm256_permute2x128_si256::<0x20>(u1, u5),
        _mm256_permute2x128_si256::<0x20>(u2, u6),
        _mm256_permute2x128_si256::<0x20>(u3, u7),
        _mm256_permute2x128_si256::<0x31>(u0, u4),
        _mm256_permute2x128_si256::<0x31>(u1, u5),
        _mm256_permute2x128_si256::<0x31>(u2, u6),
        _mm256_permute2x128_si256::<0x31>(u3, u7),
    ]
}

/// The 16 message words of each lane's block, word j of every lane in
/// vector j.
///
/// Each 16-byte quarter of lane i's block is loaded with the same
/// quarter of lane i + 4's in the high half, so that the 4x4 transposes
/// stay within the 128-bit halves: 8 in-lane shuffles a quarter and no
/// lane-crossing one.
///
/// # Safety
///
/// Every pointer must be readable for 64 bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load_transposed(blocks: &[*const u8; LANES]) -> [V; 16] {
    let mut m = [_mm256_setzero_si256(); 16];
    for q in 0..4 {
        let mut r = [_mm256_setzero_si256(); 4];
        for j in 0..4 {
            // SAFETY: the caller guarantees 64 readable bytes at each
            // pointer and `16 q + 16 <= 64`; loadu has no alignment
            // requirement.
            r[j] = unsafe {
                let low = _mm_loadu_si128(blocks[j].add(16 * q).cast());
                let high = _mm_loadu_si128(blocks[j + 4].add(16 * q).cast());
                _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(low), high)
            };
        }
        // Within each half: t0 = words 0, 1 of rows 0, 1 interleaved,
        // t1 = words 2, 3 of rows 0, 1, t2 and t3 the same of rows 2, 3.
        let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
        m[4 * q] = _mm256_unpacklo_epi64(t0, t2);
        m[4 * q + 1] = _mm256_unpackhi_epi64(t0, t2);
        m[4 * q + 2] = _mm256_unpacklo_epi64(t1, t3);
        m[4 * q + 3] = _mm256_unpackhi_epi64(t1, t3);
    }
    m
}

/// Each lane's chaining value as 32 little-endian bytes.
#[target_feature(enable = "avx2")]
#[inline]
fn store_transposed(cv: &[V; 8], rows: &mut [[u8; 32]; LANES]) {
    let t = transpose(*cv);
    for (row, v) in rows.iter_mut().zip(t) {
        // SAFETY: `row` is 32 writable bytes; storeu has no alignment
        // requirement.
        unsafe { _mm256_storeu_si256(row.as_mut_ptr().cast(), v) };
    }
}

/// One round of the compression function, for the state in ymm0-ymm15
/// (word j of the state in ymmj) except word 8, which is in memory at
/// `{slot}` so that ymm8 is free as the rotations' scratch register.
/// The message words are read where they lie, at `{m} + {xi}` (the
/// byte offset of the round's i-th word); the rotation masks at `{k}`
/// (by 16) and `{k} + 32` (by 8). Each half is the four G steps side by
/// side: the columns (v0, v4, v8, v12) .. (v3, v7, v11, v15), then the
/// diagonals (v0, v5, v10, v15) .. (v3, v4, v9, v14).
macro_rules! round_asm {
    () => {
        concat!(
            "vpaddd ymm0, ymm0, ymmword ptr [{m} + {x0}]\n",
            "vpaddd ymm0, ymm0, ymm4\n",
            "vpaddd ymm1, ymm1, ymmword ptr [{m} + {x2}]\n",
            "vpaddd ymm1, ymm1, ymm5\n",
            "vpaddd ymm2, ymm2, ymmword ptr [{m} + {x4}]\n",
            "vpaddd ymm2, ymm2, ymm6\n",
            "vpaddd ymm3, ymm3, ymmword ptr [{m} + {x6}]\n",
            "vpaddd ymm3, ymm3, ymm7\n",
            "vpxor ymm12, ymm12, ymm0\n",
            "vpshufb ymm12, ymm12, ymmword ptr [{k}]\n",
            "vpxor ymm13, ymm13, ymm1\n",
            "vpshufb ymm13, ymm13, ymmword ptr [{k}]\n",
            "vpxor ymm14, ymm14, ymm2\n",
            "vpshufb ymm14, ymm14, ymmword ptr [{k}]\n",
            "vpxor ymm15, ymm15, ymm3\n",
            "vpshufb ymm15, ymm15, ymmword ptr [{k}]\n",
            "vpaddd ymm8, ymm12, ymmword ptr [{slot}]\n",
            "vpaddd ymm9, ymm9, ymm13\n",
            "vpaddd ymm10, ymm10, ymm14\n",
            "vpaddd ymm11, ymm11, ymm15\n",
            "vpxor ymm4, ymm4, ymm8\n",
            "vpxor ymm5, ymm5, ymm9\n",
            "vpxor ymm6, ymm6, ymm10\n",
            "vpxor ymm7, ymm7, ymm11\n",
            "vmovdqu ymmword ptr [{slot}], ymm8\n",
            "vpsrld ymm8, ymm4, 12\n",
            "vpslld ymm4, ymm4, 20\n",
            "vpor ymm4, ymm4, ymm8\n",
            "vpsrld ymm8, ymm5, 12\n",
            "vpslld ymm5, ymm5, 20\n",
            "vpor ymm5, ymm5, ymm8\n",
            "vpsrld ymm8, ymm6, 12\n",
            "vpslld ymm6, ymm6, 20\n",
            "vpor ymm6, ymm6, ymm8\n",
            "vpsrld ymm8, ymm7, 12\n",
            "vpslld ymm7, ymm7, 20\n",
            "vpor ymm7, ymm7, ymm8\n",
            "vpaddd ymm0, ymm0, ymmword ptr [{m} + {x1}]\n",
            "vpaddd ymm0, ymm0, ymm4\n",
            "vpaddd ymm1, ymm1, ymmword ptr [{m} + {x3}]\n",
            "vpaddd ymm1, ymm1, ymm5\n",
            "vpaddd ymm2, ymm2, ymmword ptr [{m} + {x5}]\n",
            "vpaddd ymm2, ymm2, ymm6\n",
            "vpaddd ymm3, ymm3, ymmword ptr [{m} + {x7}]\n",
            "vpaddd ymm3, ymm3, ymm7\n",
            "vpxor ymm12, ymm12, ymm0\n",
            "vpshufb ymm12, ymm12, ymmword ptr [{k} + 32]\n",
            "vpxor ymm13, ymm13, ymm1\n",
            "vpshufb ymm13, ymm13, ymmword ptr [{k} + 32]\n",
            "vpxor ymm14, ymm14, ymm2\n",
            "vpshufb ymm14, ymm14, ymmword ptr [{k} + 32]\n",
            "vpxor ymm15, ymm15, ymm3\n",
            "vpshufb ymm15, ymm15, ymmword ptr [{k} + 32]\n",
            "vpaddd ymm8, ymm12, ymmword ptr [{slot}]\n",
            "vpaddd ymm9, ymm9, ymm13\n",
            "vpaddd ymm10, ymm10, ymm14\n",
            "vpaddd ymm11, ymm11, ymm15\n",
            "vpxor ymm4, ymm4, ymm8\n",
            "vpxor ymm5, ymm5, ymm9\n",
            "vpxor ymm6, ymm6, ymm10\n",
            "vpxor ymm7, ymm7, ymm11\n",
            "vmovdqu ymmword ptr [{slot}], ymm8\n",
            "vpsrld ymm8, ymm4, 7\n",
            "vpslld ymm4, ymm4, 25\n",
            "vpor ymm4, ymm4, ymm8\n",
            "vpsrld ymm8, ymm5, 7\n",
            "vpslld ymm5, ymm5, 25\n",
            "vpor ymm5, ymm5, ymm8\n",
            "vpsrld ymm8, ymm6, 7\n",
            "vpslld ymm6, ymm6, 25\n",
            "vpor ymm6, ymm6, ymm8\n",
            "vpsrld ymm8, ymm7, 7\n",
            "vpslld ymm7, ymm7, 25\n",
            "vpor ymm7, ymm7, ymm8\n",
            "vpaddd ymm0, ymm0, ymmword ptr [{m} + {x8}]\n",
            "vpaddd ymm0, ymm0, ymm5\n",
            "vpaddd ymm1, ymm1, ymmword ptr [{m} + {x10}]\n",
            "vpaddd ymm1, ymm1, ymm6\n",
            "vpaddd ymm2, ymm2, ymmword ptr [{m} + {x12}]\n",
            "vpaddd ymm2, ymm2, ymm7\n",
            "vpaddd ymm3, ymm3, ymmword ptr [{m} + {x14}]\n",
            "vpaddd ymm3, ymm3, ymm4\n",
            "vpxor ymm15, ymm15, ymm0\n",
            "vpshufb ymm15, ymm15, ymmword ptr [{k}]\n",
            "vpxor ymm12, ymm12, ymm1\n",
            "vpshufb ymm12, ymm12, ymmword ptr [{k}]\n",
            "vpxor ymm13, ymm13, ymm2\n",
            "vpshufb ymm13, ymm13, ymmword ptr [{k}]\n",
            "vpxor ymm14, ymm14, ymm3\n",
            "vpshufb ymm14, ymm14, ymmword ptr [{k}]\n",
            "vpaddd ymm10, ymm10, ymm15\n",
            "vpaddd ymm11, ymm11, ymm12\n",
            "vpaddd ymm8, ymm13, ymmword ptr [{slot}]\n",
            "vpaddd ymm9, ymm9, ymm14\n",
            "vpxor ymm5, ymm5, ymm10\n",
            "vpxor ymm6, ymm6, ymm11\n",
            "vpxor ymm7, ymm7, ymm8\n",
            "vpxor ymm4, ymm4, ymm9\n",
            "vmovdqu ymmword ptr [{slot}], ymm8\n",
            "vpsrld ymm8, ymm5, 12\n",
            "vpslld ymm5, ymm5, 20\n",
            "vpor ymm5, ymm5, ymm8\n",
            "vpsrld ymm8, ymm6, 12\n",
            "vpslld ymm6, ymm6, 20\n",
            "vpor ymm6, ymm6, ymm8\n",
            "vpsrld ymm8, ymm7, 12\n",
            "vpslld ymm7, ymm7, 20\n",
            "vpor ymm7, ymm7, ymm8\n",
            "vpsrld ymm8, ymm4, 12\n",
            "vpslld ymm4, ymm4, 20\n",
            "vpor ymm4, ymm4, ymm8\n",
            "vpaddd ymm0, ymm0, ymmword ptr [{m} + {x9}]\n",
            "vpaddd ymm0, ymm0, ymm5\n",
            "vpaddd ymm1, ymm1, ymmword ptr [{m} + {x11}]\n",
            "vpaddd ymm1, ymm1, ymm6\n",
            "vpaddd ymm2, ymm2, ymmword ptr [{m} + {x13}]\n",
            "vpaddd ymm2, ymm2, ymm7\n",
            "vpaddd ymm3, ymm3, ymmword ptr [{m} + {x15}]\n",
            "vpaddd ymm3, ymm3, ymm4\n",
            "vpxor ymm15, ymm15, ymm0\n",
            "vpshufb ymm15, ymm15, ymmword ptr [{k} + 32]\n",
            "vpxor ymm12, ymm12, ymm1\n",
            "vpshufb ymm12, ymm12, ymmword ptr [{k} + 32]\n",
            "vpxor ymm13, ymm13, ymm2\n",
            "vpshufb ymm13, ymm13, ymmword ptr [{k} + 32]\n",
            "vpxor ymm14, ymm14, ymm3\n",
            "vpshufb ymm14, ymm14, ymmword ptr [{k} + 32]\n",
            "vpaddd ymm10, ymm10, ymm15\n",
            "vpaddd ymm11, ymm11, ymm12\n",
            "vpaddd ymm8, ymm13, ymmword ptr [{slot}]\n",
            "vpaddd ymm9, ymm9, ymm14\n",
            "vpxor ymm5, ymm5, ymm10\n",
            "vpxor ymm6, ymm6, ymm11\n",
            "vpxor ymm7, ymm7, ymm8\n",
            "vpxor ymm4, ymm4, ymm9\n",
            "vmovdqu ymmword ptr [{slot}], ymm8\n",
            "vpsrld ymm8, ymm5, 7\n",
            "vpslld ymm5, ymm5, 25\n",
            "vpor ymm5, ymm5, ymm8\n",
            "vpsrld ymm8, ymm6, 7\n",
            "vpslld ymm6, ymm6, 25\n",
            "vpor ymm6, ymm6, ymm8\n",
            "vpsrld ymm8, ymm7, 7\n",
            "vpslld ymm7, ymm7, 25\n",
            "vpor ymm7, ymm7, ymm8\n",
            "vpsrld ymm8, ymm4, 7\n",
            "vpslld ymm4, ymm4, 25\n",
            "vpor ymm4, ymm4, ymm8\n",
        )
    };
}

/// Runs round `$r` (a literal) over `$v` (state words 0-7 and 9-15;
/// word 8 at `$slot`).
macro_rules! round {
    ($r:literal, $v:ident, $m:expr, $k:expr, $slot:expr) => {{
        const S: [usize; 16] = crate::MSG_SCHEDULE[$r];
        asm!(
            round_asm!(),
            m = in(reg) $m,
            k = in(reg) $k,
            slot = in(reg) $slot,
            x0 = const 32 * S[0],
            x1 = const 32 * S[1],
            x2 = const 32 * S[2],
            x3 = const 32 * S[3],
            x4 = const 32 * S[4],
            x5 = const 32 * S[5],
            x6 = const 32 * S[6],
            x7 = const 32 * S[7],
            x8 = const 32 * S[8],
            x9 = const 32 * S[9],
            x10 = const 32 * S[10],
            x11 = const 32 * S[11],
            x12 = const 32 * S[12],
            x13 = const 32 * S[13],
            x14 = const 32 * S[14],
            x15 = const 32 * S[15],
            inout("ymm0") $v[0],
            inout("ymm1") $v[1],
            inout("ymm2") $v[2],
            inout("ymm3") $v[3],
            inout("ymm4") $v[4],
            inout("ymm5") $v[5],
            inout("ymm6") $v[6],
            inout("ymm7") $v[7],
            out("ymm8") _,
            inout("ymm9") $v[9],
            inout("ymm10") $v[10],
            inout("ymm11") $v[11],
            inout("ymm12") $v[12],
            inout("ymm13") $v[13],
            inout("ymm14") $v[14],
            inout("ymm15") $v[15],
            options(nostack, preserves_flags),
        )
    }};
}

/// Compresses one block per lane into the lanes' chaining values.
///
/// In assembly: the compiler's register allocation of the same rounds
/// in intrinsics spills and reloads about a hundred vectors a block
/// (sixteen state words, a scratch register and two masks do not fit in
/// sixteen registers), a sixth more instructions than the arithmetic.
/// Here fifteen state words stay in registers, word 8 lives in one stack
/// slot (two loads and two stores a half round), and the message words
/// and masks are memory operands.
#[target_feature(enable = "avx2")]
#[inline]
fn compress(
    cv: &mut [V; 8],
    m: &[V; 16],
    k: &Masks,
    counter_lo: V,
    counter_hi: V,
    len: V,
    flags: V,
) {
    let iv = crate::IV;
    let mut slot = [splat(iv[0])];
    let mut v = [
        cv[0],
        cv[1],
        cv[2],
        cv[3],
        cv[4],
        cv[5],
        cv[6],
        cv[7],
        _mm256_setzero_si256(), // word 8 is in `slot`
        splat(iv[1]),
        splat(iv[2]),
        splat(iv[3]),
        counter_lo,
        counter_hi,
        len,
        flags,
    ];
    // `Masks` is `repr(C)`: the mask by 16, then the one by 8.
    let (m, k, s) = (
        m.as_ptr(),
        (k as *const Masks).cast::<u8>(),
        slot.as_mut_ptr(),
    );
    // SAFETY: the CPU supports AVX2 (this function's target feature).
    // The rounds read 512 bytes at `m` (offsets `32 S[i] < 512`), 64
    // bytes at `k`, and read and write the 32 bytes at `s`: all three
    // are live local arrays of that size. They touch no other memory,
    // no register beyond their operands (ymm8 is declared clobbered),
    // neither the stack nor the flags.
    unsafe {
        round!(0, v, m, k, s);
        round!(1, v, m, k, s);
        round!(2, v, m, k, s);
        round!(3, v, m, k, s);
        round!(4, v, m, k, s);
        round!(5, v, m, k, s);
        round!(6, v, m, k, s);
    }
    cv[0] = xor(v[0], slot[0]);
    for i in 1..8 {
        cv[i] = xor(v[i], v[i + 8]);
    }
}

rotation_masks!();
lanes_kernel!("avx2");
