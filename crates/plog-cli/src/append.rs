//! `plog append`: JSON Lines from stdin, one durable record per line.

use std::io::BufRead;
use std::path::PathBuf;

use plog_writer::{SyncPolicy, WriteError, Writer, WriterOptions};
use serde::de::IgnoredAny;

use crate::error::CliError;
use crate::exit;

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
    /// The log file (created, with its parent directories, if missing).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

fn writer_error(err: WriteError) -> CliError {
    CliError::Failed {
        code: if err.kind() == "corrupt" {
            exit::CORRUPT
        } else {
            exit::ERROR
        },
        message: err.to_string(),
    }
}

/// Runs `plog append` over standard input.
pub fn run(args: AppendArgs) -> Result<u8, CliError> {
    append_from(args, std::io::stdin().lock())
}

/// Runs `plog append` over `input`.
pub fn append_from(args: AppendArgs, mut input: impl BufRead) -> Result<u8, CliError> {
    let options = WriterOptions {
        sync: if args.sync_every == 1 {
            SyncPolicy::EveryAppend
        } else {
            SyncPolicy::Manual
        },
        ..WriterOptions::default()
    };
    let (mut writer, opened) = Writer::open(&args.path, options).map_err(writer_error)?;
    let shown = args.path.display().to_string();
    if let Some(tail) = opened.repaired {
        eprintln!("plog: {shown}: repaired on open: {tail}");
    }
    let mut next_index = match args.index {
        Some(index) => index,
        None => opened
            .last_index
            .map_or(Some(1), |last| last.checked_add(1))
            .ok_or_else(|| {
                CliError::failed(format!("{shown}: the last index is u64::MAX; pass --index"))
            })?,
    };
    let first_index = next_index;
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
            None => break,
        }
    }
    // Whatever stopped us, everything appended so far is made durable.
    let durable = writer.close().map_err(writer_error)?;
    let range = match appended {
        0 => "no records".to_string(),
        1 => format!("1 record (index {first_index})"),
        n => format!(
            "{n} records (indices {first_index}..{})",
            first_index + n - 1
        ),
    };
    match failure {
        Some(err) => Err(CliError::Failed {
            message: format!(
                "{shown}: {err}; {range} appended before it, durable (log length {})",
                durable.len
            ),
            code: err.exit_code(),
        }),
        None => {
            eprintln!(
                "plog: {shown}: appended {range}, durable (log length {})",
                durable.len
            );
            Ok(exit::OK)
        }
    }
}

/// The line without its `\n` (or `\r\n`).
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
