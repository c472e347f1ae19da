//! `plog append`: JSON Lines from stdin, one durable record per line.

use std::io::BufRead;
use std::path::PathBuf;

use plog_format::Corruption;
use plog_writer::{SyncPolicy, WriteError, Writer, WriterOptions};
use serde::de::IgnoredAny;

use crate::error::CliError;
use crate::model::{Append, JsonPath};
use crate::text::{count, path_text, sanitize_message};
use crate::{exit, out};

/// Arguments of `plog append`.
#[derive(Debug, clap::Args)]
pub struct AppendArgs {
    /// Index of the first appended record (default: the log's last index
    /// plus one, or 1 for an empty log); each next line gets the next index.
    #[arg(long, value_name = "N")]
    pub index: Option<u64>,
    /// Make appends durable every N records (default 1: each record is
    /// durable before the next line is read). Whatever happens, everything
    /// appended is durable before the command exits.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_every: u64,
    /// One JSON object on stdout at the end: records appended, their first
    /// and last index, the log's length (and "error" when a line stopped
    /// the command; the error object, {"path","error"}, when the log could
    /// not be opened).
    #[arg(long)]
    pub json: bool,
    /// The permission bits (octal) of the log when this creates it; its
    /// missing parent directories get the same bits plus search where
    /// readable. Set exactly, whatever the umask. Default 600 (directories
    /// 700): only the owner reads the log. An existing log keeps its mode;
    /// when others can read it or list its directory, a warning says so.
    #[arg(long, value_name = "OCTAL", default_value = "600", value_parser = crate::mode::parse)]
    pub mode: u32,
    /// The log file (created, with its parent directories, if missing).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// A writer's error for `append`: [`CliError::from_write`], with the one
/// repair that fits a corrupt log named.
fn writer_error(err: WriteError) -> CliError {
    let hint = match &err {
        // The writer's own hint lists every repair; say which one fits.
        WriteError::Corrupt {
            corruption,
            corruptions,
            ..
        } => {
            let hint = match **corruption {
                Corruption::BadMagic { .. } => {
                    "the file does not start with the plog v1 magic: it is not a plog log \
                     (check the path); plog will not append to it"
                }
                Corruption::UnsupportedVersion { .. } => {
                    "the log is of another format version; this plog writes v1 only"
                }
                _ => {
                    "run `plog repair --dry-run` on it: it says whether the damage can be \
                     cut (`--drop-corrupt-tail`) or only salvaged (`--salvage OUT`)"
                }
            };
            Some(format!(
                "corrupt log, refusing to append and changing nothing: {corruption} ({} in all); {hint}",
                count(*corruptions, "corruption"),
            ))
        }
        _ => None,
    };
    match (CliError::from_write(err), hint) {
        (CliError::Path { path, code, .. }, Some(message)) => CliError::Path {
            path,
            message,
            code,
        },
        (other, _) => other,
    }
}

/// Runs `plog append` over standard input.
pub fn run(args: AppendArgs) -> Result<u8, CliError> {
    if args.path.as_os_str() == "-" {
        return Err(CliError::failed(
            "append: expected the log file to append to, found `-` (the records are read \
             from standard input; the log must be a file)",
        ));
    }
    let json = args.json;
    let path = args.path.clone();
    let mut summary = Append {
        path: JsonPath::new(&path),
        records: 0,
        first_index: None,
        last_index: None,
        file_len: 0,
        repaired_on_open: None,
        dropped_on_open: None,
        error: None,
    };
    let (result, opened) = append_from(args, std::io::stdin().lock(), &mut summary);
    // A log that could not be opened: the error object (printed by main).
    if !json || !opened {
        return result;
    }
    if let Err(err) = &result {
        summary.error = Some(err.message());
    }
    out::print_json(&summary)?;
    match result {
        Err(err) => {
            eprintln!("plog: {}", sanitize_message(&err.to_string()));
            Err(CliError::Reported {
                code: err.exit_code(),
            })
        }
        ok => ok,
    }
}

/// Runs `plog append` over `input`, filling in `summary`; whether the log
/// was opened (else nothing was appended and `summary` holds nothing).
pub fn append_from(
    args: AppendArgs,
    input: impl BufRead,
    summary: &mut Append,
) -> (Result<u8, CliError>, bool) {
    let options = WriterOptions {
        sync: if args.sync_every == 1 {
            SyncPolicy::EveryAppend
        } else {
            SyncPolicy::Manual
        },
        file_mode: args.mode,
        dir_mode: crate::mode::dir_mode_for(args.mode),
        ..WriterOptions::default()
    };
    match Writer::open(&args.path, options) {
        Ok(opened) => (append_lines(&args, opened, input, summary), true),
        Err(err) => (Err(writer_error(err)), false),
    }
}

/// Appends the lines of `input` to the opened log.
fn append_lines(
    args: &AppendArgs,
    (mut writer, opened): (Writer, plog_writer::OpenReport),
    mut input: impl BufRead,
    summary: &mut Append,
) -> Result<u8, CliError> {
    let shown = path_text(&args.path);
    if let Some(exposure) = opened.exposure {
        eprintln!("plog: {shown}: warning: {exposure}");
    }
    if let Some(tail) = opened.repaired {
        summary.repaired_on_open = Some(tail.into());
        eprintln!("plog: {shown}: repaired on open: {tail}");
    }
    if let Some(corruption) = &opened.dropped_torn_append {
        summary.dropped_on_open = Some(corruption.into());
        eprintln!(
            "plog: {shown}: repaired on open: dropped the final record, a write over \
             preallocated zeros a crash cut (never acknowledged): {corruption}"
        );
    }
    let mut next_index = match args.index {
        Some(index) => index,
        None => opened
            .last_index
            .map_or(Some(1), |last| last.checked_add(1))
            .ok_or_else(|| CliError::at(&args.path, "the last index is u64::MAX; pass --index"))?,
    };
    let first_index = next_index;
    // Set once u64::MAX is used: a further line has no index left.
    let mut exhausted = false;
    let mut appended = 0u64;
    let mut line = Vec::new();
    let mut line_number = 0u64;
    let mut failure: Option<CliError> = None;
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::failed(format!("cannot read standard input: {e}")));
        match read {
            Err(err) => {
                failure = Some(err);
                break;
            }
            Ok(0) => break,
            Ok(_) => {}
        }
        line_number += 1;
        let payload = trim_line_end(&line);
        if exhausted {
            failure = Some(CliError::failed(format!(
                "line {line_number}: no index left for it: the previous line got index {} \
                 (u64::MAX), nothing was appended for this line or any after it",
                u64::MAX
            )));
            break;
        }
        if payload.iter().all(u8::is_ascii_whitespace) {
            failure = Some(CliError::failed(format!(
                "line {line_number}: expected one JSON value per line, found an empty line"
            )));
            break;
        }
        if let Err(err) = serde_json::from_slice::<IgnoredAny>(payload) {
            failure = Some(CliError::failed(format!(
                "line {line_number}: not JSON: {err}"
            )));
            break;
        }
        if let Err(err) = writer.append_raw(next_index, payload) {
            failure = Some(CliError::failed(format!(
                "line {line_number}: {}",
                writer_error(err)
            )));
            break;
        }
        appended += 1;
        if appended.is_multiple_of(args.sync_every)
            && let Err(err) = writer.sync()
        {
            failure = Some(writer_error(err));
            break;
        }
        match next_index.checked_add(1) {
            Some(index) => next_index = index,
            None => exhausted = true,
        }
    }
    // Whatever stopped us, everything appended so far is made durable.
    let durable = writer.close().map_err(writer_error)?;
    let last_index = appended
        .checked_sub(1)
        .and_then(|n| first_index.checked_add(n));
    summary.records = appended;
    summary.first_index = last_index.map(|_| first_index);
    summary.last_index = last_index;
    summary.file_len = durable.len;
    let range = match last_index {
        None => "no records".to_string(),
        Some(last) if last == first_index => format!("1 record (index {first_index})"),
        Some(last) => format!("{appended} records (indices {first_index}..{last})"),
    };
    match failure {
        Some(err) => Err(CliError::Path {
            path: args.path.clone(),
            message: format!(
                "{}; {range} appended before it, durable (log length {})",
                err.message(),
                durable.len
            ),
            code: err.exit_code(),
        }),
        None => {
            if !args.json {
                eprintln!(
                    "plog: {shown}: appended {range}, durable (log length {})",
                    durable.len
                );
            }
            Ok(exit::OK)
        }
    }
}

/// The line without its `\n` (or `\r\n`).
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
