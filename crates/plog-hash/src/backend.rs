//! Which kernel runs: the backends, their detection (once, at run time with
//! `std`), and the `PLOG_HASH_BACKEND` override.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

#[cfg(target_arch = "x86_64")]
use crate::x86;
use crate::{engine, portable};

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
    pub(crate) fn lanes_impl(self) -> Option<engine::Lanes> {
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

/// The backend [`hash_many`](crate::hash_many) and [`verify_many`](crate::verify_many) use: the one named by the
/// environment variable `PLOG_HASH_BACKEND` (`portable`, `sse41`, `avx2`,
/// `avx512`)
/// when it is set to a backend this CPU supports, else
/// [`detected_backend`](crate::detected_backend). The variable is read once, on the first call; an
/// unknown or unsupported value is ignored (see [`backend_override`](crate::backend_override)).
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

/// The portable backend's kernel.
const PORTABLE: engine::Lanes = engine::Lanes {
    kernel: portable::hash_group,
    width: 1,
    solo: engine::solo(1),
};

/// The default backend's kernel (always supported: see [`default_backend`](crate::default_backend)).
pub(crate) fn default_lanes() -> engine::Lanes {
    default_backend().lanes_impl().unwrap_or(PORTABLE)
}
