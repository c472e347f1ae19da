//! The SIMD kernels (x86-64): the state of each of N jobs in one lane of 16
//! vectors ("transposed": vector j holds word j of every lane), so that one
//! compression step advances N independent chains. Each lane has its own
//! counter, block length and flags, and idle or finished lanes read zeros.
//!
//! The kernel body is written once ([`lanes_kernel!`]) over a few
//! primitives that each module (`avx512`: 16 lanes, `avx2`: 8 lanes,
//! `sse41`: 4 lanes) defines with its own intrinsics. The compression
//! rounds themselves are intrinsics for AVX-512 (`avx512::compress`, whose
//! 32 registers hold the whole state and whose rotations are one
//! instruction) and SSE4.1 ([`intrinsics_compress!`]), and assembly for
//! AVX2 (`avx2::compress`), which runs about a tenth faster than the
//! compiler's allocation of the same intrinsics in 16 registers.

use crate::engine::Job;

/// Runs `jobs` 16 at a time with AVX-512 (F and VL).
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX-512VL, and every job must satisfy
/// the [`Kernel`](crate::engine::Kernel) contract.
pub(crate) unsafe fn avx512_group(jobs: &[Job]) {
    for group in jobs.chunks(avx512::LANES) {
        // SAFETY: the caller guarantees AVX-512F/VL and the jobs' pointers.
        unsafe { avx512::hash_lanes(group) };
    }
}

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
        $( $v[$d] = rot16(xor($v[$d], $v[$a]), $k); )*
        $( $v[$c] = add($v[$c], $v[$d]); )*
        $( $v[$b] = rot12(xor($v[$b], $v[$c])); )*
        $( $v[$a] = add(add($v[$a], $v[$b]), $y); )*
        $( $v[$d] = rot8(xor($v[$d], $v[$a]), $k); )*
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

/// The compression function in intrinsics over a module's primitives
/// (`add`, `xor`, `rot16`, `rot8`, `rot12`, `rot7`, `splat`): the SSE4.1 and
/// AVX-512 modules'; the AVX2 module has its own in assembly.
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

/// The `Masks` type of the modules whose rotations by 16 and 8 are byte
/// shuffles (SSE4.1 and AVX2; AVX-512 rotates words in one instruction).
macro_rules! rotation_masks {
    () => {
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
    };
}

/// The kernel over a module's primitives: `V` (the vector type), `LANES`,
/// `Masks` and `masks` (constants the rounds need, hidden from the
/// optimiser), `compress`, `splat`, `eq` (a per-lane mask: a vector of all
/// ones or a mask register), `select` and `and` (taking that mask), `or`,
/// `from_u32s`, `load_transposed` and `store_transposed`.
macro_rules! lanes_kernel {
    ($feature:literal) => {
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

mod avx2;
mod avx512;
mod sse41;

#[cfg(all(test, feature = "std"))]
mod tests {
    //! Each SIMD kernel against the portable one on hand-made jobs: any
    //! 64-bit counter (the engine only makes counters below 32), any flags,
    //! different per lane, in groups that cross the lane count.

    use super::*;
    use crate::Backend;
    use crate::portable;

    /// xorshift64*.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    type Kernel = unsafe fn(&[Job]);

    fn kernels() -> Vec<(Backend, Kernel, usize)> {
        let all: [(Backend, Kernel, usize); 3] = [
            (Backend::Sse41, sse41_group, sse41::LANES),
            (Backend::Avx2, avx2_group, avx2::LANES),
            (Backend::Avx512, avx512_group, avx512::LANES),
        ];
        all.into_iter()
            .filter(|(b, _, _)| {
                let ok = b.is_supported();
                if !ok {
                    eprintln!("note: skipping backend {b}: this CPU does not support it");
                }
                ok
            })
            .collect()
    }

    #[test]
    fn kernels_equal_portable_with_any_counter_and_flags() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        let data: Vec<u8> = (0..64 * 1024).map(|_| rng.next() as u8).collect();
        for (backend, kernel, lanes) in kernels() {
            for n in 1..=2 * lanes + 1 {
                for round in 0..8 {
                    // Lengths: every block count and every tail length turn
                    // up in some lane (round 0: lane i has i + 1 full blocks
                    // minus i bytes, so lanes end at different steps).
                    let jobs_spec: Vec<(usize, usize, u64, u32, u32, u32)> = (0..n)
                        .map(|i| {
                            let len = if round == 0 {
                                (64 * ((i % 16) + 1)).saturating_sub(i)
                            } else {
                                (rng.next() % 1025) as usize
                            };
                            let start = (rng.next() as usize) % (data.len() - len);
                            let counter = match round % 3 {
                                0 => i as u64,
                                1 => u64::from(u32::MAX) - 3 + i as u64,
                                _ => rng.next(),
                            };
                            let flags = rng.next() as u32 & 0x1F;
                            (
                                start,
                                len,
                                counter,
                                flags,
                                rng.next() as u32,
                                rng.next() as u32,
                            )
                        })
                        .collect();
                    let mut simd = vec![[0u8; 32]; n];
                    let mut scalar = vec![[0u8; 32]; n];
                    for (outs, k) in [
                        (&mut simd, kernel),
                        (&mut scalar, portable::hash_group as Kernel),
                    ] {
                        let jobs: Vec<Job> = jobs_spec
                            .iter()
                            .zip(outs.iter_mut())
                            .map(|(&(start, len, counter, flags, sf, ef), out)| Job {
                                input: data[start..start + len].as_ptr(),
                                len,
                                counter,
                                flags,
                                start_flags: sf,
                                end_flags: ef,
                                out: out.as_mut_ptr(),
                            })
                            .collect();
                        // SAFETY: the kernel is supported (filtered above);
                        // each input is a live slice of `data` of `len`
                        // bytes, each output a distinct live 32-byte array.
                        unsafe { k(&jobs) };
                    }
                    assert_eq!(simd, scalar, "backend {backend}, {n} jobs, round {round}");
                }
            }
        }
    }
}
