//! `plog verify`: bulk verification, one line (or one JSON object) per file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use plog_format::IndexOrder;
use plog_mmap::{
    Log, MapPolicy, OpenOptions, Parallelism, RecoveryMode, VerifyOptions, VerifyReport,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::CliError;
use crate::paths::{Target, expand};
use crate::{ExpectOrder, exit, progress};

/// Arguments of `plog verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// One JSON object per file per line on stdout, and nothing else there.
    #[arg(long)]
    pub json: bool,
    /// Count a torn tail as corruption (exit status 1).
    #[arg(long)]
    pub strict: bool,
    /// Also check the order of indices; violations are reported as the
    /// corruption kinds `index_gap` and `index_order`.
    #[arg(long, value_enum, value_name = "ORDER")]
    pub expect: Option<ExpectOrder>,
    /// Worker threads for hashing (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Read files into memory instead of memory-mapping them.
    #[arg(long)]
    pub no_mmap: bool,
    /// Print only files that are not clean, and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Log files, or directories (every regular file below, in sorted order).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// The result for one file.
pub enum Outcome {
    /// The file was read and classified.
    Verified(Box<VerifyReport>),
    /// The file could not be read.
    Failed(String),
}

/// One corruption (or index violation) in the JSON output.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct JsonCorruption {
    /// Byte offset.
    pub offset: u64,
    /// The record's index where there is one.
    pub index: Option<u64>,
    /// `hash_mismatch`, `length`, `bad_magic`, `unsupported_version`,
    /// `index_gap` or `index_order`.
    pub kind: &'static str,
    /// Where scanning resumed after a damaged length.
    pub resync_offset: Option<u64>,
}

/// The torn tail in the JSON output.
#[derive(Debug, Serialize)]
pub struct JsonTorn {
    /// Where the torn bytes start.
    pub offset: u64,
    /// How many bytes are torn.
    pub bytes: u64,
}

/// One line of `plog verify --json`.
#[derive(Debug, Serialize)]
pub struct JsonFile {
    /// The path as given (or as found below a directory).
    pub path: String,
    /// `clean`, `torn`, `corrupt` or `error`.
    pub status: &'static str,
    /// Valid records.
    pub records: Option<u64>,
    /// Index of the first valid record.
    pub first_index: Option<u64>,
    /// Index of the last valid record.
    pub last_index: Option<u64>,
    /// File length.
    pub bytes: Option<u64>,
    /// The torn tail.
    pub torn: Option<JsonTorn>,
    /// Corruptions and index violations, in file order (the first million
    /// of each kind: plog-mmap's `DEFAULT_LIST_LIMIT`).
    pub corruptions: Vec<JsonCorruption>,
    /// How many more corruptions and index violations the file holds than
    /// `corruptions` lists (0 unless a hostile file passed the limit).
    pub corruptions_omitted: u64,
    /// Why the file could not be read.
    pub error: Option<String>,
}

/// Corruptions and index violations of a report, merged in file order.
pub fn findings(report: &VerifyReport) -> Vec<JsonCorruption> {
    let mut all: Vec<JsonCorruption> = report
        .corruptions
        .iter()
        .map(|c| JsonCorruption {
            offset: c.offset(),
            index: c.index(),
            kind: c.kind(),
            resync_offset: c.resync_offset(),
        })
        .chain(report.index_violations.iter().map(|v| JsonCorruption {
            offset: v.offset,
            index: Some(v.index),
            kind: v.kind_str(),
            resync_offset: None,
        }))
        .collect();
    // Stable: a corruption and a violation never share an offset (a
    // violation is a valid record), so file order is by offset.
    all.sort_by_key(|c| c.offset);
    all
}

/// `clean`, `torn`, `corrupt` or `error` for the JSON and the summary.
pub fn status_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Failed(_) => "error",
        Outcome::Verified(report) if !report.index_violations.is_empty() => "corrupt",
        Outcome::Verified(report) => report.status().as_str(),
    }
}

impl JsonFile {
    fn new(path: String, outcome: &Outcome) -> JsonFile {
        let status = status_of(outcome);
        match outcome {
            Outcome::Failed(error) => JsonFile {
                path,
                status,
                records: None,
                first_index: None,
                last_index: None,
                bytes: None,
                torn: None,
                corruptions: Vec::new(),
                corruptions_omitted: 0,
                error: Some(error.clone()),
            },
            Outcome::Verified(report) => JsonFile {
                path,
                status,
                records: Some(report.records),
                first_index: report.first_index,
                last_index: report.last_index,
                bytes: Some(report.file_len),
                torn: report.torn.map(|t| JsonTorn {
                    offset: t.offset,
                    bytes: t.bytes,
                }),
                corruptions: findings(report),
                corruptions_omitted: report
                    .omitted
                    .corruptions
                    .saturating_add(report.omitted.index_violations),
                error: None,
            },
        }
    }
}

fn index_range(report: &VerifyReport) -> String {
    match (report.first_index, report.last_index) {
        (Some(first), Some(last)) => format!(", index {first}..{last}"),
        _ => String::new(),
    }
}

/// The human line for one file (b3sum-like).
fn human_line(path: &str, outcome: &Outcome, strict: bool) -> String {
    let report = match outcome {
        Outcome::Failed(error) => return format!("{path}: ERROR {error}"),
        Outcome::Verified(report) => report,
    };
    let records = format!("{} valid records{}", report.records, index_range(report));
    match status_of(outcome) {
        "clean" => format!(
            "{path}: OK ({} records{}, {} bytes)",
            report.records,
            index_range(report),
            report.file_len
        ),
        "torn" => {
            let strict_note = if strict {
                ", counted as corruption (--strict)"
            } else {
                ""
            };
            // The status is "torn" exactly when the report has a torn tail.
            match report.torn {
                Some(tail) => format!(
                    "{path}: TORN at offset {} ({} bytes, {}){strict_note}; {records}",
                    tail.offset,
                    tail.bytes,
                    tail.reason.as_str(),
                ),
                None => format!("{path}: TORN{strict_note}; {records}"),
            }
        }
        _ => {
            let found = findings(report);
            let shown: Vec<String> = found
                .iter()
                .take(3)
                .map(|c| {
                    let mut s = format!("{} at offset {}", c.kind, c.offset);
                    if let Some(index) = c.index {
                        s.push_str(&format!(" (index {index})"));
                    }
                    if let Some(resync) = c.resync_offset {
                        s.push_str(&format!(" resync at {resync}"));
                    }
                    s
                })
                .collect();
            let total = report
                .corruption_count()
                .saturating_add(report.index_violation_count());
            let more = total.saturating_sub(shown.len() as u64);
            let more = if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            };
            let torn = report
                .torn
                .map(|t| format!("; torn tail at offset {}", t.offset))
                .unwrap_or_default();
            format!(
                "{path}: CORRUPT {}{more}{torn}; {records}",
                shown.join("; ")
            )
        }
    }
}

fn verify_file(path: &PathBuf, open: &OpenOptions, verify: &VerifyOptions) -> Outcome {
    match Log::open_with(path, open) {
        Ok(log) => match log.verify(verify) {
            Ok(report) => Outcome::Verified(Box::new(report)),
            Err(err) => Outcome::Failed(err.to_string()),
        },
        Err(err) => Outcome::Failed(err.to_string()),
    }
}

/// Runs `plog verify`.
pub fn run(args: VerifyArgs) -> Result<u8, CliError> {
    let threads = args.threads.map_or(0, usize::from);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("plog-verify-{i}"))
        .build()
        .map_err(|err| CliError::failed(format!("cannot start worker threads: {err}")))?;
    let pool = Arc::new(pool);
    let open = OpenOptions {
        map: if args.no_mmap {
            MapPolicy::Never
        } else {
            MapPolicy::Auto
        },
        ..OpenOptions::default()
    };
    let verify = VerifyOptions {
        index_order: args.expect.map_or(IndexOrder::Any, IndexOrder::from),
        mode: if args.strict {
            RecoveryMode::Strict
        } else {
            RecoveryMode::TolerateTorn
        },
        parallelism: Parallelism::Current,
        ..VerifyOptions::default()
    };
    let targets = expand(&args.paths);
    let total_bytes: u64 = targets
        .iter()
        .filter_map(|t| match t {
            Target::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Target::Unreadable(..) => None,
        })
        .sum();
    let bar = progress::bytes_bar(total_bytes, args.json);
    let window = pool.current_num_threads().max(1) * 2;
    let stdout = std::io::stdout();
    let mut counts = Counts::default();
    for chunk in targets.chunks(window) {
        let outcomes: Vec<(String, Outcome)> = pool.install(|| {
            chunk
                .par_iter()
                .map(|target| match target {
                    Target::File(path) => {
                        let outcome = verify_file(path, &open, &verify);
                        if let Outcome::Verified(report) = &outcome {
                            bar.inc(report.file_len);
                        }
                        (path.display().to_string(), outcome)
                    }
                    Target::Unreadable(path, err) => (
                        path.display().to_string(),
                        Outcome::Failed(format!("cannot read: {}", crate::error::describe_io(err))),
                    ),
                })
                .collect()
        });
        let mut out = stdout.lock();
        for (path, outcome) in &outcomes {
            let status = status_of(outcome);
            counts.add(status);
            let line = if args.json {
                serde_json::to_string(&JsonFile::new(path.clone(), outcome))
                    .map_err(|err| CliError::failed(format!("cannot encode JSON: {err}")))?
            } else if args.quiet && status == "clean" {
                continue;
            } else {
                human_line(path, outcome, args.strict)
            };
            match bar.suspend(|| writeln!(out, "{line}")) {
                // A closed pipe (`plog verify ... | head`) is the reader's choice.
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                    return Ok(counts.exit_code(args.strict));
                }
                Err(err) => {
                    return Err(CliError::failed(format!("cannot write to stdout: {err}")));
                }
                Ok(()) => {}
            }
        }
    }
    bar.finish_and_clear();
    if !args.json && !args.quiet {
        println!("{}", counts.summary());
    }
    Ok(counts.exit_code(args.strict))
}

/// Files by status, for the summary and the exit status.
#[derive(Default)]
struct Counts {
    clean: usize,
    torn: usize,
    corrupt: usize,
    error: usize,
}

impl Counts {
    fn add(&mut self, status: &str) {
        match status {
            "clean" => self.clean += 1,
            "torn" => self.torn += 1,
            "corrupt" => self.corrupt += 1,
            _ => self.error += 1,
        }
    }

    fn summary(&self) -> String {
        let total = self.clean + self.torn + self.corrupt + self.error;
        format!(
            "plog verify: {total} file{}: {} clean, {} torn, {} corrupt, {} unreadable",
            if total == 1 { "" } else { "s" },
            self.clean,
            self.torn,
            self.corrupt,
            self.error
        )
    }

    /// 1 corruption (or a torn tail under --strict), then 2 unreadable, then
    /// 3 torn, else 0.
    fn exit_code(&self, strict: bool) -> u8 {
        if self.corrupt > 0 || (strict && self.torn > 0) {
            exit::CORRUPT
        } else if self.error > 0 {
            exit::ERROR
        } else if self.torn > 0 {
            exit::TORN
        } else {
            exit::OK
        }
    }
}
