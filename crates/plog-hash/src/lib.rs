//! BLAKE3 of many independent inputs at once.
//!
//! [`hash_many`] writes, for each input, exactly `blake3::hash(input)`. It
//! gets its speed from the independence of the inputs: a payload of up to
//! 1 KiB is one BLAKE3 chunk, compressed block after block on one lane when
//! hashed alone; here the chunks of several inputs are compressed side by
//! side in SIMD lanes (16 with AVX-512, 8 with AVX2, 4 with SSE4.1), with
//! per-lane counters,
//! block lengths and flags so that every lane's last, partial block is in
//! the vector too.
//!
//! * Inputs are queued by block count and a queue runs as soon as it fills
//!   the lanes, so lanes stay full whatever the order of the inputs; the
//!   leftovers run longest first at the end. Results are in input order.
//! * An input of 2 to 32 chunks (1 KiB < length <= 32 KiB) puts its chunks
//!   into the lanes too (chunk counter per lane); its parent nodes are then
//!   compressed level by level, the parents of all such inputs side by side.
//!   Longer inputs are handed to `blake3::hash`, which already spreads one
//!   long input's chunks over the lanes.
//! * A last group of a single job (two with AVX-512) hands its inputs (if
//!   they are whole one-chunk inputs) to `blake3::hash`, whose one-input
//!   path is cheaper than a step of every lane per block; from two jobs on
//!   (three with AVX-512), the lanes win (measured: a step of 8 AVX2 lanes
//!   costs about 1.6 one-input blocks, a step of 16 AVX-512 lanes about
//!   2.6).
//! * The AVX2 compression rounds are inline assembly (`core::arch::asm!`,
//!   the state pinned in the 16 vector registers, the message words read as
//!   memory operands): the compiler's allocation of the same rounds in
//!   intrinsics spills about a hundred vectors a block and runs about a
//!   tenth slower. The rest of the kernels, and the SSE4.1 and AVX-512
//!   rounds, are intrinsics (AVX-512's 32 registers hold the whole state,
//!   and its rotations are one instruction). Each `unsafe` block says why it is sound; the property
//!   tests and the fuzz target compare every backend with `blake3::hash`.
//! * Nothing allocates: the queues and the chaining values of multi-chunk
//!   inputs live in fixed-size arrays on the stack (about 27 KiB, left
//!   uninitialised until used; the `verify_many` functions add 8 KiB of
//!   hashes).
//!
//! The backend is detected once at run time ([`detected_backend`]); the
//! environment variable `PLOG_HASH_BACKEND` (`portable`, `sse41`, `avx2` or
//! `avx512`),
//! read once, forces another one ([`default_backend`]), and
//! [`hash_many_with`] picks one per call. The portable backend is this
//! crate's own one-lane compression function.
//!
//! [`verify_many`] and [`verify_many_by`] compare each input's hash with an
//! expected one and report the mismatches, without an output buffer from
//! the caller.
//!
//! Without the `std` feature (default on) the crate is `no_std`: the
//! backend is then the best one the compile-time target features allow, and
//! the environment variable is not read.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

mod backend;
mod consts;
mod engine;
mod many;
mod portable;
#[cfg(feature = "std")]
mod records;
#[cfg(feature = "std")]
mod schedule;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(feature = "std")]
pub use records::{hash_mismatches, hash_mismatches_into};

pub use backend::{Backend, backend_override, default_backend, detected_backend};
pub use many::{Error, hash_many, hash_many_with, verify_many, verify_many_by};
#[cfg(feature = "std")]
pub use schedule::{Schedule, schedule};

use consts::{BLOCK_LEN, CHUNK_END, CHUNK_LEN, CHUNK_START, IV, MSG_SCHEDULE, PARENT, ROOT};
