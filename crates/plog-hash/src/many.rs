//! The entry points: hash many inputs ([`hash_many`](crate::hash_many), [`hash_many_with`](crate::hash_many_with))
//! or check them against expected hashes ([`verify_many`](crate::verify_many),
//! [`verify_many_by`](crate::verify_many_by)), in windows whose hashes live on the stack.

use core::fmt;

use crate::backend::default_lanes;
use crate::{Backend, default_backend, detected_backend, engine};

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
/// [`default_backend`](crate::default_backend).
///
/// Fails with [`Error::LengthMismatch`], writing nothing, unless
/// `out.len() == inputs.len()`.
pub fn hash_many(inputs: &[&[u8]], out: &mut [[u8; 32]]) -> Result<(), Error> {
    hash_many_with(default_backend(), inputs, out)
}

/// [`hash_many`](crate::hash_many) on the given backend.
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
/// [`default_backend`](crate::default_backend).
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
