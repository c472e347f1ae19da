//! Writing records: the inverse of the parser.

use crate::{HEADER_LEN, RecordHeader, len_u64};

/// A record could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The caller's buffer is too small for the record.
    #[error("buffer too small for the record: expected at least {needed} bytes, found {available}")]
    BufferTooSmall {
        /// Bytes the record needs (header plus payload).
        needed: u64,
        /// Bytes the buffer has.
        available: u64,
    },
    /// Header plus payload does not fit in the address space.
    #[error("payload of {payload_len} bytes is too large to encode")]
    TooLarge {
        /// The payload's length.
        payload_len: u64,
    },
}

/// Bytes a record with a payload of `payload_len` bytes occupies, or `None`
/// on overflow.
pub const fn encoded_len(payload_len: usize) -> Option<usize> {
    HEADER_LEN.checked_add(payload_len)
}

/// Writes the record `(index, payload)` at the start of `out` and returns the
/// number of bytes written.
///
/// ```
/// use plog_format::{encode_record, Record};
/// let mut buf = [0u8; 64];
/// let n = encode_record(3, b"abc", &mut buf).unwrap();
/// assert_eq!(n, 51);
/// let record = Record::parse_at(&buf[..n], 0).unwrap();
/// assert_eq!((record.index(), record.payload()), (3, &b"abc"[..]));
/// assert!(record.hash_matches());
/// assert!(encode_record(3, &[0; 17], &mut buf).is_err());
/// ```
///
/// # Errors
/// [`EncodeError::BufferTooSmall`] when `out` is shorter than the record.
pub fn encode_record(index: u64, payload: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    let needed = encoded_len(payload.len()).ok_or(EncodeError::TooLarge {
        payload_len: len_u64(payload.len()),
    })?;
    let available = len_u64(out.len());
    let (header_out, payload_out) = out
        .get_mut(..needed)
        .and_then(|record| record.split_first_chunk_mut::<HEADER_LEN>())
        .ok_or(EncodeError::BufferTooSmall {
            needed: len_u64(needed),
            available,
        })?;
    *header_out = *RecordHeader::new(index, payload).as_bytes();
    payload_out.copy_from_slice(payload);
    Ok(needed)
}

/// Appends the record `(index, payload)` to `out`.
#[cfg(feature = "alloc")]
pub fn encode_record_to_vec(index: u64, payload: &[u8], out: &mut alloc::vec::Vec<u8>) {
    out.reserve(HEADER_LEN.saturating_add(payload.len()));
    out.extend_from_slice(RecordHeader::new(index, payload).as_bytes());
    out.extend_from_slice(payload);
}
