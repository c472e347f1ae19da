//! Open = recovery: list the directory, verify every segment in parallel,
//! check that the log is contiguous, cut the last segment's torn tail and
//! finish an interrupted purge.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::RaftLogError;
use crate::flavor::Flavor;
use crate::index::{LogIndex, Segment};
use crate::scan::{ScannedSegment, TailCut, list_segments, purged_leftovers, scan_segment};
use crate::state::{PersistedState, sync_dir};

/// What opening a log directory found and repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments kept.
    pub segments: usize,
    /// Valid records in them (entries at or below the purged id included).
    pub records: u64,
    /// The first and last index present in the segments, if any.
    pub index_range: Option<(u64, u64)>,
    /// The torn append cut from the last segment (`RAFT-SEGMENTS.md`): its
    /// file and what was cut.
    pub torn_cut: Option<(PathBuf, TailCut)>,
    /// Bytes of unused preallocation (zeros after the last record) cut
    /// from segments, so that every segment is a clean v1 log again.
    pub zeros_trimmed: u64,
    /// The directory's permission bits for group and others (`mode &
    /// 0o077`) when they are not zero: others may read (or enter) the log
    /// directory. Reported, not refused.
    pub exposed: Option<u32>,
    /// Segments removed: wholly purged ones left by an interrupted purge,
    /// and a last segment a crash left without any record.
    pub removed: Vec<PathBuf>,
}

pub(crate) struct Recovered<C: Flavor> {
    pub index: LogIndex<C>,
    pub state: PersistedState<C>,
    pub report: RecoveryReport,
}

fn entry_id<C>(segment: &ScannedSegment, last: bool) -> Result<Option<C::LogId>, RaftLogError>
where
    C: Flavor,
{
    let (payload, n) = if last {
        (
            &segment.last_payload,
            segment.offsets.len().saturating_sub(1),
        )
    } else {
        (&segment.first_payload, 0)
    };
    let Some(payload) = payload else {
        return Ok(None);
    };
    let index = segment.first + n as u64;
    crate::read::decode::<C>(index, payload)
        .map(|e| Some(C::log_id(&e)))
        .map_err(|detail| RaftLogError::BadEntry {
            segment: segment.path.clone(),
            offset: segment.offsets[n],
            index,
            detail,
        })
}

pub(crate) fn recover<C>(dir: &Path, file_mode: u32) -> Result<Recovered<C>, RaftLogError>
where
    C: Flavor,
{
    let mut names = list_segments(dir)?;
    let state = PersistedState::<C>::load(dir, file_mode)?;
    let purged = state.purged.as_ref().map(C::index);

    // Segments wholly at or below the purged index (the next one starts at
    // or below purged + 1) are what an interrupted purge left: not read.
    let mut removed: Vec<PathBuf> = Vec::new();
    let keep_from = purged_leftovers(&names, purged);
    removed.extend(names.drain(..keep_from).map(|(_, path)| path));

    let scanned: Vec<Result<ScannedSegment, RaftLogError>> = names
        .par_iter()
        .map(|(first, path)| scan_segment(path, *first))
        .collect();
    let mut segments = Vec::with_capacity(scanned.len());
    for result in scanned {
        segments.push(result?);
    }

    // Only the last segment may be torn; a last segment without any record
    // is a creation a crash cut short.
    let count = segments.len();
    for (n, segment) in segments.iter().enumerate() {
        let last = n + 1 == count;
        if !last && let Some(torn) = &segment.torn {
            return Err(RaftLogError::Corrupt {
                segment: segment.path.clone(),
                offset: torn.offset,
                index: None,
                detail: format!(
                    "{} bytes of damage at the end of a segment that is not the last ({}): \
                     expected a complete segment (a crash only tears the last one's last \
                     write)",
                    torn.bytes, torn.reason
                ),
            });
        }
        if !last && segment.offsets.is_empty() {
            return Err(RaftLogError::Corrupt {
                segment: segment.path.clone(),
                offset: segment.end,
                index: None,
                detail: "a segment that is not the last holds no record".into(),
            });
        }
    }
    let drop_last_empty = segments.last().is_some_and(|s| s.offsets.is_empty());

    // Contiguity between segments, and log ids that never go backwards.
    let mut previous: Option<(u64, C::LogId)> = None; // (next index, last id)
    for segment in segments.iter().filter(|s| !s.offsets.is_empty()) {
        if let Some((next, _)) = &previous
            && segment.first != *next
        {
            return Err(RaftLogError::Gap {
                segment: segment.path.clone(),
                offset: plog_format::MAGIC_LEN as u64,
                expected: *next,
                found: segment.first,
                detail: if segment.first > *next {
                    "a segment is missing: the previous segment ends before this one starts"
                } else {
                    "segments overlap: the previous segment already holds this index"
                },
            });
        }
        let first_id = entry_id::<C>(segment, false)?;
        let last_id = entry_id::<C>(segment, true)?;
        if let (Some(first_id), Some(last_id)) = (&first_id, &last_id) {
            if let Some((_, prev)) = &previous
                && C::leader_after(prev, first_id)
            {
                return Err(RaftLogError::BadEntry {
                    segment: segment.path.clone(),
                    offset: segment.offsets[0],
                    index: segment.first,
                    detail: format!(
                        "log ids go backwards: the previous segment ends with {prev}, \
                         this one starts with {first_id} (a segment from another log?)"
                    ),
                });
            }
            if C::leader_after(first_id, last_id) {
                return Err(RaftLogError::BadEntry {
                    segment: segment.path.clone(),
                    offset: *segment.offsets.last().unwrap_or(&0),
                    index: C::index(last_id),
                    detail: format!(
                        "log ids go backwards inside the segment: it starts with {first_id} \
                         and ends with {last_id}"
                    ),
                });
            }
            previous = Some((C::index(last_id) + 1, last_id.clone()));
        }
    }
    if let (Some(p), Some(first)) = (purged, segments.iter().find(|s| !s.offsets.is_empty()))
        && first.first > p.saturating_add(1)
    {
        return Err(RaftLogError::Gap {
            segment: first.path.clone(),
            offset: plog_format::MAGIC_LEN as u64,
            expected: p + 1,
            found: first.first,
            detail: "a segment is missing after the purged index",
        });
    }

    // Everything is verified: now repair.
    let mut report = RecoveryReport::default();
    if drop_last_empty && let Some(segment) = segments.pop() {
        removed.push(segment.path);
    } else if let Some(segment) = segments.last_mut()
        && let Some(torn) = segment.torn.take()
    {
        cut(&segment.path, torn.offset, "cut the torn append")?;
        segment.len = torn.offset;
        report.torn_cut = Some((segment.path.clone(), torn));
    }
    // Zeros after the last record (a preallocation the store did not fill)
    // go, so that each segment is a clean v1 log again: a reopened store
    // never appends to a segment it found.
    for segment in &mut segments {
        if segment.len > segment.end {
            cut(&segment.path, segment.end, "cut the unused preallocation")?;
            report.zeros_trimmed += segment.len - segment.end;
            segment.len = segment.end;
        }
    }
    // The last segment wholly at or below the purged id goes too.
    if let (Some(p), Some(segment)) = (purged, segments.last())
        && segment.first + segment.records() <= p.saturating_add(1)
        && segments.len() == 1
    {
        removed.push(segment.path.clone());
        segments.pop();
    }
    for path in &removed {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RaftLogError::io(path, "remove the segment", e)),
        }
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }

    let last = match segments.last() {
        Some(s) => entry_id::<C>(s, true)?,
        None => None,
    };
    let last = last.filter(|l| purged.is_none_or(|p| C::index(l) > p));
    report.segments = segments.len();
    report.records = segments.iter().map(ScannedSegment::records).sum();
    report.index_range = segments
        .first()
        .zip(segments.last())
        .map(|(a, b)| (a.first, b.first + b.records().saturating_sub(1)));
    report.removed = removed;

    let mut map = BTreeMap::new();
    for segment in segments {
        let file = File::open(&segment.path)
            .map_err(|e| RaftLogError::io(&segment.path, "open the segment for reading", e))?;
        map.insert(
            segment.first,
            Segment {
                path: segment.path,
                file: Some(Arc::new(file)),
                offsets: segment.offsets,
                end: segment.end,
                pending: VecDeque::new(),
                planned_end: segment.end,
                sealed: true,
            },
        );
    }
    Ok(Recovered {
        index: LogIndex {
            segments: map,
            last,
            purged: state.purged.clone(),
            poisoned: None,
        },
        state,
        report,
    })
}

/// Cuts `path` to `len` bytes, durably.
fn cut(path: &Path, len: u64, action: &'static str) -> Result<(), RaftLogError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| RaftLogError::io(path, "open the segment to cut it", e))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| RaftLogError::io(path, action, e))
}
