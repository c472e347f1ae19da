//! `plog repair`: cut a torn tail under the writer's lock, drop a damaged
//! final record on request, or salvage every valid record into a new log.

use std::io::Write;
use std::path::{Path, PathBuf};

use plog_mmap::{Log, MapPolicy, OpenOptions, RecoveryMode, VerifyOptions};
use plog_writer::{Inspection, LockedLog, RepairOptions, RepairPlan, WriteError, inspect, salvage};

use crate::error::CliError;
use crate::exit;

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
    /// The log file.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

fn writer_error(err: WriteError) -> CliError {
    let code = match err.kind() {
        "corrupt" => exit::CORRUPT,
        _ => exit::ERROR,
    };
    CliError::Failed {
        message: err.to_string(),
        code,
    }
}

/// Runs `plog repair`.
pub fn run(args: RepairArgs) -> Result<u8, CliError> {
    if let Some(out) = &args.salvage {
        return run_salvage(&args.path, out, args.dry_run);
    }
    let options = RepairOptions {
        drop_corrupt_tail: args.drop_corrupt_tail,
    };
    let shown = args.path.display().to_string();
    if args.dry_run {
        // No lock: a dry run must work beside a live writer, and changes nothing.
        let inspection = inspect(&args.path).map_err(writer_error)?;
        let plan = inspection.plan(options);
        return Ok(report_plan(
            &shown,
            &inspection,
            &plan,
            true,
            args.backup.as_deref(),
        ));
    }
    let mut log = LockedLog::open(&args.path).map_err(writer_error)?;
    let plan = log.plan(options);
    if plan.changes_file() {
        if let Some(backup) = &args.backup {
            let from = plan.new_len(log.inspection()).unwrap_or(0);
            save_backup(&args.path, from, backup)?;
        }
        let inspection_before = log.inspection().clone();
        log.repair(options).map_err(writer_error)?;
        return Ok(report_plan(
            &shown,
            &inspection_before,
            &plan,
            false,
            args.backup.as_deref(),
        ));
    }
    let inspection = log.inspection().clone();
    Ok(report_plan(&shown, &inspection, &plan, false, None))
}

/// Prints what the plan is (or was) and returns the exit status.
fn report_plan(
    path: &str,
    inspection: &Inspection,
    plan: &RepairPlan,
    dry_run: bool,
    backup: Option<&Path>,
) -> u8 {
    let new_len = plan.new_len(inspection);
    match plan {
        RepairPlan::Nothing => {
            println!("{path}: {plan}");
            exit::OK
        }
        RepairPlan::Refuse { .. } => {
            // The plan's message names the damage and the way out (--salvage,
            // or --drop-corrupt-tail when only the final record is damaged).
            eprintln!("plog: {path}: refusing to repair, changing nothing: {plan}");
            exit::CORRUPT
        }
        _ => {
            let verb = if dry_run { "would repair" } else { "repaired" };
            let cut = inspection.file_len.saturating_sub(new_len.unwrap_or(0));
            let saved = match (backup, dry_run) {
                (Some(b), true) => format!("; would save the cut bytes to {}", b.display()),
                (Some(b), false) => format!("; the cut bytes were saved to {}", b.display()),
                (None, _) => String::new(),
            };
            println!(
                "{path}: {verb}: {plan}; {} valid records kept, {cut} bytes cut, new length {}{saved}",
                inspection.records,
                new_len.unwrap_or(0)
            );
            exit::OK
        }
    }
}

/// Copies `path[from..]` to a new file `backup` and syncs it.
fn save_backup(path: &Path, from: u64, backup: &Path) -> Result<(), CliError> {
    let data = std::fs::read(path).map_err(|e| CliError::io("cannot read", path, e))?;
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(data.len());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(backup)
        .map_err(|e| CliError::io("cannot create the backup", backup, e))?;
    file.write_all(&data[start..])
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::io("cannot write the backup", backup, e))
}

fn run_salvage(path: &Path, out: &Path, dry_run: bool) -> Result<u8, CliError> {
    let log = Log::open_with(
        path,
        &OpenOptions {
            map: MapPolicy::Never,
            ..OpenOptions::default()
        },
    )
    .map_err(|e| CliError::failed(e.to_string()))?;
    let report = log
        .verify(&VerifyOptions {
            mode: RecoveryMode::Salvage,
            ..VerifyOptions::default()
        })
        .map_err(|e| CliError::failed(e.to_string()))?;
    let shown = path.display();
    if !report.passes() {
        let why = report
            .corruptions
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(CliError::Failed {
            message: format!("{shown}: nothing to salvage: {why}"),
            code: exit::CORRUPT,
        });
    }
    if dry_run {
        println!(
            "{shown}: would salvage {} valid records into {} (changing nothing now)",
            report.records,
            out.display()
        );
    } else {
        let salvaged = salvage(path, out).map_err(writer_error)?;
        println!(
            "{shown}: salvaged {} valid records ({} bytes) into {}; {} corruptions skipped, {} bytes not copied",
            salvaged.records,
            salvaged.len,
            out.display(),
            salvaged.corruptions,
            salvaged.skipped_bytes
        );
    }
    for lost in &report.lost {
        let indices = match lost.lost_indices() {
            Some((first, last)) if first == last => format!("index {first}"),
            Some((first, last)) => format!("indices {first}..{last}"),
            None => "indices unknown".to_string(),
        };
        println!(
            "  lost: bytes {}..{} ({} bytes, {} corruption(s)), {indices}",
            lost.offset,
            lost.end,
            lost.bytes(),
            lost.corruptions
        );
    }
    if report.omitted.lost > 0 {
        println!(
            "  lost: {} more ranges not listed (the report lists the first {})",
            report.omitted.lost,
            report.lost.len()
        );
    }
    if let Some(tail) = report.torn {
        println!(
            "  lost: torn tail, bytes {}..{} ({} bytes)",
            tail.offset,
            tail.offset + tail.bytes,
            tail.bytes
        );
    }
    Ok(exit::OK)
}
