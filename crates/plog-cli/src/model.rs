//! The one JSON vocabulary of `plog`: every `--json` line of every command
//! is one of these types, serialized. One key per concept, one concept per
//! key, whatever the command (the README's "JSON output" section lists
//! them):
//!
//! - `path` (+ `path_base64`): the path the object is about;
//! - `status`: the log's status as FORMAT.md defines it (`clean`, `torn`,
//!   `corrupt`), as the command read it (before any repair);
//! - `verdict`: whether the log passes the policy it was checked under
//!   (`--strict`, `--expect`), named as plog-format's `Verdict`;
//! - `file_len`: a file's length in bytes; `bytes`: the length of a byte
//!   range (a torn tail, a cut, a lost range), always beside its `offset`;
//! - `torn`: the torn tail, its cause under `reason` (plog-format's
//!   `TornTail::reason`);
//! - `corruptions`: a list of corruption objects, always; their number is
//!   `corruption_count`;
//! - `error`: why the command could not do its work on `path`, in the
//!   words of its text output; an object holding only `path` and `error`
//!   is the error object every command prints for a path it cannot use.
//!
//! docs/schema/*.json are generated from these types (the unit test
//! `schemas_are_generated_from_the_model` compares them;
//! `PLOG_WRITE_SCHEMAS=1 cargo test -p plog-cli` rewrites them).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
#[cfg(test)]
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// A path: `path` (exact when the path is UTF-8, else with U+FFFD for the
/// bytes that are not) and `path_base64` (the exact bytes, only when the
/// path is not UTF-8).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub struct JsonPath {
    /// The path; exact when it is UTF-8, else with U+FFFD for the bytes
    /// that are not (see `path_base64`).
    pub path: String,
    /// The path's exact bytes in base64, present only when the path is not
    /// UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, schemars(with = "String"))]
    pub path_base64: Option<String>,
}

impl JsonPath {
    /// The JSON form of `path`.
    pub fn new(path: &Path) -> JsonPath {
        let (path, path_base64) = text_and_base64(path);
        JsonPath { path, path_base64 }
    }
}

/// A path as text, and its exact bytes in base64 when they are not UTF-8.
fn text_and_base64(path: &Path) -> (String, Option<String>) {
    let bytes = path.as_os_str().as_encoded_bytes();
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    }
}

/// A plog-raft segment's path, under the key `segment` (+ `segment_base64`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub struct SegmentPath {
    /// The segment file's path (as `path`).
    pub segment: String,
    /// The segment path's exact bytes, present only when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, schemars(with = "String"))]
    pub segment_base64: Option<String>,
}

impl SegmentPath {
    /// The JSON form of the segment `path`.
    pub fn new(path: &Path) -> SegmentPath {
        let (segment, segment_base64) = text_and_base64(path);
        SegmentPath {
            segment,
            segment_base64,
        }
    }
}

/// The error object: a path the command could not use, and why. Every
/// command prints it, in the same shape, for a path it cannot read (or
/// write); `error` reads as the text output's message after the path.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct ErrorObject {
    /// The path concerned.
    #[serde(flatten)]
    pub path: JsonPath,
    /// What went wrong, e.g. `cannot open: no such file or directory`.
    pub error: String,
}

impl ErrorObject {
    /// The error object for `path`.
    pub fn new(path: &Path, error: impl Into<String>) -> ErrorObject {
        ErrorObject {
            path: JsonPath::new(path),
            error: error.into(),
        }
    }
}

/// A log's status (FORMAT.md): plog-format's `Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every byte belongs to a valid record.
    Clean,
    /// Valid records, then a torn tail.
    Torn,
    /// At least one corruption.
    Corrupt,
}

impl From<plog_format::Status> for Status {
    fn from(status: plog_format::Status) -> Status {
        #[allow(unreachable_patterns)]
        match status {
            plog_format::Status::Clean => Status::Clean,
            plog_format::Status::Torn => Status::Torn,
            _ => Status::Corrupt,
        }
    }
}

/// Whether a log passes the policy it was checked under: plog-format's
/// `Verdict`, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Passes: clean.
    Clean,
    /// Passes: a torn tail, tolerated (no `--strict`).
    TornTolerated,
    /// Passes: corruptions skipped (salvage).
    Salvaged,
    /// Fails: a corruption, an index violation (`--expect`) or a torn tail
    /// under `--strict`.
    Rejected,
}

impl From<&plog_format::Verdict> for Verdict {
    fn from(verdict: &plog_format::Verdict) -> Verdict {
        #[allow(unreachable_patterns)]
        match verdict {
            plog_format::Verdict::Clean => Verdict::Clean,
            plog_format::Verdict::TornTolerated(_) => Verdict::TornTolerated,
            plog_format::Verdict::Salvaged => Verdict::Salvaged,
            _ => Verdict::Rejected,
        }
    }
}

/// What a torn tail cut: plog-format's `TornReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TornReason {
    /// The magic itself is incomplete.
    Magic,
    /// Zero bytes where a header would start (a preallocated tail).
    ZeroFill,
    /// A header cut short.
    PartialHeader,
    /// A payload cut short.
    PartialPayload,
}

impl TornReason {
    /// The name in the JSON (as plog-format's `TornReason::as_str`).
    pub fn as_str(self) -> &'static str {
        match self {
            TornReason::Magic => "magic",
            TornReason::ZeroFill => "zero_fill",
            TornReason::PartialHeader => "partial_header",
            TornReason::PartialPayload => "partial_payload",
        }
    }
}

/// A torn tail.
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Torn {
    /// Where the torn bytes start.
    pub offset: u64,
    /// How many bytes are torn.
    pub bytes: u64,
    /// What was cut (plog-format's `TornTail::reason`).
    pub reason: TornReason,
}

impl From<plog_format::TornTail> for Torn {
    fn from(tail: plog_format::TornTail) -> Torn {
        #[allow(unreachable_patterns)]
        let reason = match tail.reason {
            plog_format::TornReason::Magic => TornReason::Magic,
            plog_format::TornReason::ZeroFill => TornReason::ZeroFill,
            plog_format::TornReason::PartialHeader => TornReason::PartialHeader,
            _ => TornReason::PartialPayload,
        };
        Torn {
            offset: tail.offset,
            bytes: tail.bytes,
            reason,
        }
    }
}

/// A corruption's kind: plog-format's `Corruption::kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CorruptionKind {
    /// The file does not start with the v1 magic.
    BadMagic,
    /// The magic names another format version.
    UnsupportedVersion,
    /// A header's length field cannot be right.
    Length,
    /// A record's payload does not hash to its stored hash.
    HashMismatch,
}

impl CorruptionKind {
    /// The kind of `corruption`.
    pub fn of(corruption: &plog_format::Corruption) -> CorruptionKind {
        #[allow(unreachable_patterns)]
        match corruption {
            plog_format::Corruption::BadMagic { .. } => CorruptionKind::BadMagic,
            plog_format::Corruption::UnsupportedVersion { .. } => {
                CorruptionKind::UnsupportedVersion
            }
            plog_format::Corruption::Length { .. } => CorruptionKind::Length,
            _ => CorruptionKind::HashMismatch,
        }
    }

    /// The name in the JSON (as plog-format's `Corruption::kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            CorruptionKind::BadMagic => "bad_magic",
            CorruptionKind::UnsupportedVersion => "unsupported_version",
            CorruptionKind::Length => "length",
            CorruptionKind::HashMismatch => "hash_mismatch",
        }
    }
}

/// One corruption.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Corruption {
    /// Byte offset.
    pub offset: u64,
    /// The record's index where its header names one.
    pub index: Option<u64>,
    /// What is wrong.
    pub kind: CorruptionKind,
    /// Where scanning resumed after a damaged length.
    pub resync_offset: Option<u64>,
    /// For a hash mismatch: the offset of the record's first all-zero
    /// 512-byte sector piece, what a crash leaves of a write over
    /// preallocated zeros (the next writer's open drops such a final
    /// record).
    pub zeroed_sector: Option<u64>,
}

impl From<&plog_format::Corruption> for Corruption {
    fn from(c: &plog_format::Corruption) -> Corruption {
        Corruption {
            offset: c.offset(),
            index: c.index(),
            kind: CorruptionKind::of(c),
            resync_offset: c.resync_offset(),
            zeroed_sector: match *c {
                plog_format::Corruption::HashMismatch { zeroed_sector, .. } => zeroed_sector,
                _ => None,
            },
        }
    }
}

/// An index violation's kind (`--expect`): plog-format's
/// `IndexViolationKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IndexViolationKind {
    /// An index skipped (`--expect contiguous`).
    IndexGap,
    /// An index not above the one before it.
    IndexOrder,
}

/// A valid record whose index breaks the order `--expect` asks for.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct IndexViolation {
    /// The record's byte offset.
    pub offset: u64,
    /// Its index.
    pub index: u64,
    /// Which rule it breaks.
    pub kind: IndexViolationKind,
}

impl From<&plog_format::IndexViolation> for IndexViolation {
    fn from(v: &plog_format::IndexViolation) -> IndexViolation {
        IndexViolation {
            offset: v.offset,
            index: v.index,
            kind: match v.kind {
                plog_format::IndexViolationKind::Gap => IndexViolationKind::IndexGap,
                #[allow(unreachable_patterns)]
                _ => IndexViolationKind::IndexOrder,
            },
        }
    }
}

/// One line of `plog verify --json`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(untagged)]
pub enum VerifyLine {
    /// A log file.
    File(Box<VerifyFile>),
    /// A plog-raft directory.
    Raft(Box<VerifyRaft>),
    /// An object `--resume` did not read again.
    Skipped(VerifySkipped),
    /// A path that could not be read.
    Error(ErrorObject),
}

/// `plog verify --json` of an object not read again: the `--resume`
/// manifest records it verified clean at the ETag and length it is listed
/// with now (and under the same `--expect`). A resumed job prints one line
/// per object all the same, so that a script counts every object.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct VerifySkipped {
    /// The object's URL.
    #[serde(flatten)]
    pub path: JsonPath,
    /// The status the manifest records: always `clean`.
    pub status: Status,
    /// Why the object was not read: `resumed`.
    pub skipped: SkipReason,
    /// Valid records, as the manifest records them.
    pub records: u64,
    /// The object's length (listed now, the same as recorded).
    pub file_len: u64,
    /// The object's ETag (listed now, the same as recorded).
    pub etag: String,
}

/// Why `plog verify` did not read an object.
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The `--resume` manifest records it verified clean at the same ETag
    /// and length.
    Resumed,
}

/// `plog verify --json` of one log file.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct VerifyFile {
    /// The path as given (or as found below a directory; `-` for standard
    /// input).
    #[serde(flatten)]
    pub path: JsonPath,
    /// The log's status.
    pub status: Status,
    /// Whether it passes `--strict` / `--expect`.
    pub verdict: Verdict,
    /// Valid records.
    pub records: u64,
    /// Index of the first valid record in file order.
    pub first_index: Option<u64>,
    /// Index of the last valid record in file order.
    pub last_index: Option<u64>,
    /// Smallest index of a valid record.
    pub min_index: Option<u64>,
    /// Largest index of a valid record.
    pub max_index: Option<u64>,
    /// The file's length.
    pub file_len: u64,
    /// The torn tail.
    pub torn: Option<Torn>,
    /// How many corruptions the file holds.
    pub corruption_count: u64,
    /// The corruptions in file order (the first million: plog-mmap's
    /// `DEFAULT_LIST_LIMIT`).
    pub corruptions: Vec<Corruption>,
    /// How many more corruptions than `corruptions` lists.
    pub corruptions_omitted: u64,
    /// The index violations (`--expect`) in file order, the first million.
    pub index_violations: Vec<IndexViolation>,
    /// How many more index violations than `index_violations` lists.
    pub index_violations_omitted: u64,
}

/// The kind of log a `plog verify --json` object of a directory is.
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum LogKind {
    /// A plog-raft directory (RAFT-SEGMENTS.md).
    #[serde(rename = "plog-raft")]
    PlogRaft,
}

/// `plog verify --json` of one plog-raft directory.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct VerifyRaft {
    /// The directory.
    #[serde(flatten)]
    pub path: JsonPath,
    /// Always `plog-raft`.
    pub log: LogKind,
    /// `clean`, `torn` (the last segment ends in a torn append) or
    /// `corrupt` (the check was refused for damage: see `problem`).
    pub status: Status,
    /// Whether it passes (`--strict` rejects a torn append).
    pub verdict: Verdict,
    /// The log's entries above the purged index (null when refused).
    pub entries: Option<u64>,
    /// Index of the first entry.
    pub first_index: Option<u64>,
    /// Index of the last entry.
    pub last_index: Option<u64>,
    /// The sum of its segments' `file_len` (null when refused).
    pub segments_len: Option<u64>,
    /// The torn append the next open of the store cuts.
    pub torn: Option<RaftTorn>,
    /// The segments, in index order.
    pub segments: Vec<RaftSegment>,
    /// The state file's content (vote, committed, purged).
    pub state: Option<Value>,
    /// The purged index.
    pub purged_index: Option<u64>,
    /// Segments left by an interrupted purge.
    pub purged_leftovers: Vec<JsonPath>,
    /// Whether a running store holds the directory's lock.
    pub in_use: Option<bool>,
    /// Why the check was refused (status `corrupt`).
    pub problem: Option<RaftProblem>,
}

/// A plog-raft segment's torn append.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct RaftTorn {
    /// Where the torn bytes start in the segment.
    pub offset: u64,
    /// How many bytes are torn.
    pub bytes: u64,
    /// Which tail rule (RAFT-SEGMENTS.md) makes it a torn append.
    pub reason: String,
    /// The segment holding it.
    #[serde(flatten)]
    pub segment: SegmentPath,
}

/// One segment of a plog-raft log.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct RaftSegment {
    /// The segment file.
    #[serde(flatten)]
    pub path: JsonPath,
    /// Index of its first entry.
    pub first_index: Option<u64>,
    /// Index of its last entry.
    pub last_index: Option<u64>,
    /// Where its last complete record ends.
    pub data_end: u64,
    /// The file's length.
    pub file_len: u64,
}

/// Why a plog-raft check was refused.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct RaftProblem {
    /// plog-raft's `RaftLogError::kind`.
    pub kind: String,
    /// The file concerned.
    #[serde(flatten)]
    pub segment: Option<SegmentPath>,
    /// The byte offset in it.
    pub offset: Option<u64>,
    /// The entry's index.
    pub index: Option<u64>,
    /// What was expected there.
    pub expected: Option<Value>,
    /// What was found.
    pub found: Option<Value>,
    /// The problem in words.
    pub message: String,
}

/// One line of `plog dump --json` (for its schema: the error object is
/// printed by `main` for any error, under `--json`).
#[cfg(test)]
#[allow(
    dead_code,
    reason = "the shape of a line, for its schema: main prints the error object"
)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DumpLine {
    /// A record.
    Record(DumpRecord),
    /// The log could not be read (the last line).
    Error(ErrorObject),
}

/// One record of `plog dump --json`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct DumpRecord {
    /// The record's index.
    pub index: u64,
    /// Its byte offset.
    pub offset: u64,
    /// Its payload's length.
    pub payload_len: u64,
    /// Its stored BLAKE3 hash, hex.
    #[cfg_attr(test, schemars(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub hash: String,
    /// Whether the payload hashes to it (false only with `--no-verify`).
    pub valid: bool,
    /// The payload, when it is JSON (on one line); absent with `--headers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, schemars(with = "Value"))]
    pub payload: Option<Box<RawValue>>,
    /// The payload in base64, when it is not JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, schemars(with = "String"))]
    pub payload_base64: Option<String>,
}

/// One line of `plog dump --raft --json`.
#[cfg(test)]
#[allow(
    dead_code,
    reason = "the shape of a line, for its schema: main prints the error object"
)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DumpRaftLine<'a> {
    /// An entry.
    Entry(RaftEntry<'a>),
    /// The directory could not be read, or holds damage.
    Error(ErrorObject),
}

/// An entry's kind: openraft's `EntryPayload`.
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// No payload (a leader's first entry).
    Blank,
    /// An application entry.
    Normal,
    /// A membership change.
    Membership,
}

/// One entry of `plog dump --raft --json`, in index order.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct RaftEntry<'a> {
    /// The entry's index.
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// The leader's node id.
    pub node: &'a Value,
    /// What it holds.
    pub kind: EntryKind,
    /// Its payload (null for a blank entry).
    pub payload: &'a Value,
    /// The segment holding it.
    #[serde(flatten)]
    pub segment: SegmentPath,
    /// Its record's byte offset in the segment.
    pub offset: u64,
}

/// One line of `plog stat --json`.
#[cfg(test)]
#[allow(
    dead_code,
    reason = "the shape of a line, for its schema: main prints the error object"
)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatLine {
    /// The statistics.
    Stat(Box<Stat>),
    /// The log could not be read.
    Error(ErrorObject),
}

/// `plog stat --json`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Stat {
    /// The log.
    #[serde(flatten)]
    pub path: JsonPath,
    /// The log's status.
    pub status: Status,
    /// Valid records.
    pub records: u64,
    /// Index of the first valid record in file order.
    pub first_index: Option<u64>,
    /// Index of the last valid record in file order.
    pub last_index: Option<u64>,
    /// Smallest index of a valid record.
    pub min_index: Option<u64>,
    /// Largest index of a valid record.
    pub max_index: Option<u64>,
    /// Steps forward by more than one between consecutive records.
    pub gaps: u64,
    /// Indices between `min_index` and `max_index` no record holds (an
    /// upper bound when `missing_exact` is false).
    pub missing_indices: u64,
    /// The first 1,000 missing ranges, `[first, last]`.
    pub missing_ranges: Vec<[u64; 2]>,
    /// How many more missing ranges.
    pub missing_ranges_omitted: u64,
    /// Whether `missing_indices` is exact; false for a log whose indices
    /// are irregular everywhere (over half a million runs), where `stat`
    /// keeps its memory bounded and the count is an upper bound.
    pub missing_exact: bool,
    /// Records whose index equals the previous one.
    pub repeats: u64,
    /// Records whose index is below the previous one.
    pub decreases: u64,
    /// The file's length.
    pub file_len: u64,
    /// The valid records' payload bytes.
    pub payload_bytes: u64,
    /// The payload lengths' distribution (null without records).
    pub payload_sizes: Option<Sizes>,
    /// The payload lengths in power-of-two buckets.
    pub payload_histogram: Vec<Bucket>,
    /// The torn tail.
    pub torn: Option<Torn>,
    /// How many corruptions the file holds.
    pub corruption_count: u64,
    /// Corruptions by kind.
    pub corruptions_by_kind: BTreeMap<CorruptionKind, u64>,
    /// Seconds the pass took.
    pub verify_seconds: f64,
}

/// The payload lengths' distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Sizes {
    /// Smallest payload.
    pub min: u64,
    /// Median (the lower one for an even count).
    pub median: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Largest payload.
    pub max: u64,
}

/// One histogram bucket: the payloads of length `from..=to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Bucket {
    /// The smallest length in it.
    pub from: u64,
    /// The largest.
    pub to: u64,
    /// How many payloads.
    pub count: u64,
}

/// One line of `plog repair --json`.
#[cfg(test)]
#[allow(
    dead_code,
    reason = "the shape of a line, for its schema: main prints the error object"
)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RepairLine {
    /// What was (or would be) done.
    Repair(Box<Repair>),
    /// The log could not be read, or the repair could not be attempted.
    Error(ErrorObject),
}

/// What `plog repair` does: plog-writer's `RepairPlan::kind`, or salvage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RepairAction {
    /// The log is clean: nothing to do.
    Nothing,
    /// Cut the torn tail.
    TruncateTornTail,
    /// Cut a final record whose write over preallocated zeros a crash cut
    /// (never acknowledged).
    DropTornAppend,
    /// Cut a damaged final record (`--drop-corrupt-tail`).
    DropCorruptTail,
    /// The damage cannot be cut: nothing changes.
    Refuse,
    /// Copy the valid records to a new log (`--salvage`).
    Salvage,
}

/// `plog repair --json`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Repair {
    /// The log.
    #[serde(flatten)]
    pub path: JsonPath,
    /// The log's status before the repair.
    pub status: Status,
    /// What is (or would be) done.
    pub action: RepairAction,
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// Whether a file was changed or written.
    pub changed: bool,
    /// What the action is (or why it is refused), in words.
    pub message: String,
    /// Valid records kept (in the log, or copied to the salvaged log).
    pub records: u64,
    /// The log's length before the repair.
    pub file_len: u64,
    /// Its length after (null when refused; unchanged by a salvage).
    pub new_file_len: Option<u64>,
    /// The bytes cut from the end of the log.
    pub cut: Option<Cut>,
    /// Where the cut bytes were (or would be) saved.
    pub backup: Option<JsonPath>,
    /// The new log written by `--salvage`.
    pub salvaged_to: Option<JsonPath>,
    /// Byte and index ranges lost to corruption (`--salvage`; the first
    /// million).
    pub lost: Vec<Lost>,
    /// How many more lost ranges than `lost` lists.
    pub lost_omitted: u64,
    /// The log's torn tail.
    pub torn: Option<Torn>,
}

/// A byte range cut from the end of the log.
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Cut {
    /// Where the cut starts (the new length).
    pub offset: u64,
    /// How many bytes are cut.
    pub bytes: u64,
}

/// Where a lost range's indices come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IndicesFrom {
    /// The valid records around the range skip them.
    Neighbours,
    /// The index fields of the damaged headers (which may be damaged too).
    Headers,
}

/// A byte range of the source lost to corruption (`--salvage`).
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Lost {
    /// Where the lost bytes start.
    pub offset: u64,
    /// Where they end.
    pub end: u64,
    /// How many bytes.
    pub bytes: u64,
    /// How many corruptions the range covers.
    pub corruption_count: u64,
    /// The first lost index, when known.
    pub first_index: Option<u64>,
    /// The last lost index, when known.
    pub last_index: Option<u64>,
    /// Where the indices come from (null when unknown).
    pub indices_from: Option<IndicesFrom>,
}

/// One line of `plog append --json`.
#[cfg(test)]
#[allow(
    dead_code,
    reason = "the shape of a line, for its schema: main prints the error object"
)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AppendLine {
    /// What was appended.
    Append(Append),
    /// The log could not be opened: nothing was appended.
    Error(ErrorObject),
}

/// `plog append --json`: printed once, at the end.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct Append {
    /// The log.
    #[serde(flatten)]
    pub path: JsonPath,
    /// Records appended (and durable).
    pub records: u64,
    /// Index of the first appended record.
    pub first_index: Option<u64>,
    /// Index of the last appended record.
    pub last_index: Option<u64>,
    /// The log's length afterwards.
    pub file_len: u64,
    /// A torn tail that opening the log cut off first.
    pub repaired_on_open: Option<Torn>,
    /// A final record whose write over preallocated zeros a crash had cut,
    /// which opening the log dropped first (never acknowledged).
    pub dropped_on_open: Option<Corruption>,
    /// What stopped the command (what was appended before it is durable
    /// all the same); null when every line was appended.
    pub error: Option<String>,
}

/// The schemas of docs/schema/, by file name: generated from the types,
/// as they serialize (a field is required unless it may be left out).
#[cfg(test)]
pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    fn schema<T: JsonSchema>() -> schemars::Schema {
        schemars::generate::SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<T>()
    }
    vec![
        ("verify.json", schema::<VerifyLine>()),
        ("dump.json", schema::<DumpLine>()),
        ("dump-raft.json", schema::<DumpRaftLine<'static>>()),
        ("stat.json", schema::<StatLine>()),
        ("repair.json", schema::<RepairLine>()),
        ("append.json", schema::<AppendLine>()),
        ("error.json", schema::<ErrorObject>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema")
    }

    #[test]
    fn schemas_are_generated_from_the_model() {
        let write = std::env::var_os("PLOG_WRITE_SCHEMAS").is_some();
        for (name, schema) in schemas() {
            let mut text = serde_json::to_string_pretty(&schema).unwrap();
            text.push('\n');
            let path = schema_dir().join(name);
            if write {
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "docs/schema/{name} differs from the model types (src/model.rs); \
                 regenerate it with PLOG_WRITE_SCHEMAS=1 cargo test -p plog-cli"
            );
        }
    }
}
