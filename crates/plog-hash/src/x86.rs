//! The SIMD kernels (x86-64): the state of each of N jobs in one lane of 16
//! vectors ("transposed": vector j holds word j of every lane), so that one
//! compression step advances N independent chains. Each lane has its own
//! counter, block length and flags, and idle or finished lanes read zeros.
//!
//! The kernel body is written once ([`lanes_kernel!`]) over a few
//! primitives that each module (`avx2`: 8 lanes, `sse41`: 4 lanes) defines
//! with its own intrinsics. The compression rounds themselves are
//! intrinsics for SSE4.1 ([`intrinsics_compress!`]) and assembly for AVX2
//! (`avx2::compress`), which runs about a tenth faster than the compiler's
//! allocation of the same intrinsics.

use crate::engine::Job;

/// Runs `jobs` 8 at a time with AVX2.
///
/// # Safety
///
/// The CPU must support AVX2, and every job must satisfy the
/// [`Kernel`](crate::engine::Kernel) contract.
pub(crate) unsafe fn avx2_group(jobs: &[Job]) {
    for group in jobs.chunks(avx2::LANES) {
        // SAFETY: the caller guarantees AVX2 and the jobs' pointers.
        unsafe { avx2::hash_lanes(group) };
    }
}

/// Runs `jobs` 4 at a time with SSE4.1.
///
/// # Safety
///
/// The CPU must support SSE4.1, and every job must satisfy the
/// [`Kernel`](crate::engine::Kernel) contract.
pub(crate) unsafe fn sse41_group(jobs: &[Job]) {
    for group in jobs.chunks(sse41::LANES) {
        // SAFETY: the caller guarantees SSE4.1 and the jobs' pointers.
        unsafe { sse41::hash_lanes(group) };
    }
}

/// Four G steps side by side (each on state words `a`, `b`, `c`, `d` with
/// message words `x`, `y`), interleaved step by step so that the four
/// independent chains overlap in the pipeline.
macro_rules! g4 {
    ($v:ident, $k:ident, $(($a:literal, $b:literal, $c:literal, $d:literal, $x:expr, $y:expr)),*) => {
        $( $v[$a] = add(add($v[$a], $v[$b]), $x); )*
        $( $v[$d] = shuffle(xor($v[$d], $v[$a]), $k.rot16); )*
        $( $v[$c] = add($v[$c], $v[$d]); )*
        $( $v[$b] = rot12(xor($v[$b], $v[$c])); )*
        $( $v[$a] = add(add($v[$a], $v[$b]), $y); )*
        $( $v[$d] = shuffle(xor($v[$d], $v[$a]), $k.rot8); )*
        $( $v[$c] = add($v[$c], $v[$d]); )*
        $( $v[$b] = rot7(xor($v[$b], $v[$c])); )*
    };
}

/// Round `r` (a literal, so that the message schedule folds into constant
/// indices): the four column steps, then the four diagonal steps.
macro_rules! round {
    ($v:ident, $m:ident, $k:ident, $r:literal) => {{
        const S: [usize; 16] = crate::MSG_SCHEDULE[$r];
        g4!(
            $v,
            $k,
            (0, 4, 8, 12, $m[S[0]], $m[S[1]]),
            (1, 5, 9, 13, $m[S[2]], $m[S[3]]),
            (2, 6, 10, 14, $m[S[4]], $m[S[5]]),
            (3, 7, 11, 15, $m[S[6]], $m[S[7]])
        );
        g4!(
            $v,
            $k,
            (0, 5, 10, 15, $m[S[8]], $m[S[9]]),
            (1, 6, 11, 12, $m[S[10]], $m[S[11]]),
            (2, 7, 8, 13, $m[S[12]], $m[S[13]]),
            (3, 4, 9, 14, $m[S[14]], $m[S[15]])
        );
    }};
}

/// The compression function in intrinsics over a module's primitives (the
/// SSE4.1 module's; the AVX2 module has its own in assembly).
macro_rules! intrinsics_compress {
    ($feature:literal) => {
        /// Compresses one block per lane into the lanes' chaining values.
        #[target_feature(enable = $feature)]
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
            let mut v = [
                cv[0],
                cv[1],
                cv[2],
                cv[3],
                cv[4],
                cv[5],
                cv[6],
                cv[7],
                splat(iv[0]),
                splat(iv[1]),
                splat(iv[2]),
                splat(iv[3]),
                counter_lo,
                counter_hi,
                len,
                flags,
            ];
            round!(v, m, k, 0);
            round!(v, m, k, 1);
            round!(v, m, k, 2);
            round!(v, m, k, 3);
            round!(v, m, k, 4);
            round!(v, m, k, 5);
            round!(v, m, k, 6);
            for i in 0..8 {
                cv[i] = xor(v[i], v[i + 8]);
            }
        }
    };
}

/// The kernel over a module's primitives: `V` (the vector type), `LANES`,
/// `compress`, `splat`, `eq`, `select`, `and`, `or`, `from_u32s`, `masks`,
/// `load_transposed` and `store_transposed`.
macro_rules! lanes_kernel {
    ($feature:literal) => {
        /// The byte shuffles that rotate each word right by 16 and by 8.
        ///
        /// They reach the rounds through [`core::hint::black_box`], as
        /// values the compiler cannot see: knowing them, it rewrites the
        /// intrinsics' `rot8(rot16(x) ^ y)` into two shuffles and a rotation
        /// by 16 into two half-register shuffles, a third more work on the
        /// shuffle ports, which bound the kernel. (The AVX2 assembly reads
        /// them from memory.)
        #[derive(Clone, Copy)]
        #[repr(C)]
        struct Masks {
            rot16: V,
            rot8: V,
        }

        /// Runs up to [`LANES`] jobs side by side (more are ignored).
        ///
        /// Step `b` compresses block `b` of every lane at once. Lane i
        /// reads `input + 64 b` while `b < last[i]`, then its tail: its last
        /// block in place when full, else a zero-padded copy (idle lanes
        /// read zeros). Block lengths and flags come from one vector
        /// comparison of `b` with the lanes' last block indices; a lane past
        /// its last block computes garbage that is never stored.
        ///
        /// # Safety
        ///
        /// The CPU must support the module's feature, and every job must
        /// satisfy the [`Kernel`](crate::engine::Kernel) contract.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn hash_lanes(jobs: &[Job]) {
            use crate::BLOCK_LEN;
            use crate::engine::ZERO_BLOCK;

            let jobs = &jobs[..jobs.len().min(LANES)];
            let k = core::hint::black_box(masks());
            let mut pads = [[0u8; BLOCK_LEN]; LANES];
            let mut starts = [ZERO_BLOCK.as_ptr(); LANES];
            let mut tails = [ZERO_BLOCK.as_ptr(); LANES];
            let mut last = [0u32; LANES];
            let mut last_len = [0u32; LANES];
            let mut counter_lo = [0u32; LANES];
            let mut counter_hi = [0u32; LANES];
            let mut base_flags = [0u32; LANES];
            let mut start_flags = [0u32; LANES];
            let mut end_flags = [0u32; LANES];
            // Bit b: some lane ends at step b.
            let mut finishes = 0u32;
            let mut steps = 0;
            for (i, job) in jobs.iter().enumerate() {
                let blocks = job.blocks();
                let (tail_start, tail_len) = job.block_range(blocks - 1);
                starts[i] = job.input;
                tails[i] = if tail_len == BLOCK_LEN {
                    job.input.wrapping_add(tail_start)
                } else {
                    // SAFETY: the tail is within the job's `len` readable
                    // bytes (the Kernel contract); `pads[i]` is a local
                    // 64-byte array and `tail_len < 64`.
                    unsafe { super::copy_short(job.input.add(tail_start), &mut pads[i], tail_len) };
                    pads[i].as_ptr()
                };
                last[i] = (blocks - 1) as u32;
                last_len[i] = tail_len as u32;
                counter_lo[i] = job.counter as u32;
                counter_hi[i] = (job.counter >> 32) as u32;
                base_flags[i] = job.flags;
                start_flags[i] = job.start_flags;
                end_flags[i] = job.end_flags;
                finishes |= 1 << (blocks - 1);
                steps = steps.max(blocks);
            }
            let counter_lo = from_u32s(&counter_lo);
            let counter_hi = from_u32s(&counter_hi);
            let last_v = from_u32s(&last);
            let last_len = from_u32s(&last_len);
            let base_flags = from_u32s(&base_flags);
            let start_flags = from_u32s(&start_flags);
            let end_flags = from_u32s(&end_flags);
            let full_len = splat(BLOCK_LEN as u32);
            let iv = crate::IV;
            let mut cv = [
                splat(iv[0]),
                splat(iv[1]),
                splat(iv[2]),
                splat(iv[3]),
                splat(iv[4]),
                splat(iv[5]),
                splat(iv[6]),
                splat(iv[7]),
            ];
            for b in 0..steps {
                let mut blocks = [ZERO_BLOCK.as_ptr(); LANES];
                for i in 0..LANES {
                    blocks[i] = if (b as u32) < last[i] {
                        starts[i].wrapping_add(b * BLOCK_LEN)
                    } else {
                        tails[i]
                    };
                }
                let ends = eq(splat(b as u32), last_v);
                let len = select(ends, last_len, full_len);
                let mut flags = or(base_flags, and(ends, end_flags));
                if b == 0 {
                    flags = or(flags, start_flags);
                }
                for block in blocks {
                    super::prefetch(block.wrapping_add(2 * BLOCK_LEN));
                }
                // SAFETY: every pointer is to 64 readable bytes: a full block
                // of a job's input (block `b < last[i]`, or its full last
                // block), a local pad or ZERO_BLOCK.
                let m = unsafe { load_transposed(&blocks) };
                compress(&mut cv, &m, &k, counter_lo, counter_hi, len, flags);
                if finishes & (1 << b) != 0 {
                    let mut rows = [[0u8; 32]; LANES];
                    store_transposed(&cv, &mut rows);
                    for (i, job) in jobs.iter().enumerate() {
                        if last[i] == b as u32 {
                            // SAFETY: `out` is writable for 32 bytes (the
                            // Kernel contract); `rows[i]` is local. Every
                            // block of this step was loaded above.
                            unsafe {
                                core::ptr::copy_nonoverlapping(rows[i].as_ptr(), job.out, 32)
                            };
                        }
                    }
                }
            }
        }
    };
}

/// Asks the CPU to bring the line at `p` into its caches (a hint: any
/// address, readable or not, is allowed).
#[inline(always)]
fn prefetch(p: *const u8) {
    // SAFETY: a prefetch reads nothing and cannot fault, whatever the
    // address; SSE (which it needs) is part of x86-64.
    unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast()) }
}

/// Copies `len < 64` bytes from `src` to the start of `pad`, whose other
/// bytes stay as they are, in at most two overlapping moves of a fixed
/// width (no call to `memcpy` for a variable length).
///
/// # Safety
///
/// `src` must be readable for `len` bytes, and `len < 64`.
#[inline(always)]
unsafe fn copy_short(src: *const u8, pad: &mut [u8; 64], len: usize) {
    /// Copies the first and the last `W` bytes of `src[..len]` (`W <= len
    /// <= 2 W`), which together cover all of them.
    ///
    /// # Safety
    ///
    /// As for `copy_short`, with `W <= len <= 2 W <= 64`.
    #[inline(always)]
    unsafe fn two<const W: usize>(src: *const u8, pad: &mut [u8; 64], len: usize) {
        // SAFETY: `W <= len` and `len - W + W = len`: both reads are within
        // the `len` readable bytes at `src`; both writes end at `len <= 64`.
        unsafe {
            let head = src.cast::<[u8; W]>().read_unaligned();
            let tail = src.add(len - W).cast::<[u8; W]>().read_unaligned();
            pad.as_mut_ptr().cast::<[u8; W]>().write_unaligned(head);
            pad.as_mut_ptr()
                .add(len - W)
                .cast::<[u8; W]>()
                .write_unaligned(tail);
        }
    }
    // SAFETY: each branch meets `two`'s bounds for its width.
    unsafe {
        match len {
            32..=63 => two::<32>(src, pad, len),
            16..=31 => two::<16>(src, pad, len),
            8..=15 => two::<8>(src, pad, len),
            4..=7 => two::<4>(src, pad, len),
            2..=3 => two::<2>(src, pad, len),
            1 => pad[0] = src.read(),
            _ => {}
        }
    }
}

/// Eight lanes of `__m256i`.
mod avx2 {
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
                2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10,
                11, 8, 9, 14, 15, 12, 13,
            ),
            rot8: _mm256_setr_epi8(
                1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9,
                10, 11, 8, 13, 14, 15, 12,
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

    lanes_kernel!("avx2");
}

/// Four lanes of `__m128i`.
mod sse41 {
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

    #[target_feature(enable = "sse4.1")]
    #[inline]
    fn shuffle(a: V, mask: V) -> V {
        _mm_shuffle_epi8(a, mask)
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
    lanes_kernel!("sse4.1");
}
