//! What a classification reports: status, corruptions, torn tails.

use crate::{HEADER_LEN, Hash, MAGIC, MagicBytes, len_u64};

/// The status of a whole file (FORMAT.md, "Classifying a file").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Status {
    /// No corruption and no torn tail.
    Clean,
    /// No corruption, but the file ends in a torn tail (a crash cut an append,
    /// or the creation of the file).
    Torn,
    /// At least one corruption. Corruption outranks a torn tail.
    Corrupt,
}

impl Status {
    /// The stable name: `"clean"`, `"torn"` or `"corrupt"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Clean => "clean",
            Status::Torn => "torn",
            Status::Corrupt => "corrupt",
        }
    }

    /// The status of a file with these findings.
    pub const fn from_findings(corrupt: bool, torn: bool) -> Status {
        if corrupt {
            Status::Corrupt
        } else if torn {
            Status::Torn
        } else {
            Status::Clean
        }
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Damage that is not explained by a crash: the file says something false.
///
/// Each variant carries where it is, which record it concerns, and what was
/// expected against what was found. [`Corruption::kind`] is a stable string
/// for telemetry and JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The file does not start with the v1 magic, nor with another version's.
    #[error("bad magic at offset 0: expected {expected}, found {found}", expected = MagicBytes::from_prefix(&MAGIC))]
    BadMagic {
        /// The first (up to 26) bytes of the file.
        found: MagicBytes,
    },
    /// The file starts with the magic of another format version.
    #[error("unsupported format version at offset 0: expected v1, found v{version}")]
    UnsupportedVersion {
        /// The version number in the file's magic.
        version: u32,
    },
    /// A header's `payload_len` runs past the end of the file although a
    /// complete record with a matching hash starts later: the length field
    /// is damaged. The bytes from `offset` to `resync_offset` are lost.
    #[error(
        "damaged length field in the record at offset {offset} (index field {index}): \
         expected at most {available} payload bytes, found payload_len {payload_len}; \
         a valid record resumes at offset {resync_offset}, {lost} bytes in between are lost",
        lost = resync_offset.saturating_sub(*offset)
    )]
    Length {
        /// Offset of the damaged header.
        offset: u64,
        /// The damaged header's index field, as read (the header is damaged,
        /// so this may be wrong too).
        index: u64,
        /// The length the header claims.
        payload_len: u64,
        /// How many bytes follow the header to the end of the file.
        available: u64,
        /// Offset of the first later record that is complete and whose hash
        /// matches; scanning resumes there.
        resync_offset: u64,
    },
    /// The BLAKE3 of a structurally intact record's payload differs from the
    /// stored hash. Scanning continues with the next record.
    #[error(
        "hash mismatch in record {index} at offset {offset} ({payload_len}-byte payload): \
         expected BLAKE3 {stored}, found {computed}{zeroed}",
        zeroed = ZeroedSector(*zeroed_sector)
    )]
    HashMismatch {
        /// Offset of the record's header.
        offset: u64,
        /// The record's index field.
        index: u64,
        /// The record's payload length.
        payload_len: u64,
        /// The hash stored in the header.
        stored: Hash,
        /// BLAKE3 of the payload as it is in the file.
        computed: Hash,
        /// The file offset of the record's first all-zero 512-byte sector
        /// piece (header and payload cut at the file's multiples of
        /// [`SECTOR`](crate::SECTOR)), if it has one: what a crash leaves of
        /// a write over preallocated zeros that it cut (see
        /// [`first_zeroed_piece`](crate::first_zeroed_piece)).
        zeroed_sector: Option<u64>,
    },
}

/// How a hash mismatch's message names its zeroed sector.
struct ZeroedSector(Option<u64>);

impl core::fmt::Display for ZeroedSector {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(at) => write!(
                f,
                "; the sector piece at offset {at} is all zeros (what a crash leaves of a \
                 write over preallocated zeros)"
            ),
            None => Ok(()),
        }
    }
}

impl Corruption {
    /// Whether the corruption is about the magic (a bad magic or another
    /// format version): the file is not a v1 log, the walk ended at offset 0
    /// and nothing in it can be read or salvaged.
    pub const fn is_magic(&self) -> bool {
        matches!(
            self,
            Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
        )
    }

    /// The stable kind: `"bad_magic"`, `"unsupported_version"`, `"length"`
    /// or `"hash_mismatch"`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Corruption::BadMagic { .. } => "bad_magic",
            Corruption::UnsupportedVersion { .. } => "unsupported_version",
            Corruption::Length { .. } => "length",
            Corruption::HashMismatch { .. } => "hash_mismatch",
        }
    }

    /// Byte offset of the damage (0 for the magic kinds).
    pub const fn offset(&self) -> u64 {
        match self {
            Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. } => 0,
            Corruption::Length { offset, .. } | Corruption::HashMismatch { offset, .. } => *offset,
        }
    }

    /// The index of the damaged record, where there is a record.
    pub const fn index(&self) -> Option<u64> {
        match self {
            Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. } => None,
            Corruption::Length { index, .. } | Corruption::HashMismatch { index, .. } => {
                Some(*index)
            }
        }
    }

    /// Where scanning resumed after a damaged length.
    pub const fn resync_offset(&self) -> Option<u64> {
        match self {
            Corruption::Length { resync_offset, .. } => Some(*resync_offset),
            _ => None,
        }
    }

    /// The byte range `[start, end)` whose records are lost to this damage:
    /// the whole damaged record for a hash mismatch, the bytes up to the
    /// resync for a damaged length, and the whole file (`None` end) for the
    /// magic kinds.
    pub fn lost_range(&self) -> (u64, Option<u64>) {
        match *self {
            Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. } => (0, None),
            Corruption::Length {
                offset,
                resync_offset,
                ..
            } => (offset, Some(resync_offset)),
            Corruption::HashMismatch {
                offset,
                payload_len,
                ..
            } => (
                offset,
                offset
                    .checked_add(len_u64(HEADER_LEN))
                    .and_then(|end| end.checked_add(payload_len)),
            ),
        }
    }
}

/// A torn tail: the file ends inside something a crash could have cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Where the torn bytes start: the end of the last valid record (or 0).
    pub offset: u64,
    /// How many bytes from `offset` to the end of the file are torn.
    pub bytes: u64,
    /// What was cut.
    pub reason: TornReason,
}

/// Why a tail is torn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TornReason {
    /// The file is empty or a strict prefix of the magic (creation was cut).
    Magic,
    /// Every byte from the offset on is zero (a zero-filled tail after a crash).
    ZeroFill,
    /// Fewer than 48 bytes remain: a header was cut.
    PartialHeader,
    /// The header's `payload_len` runs past the end of the file and no valid
    /// record starts later: the payload was cut.
    PartialPayload {
        /// The cut record's index field.
        index: u64,
        /// The length its header claims.
        payload_len: u64,
        /// The payload bytes present.
        available: u64,
    },
}

impl TornReason {
    /// A stable name: `"magic"`, `"zero_fill"`, `"partial_header"`, `"partial_payload"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            TornReason::Magic => "magic",
            TornReason::ZeroFill => "zero_fill",
            TornReason::PartialHeader => "partial_header",
            TornReason::PartialPayload { .. } => "partial_payload",
        }
    }
}

impl core::fmt::Display for TornTail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "torn tail at offset {}: {} bytes, ",
            self.offset, self.bytes
        )?;
        match self.reason {
            TornReason::Magic => f.write_str("the magic was cut (creation did not finish)"),
            TornReason::ZeroFill => f.write_str("all zero"),
            TornReason::PartialHeader => write!(
                f,
                "expected a {}-byte header, found {} bytes",
                HEADER_LEN, self.bytes
            ),
            TornReason::PartialPayload {
                index,
                payload_len,
                available,
            } => write!(
                f,
                "record {index} expected {payload_len} payload bytes, found {available}"
            ),
        }
    }
}
