//! A second, deliberately naive implementation of FORMAT.md's classification
//! table, written from the table alone, to check plog-format's [`classify`]
//! against.
//!
//! It shares nothing with plog-format's walker except [`check_magic`] (whose
//! version-number rules plog-format unit-tests on its own) and BLAKE3
//! ([`Hash::of`]). Every rule is the literal sentence of the table: no
//! precomputed zero tail, no early exits in the resync search, slices indexed
//! only after a comparison against the bytes that remain.
//!
//! [`classify`]: plog_format::classify

use plog_format::{
    Classification, Corruption, HEADER_LEN, Hash, MAGIC_LEN, Magic, RecordSummary, TornReason,
    TornTail, check_magic,
};

/// The first piece of `data[start..end]`, cut at every multiple of 512, whose
/// bytes are all zero: byte by byte, as the sector rule reads.
pub(crate) fn zeroed_sector(data: &[u8], start: usize, end: usize) -> Option<u64> {
    let mut piece_start = start;
    let mut zero = true;
    for (pos, &byte) in data.iter().enumerate().take(end).skip(start) {
        if pos != piece_start && pos.is_multiple_of(512) {
            if zero {
                return Some(piece_start as u64);
            }
            piece_start = pos;
            zero = true;
        }
        zero &= byte == 0;
    }
    (zero && end > start).then_some(piece_start as u64)
}

/// The fields of a record header, decoded by hand.
struct NaiveHeader {
    index: u64,
    payload_len: u64,
    hash: [u8; 32],
}

/// Decodes the 48 bytes at `pos`, or `None` when fewer remain.
fn header_at(data: &[u8], pos: usize) -> Option<NaiveHeader> {
    let bytes = data.get(pos..)?.get(..HEADER_LEN)?;
    let u64_at = |at: usize| {
        let mut field = [0u8; 8];
        field.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(field)
    };
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[16..48]);
    Some(NaiveHeader {
        index: u64_at(0),
        payload_len: u64_at(8),
        hash,
    })
}

/// The payload of the record at `pos`, when the whole record lies in `data`.
fn payload_at<'a>(data: &'a [u8], pos: usize, header: &NaiveHeader) -> Option<&'a [u8]> {
    let start = pos.checked_add(HEADER_LEN)?;
    let available = data.len().checked_sub(start)?;
    if header.payload_len > available as u64 {
        return None;
    }
    // `payload_len <= available`, so it fits in a usize and the end is in bounds.
    let len = header.payload_len as usize;
    Some(&data[start..start + len])
}

/// Whether a complete record whose hash matches starts at `pos`.
fn valid_record_at(data: &[u8], pos: usize) -> bool {
    header_at(data, pos).is_some_and(|header| {
        payload_at(data, pos, &header).is_some_and(|payload| Hash::of(payload).0 == header.hash)
    })
}

/// FORMAT.md's classification of `data`, computed the slow, literal way.
///
/// ```
/// use plog_fuzz_checks::oracle::naive_classify;
/// use plog_format::{classify, encode_record_to_vec, MAGIC};
///
/// let mut log = MAGIC.to_vec();
/// encode_record_to_vec(1, b"one", &mut log);
/// log.extend_from_slice(&[0; 5]);
/// assert_eq!(naive_classify(&log), classify(&log));
/// ```
pub fn naive_classify(data: &[u8]) -> Classification {
    let file_len = data.len() as u64;
    let mut out = Classification {
        file_len,
        ..Classification::default()
    };
    let torn = |pos: usize, reason: TornReason| TornTail {
        offset: pos as u64,
        bytes: (data.len() - pos) as u64,
        reason,
    };
    match check_magic(data) {
        Magic::V1 => {}
        Magic::Torn => {
            out.torn = Some(torn(0, TornReason::Magic));
            return out;
        }
        Magic::UnsupportedVersion { version } => {
            out.corruptions
                .push(Corruption::UnsupportedVersion { version });
            return out;
        }
        Magic::Bad { found } => {
            out.corruptions.push(Corruption::BadMagic { found });
            return out;
        }
    }
    let mut pos = MAGIC_LEN;
    while pos < data.len() {
        let rest = &data[pos..];
        if rest.iter().all(|&byte| byte == 0) {
            out.torn = Some(torn(pos, TornReason::ZeroFill));
            return out;
        }
        let Some(header) = header_at(data, pos) else {
            out.torn = Some(torn(pos, TornReason::PartialHeader));
            return out;
        };
        if let Some(payload) = payload_at(data, pos, &header) {
            let computed = Hash::of(payload);
            if computed.0 == header.hash {
                out.records.push(RecordSummary {
                    offset: pos as u64,
                    index: header.index,
                    payload_len: header.payload_len,
                });
            } else {
                out.corruptions.push(Corruption::HashMismatch {
                    offset: pos as u64,
                    index: header.index,
                    payload_len: header.payload_len,
                    stored: Hash(header.hash),
                    computed,
                    zeroed_sector: zeroed_sector(data, pos, pos + HEADER_LEN + payload.len()),
                });
            }
            pos += HEADER_LEN + payload.len();
            continue;
        }
        let available = (rest.len() - HEADER_LEN) as u64;
        let later_valid = (pos + 1..data.len()).find(|&candidate| valid_record_at(data, candidate));
        match later_valid {
            Some(resync) => {
                out.corruptions.push(Corruption::Length {
                    offset: pos as u64,
                    index: header.index,
                    payload_len: header.payload_len,
                    available,
                    resync_offset: resync as u64,
                });
                pos = resync;
            }
            None => {
                out.torn = Some(torn(
                    pos,
                    TornReason::PartialPayload {
                        index: header.index,
                        payload_len: header.payload_len,
                        available,
                    },
                ));
                return out;
            }
        }
    }
    out
}
