//! `plog verify`: bulk verification, one line (or one JSON object) per file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::CliError;
use crate::model::{
    Corruption, CorruptionKind, ErrorObject, IndexViolation, JsonPath, SkipReason, Status, Torn,
    VerifyFile, VerifyLine, VerifySkipped,
};
use crate::paths::{DirFilter, ObjectArgs, Target, expand, is_url, open_log};
use crate::text::{count, escape_bytes, path_text, sanitize_message};
use crate::{exit, out, progress};
use clap::ValueEnum;
use plog_format::IndexOrder;
use plog_mmap::{
    MapPolicy, OpenOptions, Parallelism, Problem, Progress, RecoveryMode, Verdict, VerifyOptions,
    VerifyReport,
};
use rayon::prelude::*;

/// `--expect`: the index order a verification checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExpectOrder {
    /// Each index is the previous one plus one.
    Contiguous,
    /// Each index is greater than the previous one.
    Increasing,
}

impl From<ExpectOrder> for plog_format::IndexOrder {
    fn from(order: ExpectOrder) -> Self {
        match order {
            ExpectOrder::Contiguous => plog_format::IndexOrder::Contiguous,
            ExpectOrder::Increasing => plog_format::IndexOrder::Increasing,
        }
    }
}

/// Arguments of `plog verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// One JSON object per file per line on stdout, and nothing else there.
    #[arg(long)]
    pub json: bool,
    /// Count a torn tail as corruption (exit status 1).
    #[arg(long)]
    pub strict: bool,
    /// Also check the order of indices: a violation makes the file fail
    /// (status 1, CORRUPT in the text; with --json, in "index_violations",
    /// of kind `index_gap` or `index_order`, and the verdict "rejected").
    #[arg(long, value_enum, value_name = "ORDER")]
    pub expect: Option<ExpectOrder>,
    /// Worker threads for hashing (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Read files through a bounded window instead of memory-mapping them
    /// (memory does not grow with the file; never the whole file in
    /// memory).
    #[arg(long)]
    pub no_mmap: bool,
    /// Print only files that are not clean, and no summary (with --json
    /// too: clean files print no object).
    #[arg(long, short)]
    pub quiet: bool,
    /// Which files below a directory are verified.
    #[command(flatten)]
    pub filter: DirFilter,
    /// How object URLs are reached.
    #[command(flatten)]
    pub objects: ObjectArgs,
    /// Objects verified at once for object URLs (their lines still in the
    /// listing's order). Memory stays bounded whatever N: the ranges held
    /// of all objects together take at most 64 MiB per bucket.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// A manifest (JSON Lines) of the objects verified clean: objects it
    /// records clean at the same ETag and size (and --expect) are skipped
    /// (counted in the summary, no line), and each object found clean is
    /// appended to it as it ends, so a job killed part-way and run again
    /// verifies only what it had not. Object URLs only.
    #[arg(long, value_name = "MANIFEST")]
    pub resume: Option<PathBuf>,
    /// Log files, directories (the files below that match --glob, in sorted
    /// order), `-` for standard input, or (built with the `remote` feature)
    /// objects: `s3://BUCKET/KEY`, `gs://BUCKET/KEY`, `az://CONTAINER/KEY`
    /// (or `abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/KEY`),
    /// `http(s)://HOST/PATH`, or such a URL ending in `/` (`s3://BUCKET/PREFIX/`)
    /// for the objects below it that match --glob, read as ranged GETs
    /// (after the local files).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// The error of an object URL given to a build without object storage.
#[cfg_attr(feature = "remote", allow(dead_code))]
pub const NO_REMOTE: &str = "cannot open: this plog was built without object storage \
                             (cargo install plog-cli --features remote)";

/// The result for one file.
pub enum Outcome {
    /// The file was read and classified.
    Verified(Box<VerifyReport>),
    /// The file could not be read.
    Failed(String),
    /// An object not read again: the `--resume` manifest records it clean
    /// at the ETag and length it is listed with now.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    Resumed(Resumed),
}

/// What a `--resume` manifest records of an object verified clean.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub struct Resumed {
    /// Its valid records.
    pub records: u64,
    /// Its length.
    pub size: u64,
    /// Its ETag.
    pub etag: String,
}

/// One corruption or index violation, for the text line.
struct Finding {
    offset: u64,
    index: Option<u64>,
    kind: &'static str,
    resync_offset: Option<u64>,
}

/// Corruptions and index violations of a report, merged in file order.
fn findings(report: &VerifyReport) -> Vec<Finding> {
    let mut all: Vec<Finding> = report
        .findings
        .corruptions
        .iter()
        .map(|c| Finding {
            offset: c.offset(),
            index: c.index(),
            kind: CorruptionKind::of(c).as_str(),
            resync_offset: c.resync_offset(),
        })
        .chain(report.findings.index_violations.iter().map(|v| Finding {
            offset: v.offset,
            index: Some(v.index),
            kind: v.kind.as_str(),
            resync_offset: None,
        }))
        .collect();
    // Stable: a corruption and a violation never share an offset (a
    // violation is a valid record), so file order is by offset.
    all.sort_by_key(|c| c.offset);
    all
}

/// `clean`, `torn`, `corrupt` or `error` for the text line and the
/// summary: the library's verdict on the file ([`VerifyReport::verdict`]),
/// named. An index out of `--expect` order counts as `corrupt`; under
/// `--strict` a torn tail is still `torn` (FORMAT.md's word) but the file
/// does not pass. (The JSON gives the status and the verdict apart.)
fn class_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Failed(_) => "error",
        Outcome::Resumed(_) => "clean",
        Outcome::Verified(report) => match report.verdict() {
            Verdict::Clean | Verdict::Salvaged => "clean",
            Verdict::TornTolerated(_) | Verdict::Rejected(Problem::Torn(_)) => "torn",
            Verdict::Rejected(_) => "corrupt",
            // A verdict this build does not know: not a pass.
            _ => "corrupt",
        },
    }
}

/// Whether the file passes the policy it was verified under (`--strict`,
/// `--expect`); a file that could not be read does not.
fn passes(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Verified(report) => report.passes(),
        // It passed when it was recorded, under the same `--expect`.
        Outcome::Resumed(_) => true,
        Outcome::Failed(_) => false,
    }
}

/// The `plog verify --json` line of one file.
fn json_line(path: &Path, outcome: &Outcome) -> VerifyLine {
    let report = match outcome {
        Outcome::Failed(error) => return VerifyLine::Error(ErrorObject::new(path, error.clone())),
        Outcome::Resumed(resumed) => {
            return VerifyLine::Skipped(VerifySkipped {
                path: JsonPath::new(path),
                status: Status::Clean,
                skipped: SkipReason::Resumed,
                records: resumed.records,
                file_len: resumed.size,
                etag: resumed.etag.clone(),
            });
        }
        Outcome::Verified(report) => report,
    };
    let summary = &report.summary;
    let findings = &report.findings;
    VerifyLine::File(Box::new(VerifyFile {
        path: JsonPath::new(path),
        status: summary.status().into(),
        verdict: (&report.verdict()).into(),
        records: summary.records,
        first_index: summary.first_index,
        last_index: summary.last_index,
        min_index: summary.indices.min_index,
        max_index: summary.indices.max_index,
        file_len: summary.file_len,
        torn: summary.torn.map(Torn::from),
        corruption_count: summary.corruptions,
        corruptions: findings.corruptions.iter().map(Corruption::from).collect(),
        corruptions_omitted: findings.omitted.corruptions,
        index_violations: findings
            .index_violations
            .iter()
            .map(IndexViolation::from)
            .collect(),
        index_violations_omitted: findings.omitted.index_violations,
    }))
}

/// `, index MIN..MAX` (the smallest and largest index: the range the
/// records span, whatever their order), or nothing without records.
fn index_range(report: &VerifyReport) -> String {
    let indices = &report.summary.indices;
    match (indices.min_index, indices.max_index) {
        (Some(min), Some(max)) if min == max => format!(", index {min}"),
        (Some(min), Some(max)) => format!(", index {min}..{max}"),
        _ => String::new(),
    }
}

/// The human line for one file (b3sum-like).
fn human_line(path: &str, outcome: &Outcome, strict: bool) -> String {
    let report = match outcome {
        Outcome::Failed(error) => return format!("{path}: ERROR {error}"),
        Outcome::Resumed(resumed) => {
            return format!(
                "{path}: clean, {} (not read again: the --resume manifest records it clean at ETag {})",
                count(resumed.records, "valid record"),
                sanitize_message(&resumed.etag)
            );
        }
        Outcome::Verified(report) => report,
    };
    let summary = &report.summary;
    let records = format!(
        "{}{}",
        count(summary.records, "valid record"),
        index_range(report)
    );
    match class_of(outcome) {
        "clean" => format!(
            "{path}: OK ({}{}, {})",
            count(summary.records, "record"),
            index_range(report),
            count(summary.file_len, "byte")
        ),
        "torn" => {
            let strict_note = if strict {
                ", counted as corruption (--strict)"
            } else {
                ""
            };
            // The status is "torn" exactly when the report has a torn tail.
            match summary.torn {
                Some(tail) => format!(
                    "{path}: TORN at offset {} ({}, {}){strict_note}; {records}",
                    tail.offset,
                    count(tail.bytes, "byte"),
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
            let total = summary
                .corruptions
                .saturating_add(summary.indices.violations(report.policy.index_order));
            let more = total.saturating_sub(shown.len() as u64);
            let more = if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            };
            let torn = summary
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

fn verify_target(
    target: &Target,
    open: &OpenOptions,
    verify: &VerifyOptions,
    bar: &indicatif::ProgressBar,
) -> Outcome {
    let path = match target {
        Target::Unreadable(path, err) => {
            let err = std::io::Error::new(err.kind(), err.to_string());
            return Outcome::Failed(CliError::io("cannot open", path, err).message());
        }
        Target::Stdin | Target::File(_) => target.path(),
    };
    match open_log(path, open) {
        Ok(log) => {
            let bar = bar.clone();
            let shown = std::sync::atomic::AtomicU64::new(0);
            let options = VerifyOptions {
                progress: Some(Progress::new(move |at| {
                    let before = shown.fetch_max(at, std::sync::atomic::Ordering::Relaxed);
                    bar.inc(at.saturating_sub(before));
                })),
                ..verify.clone()
            };
            match log.verify(&options) {
                Ok(report) => Outcome::Verified(Box::new(report)),
                Err(err) => Outcome::Failed(crate::paths::read_error(&err)),
            }
        }
        Err(err) => Outcome::Failed(err.message()),
    }
}

/// The bytes of one file's output: a JSON line, a text line, or nothing
/// (a clean file under `--quiet`).
fn render(args: &VerifyArgs, path: &Path, outcome: &Outcome) -> Result<Vec<u8>, CliError> {
    if args.quiet && class_of(outcome) == "clean" {
        return Ok(Vec::new());
    }
    if args.json {
        out::json_line(&json_line(path, outcome))
    } else {
        let mut line = human_line(&path_text(path), outcome, args.strict);
        line.push('\n');
        Ok(line.into_bytes())
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
            MapPolicy::Windowed
        } else {
            MapPolicy::Auto
        },
        // One pass per file: the mapping's pages go as they are verified.
        release_behind: true,
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
    let (urls, locals): (Vec<PathBuf>, Vec<PathBuf>) =
        args.paths.iter().cloned().partition(|p| is_url(p));
    let raft_dirs = crate::raft::find_dirs(&locals);
    let mut targets = expand(&locals, &args.filter);
    // A plog-raft directory is one log: its files are not verified one by
    // one (unless named on the command line).
    targets.retain(|t| {
        args.paths.iter().any(|p| p == t.path())
            || !raft_dirs.iter().any(|d| t.path().starts_with(d))
    });
    if targets.is_empty() && raft_dirs.is_empty() && urls.is_empty() {
        let glob = if args.filter.all {
            "any file".to_string()
        } else {
            format!(
                "--glob {}",
                escape_bytes(args.filter.glob.glob().as_bytes())
            )
        };
        return Err(CliError::failed(format!(
            "verify: no file to verify: no file below the given directories matches {glob} \
             (--all takes every file)"
        )));
    }
    let total_bytes: u64 = targets
        .iter()
        .filter_map(|t| match t {
            Target::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Target::Stdin | Target::Unreadable(..) => None,
        })
        .sum();
    let bar = progress::bytes_bar(total_bytes);
    let window = pool.current_num_threads().max(1) * 2;
    let stdout = std::io::stdout();
    let mut counts = Counts::default();
    for dir in &raft_dirs {
        let output = crate::raft::VerifyOutput {
            json: args.json,
            quiet: args.quiet,
            strict: args.strict,
        };
        let (status, rejected, bytes) = crate::raft::verify_dir(&output, dir)?;
        counts.add_status(status, rejected);
        match bar.suspend(|| out::emit(&mut stdout.lock(), &bytes)) {
            Err(CliError::Closed) => return Ok(counts.exit_code()),
            Err(err) => return Err(err),
            Ok(()) => {}
        }
    }
    for chunk in targets.chunks(window) {
        let outcomes: Vec<Outcome> = pool.install(|| {
            chunk
                .par_iter()
                .map(|target| verify_target(target, &open, &verify, &bar))
                .collect()
        });
        let mut out = stdout.lock();
        for (target, outcome) in chunk.iter().zip(&outcomes) {
            counts.add(outcome);
            let bytes = render(&args, target.path(), outcome)?;
            if bytes.is_empty() {
                continue;
            }
            match bar.suspend(|| out::emit(&mut out, &bytes)) {
                // A closed pipe (`plog verify ... | head`) is the reader's choice.
                Err(CliError::Closed) => return Ok(counts.exit_code()),
                Err(err) => return Err(err),
                Ok(()) => {}
            }
        }
    }
    bar.finish_and_clear();
    if !urls.is_empty() {
        let urls: Vec<String> = urls
            .iter()
            .map(|u| u.to_string_lossy().into_owned())
            .collect();
        let mut closed = false;
        let mut emit = |path: &Path, outcome: &Outcome, bar: &indicatif::ProgressBar| {
            counts.add(outcome);
            let bytes = render(&args, path, outcome)?;
            match bar.suspend(|| out::emit(&mut stdout.lock(), &bytes)) {
                Err(CliError::Closed) => {
                    closed = true;
                    Ok(false)
                }
                Err(err) => Err(err),
                Ok(()) => Ok(true),
            }
        };
        verify_urls(&args, &urls, &verify, &mut emit)?;
        if closed {
            return Ok(counts.exit_code());
        }
    }
    if !args.json && !args.quiet {
        match out::print_text(&format!("{}\n", counts.summary())) {
            Ok(()) | Err(CliError::Closed) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(counts.exit_code())
}

/// What is done with each object's outcome, in order: `Ok(false)` stops
/// (standard output was closed).
pub type Emit<'e> =
    dyn FnMut(&Path, &Outcome, &indicatif::ProgressBar) -> Result<bool, CliError> + 'e;

/// Verifies the objects `urls` name (`--jobs` at a time), handing each
/// outcome to `emit` in the listing's order (an object `--resume` does not
/// read again is an [`Outcome::Resumed`]).
#[cfg(feature = "remote")]
fn verify_urls(
    args: &VerifyArgs,
    urls: &[String],
    verify: &VerifyOptions,
    emit: &mut Emit<'_>,
) -> Result<(), CliError> {
    let run = crate::remote::RemoteRun {
        objects: &args.objects,
        jobs: usize::from(args.jobs),
        resume: args.resume.as_deref(),
        expect: args.expect.map(|order| match order {
            ExpectOrder::Contiguous => "contiguous",
            ExpectOrder::Increasing => "increasing",
        }),
    };
    crate::remote::verify_urls(urls, &args.filter, &run, verify, emit)
}

/// Without the `remote` feature, an object URL is an error that says so.
#[cfg(not(feature = "remote"))]
fn verify_urls(
    _args: &VerifyArgs,
    urls: &[String],
    _verify: &VerifyOptions,
    emit: &mut Emit<'_>,
) -> Result<(), CliError> {
    let bar = indicatif::ProgressBar::hidden();
    for url in urls {
        let outcome = Outcome::Failed(NO_REMOTE.to_string());
        if !emit(Path::new(url), &outcome, &bar)? {
            break;
        }
    }
    Ok(())
}

/// Files by status, for the summary and the exit status.
#[derive(Default)]
struct Counts {
    clean: usize,
    torn: usize,
    corrupt: usize,
    error: usize,
    /// Files read that do not pass their policy (any corruption, an index
    /// out of `--expect` order, a torn tail under `--strict`).
    rejected: usize,
    /// Objects `--resume` did not read again (recorded clean): not in the
    /// counts above.
    skipped: usize,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome) {
        if let Outcome::Resumed(_) = outcome {
            self.skipped += 1;
            return;
        }
        let rejected = matches!(outcome, Outcome::Verified(_)) && !passes(outcome);
        self.add_status(class_of(outcome), rejected);
    }

    /// Counts one log of status `status` that does (`rejected`) or does
    /// not fail its policy.
    fn add_status(&mut self, status: &str, rejected: bool) {
        match status {
            "clean" => self.clean += 1,
            "torn" => self.torn += 1,
            "corrupt" => self.corrupt += 1,
            _ => self.error += 1,
        }
        if rejected {
            self.rejected += 1;
        }
    }

    fn summary(&self) -> String {
        let total = self.clean + self.torn + self.corrupt + self.error;
        let skipped = if self.skipped > 0 {
            format!(
                "; {} skipped (recorded clean in the --resume manifest)",
                self.skipped
            )
        } else {
            String::new()
        };
        format!(
            "plog verify: {total} file{}: {} clean, {} torn, {} corrupt, {} unreadable{skipped}",
            if total == 1 { "" } else { "s" },
            self.clean,
            self.torn,
            self.corrupt,
            self.error
        )
    }

    /// 1 when a file does not pass (corruption, `--expect`, a torn tail
    /// under `--strict`), then 2 unreadable, then 3 torn, else 0.
    fn exit_code(&self) -> u8 {
        if self.rejected > 0 {
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
