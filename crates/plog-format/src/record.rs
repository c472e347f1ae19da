//! One record borrowed from the input.

use crate::{Corruption, HEADER_LEN, Hash, RecordHeader, len_u64};

/// A structurally complete record: its header and payload, borrowed from the
/// input, and the byte offset of its header.
///
/// A `Record` from [`Walker`](crate::Walker) has not had its hash checked; one
/// from [`Scanner`](crate::Scanner) (as [`Event::Record`](crate::Event::Record))
/// has.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    offset: u64,
    header: &'a RecordHeader,
    payload: &'a [u8],
}

/// A record could not be read at an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer than 48 bytes remain for the header.
    #[error("record at offset {offset}: expected a {HEADER_LEN}-byte header, found {found} bytes")]
    ShortHeader {
        /// Where the header should start.
        offset: u64,
        /// The bytes that remain.
        found: u64,
    },
    /// The payload runs past the end of the input.
    #[error(
        "record {index} at offset {offset}: expected {payload_len} payload bytes, found {found}"
    )]
    ShortPayload {
        /// Where the header starts.
        offset: u64,
        /// The header's index.
        index: u64,
        /// The length the header claims.
        payload_len: u64,
        /// The bytes that follow the header.
        found: u64,
    },
    /// The offset is past the end of the input.
    #[error("offset {offset} is past the end of the input ({len} bytes)")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: u64,
        /// The input's length.
        len: u64,
    },
}

impl<'a> Record<'a> {
    /// Reads the record whose header starts at `offset` in `data`, checking
    /// only its structure (not its hash). `data` is the whole file (offsets are
    /// file offsets).
    ///
    /// ```
    /// use plog_format::{encode_record_to_vec, Record};
    /// let mut buf = Vec::new();
    /// encode_record_to_vec(9, b"hi", &mut buf);
    /// let record = Record::parse_at(&buf, 0).unwrap();
    /// assert_eq!((record.index(), record.payload()), (9, &b"hi"[..]));
    /// assert!(Record::parse_at(&buf[..49], 0).is_err());
    /// ```
    pub fn parse_at(data: &'a [u8], offset: u64) -> Result<Record<'a>, ParseError> {
        let len = len_u64(data.len());
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|start| data.get(start..))
            .ok_or(ParseError::OffsetOutOfRange { offset, len })?;
        Record::parse_prefix(rest, offset)
    }

    /// Takes a record from the start of `bytes`, which lie at file offset
    /// `offset`, checking only its structure (not its hash). Bytes after the
    /// record are ignored.
    ///
    /// This is the one place where plog-format reads a header's
    /// `payload_len` and slices a payload with it (the [`Walker`](crate::Walker),
    /// [`find_resync`](crate::find_resync) and [`Record::parse_at`] all come
    /// here): the length is checked against the bytes that follow the header
    /// before anything is sliced.
    ///
    /// # Errors
    /// [`ParseError::ShortHeader`] when fewer than 48 bytes are given;
    /// [`ParseError::ShortPayload`] when the payload runs past the end of
    /// `bytes` (with the header's index, its claimed length and the bytes
    /// that follow the header).
    #[inline(always)]
    pub fn parse_prefix(bytes: &'a [u8], offset: u64) -> Result<Record<'a>, ParseError> {
        let Some((header_bytes, after_header)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(ParseError::ShortHeader {
                offset,
                found: len_u64(bytes.len()),
            });
        };
        let header = RecordHeader::from_bytes(header_bytes);
        let payload_len = header.payload_len();
        match usize::try_from(payload_len)
            .ok()
            .and_then(|n| after_header.get(..n))
        {
            Some(payload) => Ok(Record {
                offset,
                header,
                payload,
            }),
            None => Err(ParseError::ShortPayload {
                offset,
                index: header.index(),
                payload_len,
                found: len_u64(after_header.len()),
            }),
        }
    }

    /// Byte offset of the header in the file.
    #[inline(always)]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The entry index.
    #[inline(always)]
    pub fn index(&self) -> u64 {
        self.header.index()
    }

    /// The payload, borrowed from the input.
    #[inline(always)]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The payload length in bytes.
    #[inline(always)]
    pub fn payload_len(&self) -> u64 {
        len_u64(self.payload.len())
    }

    /// The header, borrowed from the input.
    #[inline(always)]
    pub fn header(&self) -> &'a RecordHeader {
        self.header
    }

    /// The hash stored in the header.
    #[inline(always)]
    pub fn stored_hash(&self) -> Hash {
        self.header.hash()
    }

    /// Header plus payload length: how many bytes the record occupies.
    #[inline(always)]
    pub fn encoded_len(&self) -> u64 {
        // Cannot overflow: both parts lie inside one slice.
        len_u64(HEADER_LEN + self.payload.len())
    }

    /// Offset just past the record: where the next record starts.
    #[inline(always)]
    pub fn end_offset(&self) -> u64 {
        self.offset.saturating_add(self.encoded_len())
    }

    /// Whether BLAKE3 of the payload equals the stored hash.
    #[inline]
    pub fn hash_matches(&self) -> bool {
        self.header.hash_matches(self.payload)
    }

    /// Checks the payload's hash, naming the record and both hashes on a
    /// mismatch.
    ///
    /// # Errors
    /// [`Corruption::HashMismatch`] when BLAKE3 of the payload differs from
    /// the stored hash.
    pub fn verify(&self) -> Result<(), Corruption> {
        self.check_computed(Hash::of(self.payload))
    }

    /// Checks a hash of the payload computed elsewhere (e.g. with a
    /// multi-threaded hasher) against the stored one: what [`Record::verify`]
    /// does after hashing.
    ///
    /// # Errors
    /// [`Corruption::hash_mismatch`] of this record when `computed` differs
    /// from the stored hash.
    #[inline]
    pub fn check_computed(&self, computed: Hash) -> Result<(), Corruption> {
        if computed.0 == self.header.hash {
            Ok(())
        } else {
            Err(Corruption::hash_mismatch(self, computed))
        }
    }
}

impl core::fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Record")
            .field("offset", &self.offset)
            .field("index", &self.index())
            .field("payload_len", &self.payload.len())
            .field("hash", &self.stored_hash())
            .finish()
    }
}

/// The one constructor of [`Corruption::HashMismatch`], beside the record
/// check that finds it ([`Record::verify`], [`Record::check_computed`]).
impl Corruption {
    /// The [`Corruption::HashMismatch`] of `record`, whose payload hashes to
    /// `computed` (the one constructor of that variant).
    ///
    /// ```
    /// use plog_format::{encode_record_to_vec, Corruption, Hash, Record};
    /// let mut buf = Vec::new();
    /// encode_record_to_vec(4, b"abc", &mut buf);
    /// let record = Record::parse_at(&buf, 0).unwrap();
    /// let c = Corruption::hash_mismatch(&record, Hash::of(b"abd"));
    /// assert_eq!((c.kind(), c.offset(), c.index()), ("hash_mismatch", 0, Some(4)));
    /// ```
    pub fn hash_mismatch(record: &Record<'_>, computed: Hash) -> Corruption {
        Corruption::HashMismatch {
            offset: record.offset(),
            index: record.index(),
            payload_len: record.payload_len(),
            stored: record.stored_hash(),
            computed,
            zeroed_sector: crate::sector::zeroed_sector_of(record),
        }
    }
}
