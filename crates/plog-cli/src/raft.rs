//! plog-raft directories seen as one Raft log: `plog verify DIR` and
//! `plog dump --raft DIR` (through `plog_raft::inspect`, read-only).
//!
//! Detection (`plog verify`): a directory named on the command line, or
//! found below one, is a plog-raft directory when it holds plog-raft's
//! `LOCK` file, or its `state.plog` beside at least one segment
//! (`<20-digit first index>.plog`) — [`plog_raft::inspect::looks_like_log_dir`].
//! It is then checked as one log, one line (one JSON object); the files in
//! it are not verified one by one, unless named on the command line. A
//! directory of ordinary `*.plog` logs keeps the per-file behaviour.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use plog_raft::RaftLogError;
use plog_raft::inspect::{self, EntryView, LogCheck};
use serde_json::Value;

use crate::error::CliError;
use crate::model::{
    EntryKind, ErrorObject, JsonPath, LogKind, RaftEntry, RaftProblem, RaftSegment, RaftTorn,
    SegmentPath, Status, Verdict, VerifyLine, VerifyRaft,
};
use crate::text::{count, escape_bytes, path_text, sanitize_message};
use crate::{exit, out};

/// The plog-raft directories among `paths` and below the directories among
/// them (links to directories not followed; a plog-raft directory is not
/// searched further), in sorted order per argument.
pub fn find_dirs(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" || !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let mut walk = walkdir::WalkDir::new(path)
            .follow_links(false)
            .sort_by(|a, b| a.path().cmp(b.path()))
            .into_iter();
        while let Some(entry) = walk.next() {
            // An unreadable directory is reported by the walk of the files.
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_dir() && inspect::looks_like_log_dir(entry.path()) {
                found.push(entry.into_path());
                walk.skip_current_dir();
            }
        }
    }
    found
}

/// `clean`, `torn`, `corrupt` or `error`: a check that passed is `torn`
/// when the last segment ends in a torn append (what the next open cuts);
/// a refused check is `corrupt` when the directory holds damage
/// ([`RaftLogError::is_damage`]: a hash mismatch, a gap, an entry that is
/// not its record's, a damaged state file, a foreign file), else `error`.
pub fn status(result: &Result<LogCheck, RaftLogError>) -> &'static str {
    match result {
        Ok(check) if torn(check).is_some() => "torn",
        Ok(_) => "clean",
        Err(e) if e.is_damage() => "corrupt",
        Err(_) => "error",
    }
}

/// The torn append of a check, with its segment.
fn torn(check: &LogCheck) -> Option<(&Path, &plog_raft::TailCut)> {
    check
        .segments
        .iter()
        .find_map(|s| s.torn.as_ref().map(|t| (s.path.as_path(), t)))
}

/// Why a check was refused, in the JSON output.
fn problem(e: &RaftLogError) -> RaftProblem {
    let mut problem = RaftProblem {
        kind: e.kind().to_string(),
        segment: None,
        offset: None,
        index: None,
        expected: None,
        found: None,
        message: e.to_string(),
    };
    match e {
        RaftLogError::Corrupt {
            segment,
            offset,
            index,
            ..
        } => {
            problem.segment = Some(SegmentPath::new(segment));
            problem.offset = Some(*offset);
            problem.index = *index;
        }
        RaftLogError::Gap {
            segment,
            offset,
            expected,
            found,
            ..
        } => {
            problem.segment = Some(SegmentPath::new(segment));
            problem.offset = Some(*offset);
            problem.index = Some(*found);
            problem.expected = Some(Value::from(*expected));
            problem.found = Some(Value::from(*found));
        }
        RaftLogError::BadEntry {
            segment,
            offset,
            index,
            ..
        } => {
            problem.segment = Some(SegmentPath::new(segment));
            problem.offset = Some(*offset);
            problem.index = Some(*index);
        }
        RaftLogError::BadState {
            path,
            expected,
            found,
        } => {
            problem.segment = Some(SegmentPath::new(path));
            problem.expected = Some(Value::from(*expected));
            problem.found = Some(Value::from(found.as_str()));
        }
        RaftLogError::ForeignFile { path } => {
            problem.segment = Some(SegmentPath::new(path));
        }
        RaftLogError::Io { path, .. } => problem.segment = Some(SegmentPath::new(path)),
        _ => {}
    }
    problem
}

/// The `plog verify --json` line of a plog-raft directory
/// (docs/schema/verify.json): its check, or the error object when it
/// cannot be read.
fn json_line(dir: &Path, result: &Result<LogCheck, RaftLogError>, strict: bool) -> VerifyLine {
    let mut json = VerifyRaft {
        path: JsonPath::new(dir),
        log: LogKind::PlogRaft,
        status: Status::Corrupt,
        verdict: Verdict::Rejected,
        entries: None,
        first_index: None,
        last_index: None,
        segments_len: None,
        torn: None,
        segments: Vec::new(),
        state: None,
        purged_index: None,
        purged_leftovers: Vec::new(),
        in_use: None,
        problem: None,
    };
    match result {
        Err(e) if !e.is_damage() => {
            return VerifyLine::Error(ErrorObject::new(dir, e.to_string()));
        }
        Err(e) => json.problem = Some(problem(e)),
        Ok(check) => {
            let torn = torn(check);
            (json.status, json.verdict) = match (torn, strict) {
                (None, _) => (Status::Clean, Verdict::Clean),
                (Some(_), false) => (Status::Torn, Verdict::TornTolerated),
                (Some(_), true) => (Status::Torn, Verdict::Rejected),
            };
            json.entries = Some(check.entries);
            json.first_index = check.range.map(|r| r.0);
            json.last_index = check.range.map(|r| r.1);
            json.segments_len = Some(check.segments.iter().map(|s| s.len).sum());
            json.torn = torn.map(|(segment, t)| RaftTorn {
                offset: t.offset,
                bytes: t.bytes,
                reason: t.reason.clone(),
                segment: SegmentPath::new(segment),
            });
            json.segments = check
                .segments
                .iter()
                .map(|s| RaftSegment {
                    path: JsonPath::new(&s.path),
                    first_index: s.range.map(|r| r.0),
                    last_index: s.range.map(|r| r.1),
                    data_end: s.data_end,
                    file_len: s.len,
                })
                .collect();
            json.state = check.state.clone();
            json.purged_index = check.purged;
            json.purged_leftovers = check
                .purged_leftovers
                .iter()
                .map(|p| JsonPath::new(p))
                .collect();
            json.in_use = Some(check.in_use);
        }
    }
    VerifyLine::Raft(Box::new(json))
}

/// `, index A..B` or nothing.
fn range_text(range: Option<(u64, u64)>) -> String {
    match range {
        Some((a, b)) if a == b => format!(", index {a}"),
        Some((a, b)) => format!(", index {a}..{b}"),
        None => String::new(),
    }
}

/// What the log holds, for the text line.
fn described(check: &LogCheck) -> String {
    let entries = match check.entries {
        1 => "1 entry".to_string(),
        n => format!("{n} entries"),
    };
    let mut text = format!(
        "plog-raft log, {entries}{}, {}",
        range_text(check.range),
        count(check.segments.len() as u64, "segment")
    );
    if let Some(p) = check.purged {
        text.push_str(&format!(", purged to {p}"));
    }
    if !check.purged_leftovers.is_empty() {
        text.push_str(&format!(
            ", {} left by an interrupted purge",
            count(check.purged_leftovers.len() as u64, "purged segment")
        ));
    }
    if check.in_use {
        text.push_str(", in use by a running store");
    }
    text
}

/// The text line for a plog-raft directory.
fn human_line(dir: &Path, result: &Result<LogCheck, RaftLogError>, strict: bool) -> String {
    let dir = path_text(dir);
    match result {
        Ok(check) => match torn(check) {
            None => format!("{dir}: OK ({})", described(check)),
            Some((segment, t)) => format!(
                "{dir}: TORN at {} offset {} ({}: {}){}; {}",
                path_text(segment),
                t.offset,
                count(t.bytes, "byte"),
                sanitize_message(&t.reason),
                if strict {
                    ", counted as corruption (--strict)"
                } else {
                    ""
                },
                described(check)
            ),
        },
        Err(e) if e.is_damage() => {
            format!("{dir}: CORRUPT {}", sanitize_message(&e.to_string()))
        }
        Err(e) => format!("{dir}: ERROR {}", sanitize_message(&e.to_string())),
    }
}

/// How `plog verify` prints a plog-raft directory (its flags).
pub struct VerifyOutput {
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--strict`.
    pub strict: bool,
}

/// `plog verify` of one plog-raft directory: its status, whether it fails
/// the policy (`--strict` makes a torn append fail), and its output (empty
/// for a clean log under `--quiet`).
pub fn verify_dir(
    args: &VerifyOutput,
    dir: &Path,
) -> Result<(&'static str, bool, Vec<u8>), CliError> {
    let result = inspect::check_dir(dir);
    let status = status(&result);
    let rejected = status == "corrupt" || (status == "torn" && args.strict);
    let bytes = if args.quiet && status == "clean" {
        Vec::new()
    } else if args.json {
        out::json_line(&json_line(dir, &result, args.strict))?
    } else {
        let mut line = human_line(dir, &result, args.strict);
        line.push('\n');
        line.into_bytes()
    };
    Ok((status, rejected, bytes))
}

/// The text line of an entry: `term=T node=N index=I kind=K PAYLOAD`, the
/// node id and the payload as compact JSON, escaped as `plog dump` escapes
/// payloads; a blank entry has no payload.
fn entry_line(entry: &EntryView) -> String {
    let mut line = format!(
        "term={} node={} index={} kind={}",
        entry.term,
        escape_bytes(entry.node.to_string().as_bytes()),
        entry.index,
        entry.kind.as_str()
    );
    if !entry.payload.is_null() {
        line.push(' ');
        line.push_str(&escape_bytes(entry.payload.to_string().as_bytes()));
    }
    line
}

/// An entry's kind in the JSON.
fn entry_kind(kind: inspect::EntryKind) -> EntryKind {
    #[allow(unreachable_patterns)]
    match kind {
        inspect::EntryKind::Blank => EntryKind::Blank,
        inspect::EntryKind::Membership => EntryKind::Membership,
        _ => EntryKind::Normal,
    }
}

/// Runs `plog dump --raft DIR`: the log's entries in index order (the
/// purged ones still in a segment are not printed), within --from/--to, at
/// most --limit. Status 1 and nothing printed when the directory holds
/// damage, 2 when it cannot be read, 3 (after the entries) when the last
/// segment ends in a torn append.
pub fn dump(dir: &Path, from: u64, to: u64, limit: u64, json: bool) -> Result<u8, CliError> {
    let shown = path_text(dir);
    let check = inspect::check_dir(dir).map_err(|e| CliError::Path {
        path: dir.to_path_buf(),
        message: format!(
            "{}: {}",
            if e.is_damage() {
                "the plog-raft log is damaged"
            } else {
                "cannot read the plog-raft log"
            },
            e
        ),
        code: if e.is_damage() {
            exit::CORRUPT
        } else {
            exit::ERROR
        },
    })?;
    let torn = torn(&check).map(|(segment, t)| (segment.to_path_buf(), t.offset));
    let mut left = limit;
    let stdout = io::stdout();
    let mut w = io::BufWriter::new(stdout.lock());
    for entry in check.into_entries() {
        let entry = entry.map_err(|e| CliError::at(dir, e.to_string()))?;
        if entry.purged || entry.index < from {
            continue;
        }
        if entry.index > to || left == 0 {
            break;
        }
        let line = if json {
            out::json_line(&RaftEntry {
                index: entry.index,
                term: entry.term,
                node: &entry.node,
                kind: entry_kind(entry.kind),
                payload: &entry.payload,
                segment: SegmentPath::new(&entry.segment),
                offset: entry.offset,
            })?
        } else {
            let mut line = entry_line(&entry).into_bytes();
            line.push(b'\n');
            line
        };
        w.write_all(&line).map_err(out::write_error)?;
        left -= 1;
    }
    w.flush().map_err(out::write_error)?;
    Ok(match torn {
        Some((segment, offset)) => {
            eprintln!(
                "plog: {shown}: the log ends in a torn append ({} at offset {}; the next open \
                 of the store cuts it)",
                path_text(&segment),
                offset
            );
            exit::TORN
        }
        None => exit::OK,
    })
}
