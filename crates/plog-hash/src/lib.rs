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

mod engine;
mod portable;
#[cfg(feature = "std")]
mod records;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(feature = "std")]
pub use records::{hash_mismatches, hash_mismatches_into};

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// Bytes in a block.
const BLOCK_LEN: usize = 64;
/// Bytes in a chunk.
const CHUNK_LEN: usize = 1024;

const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const PARENT: u32 = 4;
const ROOT: u32 = 8;

/// BLAKE3's IV (SHA-256's).
const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];

/// BLAKE3's message word permutation, applied between rounds.
const MSG_PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/// For each of the 7 rounds, which message word goes in each position.
const MSG_SCHEDULE: [[usize; 16]; 7] = {
    let mut schedule = [[0; 16]; 7];
    let mut i = 0;
    while i < 16 {
        schedule[0][i] = i;
        i += 1;
    }
    let mut r = 1;
    while r < 7 {
        let mut i = 0;
        while i < 16 {
            schedule[r][i] = schedule[r - 1][MSG_PERMUTATION[i]];
            i += 1;
        }
        r += 1;
    }
    schedule
};

/// An implementation of the compression lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Plain Rust, one input at a time (any CPU).
    Portable,
    /// SSE4.1, 4 inputs side by side (x86-64).
    Sse41,
    /// AVX2, 8 inputs side by side (x86-64).
    Avx2,
    /// AVX-512 (F and VL), 16 inputs side by side (x86-64).
    Avx512,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 4] = [
        Backend::Portable,
        Backend::Sse41,
        Backend::Avx2,
        Backend::Avx512,
    ];

    /// The name `PLOG_HASH_BACKEND` takes: `portable`, `sse41`, `avx2` or
    /// `avx512`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::Sse41 => "sse41",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
        }
    }

    /// The backend called `name` (as [`name`](Self::name) spells it).
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// How many inputs it compresses side by side.
    pub const fn lanes(self) -> usize {
        match self {
            Backend::Portable => 1,
            Backend::Sse41 => 4,
            Backend::Avx2 => 8,
            Backend::Avx512 => 16,
        }
    }

    /// Whether this CPU can run it (detected once, then cached).
    pub fn is_supported(self) -> bool {
        match self {
            Backend::Portable => true,
            Backend::Sse41 => features() & SSE41 != 0,
            Backend::Avx2 => features() & AVX2 != 0,
            Backend::Avx512 => features() & AVX512 != 0,
        }
    }

    /// The backend's kernel, if this CPU can run it.
    fn lanes_impl(self) -> Option<engine::Lanes> {
        if !self.is_supported() {
            return None;
        }
        match self {
            Backend::Portable => Some(PORTABLE),
            #[cfg(target_arch = "x86_64")]
            Backend::Sse41 => Some(engine::Lanes {
                kernel: x86::sse41_group,
                width: 4,
                solo: engine::solo(4),
            }),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => Some(engine::Lanes {
                kernel: x86::avx2_group,
                width: 8,
                solo: engine::solo(8),
            }),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => Some(engine::Lanes {
                kernel: x86::avx512_group,
                width: 16,
                solo: engine::solo(16),
            }),
            #[cfg(not(target_arch = "x86_64"))]
            _ => None,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const KNOWN: u8 = 1;
const SSE41: u8 = 2;
const AVX2: u8 = 4;
/// AVX-512F and AVX-512VL.
const AVX512: u8 = 8;

/// The CPU features the kernels need, detected once.
fn features() -> u8 {
    static FEATURES: AtomicU8 = AtomicU8::new(0);
    let cached = FEATURES.load(Ordering::Relaxed);
    if cached & KNOWN != 0 {
        return cached;
    }
    let detected = KNOWN | detect();
    FEATURES.store(detected, Ordering::Relaxed);
    detected
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn detect() -> u8 {
    let mut found = 0;
    if std::is_x86_feature_detected!("sse4.1") {
        found |= SSE41;
        if std::is_x86_feature_detected!("avx2") {
            found |= AVX2;
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
            {
                found |= AVX512;
            }
        }
    }
    found
}

#[cfg(all(target_arch = "x86_64", not(feature = "std")))]
fn detect() -> u8 {
    let mut found = 0;
    if cfg!(target_feature = "sse4.1") {
        found |= SSE41;
        if cfg!(target_feature = "avx2") {
            found |= AVX2;
            if cfg!(target_feature = "avx512f") && cfg!(target_feature = "avx512vl") {
                found |= AVX512;
            }
        }
    }
    found
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> u8 {
    0
}

/// The fastest backend this CPU supports (detected once, then cached).
pub fn detected_backend() -> Backend {
    Backend::ALL
        .into_iter()
        .rev()
        .find(|b| b.is_supported())
        .unwrap_or(Backend::Portable)
}

/// The backend [`hash_many`] and [`verify_many`] use: the one named by the
/// environment variable `PLOG_HASH_BACKEND` (`portable`, `sse41`, `avx2`,
/// `avx512`)
/// when it is set to a backend this CPU supports, else
/// [`detected_backend`]. The variable is read once, on the first call; an
/// unknown or unsupported value is ignored (see [`backend_override`]).
pub fn default_backend() -> Backend {
    static DEFAULT: AtomicU8 = AtomicU8::new(u8::MAX);
    let cached = DEFAULT.load(Ordering::Relaxed);
    if let Some(&backend) = Backend::ALL.get(usize::from(cached)) {
        return backend;
    }
    let backend = match backend_override() {
        Some(Ok(backend)) if backend.is_supported() => backend,
        _ => detected_backend(),
    };
    let index = Backend::ALL.iter().position(|&b| b == backend).unwrap_or(0);
    DEFAULT.store(index as u8, Ordering::Relaxed);
    backend
}

/// What `PLOG_HASH_BACKEND` asks for: `None` when it is unset (or without
/// the `std` feature), `Some(Err(value))` when it names no backend.
#[cfg(feature = "std")]
pub fn backend_override() -> Option<Result<Backend, std::string::String>> {
    let value = std::env::var_os("PLOG_HASH_BACKEND")?;
    let value = value.to_string_lossy();
    Some(Backend::from_name(value.trim()).ok_or_else(|| value.into_owned()))
}

/// What `PLOG_HASH_BACKEND` asks for: without the `std` feature, nothing.
#[cfg(not(feature = "std"))]
pub fn backend_override() -> Option<Result<Backend, &'static str>> {
    None
}

/// Why hashing did not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The output slice does not have one hash per input.
    LengthMismatch {
        /// The number of inputs.
        inputs: usize,
        /// The number of output (or expected) hashes.
        outputs: usize,
    },
    /// This CPU cannot run the backend asked for.
    Unsupported(Backend),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::LengthMismatch { inputs, outputs } => write!(
                f,
                "expected one hash per input: {inputs} inputs, but {outputs} hashes"
            ),
            Error::Unsupported(backend) => write!(
                f,
                "this CPU does not support the {backend} backend (detected: {})",
                detected_backend()
            ),
        }
    }
}

impl core::error::Error for Error {}

/// Writes `blake3::hash(inputs[i])` to `out[i]` for every `i`, on
/// [`default_backend`].
///
/// Fails with [`Error::LengthMismatch`], writing nothing, unless
/// `out.len() == inputs.len()`.
pub fn hash_many(inputs: &[&[u8]], out: &mut [[u8; 32]]) -> Result<(), Error> {
    hash_many_with(default_backend(), inputs, out)
}

/// [`hash_many`] on the given backend.
///
/// Fails, writing nothing, with [`Error::Unsupported`] when this CPU cannot
/// run `backend`, or [`Error::LengthMismatch`] unless `out.len() ==
/// inputs.len()`.
pub fn hash_many_with(
    backend: Backend,
    inputs: &[&[u8]],
    out: &mut [[u8; 32]],
) -> Result<(), Error> {
    let lanes = backend.lanes_impl().ok_or(Error::Unsupported(backend))?;
    if out.len() != inputs.len() {
        return Err(Error::LengthMismatch {
            inputs: inputs.len(),
            outputs: out.len(),
        });
    }
    engine::run(lanes, out, |i| inputs.get(i).copied().unwrap_or_default());
    Ok(())
}

/// Hashes each input and calls `mismatch(i, computed)` for each `i`, in
/// increasing order, where `blake3::hash(inputs[i]) != expected[i]`, on
/// [`default_backend`].
///
/// Fails with [`Error::LengthMismatch`], calling nothing, unless
/// `expected.len() == inputs.len()`.
pub fn verify_many(
    inputs: &[&[u8]],
    expected: &[[u8; 32]],
    mismatch: impl FnMut(usize, [u8; 32]),
) -> Result<(), Error> {
    if expected.len() != inputs.len() {
        return Err(Error::LengthMismatch {
            inputs: inputs.len(),
            outputs: expected.len(),
        });
    }
    let lanes = default_lanes();
    verify_indexed(
        lanes,
        inputs.len(),
        |i| inputs.get(i).copied().unwrap_or_default(),
        |i| expected.get(i),
        mismatch,
    );
    Ok(())
}

/// Hashes `payload(item)` for each of `items` and calls `mismatch(i,
/// computed)` for each `i`, in increasing order, where the hash differs from
/// `expected(&items[i])`: the items can be any records that hold or point
/// to their payload and stored hash, with no slice of inputs to build.
///
/// Items are hashed in windows of 256 whose hashes live on the stack. Fails
/// with [`Error::Unsupported`], calling nothing, when this CPU cannot run
/// `backend` (pass [`default_backend()`] normally).
pub fn verify_many_by<'a, T>(
    backend: Backend,
    items: &'a [T],
    payload: impl Fn(&'a T) -> &'a [u8],
    expected: impl Fn(&'a T) -> &'a [u8; 32],
    mismatch: impl FnMut(usize, [u8; 32]),
) -> Result<(), Error> {
    let lanes = backend.lanes_impl().ok_or(Error::Unsupported(backend))?;
    verify_indexed(
        lanes,
        items.len(),
        |i| items.get(i).map(&payload).unwrap_or_default(),
        |i| items.get(i).map(&expected),
        mismatch,
    );
    Ok(())
}

/// How [`hash_many`] would run a batch on a kernel of a given lane count:
/// what [`schedule`] returns.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Kernel calls (groups of up to the lane count of jobs).
    pub calls: usize,
    /// Of which one-step groups of parent nodes only.
    pub parent_calls: usize,
    /// Compression steps (one block in every lane).
    pub steps: usize,
    /// Steps times the lane count: the compressions the steps could do.
    pub lane_steps: usize,
    /// The compressions done in the lanes (the rest of the batch's
    /// compressions, if any, went to `blake3::hash`: inputs of more than
    /// 32 chunks, and a lone last one-chunk input).
    pub compressions: usize,
}

#[cfg(feature = "std")]
impl Schedule {
    const ZERO: Schedule = Schedule {
        calls: 0,
        parent_calls: 0,
        steps: 0,
        lane_steps: 0,
        compressions: 0,
    };

    /// The fraction of lane-steps that compress a block (1 when every lane
    /// of every step is busy).
    pub fn busy(&self) -> f64 {
        if self.lane_steps == 0 {
            return 1.0;
        }
        self.compressions as f64 / self.lane_steps as f64
    }
}

/// The schedule [`hash_many`] follows for `inputs` on a kernel of `lanes`
/// lanes (1 to 16), counted without hashing: for measuring how busy the
/// lanes stay on a given mix of input sizes (BENCHMARKS.md's scheduling
/// simulation, `cargo run --release -p plog-benches --example
/// hash_schedule`).
#[cfg(feature = "std")]
pub fn schedule(lanes: usize, inputs: &[&[u8]]) -> Schedule {
    engine::counting::run(lanes, inputs.len(), |i| {
        inputs.get(i).copied().unwrap_or_default()
    })
}

/// The portable backend's kernel.
const PORTABLE: engine::Lanes = engine::Lanes {
    kernel: portable::hash_group,
    width: 1,
    solo: engine::solo(1),
};

/// The default backend's kernel (always supported: see [`default_backend`]).
fn default_lanes() -> engine::Lanes {
    default_backend().lanes_impl().unwrap_or(PORTABLE)
}

/// The body of the `verify_many` functions: inputs `0..count`, hashed in
/// windows of [`VERIFY_WINDOW`].
fn verify_indexed<'a, 'e>(
    lanes: engine::Lanes,
    count: usize,
    payload: impl Fn(usize) -> &'a [u8],
    expected: impl Fn(usize) -> Option<&'e [u8; 32]>,
    mut mismatch: impl FnMut(usize, [u8; 32]),
) {
    let mut hashes = [[0u8; 32]; VERIFY_WINDOW];
    let mut start = 0;
    while start < count {
        let len = (count - start).min(VERIFY_WINDOW);
        let out = &mut hashes[..len];
        engine::run(lanes, out, |j| payload(start + j));
        for (j, computed) in out.iter().enumerate() {
            if expected(start + j) != Some(computed) {
                mismatch(start + j, *computed);
            }
        }
        start += len;
    }
}

/// Inputs per window of the `verify_many` functions.
const VERIFY_WINDOW: usize = 256;
