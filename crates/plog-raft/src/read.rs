//! Reading entries: plan under the index lock (which bytes, from which file
//! or from memory), then read, check and decode without it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use plog_format::Record;
use rayon::prelude::*;

/// Records per rayon task when decoding (and verifying) a read.
const PARALLEL_MIN: usize = 64;

use crate::flavor::Flavor;
use crate::index::LogIndex;

/// Where some consecutive entries are.
pub(crate) enum Piece {
    /// Records `first..first + count` at bytes `from..to` of a segment.
    File {
        file: Arc<File>,
        first: u64,
        count: u64,
        from: u64,
        to: u64,
    },
    /// One record not yet durable: its payload.
    Memory {
        index: u64,
        payload: Arc<crate::index::Payload>,
    },
}

/// The pieces that hold entries `start..end` (clamped to what the log has).
pub(crate) fn plan<C: Flavor>(log: &LogIndex<C>, start: u64, end: u64) -> Vec<Piece> {
    let lo = start.max(log.purged_index().map_or(0, |p| p + 1));
    let hi = end.min(log.last_index().map_or(0, |l| l + 1));
    plan_unclamped(log, lo, hi)
}

/// [`plan`] without the clamp to the purged and last log ids.
pub(crate) fn plan_unclamped<C: Flavor>(log: &LogIndex<C>, lo: u64, hi: u64) -> Vec<Piece> {
    let mut pieces = Vec::new();
    if lo >= hi {
        return pieces;
    }
    let from_key = log
        .segments
        .range(..=lo)
        .next_back()
        .map_or(lo, |(&k, _)| k);
    for (&first, segment) in log.segments.range(from_key..hi) {
        let count = segment.count() as u64;
        let a = lo.max(first);
        let b = hi.min(first + count);
        if a >= b {
            continue;
        }
        let written_end = first + segment.offsets.len() as u64;
        let file_end = b.min(written_end);
        if a < file_end
            && let Some(file) = &segment.file
        {
            let (ra, rb) = ((a - first) as usize, (file_end - first) as usize);
            let to = segment.offsets.get(rb).copied().unwrap_or(segment.end);
            pieces.push(Piece::File {
                file: Arc::clone(file),
                first: a,
                count: file_end - a,
                from: segment.offsets[ra],
                to,
            });
        }
        for index in a.max(written_end)..b {
            let n = (index - written_end) as usize;
            if let Some(payload) = segment.pending.get(n) {
                pieces.push(Piece::Memory {
                    index,
                    payload: Arc::clone(payload),
                });
            }
        }
    }
    pieces
}

/// Reads, checks and decodes the entries of `pieces`, checking that each
/// record's index is the index of the entry it holds, and (`verify`) each
/// record's hash.
pub(crate) fn load<C>(pieces: &[Piece], verify: bool) -> Result<Vec<C::Entry>, String>
where
    C: Flavor,
{
    let mut entries = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Memory { index, payload } => {
                entries.push(decode::<C>(*index, payload.json())?);
            }
            Piece::File {
                file,
                first,
                count,
                from,
                to,
            } => {
                let len = usize::try_from(to - from).map_err(|e| e.to_string())?;
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, *from)
                    .map_err(|e| format!("read {len} bytes at offset {from}: {e}"))?;
                // The structure first (cheap, sequential), then hashes and
                // decoding across the rayon pool: decoding the JSON is most
                // of a read.
                let mut records = Vec::with_capacity(usize::try_from(*count).unwrap_or(0));
                let mut pos = 0usize;
                for index in *first..first + count {
                    let offset = from + pos as u64;
                    let record = Record::parse_prefix(buf.get(pos..).unwrap_or_default(), offset)
                        .map_err(|e| format!("entry {index}: {e}"))?;
                    if record.index() != index {
                        return Err(format!(
                            "record at offset {offset}: expected index {index}, found {}",
                            record.index()
                        ));
                    }
                    pos += record.encoded_len() as usize;
                    records.push(record);
                }
                if verify && let Some(bad) = first_hash_mismatch(&records) {
                    return Err(format!("entry {}: {bad}", bad.index().unwrap_or(0)));
                }
                let decoded: Vec<C::Entry> = records
                    .par_iter()
                    .with_min_len(PARALLEL_MIN)
                    .map(|record| decode::<C>(record.index(), record.payload()))
                    .collect::<Result<_, String>>()?;
                entries.extend(decoded);
            }
        }
    }
    Ok(entries)
}

/// Decodes one payload and checks that the entry's log id has `index`.
pub(crate) fn decode<C>(index: u64, payload: &[u8]) -> Result<C::Entry, String>
where
    C: Flavor,
{
    let entry: C::Entry = sonic_rs::from_slice(payload).map_err(|e| {
        format!("record {index}: expected the serde_json of an openraft entry: {e}")
    })?;
    let id = C::log_id(&entry);
    if C::index(&id) != index {
        return Err(format!(
            "record {index} holds the entry of log id {id}: expected index {index}, found {}",
            C::index(&id)
        ));
    }
    Ok(entry)
}

/// Records per rayon task when hashing a read.
const HASH_CHUNK: usize = 256;

/// The first record of `records` (in order) whose payload does not match its
/// stored hash, hashed across the rayon pool (many payloads side by side in
/// SIMD lanes per task).
fn first_hash_mismatch(records: &[Record<'_>]) -> Option<plog_format::Corruption> {
    records.par_chunks(HASH_CHUNK).find_map_first(|chunk| {
        plog_hash::hash_mismatches(chunk)
            .into_iter()
            .next()
            .map(|(_, corruption)| corruption)
    })
}
