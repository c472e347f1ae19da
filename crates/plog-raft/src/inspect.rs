//! A plog-raft directory seen as one Raft log, for operators' tools (`plog
//! verify DIR`, `plog dump --raft DIR`): read-only checks and an iterator
//! over the entries with their log ids, without the application's types.
//!
//! Nothing here opens a store: no lock is taken, nothing is cut or
//! repaired, so it may look at the directory of a running store (the last
//! segment may then be mid-write; [`LogCheck::in_use`] says so).
//!
//! Entries are decoded as openraft 0.9 and 0.10 (with its default
//! `leader_id_adv`) write them with their `serde` feature: `{"log_id": {"leader_id": {"term", "node_id"}, "index"},
//! "payload": "Blank" | {"Normal": …} | {"Membership": …}}`; the node id
//! and the application data stay JSON values.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let check = plog_raft::inspect::check_dir(dir.path())?;
//! assert_eq!(check.entries, 0);
//! for entry in plog_raft::inspect::entries(dir.path())? {
//!     let entry = entry?;
//!     println!("{} {} {:?}", entry.index, entry.term, entry.kind);
//! }
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use plog_format::Record;
use serde_json::Value;

use crate::scan::{
    ScannedSegment, TailCut, list_segments, load_segment, parse_segment_name, purged_leftovers,
    scan_log, segment_bytes,
};
use crate::state::{STATE_FILE, read_state};
use crate::{LOCK_FILE, RaftLogError};

/// What kind of entry a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A leader's first entry of its term (no payload).
    Blank,
    /// Application data.
    Normal,
    /// A membership change.
    Membership,
}

impl EntryKind {
    /// A stable name: `"blank"`, `"normal"`, `"membership"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Blank => "blank",
            EntryKind::Normal => "normal",
            EntryKind::Membership => "membership",
        }
    }
}

/// One entry of the log, as the segments hold it.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryView {
    /// The Raft index (the record's index and the entry's).
    pub index: u64,
    /// The term of the leader that wrote it.
    pub term: u64,
    /// The node id of that leader (a JSON value: openraft's node id type
    /// is the application's).
    pub node: Value,
    /// Blank, normal or membership.
    pub kind: EntryKind,
    /// The application data of a normal entry, the membership of a
    /// membership entry, `null` for a blank one.
    pub payload: Value,
    /// Whether the entry is at or below the purged log id (still in a
    /// segment that holds later entries too; not part of the log).
    pub purged: bool,
    /// The segment holding it.
    pub segment: PathBuf,
    /// The record's byte offset in the segment.
    pub offset: u64,
}

/// One segment, as checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentCheck {
    /// The file.
    pub path: PathBuf,
    /// Its first and last index (`None`: no record).
    pub range: Option<(u64, u64)>,
    /// Where its records end.
    pub data_end: u64,
    /// The file's length (zeros after `data_end` are preallocation).
    pub len: u64,
    /// A torn append after the last record (the last segment only): what
    /// the next open cuts.
    pub torn: Option<TailCut>,
}

/// A plog-raft directory checked as one log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogCheck {
    /// The segments, in index order.
    pub segments: Vec<SegmentCheck>,
    /// Entries above the purged id (the log's entries).
    pub entries: u64,
    /// The first and last index of the log (above the purged id).
    pub range: Option<(u64, u64)>,
    /// The state file's last record (`{"vote", "committed", "purged"}`),
    /// `None` when there is no state file.
    pub state: Option<Value>,
    /// The purged index from the state, if any.
    pub purged: Option<u64>,
    /// Segments wholly at or below the purged index that an interrupted
    /// purge left (the next open removes them).
    pub purged_leftovers: Vec<PathBuf>,
    /// Whether a store holds the directory's lock right now.
    pub in_use: bool,
}

/// Whether `dir` looks like a plog-raft directory (for tools that are
/// given a directory and must choose between reading it as one Raft log
/// and reading the v1 logs below it): a directory holding plog-raft's lock
/// file ([`LOCK_FILE`], taken by every open), or its state file
/// ([`STATE_FILE`]) beside at least one segment (a file named
/// `<20-digit first index>.plog`). Only the names are looked at; whether
/// the files are sound is [`check_dir`]'s question.
pub fn looks_like_log_dir(dir: &Path) -> bool {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return false;
    };
    let (mut lock, mut state, mut segment) = (false, false, false);
    for item in listing.flatten() {
        if !item.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let name = item.file_name();
        match name.to_str() {
            Some(LOCK_FILE) => lock = true,
            Some(STATE_FILE) => state = true,
            Some(name) if parse_segment_name(name).is_some() => segment = true,
            _ => {}
        }
    }
    lock || (state && segment)
}

/// Reads an entry's log id, kind and payload from its serde_json.
///
/// # Errors
/// A description of what was expected and found.
pub fn parse_entry(payload: &[u8]) -> Result<(u64, u64, Value, EntryKind, Value), String> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("expected the serde_json of an openraft entry: {e}"))?;
    let field = |v: &Value, path: &[&str]| -> Option<Value> {
        let mut v = v;
        for key in path {
            v = v.get(key)?;
        }
        Some(v.clone())
    };
    let index = field(&value, &["log_id", "index"])
        .and_then(|v| v.as_u64())
        .ok_or("expected log_id.index, an unsigned integer")?;
    let term = field(&value, &["log_id", "leader_id", "term"])
        .and_then(|v| v.as_u64())
        .ok_or("expected log_id.leader_id.term, an unsigned integer")?;
    let node = field(&value, &["log_id", "leader_id", "node_id"])
        .ok_or("expected log_id.leader_id.node_id")?;
    let (kind, data) = match value.get("payload") {
        Some(Value::String(s)) if s == "Blank" => (EntryKind::Blank, Value::Null),
        Some(Value::Object(map)) if map.len() == 1 => match map.iter().next() {
            Some((k, v)) if k == "Normal" => (EntryKind::Normal, v.clone()),
            Some((k, v)) if k == "Membership" => (EntryKind::Membership, v.clone()),
            _ => return Err("expected payload Blank, Normal or Membership".into()),
        },
        _ => {
            return Err(
                "expected payload \"Blank\", {\"Normal\": …} or {\"Membership\": …}".into(),
            );
        }
    };
    Ok((index, term, node, kind, data))
}

fn in_use(dir: &Path) -> bool {
    std::fs::File::open(dir.join(LOCK_FILE)).is_ok_and(|f| match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    })
}

fn bad_entry(segment: &ScannedSegment, n: usize, detail: String) -> RaftLogError {
    RaftLogError::BadEntry {
        segment: segment.path.clone(),
        offset: segment.offsets[n],
        index: segment.first + n as u64,
        detail,
    }
}

/// Checks `dir` as one log, changing nothing: every segment's records and
/// hashes, the tail rule (RAFT-SEGMENTS.md; only the last segment may end
/// in a torn append), contiguous indices within and across segments and
/// from the purged index, every entry's log id against its record's index,
/// terms that never go backwards, and the state file.
///
/// # Errors
/// The first problem found, as the open of a store would report it.
pub fn check_dir(dir: &Path) -> Result<LogCheck, RaftLogError> {
    let names = list_segments(dir)?;
    let state = read_state::<Value>(dir)?.flatten();
    let purged = state
        .as_ref()
        .and_then(|s| s.get("purged"))
        .and_then(|p| p.get("index"))
        .and_then(Value::as_u64);
    let leftovers = purged_leftovers(&names, purged);
    let mut check = LogCheck {
        segments: Vec::new(),
        entries: 0,
        range: None,
        state,
        purged,
        purged_leftovers: names[..leftovers].iter().map(|(_, p)| p.clone()).collect(),
        in_use: in_use(dir),
    };
    let kept = &names[leftovers..];
    let mut next: Option<u64> = None;
    let mut last_term = 0u64;
    for (k, (first, path)) in kept.iter().enumerate() {
        let log = load_segment(path)?;
        let bytes = segment_bytes(&log);
        let segment = scan_log(path, *first, &log)?;
        let last = k + 1 == kept.len();
        if let Some(torn) = &segment.torn
            && !last
        {
            return Err(RaftLogError::Corrupt {
                segment: path.clone(),
                offset: torn.offset,
                index: None,
                detail: format!(
                    "{} bytes of damage at the end of a segment that is not the last ({})",
                    torn.bytes, torn.reason
                ),
            });
        }
        if segment.offsets.is_empty() && !last {
            return Err(RaftLogError::Corrupt {
                segment: path.clone(),
                offset: segment.end,
                index: None,
                detail: "a segment that is not the last holds no record".into(),
            });
        }
        if !segment.offsets.is_empty() {
            let expected = next.or(purged.map(|p| p + 1));
            if let Some(expected) = expected
                && segment.first != expected
                && !(next.is_none() && segment.first < expected)
            {
                return Err(RaftLogError::Gap {
                    segment: path.clone(),
                    offset: plog_format::MAGIC_LEN as u64,
                    expected,
                    found: segment.first,
                    detail: if segment.first > expected {
                        "a segment is missing: the log ends before this segment starts"
                    } else {
                        "segments overlap: the previous segment already holds this index"
                    },
                });
            }
            for (n, &offset) in segment.offsets.iter().enumerate() {
                let record = Record::parse_at(bytes, offset)
                    .map_err(|e| bad_entry(&segment, n, e.to_string()))?;
                let (index, term, _, _, _) =
                    parse_entry(record.payload()).map_err(|e| bad_entry(&segment, n, e))?;
                if index != record.index() {
                    return Err(bad_entry(
                        &segment,
                        n,
                        format!(
                            "the entry's log id has index {index}: expected the record's \
                             index {}",
                            record.index()
                        ),
                    ));
                }
                if term < last_term {
                    return Err(bad_entry(
                        &segment,
                        n,
                        format!("term {term} after term {last_term}: log ids go backwards"),
                    ));
                }
                last_term = term;
                if purged.is_none_or(|p| index > p) {
                    check.entries += 1;
                    let lo = check.range.map_or(index, |r| r.0);
                    check.range = Some((lo, index));
                }
            }
            next = Some(segment.first + segment.records());
        }
        check.segments.push(SegmentCheck {
            path: path.clone(),
            range: (!segment.offsets.is_empty())
                .then(|| (segment.first, segment.first + segment.records() - 1)),
            data_end: segment.end,
            len: segment.len,
            torn: segment.torn.clone(),
        });
    }
    Ok(check)
}

/// The entries of `dir` in index order, one segment read at a time, after
/// the checks of [`check_dir`] (which fail first).
///
/// # Errors
/// What [`check_dir`] reports; the iterator yields an I/O error if a
/// segment changed or vanished since.
pub fn entries(dir: &Path) -> Result<Entries, RaftLogError> {
    Ok(check_dir(dir)?.into_entries())
}

impl LogCheck {
    /// The entries of the checked directory in index order, as
    /// [`entries`] yields them, without checking it a second time (for a
    /// tool that reports the check and then lists the entries).
    pub fn into_entries(self) -> Entries {
        Entries {
            purged: self.purged,
            segments: self.segments.into_iter().rev().collect(),
            current: Vec::new(),
        }
    }
}

/// The iterator of [`entries`].
#[derive(Debug)]
pub struct Entries {
    purged: Option<u64>,
    /// Segments still to read, the next one last.
    segments: Vec<SegmentCheck>,
    /// Entries of the current segment still to yield, the next one last.
    current: Vec<EntryView>,
}

impl Iterator for Entries {
    type Item = Result<EntryView, RaftLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.current.pop() {
                return Some(Ok(entry));
            }
            let segment = self.segments.pop()?;
            match read_segment(&segment, self.purged) {
                Ok(mut entries) => {
                    entries.reverse();
                    self.current = entries;
                }
                Err(e) => {
                    self.segments.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

fn read_segment(
    segment: &SegmentCheck,
    purged: Option<u64>,
) -> Result<Vec<EntryView>, RaftLogError> {
    let Some((first, _)) = segment.range else {
        return Ok(Vec::new());
    };
    let log = load_segment(&segment.path)?;
    let bytes = segment_bytes(&log);
    let scanned = scan_log(&segment.path, first, &log)?;
    let mut out = Vec::with_capacity(scanned.offsets.len());
    for (n, &offset) in scanned.offsets.iter().enumerate() {
        let record =
            Record::parse_at(bytes, offset).map_err(|e| bad_entry(&scanned, n, e.to_string()))?;
        let (index, term, node, kind, payload) =
            parse_entry(record.payload()).map_err(|e| bad_entry(&scanned, n, e))?;
        out.push(EntryView {
            index,
            term,
            node,
            kind,
            payload,
            purged: purged.is_some_and(|p| index <= p),
            segment: segment.path.clone(),
            offset,
        });
    }
    Ok(out)
}
