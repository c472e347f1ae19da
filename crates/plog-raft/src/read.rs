//! Reading entries: plan under the index lock (which bytes, from which file
//! or from memory), then read, check and decode without it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use plog_format::Record;
use rayon::prelude::*;

/// Records per part of a read: each part is read, hashed and decoded by
/// one rayon task.
const PARALLEL_MIN: usize = 64;

use crate::flavor::Flavor;
use crate::index::LogIndex;

/// Where some consecutive entries are.
pub(crate) enum Piece {
    /// Records `first..first + count` of a segment, in parts of
    /// [`PARALLEL_MIN`] records: part `j` is at bytes `cuts[j]..cuts[j +
    /// 1]` (the index knows every record's offset, so each part can be
    /// read on its own).
    File {
        file: Arc<File>,
        first: u64,
        count: u64,
        cuts: Vec<u64>,
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
            let mut cuts: Vec<u64> = segment.offsets[ra..rb]
                .iter()
                .step_by(PARALLEL_MIN)
                .copied()
                .collect();
            cuts.push(to);
            pieces.push(Piece::File {
                file: Arc::clone(file),
                first: a,
                count: file_end - a,
                cuts,
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
/// record's hash. The parts of a piece are read, hashed and decoded across
/// the rayon pool, each by one task (decoding the JSON is most of a read);
/// the failure reported is the one a sequential pass would meet first: a
/// read or a record's structure, then a hash, then an entry that does not
/// decode, each the earliest in the log.
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
                cuts,
            } => {
                let parts: Vec<Result<Vec<C::Entry>, Failure>> = cuts
                    .par_windows(2)
                    .enumerate()
                    .map(|(j, bytes)| {
                        let lo = first + (j * PARALLEL_MIN) as u64;
                        let hi = (lo + PARALLEL_MIN as u64).min(first + count);
                        load_part::<C>(file, lo..hi, bytes[0]..bytes[1], verify)
                    })
                    .collect();
                if let Some(failure) = parts
                    .iter()
                    .filter_map(|part| part.as_ref().err())
                    .min_by_key(|failure| failure.stage)
                {
                    return Err(failure.why.clone());
                }
                entries.extend(parts.into_iter().flat_map(Result::unwrap_or_default));
            }
        }
    }
    Ok(entries)
}

/// Why a part of a read failed, and at which stage (a sequential read
/// meets the stages in this order, so the earliest stage wins).
struct Failure {
    stage: Stage,
    why: String,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Structure,
    Hash,
    Decode,
}

/// Reads records `indices` at bytes `bytes` of `file`, checks their
/// structure and indices, (`verify`) their hashes, and decodes them.
fn load_part<C: Flavor>(
    file: &File,
    indices: std::ops::Range<u64>,
    bytes: std::ops::Range<u64>,
    verify: bool,
) -> Result<Vec<C::Entry>, Failure> {
    let structure = |why: String| Failure {
        stage: Stage::Structure,
        why,
    };
    let from = bytes.start;
    let len =
        usize::try_from(bytes.end.saturating_sub(from)).map_err(|e| structure(e.to_string()))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, from)
        .map_err(|e| structure(format!("read {len} bytes at offset {from}: {e}")))?;
    let mut records = Vec::with_capacity(usize::try_from(indices.end - indices.start).unwrap_or(0));
    let mut pos = 0usize;
    for index in indices {
        let offset = from + pos as u64;
        let record = Record::parse_prefix(buf.get(pos..).unwrap_or_default(), offset)
            .map_err(|e| structure(format!("entry {index}: {e}")))?;
        if record.index() != index {
            return Err(structure(format!(
                "record at offset {offset}: expected index {index}, found {}",
                record.index()
            )));
        }
        pos += record.encoded_len() as usize;
        records.push(record);
    }
    if verify && let Some((_, bad)) = plog_hash::hash_mismatches(&records).into_iter().next() {
        return Err(Failure {
            stage: Stage::Hash,
            why: format!("entry {}: {bad}", bad.index().unwrap_or(0)),
        });
    }
    records
        .iter()
        .map(|record| decode::<C>(record.index(), record.payload()))
        .collect::<Result<_, String>>()
        .map_err(|why| Failure {
            stage: Stage::Decode,
            why,
        })
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
