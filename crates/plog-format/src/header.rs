//! The 48-byte record header as a zero-copy view with alignment 1.

use bytemuck::{Pod, Zeroable};

use crate::Hash;

/// Length of a record header in bytes: `index` (8) + `payload_len` (8) + `hash` (32).
pub const HEADER_LEN: usize = 48;

/// The on-disk record header, exactly as it lies in the file.
///
/// Every field is a byte array, so the struct has alignment 1 and a `&RecordHeader`
/// can be borrowed from any offset of the input (records are packed with no
/// padding). Accessors decode the little-endian integers.
///
/// ```
/// use plog_format::{RecordHeader, HEADER_LEN};
///
/// let header = RecordHeader::new(7, b"{}");
/// let bytes: &[u8; HEADER_LEN] = header.as_bytes();
/// let view = RecordHeader::from_bytes(bytes);
/// assert_eq!(view.index(), 7);
/// assert_eq!(view.payload_len(), 2);
/// assert!(view.hash_matches(b"{}"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct RecordHeader {
    /// The caller's entry index (e.g. a Raft index), u64 little-endian.
    /// Not covered by the hash.
    pub index: [u8; 8],
    /// Number of payload bytes that follow the header, u64 little-endian.
    /// Not covered by the hash; never trusted before it is checked against
    /// the bytes that remain.
    pub payload_len: [u8; 8],
    /// BLAKE3 of the payload bytes, and of nothing else.
    pub hash: [u8; 32],
}

const _: () = assert!(core::mem::size_of::<RecordHeader>() == HEADER_LEN);
const _: () = assert!(core::mem::align_of::<RecordHeader>() == 1);

impl RecordHeader {
    /// Builds the header that the v1 writer stores before `payload` at `index`.
    pub fn new(index: u64, payload: &[u8]) -> RecordHeader {
        RecordHeader {
            index: index.to_le_bytes(),
            payload_len: crate::len_u64(payload.len()).to_le_bytes(),
            hash: Hash::of(payload).0,
        }
    }

    /// Views 48 bytes as a header. Cannot fail: the size is fixed by the type
    /// and the alignment is 1.
    #[inline(always)]
    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> &RecordHeader {
        bytemuck::must_cast_ref(bytes)
    }

    /// Views the first 48 bytes of `bytes` as a header, or `None` when fewer
    /// than 48 bytes are given.
    #[inline(always)]
    pub fn from_prefix(bytes: &[u8]) -> Option<&RecordHeader> {
        bytes
            .first_chunk::<HEADER_LEN>()
            .map(RecordHeader::from_bytes)
    }

    /// The header's 48 bytes, exactly as written to the file.
    #[inline(always)]
    pub fn as_bytes(&self) -> &[u8; HEADER_LEN] {
        bytemuck::must_cast_ref(self)
    }

    /// The entry index.
    #[inline(always)]
    pub fn index(&self) -> u64 {
        u64::from_le_bytes(self.index)
    }

    /// The payload length as stored. Untrusted: check it against the bytes
    /// that remain before using it.
    #[inline(always)]
    pub fn payload_len(&self) -> u64 {
        u64::from_le_bytes(self.payload_len)
    }

    /// The stored BLAKE3 hash.
    #[inline(always)]
    pub fn hash(&self) -> Hash {
        Hash(self.hash)
    }

    /// Whether BLAKE3 of `payload` equals the stored hash.
    #[inline]
    pub fn hash_matches(&self, payload: &[u8]) -> bool {
        blake3::hash(payload) == blake3::Hash::from_bytes(self.hash)
    }
}

impl core::fmt::Debug for RecordHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordHeader")
            .field("index", &self.index())
            .field("payload_len", &self.payload_len())
            .field("hash", &self.hash())
            .finish()
    }
}
