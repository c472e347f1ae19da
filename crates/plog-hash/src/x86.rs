//! The SIMD kernels (x86-64): the state of each of N jobs in one lane of 16
//! vectors ("transposed": vector j holds word j of every lane), so that one
//! compression step advances N independent chains. Each lane has its own
//! counter, block length and flags, and idle or finished lanes read zeros.
//!
//! The kernel body is written once ([`lanes_kernel!`]) over a few
//! primitives that each module (`avx2`: 8 lanes, `sse41`: 4 lanes) defines
//! with its own intrinsics.

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

/// The compression function and the kernel over a module's primitives:
/// `V` (the vector type), `LANES`, `add`, `xor`, `shuffle`, `rot12`,
/// `rot7`, `splat`, `from_u32s`, `masks`, `load_transposed` and
/// `store_transposed`.
macro_rules! lanes_kernel {
    ($feature:literal) => {
        /// The byte shuffles that rotate each word right by 16 and by 8.
        ///
        /// They reach the rounds through [`core::hint::black_box`], as
        /// values the compiler cannot see: knowing them, it rewrites
        /// `rot8(rot16(x) ^ y)` into two shuffles and a rotation by 16 into
        /// two half-register shuffles, a third more work on the shuffle
        /// ports, which bound the kernel.
        #[derive(Clone, Copy)]
        struct Masks {
            rot16: V,
            rot8: V,
        }

        /// Compresses one block per lane into the lanes' chaining values.
        #[target_feature(enable = $feature)]
        #[inline]
        fn compress(
            cv: &mut [V; 8],
            m: &[V; 16],
            k: Masks,
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

        /// Runs up to [`LANES`] jobs side by side (more are ignored).
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
            // The last block of each lane, zero-padded when partial.
            let mut pads = [[0u8; BLOCK_LEN]; LANES];
            for (job, pad) in jobs.iter().zip(pads.iter_mut()) {
                let (start, len) = job.block_range(job.blocks() - 1);
                // SAFETY: `block_range` is within the job's `len` readable
                // bytes (the Kernel contract); `pad` is a local 64-byte
                // array and `len <= 64`.
                unsafe {
                    core::ptr::copy_nonoverlapping(job.input.add(start), pad.as_mut_ptr(), len)
                };
            }
            let mut last = [usize::MAX; LANES];
            let mut last_len = [0u32; LANES];
            let mut counter_lo = [0u32; LANES];
            let mut counter_hi = [0u32; LANES];
            let mut blocks = 0;
            for (i, job) in jobs.iter().enumerate() {
                last[i] = job.blocks() - 1;
                last_len[i] = job.block_range(last[i]).1 as u32;
                counter_lo[i] = job.counter as u32;
                counter_hi[i] = (job.counter >> 32) as u32;
                blocks = blocks.max(job.blocks());
            }
            let counter_lo = from_u32s(&counter_lo);
            let counter_hi = from_u32s(&counter_hi);
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
            // The steps where every busy lane compresses a full middle
            // block (`0 < b < min_last`) skip the per-lane cases: lane i
            // reads `starts[i] + 64 b` (idle lanes have stride 0 and read
            // ZERO_BLOCK), with length 64 and its job's constant flags.
            let mut starts = [ZERO_BLOCK.as_ptr(); LANES];
            let mut strides = [0usize; LANES];
            let mut middle_flags = [0u32; LANES];
            let mut min_last = usize::MAX;
            for (i, job) in jobs.iter().enumerate() {
                starts[i] = job.input;
                strides[i] = BLOCK_LEN;
                middle_flags[i] = job.flags;
                min_last = min_last.min(last[i]);
            }
            let middle_flags = from_u32s(&middle_flags);
            let full_len = splat(BLOCK_LEN as u32);
            for b in 0..blocks {
                let mut blocks = [ZERO_BLOCK.as_ptr(); LANES];
                let (len, flags, done) = if b > 0 && b < min_last {
                    for i in 0..LANES {
                        blocks[i] = starts[i].wrapping_add(strides[i] * b);
                    }
                    (full_len, middle_flags, false)
                } else {
                    let mut lens = [0u32; LANES];
                    let mut flags = [0u32; LANES];
                    let mut done = false;
                    for (i, job) in jobs.iter().enumerate() {
                        if b < last[i] {
                            blocks[i] = job.input.wrapping_add(b * BLOCK_LEN);
                            lens[i] = BLOCK_LEN as u32;
                        } else if b == last[i] {
                            blocks[i] = pads[i].as_ptr();
                            lens[i] = last_len[i];
                            done = true;
                        } else {
                            continue;
                        }
                        flags[i] = job.flags_of(b);
                    }
                    (from_u32s(&lens), from_u32s(&flags), done)
                };
                // SAFETY: every pointer is to 64 readable bytes: a full block
                // of a job's input (`b < last[i]`, so block `b` is inside
                // its readable `len` bytes), a local pad or ZERO_BLOCK (idle
                // lanes, and lanes past their last block).
                let m = unsafe { load_transposed(&blocks) };
                compress(&mut cv, &m, k, counter_lo, counter_hi, len, flags);
                if done {
                    let mut rows = [[0u8; 32]; LANES];
                    store_transposed(&cv, &mut rows);
                    for (i, job) in jobs.iter().enumerate() {
                        if b == last[i] {
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

/// Eight lanes of `__m256i`.
mod avx2 {
    use core::arch::x86_64::*;

    use crate::engine::Job;

    type V = __m256i;
    pub(super) const LANES: usize = 8;

    #[target_feature(enable = "avx2")]
    #[inline]
    fn add(a: V, b: V) -> V {
        _mm256_add_epi32(a, b)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn xor(a: V, b: V) -> V {
        _mm256_xor_si256(a, b)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn shuffle(a: V, mask: V) -> V {
        _mm256_shuffle_epi8(a, mask)
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
    fn rot12(a: V) -> V {
        _mm256_or_si256(_mm256_srli_epi32::<12>(a), _mm256_slli_epi32::<20>(a))
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn rot7(a: V) -> V {
        _mm256_or_si256(_mm256_srli_epi32::<7>(a), _mm256_slli_epi32::<25>(a))
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn splat(x: u32) -> V {
        _mm256_set1_epi32(x as i32)
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
    /// # Safety
    ///
    /// Every pointer must be readable for 64 bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_transposed(blocks: &[*const u8; LANES]) -> [V; 16] {
        let mut lo = [_mm256_setzero_si256(); 8];
        let mut hi = [_mm256_setzero_si256(); 8];
        for i in 0..LANES {
            // SAFETY: the caller guarantees 64 readable bytes at each
            // pointer; loadu has no alignment requirement.
            unsafe {
                lo[i] = _mm256_loadu_si256(blocks[i].cast());
                hi[i] = _mm256_loadu_si256(blocks[i].add(32).cast());
            }
        }
        let lo = transpose(lo);
        let hi = transpose(hi);
        [
            lo[0], lo[1], lo[2], lo[3], lo[4], lo[5], lo[6], lo[7], hi[0], hi[1], hi[2], hi[3],
            hi[4], hi[5], hi[6], hi[7],
        ]
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

    lanes_kernel!("sse4.1");
}
