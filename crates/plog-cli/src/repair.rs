//! `plog repair`: cut a torn tail under the writer's lock, drop a damaged
//! final record on request, or salvage every valid record into a new log.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::error::CliError;
use crate::model::{Cut, IndicesFrom, JsonPath, Lost, Repair, RepairAction, Status, Torn};
use crate::paths::open_log;
use crate::text::{count, path_text};
use crate::{exit, out, progress};
use plog_format::Summary;
use plog_mmap::{OpenOptions, RecoveryMode, VerifyOptions, VerifyReport};
use plog_writer::{
    LockedLog, RepairOptions, RepairPlan, SalvageOptions, WriteError, inspect, salvage_with,
};

/// Arguments of `plog repair`.
#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// Say what would be done, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Before cutting anything, save the bytes that will be cut to FILE
    /// (which must not exist).
    #[arg(long, value_name = "FILE")]
    pub backup: Option<PathBuf>,
    /// Also drop a final record whose hash does not match (when it is the
    /// only damage).
    #[arg(long)]
    pub drop_corrupt_tail: bool,
    /// Leave PATH as it is and write a NEW log OUT holding every valid record;
    /// report the byte and index ranges lost.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["backup", "drop_corrupt_tail"])]
    pub salvage: Option<PathBuf>,
    /// One JSON object on stdout: what was (or would be) cut, the byte and
    /// index ranges lost (the error object, {"path","error"}, when the
    /// repair could not be done).
    #[arg(long)]
    pub json: bool,
    /// The permission bits (octal) of the files this creates (--backup's
    /// file, --salvage's log; the salvaged log's missing parent directories
    /// get the same bits plus search where readable). Set exactly, whatever
    /// the umask. Default 600: only the owner reads them.
    #[arg(long, value_name = "OCTAL", default_value = "600", value_parser = crate::mode::parse)]
    pub mode: u32,
    /// The log file.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// Runs `plog repair`.
pub fn run(args: RepairArgs) -> Result<u8, CliError> {
    if args.path.as_os_str() == "-" {
        return Err(CliError::failed(
            "repair: expected a log file to repair, found `-` (standard input cannot be repaired \
             in place; save it to a file first)",
        ));
    }
    // Opened first, read-only, so that a missing or unreadable log reads
    // as in every other command (`cannot open: ...`), whatever the mode
    // (non-blocking: a FIFO named by mistake must not hang the open; the
    // writer refuses it after).
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&args.path)
        .map_err(|e| CliError::io("cannot open", &args.path, e))?;
    match &args.salvage {
        Some(out) => run_salvage(&args, out),
        None => run_repair(&args),
    }
}

/// The JSON name of a plan (plog-writer's `RepairPlan::kind`).
fn action_of(plan: &RepairPlan) -> RepairAction {
    match plan.kind() {
        "nothing" => RepairAction::Nothing,
        "truncate_torn_tail" => RepairAction::TruncateTornTail,
        "drop_torn_append" => RepairAction::DropTornAppend,
        "drop_corrupt_tail" => RepairAction::DropCorruptTail,
        _ => RepairAction::Refuse,
    }
}

fn run_repair(args: &RepairArgs) -> Result<u8, CliError> {
    let options = RepairOptions {
        drop_corrupt_tail: args.drop_corrupt_tail,
    };
    if args.dry_run {
        // No lock: a dry run must work beside a live writer, and changes nothing.
        let inspection = inspect(&args.path).map_err(CliError::from_write)?;
        let plan = RepairPlan::new(&inspection, options);
        return report_plan(args, &inspection, &plan);
    }
    let mut log = LockedLog::open(&args.path).map_err(CliError::from_write)?;
    let plan = log.plan(options);
    if plan.changes_file() {
        if let Some(backup) = &args.backup {
            let from = plan.new_len(log.summary()).unwrap_or(0);
            let to = log.summary().file_len;
            let source = log.read_handle().map_err(CliError::from_write)?;
            save_backup(&source, &args.path, from..to, backup, args.mode)?;
        }
        let inspection_before = *log.summary();
        log.repair(options).map_err(CliError::from_write)?;
        return report_plan(args, &inspection_before, &plan);
    }
    let inspection = *log.summary();
    report_plan(args, &inspection, &plan)
}

/// Prints what the plan is (or was) and returns the exit status.
fn report_plan(args: &RepairArgs, inspection: &Summary, plan: &RepairPlan) -> Result<u8, CliError> {
    let path = path_text(&args.path);
    let dry_run = args.dry_run;
    let new_len = plan.new_len(inspection);
    let backup = args.backup.as_deref().filter(|_| plan.changes_file());
    let cut = new_len
        .map(|len| inspection.file_len.saturating_sub(len))
        .filter(|&bytes| bytes > 0)
        .and_then(|bytes| new_len.map(|offset| Cut { offset, bytes }));
    let code = match plan {
        RepairPlan::Refuse { .. } => exit::CORRUPT,
        _ => exit::OK,
    };
    if args.json {
        out::print_json(&Repair {
            path: JsonPath::new(&args.path),
            status: Status::from(inspection.status()),
            action: action_of(plan),
            dry_run,
            changed: plan.changes_file() && !dry_run,
            message: plan.to_string(),
            records: inspection.records,
            file_len: inspection.file_len,
            new_file_len: new_len,
            cut,
            backup: backup.map(JsonPath::new),
            salvaged_to: None,
            lost: Vec::new(),
            lost_omitted: 0,
            torn: inspection.torn.map(Torn::from),
        })?;
        if code == exit::CORRUPT {
            eprintln!("plog: {path}: refusing to repair, changing nothing: {plan}");
        }
        return Ok(code);
    }
    match plan {
        RepairPlan::Nothing => out::print_text(&format!("{path}: {plan}\n"))?,
        RepairPlan::Refuse { .. } => {
            // The plan's message names the damage and the way out (--salvage,
            // or --drop-corrupt-tail when only the final record is damaged).
            eprintln!("plog: {path}: refusing to repair, changing nothing: {plan}");
        }
        _ => {
            let verb = if dry_run { "would repair" } else { "repaired" };
            let cut = cut.map_or(0, |c| c.bytes);
            let saved = match (backup, dry_run) {
                (Some(b), true) => format!("; would save the cut bytes to {}", path_text(b)),
                (Some(b), false) => {
                    format!("; the cut bytes were saved to {}", path_text(b))
                }
                (None, _) => String::new(),
            };
            out::print_text(&format!(
                "{path}: {verb}: {plan}; {} kept, {} cut, new length {}{saved}\n",
                count(inspection.records, "valid record"),
                count(cut, "byte"),
                new_len.unwrap_or(0)
            ))?;
        }
    }
    Ok(code)
}

/// Copies bytes `range` of the locked log `source` (at `path`) to a new file
/// `backup` of permission bits `mode`, and syncs it. Streamed (the kernel
/// copies between the files where it can): memory does not grow with the
/// bytes cut.
fn save_backup(
    source: &std::fs::File,
    path: &Path,
    range: std::ops::Range<u64>,
    backup: &Path,
    mode: u32,
) -> Result<(), CliError> {
    use std::io::{Read, Seek, SeekFrom};
    let bytes = range.end.saturating_sub(range.start);
    let mut reader = source;
    reader
        .seek(SeekFrom::Start(range.start))
        .map_err(|e| CliError::io("cannot read", path, e))?;
    let mut file = plog_writer::create_new_file(backup, mode, false)
        .map_err(|e| CliError::io("cannot create the backup", backup, e))?;
    let copied = std::io::copy(&mut reader.take(bytes), &mut file)
        .map_err(|e| CliError::io("cannot copy the cut bytes to the backup", backup, e))?;
    if copied != bytes {
        return Err(CliError::failed(format!(
            "{}: expected to save {bytes} cut bytes to {}, found only {copied} (the log \
             changed while it was read); nothing was cut",
            path_text(path),
            path_text(backup)
        )));
    }
    file.flush()
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::io("cannot write the backup", backup, e))
}

/// The lost ranges of a salvage report with the indices each one lost: from
/// the valid records around it when they skip indices, else from the index
/// fields of the damaged headers inside it (as `verify` names them).
pub fn lost_ranges(report: &VerifyReport) -> Vec<Lost> {
    let mut corruptions = report.findings.corruptions.iter().peekable();
    report
        .findings
        .lost
        .iter()
        .map(|lost| {
            let mut headers: Option<(u64, u64)> = None;
            // Both lists are in file order: the corruptions of this range
            // come next.
            while let Some(c) = corruptions.next_if(|c| c.offset() < lost.end) {
                if c.offset() >= lost.offset
                    && let Some(index) = c.index()
                {
                    headers = Some(
                        headers.map_or((index, index), |(lo, hi)| (lo.min(index), hi.max(index))),
                    );
                }
            }
            let (indices, from) = match (lost.lost_indices(), headers) {
                (Some(range), _) => (Some(range), Some(IndicesFrom::Neighbours)),
                (None, Some(range)) => (Some(range), Some(IndicesFrom::Headers)),
                (None, None) => (None, None),
            };
            Lost {
                offset: lost.offset,
                end: lost.end,
                bytes: lost.bytes(),
                corruption_count: lost.corruptions,
                first_index: indices.map(|(first, _)| first),
                last_index: indices.map(|(_, last)| last),
                indices_from: from,
            }
        })
        .collect()
}

fn run_salvage(args: &RepairArgs, out_path: &Path) -> Result<u8, CliError> {
    let path = &args.path;
    let shown = path_text(path);
    let mut text = String::new();
    let (report, records) = if args.dry_run {
        let report = salvage_dry_run(path)?;
        text.push_str(&format!(
            "{shown}: would salvage {} into {} (changing nothing now)\n",
            count(report.summary.records, "valid record"),
            path_text(out_path)
        ));
        let records = report.summary.records;
        (report, records)
    } else {
        let bar = progress::bytes_bar(std::fs::metadata(path).map_or(0, |meta| meta.len()));
        let reached = bar.clone();
        let options = SalvageOptions {
            progress: Some(std::sync::Arc::new(move |offset| {
                reached.set_position(offset)
            })),
            file_mode: args.mode,
            dir_mode: crate::mode::dir_mode_for(args.mode),
            ..SalvageOptions::default()
        };
        let salvaged = salvage_with(path, out_path, &options);
        bar.finish_and_clear();
        let salvaged = salvaged.map_err(|err| match err {
            WriteError::NothingToSalvage { corruption, .. } => CliError::Path {
                path: path.clone(),
                message: format!("nothing to salvage: {corruption}"),
                code: exit::CORRUPT,
            },
            other => CliError::from_write(other),
        })?;
        text.push_str(&format!(
            "{shown}: salvaged {} ({}) into {}; {} skipped, {} not copied\n",
            count(salvaged.records, "valid record"),
            count(salvaged.len, "byte"),
            path_text(out_path),
            count(salvaged.corruptions, "corruption"),
            count(salvaged.skipped_bytes, "byte"),
        ));
        (salvaged.verify, salvaged.records)
    };
    let lost = lost_ranges(&report);
    if args.json {
        out::print_json(&Repair {
            path: JsonPath::new(path),
            status: Status::from(report.summary.status()),
            action: RepairAction::Salvage,
            dry_run: args.dry_run,
            changed: !args.dry_run,
            message: text.trim_end().to_string(),
            records,
            file_len: report.summary.file_len,
            new_file_len: Some(report.summary.file_len),
            cut: None,
            backup: None,
            salvaged_to: Some(JsonPath::new(out_path)),
            lost,
            lost_omitted: report.findings.omitted.lost,
            torn: report.summary.torn.map(Torn::from),
        })?;
        return Ok(exit::OK);
    }
    for range in &lost {
        let indices = match (range.first_index, range.last_index, range.indices_from) {
            (Some(first), Some(last), from) => {
                let what = if first == last {
                    format!("index {first}")
                } else {
                    format!("indices {first}..{last}")
                };
                match from {
                    Some(IndicesFrom::Headers) => format!("{what} (from the damaged headers)"),
                    _ => what,
                }
            }
            _ => "indices unknown".to_string(),
        };
        text.push_str(&format!(
            "  lost: bytes {}..{} ({}, {}), {indices}\n",
            range.offset,
            range.end,
            count(range.bytes, "byte"),
            count(range.corruption_count, "corruption"),
        ));
    }
    if report.findings.omitted.lost > 0 {
        text.push_str(&format!(
            "  lost: {} more ranges not listed (the report lists the first {})\n",
            report.findings.omitted.lost,
            report.findings.lost.len()
        ));
    }
    if let Some(tail) = report.summary.torn {
        text.push_str(&format!(
            "  lost: torn tail, bytes {}..{} ({})\n",
            tail.offset,
            tail.offset.saturating_add(tail.bytes),
            count(tail.bytes, "byte")
        ));
    }
    out::print_text(&text)?;
    Ok(exit::OK)
}

/// What `--salvage --dry-run` reports: the verification a salvage would
/// make (mapped, its pages released behind the pass), changing nothing.
fn salvage_dry_run(path: &Path) -> Result<VerifyReport, CliError> {
    let open = OpenOptions {
        release_behind: true,
        ..OpenOptions::default()
    };
    let log = open_log(path, &open)?;
    let bar = progress::bytes_bar(log.len());
    let reached = bar.clone();
    let report = log.verify(&VerifyOptions {
        mode: RecoveryMode::Salvage,
        progress: Some(plog_mmap::Progress::new(move |offset| {
            reached.set_position(offset);
        })),
        ..VerifyOptions::default()
    });
    bar.finish_and_clear();
    let report = report.map_err(|e| CliError::at(path, crate::paths::read_error(&e)))?;
    if !report.passes() {
        let why = report
            .verdict()
            .problem()
            .map(|problem| problem.to_string())
            .unwrap_or_default();
        return Err(CliError::Path {
            path: path.to_path_buf(),
            message: format!("nothing to salvage: {why}"),
            code: exit::CORRUPT,
        });
    }
    Ok(report)
}
