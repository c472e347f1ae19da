//! `plog dump`: the records of a log in file order, optionally following a
//! writer like `tail -f`.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use plog_format::{Corruption, Event, Record, Step, TornReason};
use plog_mmap::{Log, Parallelism};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::CliError;
use crate::exit;

/// How often `--follow` looks for new records.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Arguments of `plog dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// Only records whose index is at least INDEX.
    #[arg(long, value_name = "INDEX")]
    pub from: Option<u64>,
    /// Only records whose index is at most INDEX.
    #[arg(long, value_name = "INDEX")]
    pub to: Option<u64>,
    /// One JSON object per record: {"index","offset","len","hash","payload"}
    /// (the payload embedded as JSON when it is JSON, else "payload_base64").
    #[arg(long)]
    pub json: bool,
    /// Do not check hashes: print every structurally complete record.
    #[arg(long)]
    pub no_verify: bool,
    /// Keep printing records as a writer appends them, until interrupted.
    #[arg(long, short)]
    pub follow: bool,
    /// The log file.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// One record of `plog dump --json`.
#[derive(Serialize)]
struct JsonRecord<'a> {
    index: u64,
    offset: u64,
    len: u64,
    hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_base64: Option<String>,
}

/// What a pass over the log found besides records.
#[derive(Default)]
struct Seen {
    corrupt: bool,
    torn: bool,
    /// The pass must stop (bad magic): nothing more can be read.
    fatal: bool,
}

struct Printer<W: Write> {
    out: W,
    json: bool,
    from: u64,
    to: u64,
}

impl<W: Write> Printer<W> {
    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        if !(self.from..=self.to).contains(&record.index()) {
            return Ok(());
        }
        let payload = record.payload();
        if self.json {
            let as_json = serde_json::from_slice::<&RawValue>(payload).ok();
            let line = JsonRecord {
                index: record.index(),
                offset: record.offset(),
                len: record.payload_len(),
                hash: record.stored_hash().to_string(),
                payload: as_json,
                payload_base64: match as_json {
                    Some(_) => None,
                    None => Some(base64::engine::general_purpose::STANDARD.encode(payload)),
                },
            };
            serde_json::to_writer(&mut self.out, &line)?;
            writeln!(self.out)
        } else {
            let text = match std::str::from_utf8(payload) {
                Ok(text) if !text.contains('\n') => text.to_string(),
                _ => format!(
                    "base64:{}",
                    base64::engine::general_purpose::STANDARD.encode(payload)
                ),
            };
            writeln!(
                self.out,
                "index={} offset={} len={} {text}",
                record.index(),
                record.offset(),
                record.payload_len()
            )
        }
    }
}

fn warn_corruption(path: &str, corruption: &Corruption, verified: bool) {
    let what = if verified { "skipped: " } else { "" };
    eprintln!("plog: {path}: {what}{corruption}");
}

/// One pass from `offset` (None: the start, magic included); returns where
/// the next pass starts (None again while the magic itself is incomplete).
fn pass<W: Write>(
    log: &Log,
    offset: Option<u64>,
    args: &DumpArgs,
    printer: &mut Printer<W>,
    seen: &mut Seen,
) -> Result<Option<u64>, CliError> {
    let shown = args.path.display().to_string();
    let mut io_result: io::Result<()> = Ok(());
    let mut end = offset.unwrap_or(plog_format::MAGIC_LEN as u64);
    let mut magic_torn = false;
    if args.no_verify {
        let mut walked_to = None;
        let flow = log
            .for_each_step(offset.unwrap_or(0), &Parallelism::Current, |step| {
                match step {
                    Step::Record(record) => {
                        walked_to = Some(record.end_offset());
                        if let Err(err) = printer.record(&record) {
                            io_result = Err(err);
                            return ControlFlow::Break(());
                        }
                    }
                    Step::Corrupt(corruption) => {
                        seen.corrupt = true;
                        seen.fatal |= corruption.index().is_none();
                        walked_to = corruption.resync_offset();
                        warn_corruption(&shown, &corruption, false);
                    }
                    Step::Torn(tail) => {
                        seen.torn = true;
                        magic_torn = tail.reason == TornReason::Magic;
                        end = tail.offset;
                    }
                }
                ControlFlow::Continue(())
            })
            .map_err(|e| CliError::failed(format!("{shown}: {e}")))?;
        let _stopped_early = flow;
        if !seen.torn
            && let Some(walked_to) = walked_to
        {
            end = walked_to;
        }
    } else {
        let mut visit = |event: Event<'_>| {
            match event {
                Event::Record(record) => {
                    end = record.end_offset();
                    if let Err(err) = printer.record(&record) {
                        io_result = Err(err);
                        return ControlFlow::Break(());
                    }
                }
                Event::Corrupt(corruption) => {
                    seen.corrupt = true;
                    seen.fatal |= corruption.index().is_none();
                    if let (_, Some(after)) = corruption.lost_range() {
                        end = after;
                    }
                    warn_corruption(&shown, &corruption, true);
                }
                Event::Torn(tail) => {
                    seen.torn = true;
                    magic_torn = tail.reason == TornReason::Magic;
                    end = tail.offset;
                }
            }
            ControlFlow::Continue(())
        };
        let _stopped_early = log
            .for_each_event(offset.unwrap_or(0), &Parallelism::Current, &mut visit)
            .map_err(|e| CliError::failed(format!("{shown}: {e}")))?;
    }
    match io_result {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Err(CliError::Failed {
            message: String::new(),
            code: exit::OK,
        }),
        Err(err) => Err(CliError::failed(format!("cannot write to stdout: {err}"))),
        Ok(()) => Ok((!magic_torn).then_some(end)),
    }
}

/// Runs `plog dump`.
pub fn run(args: DumpArgs) -> Result<u8, CliError> {
    let mut log = Log::open(&args.path).map_err(|e| CliError::failed(e.to_string()))?;
    let stdout = io::stdout();
    let mut printer = Printer {
        out: io::BufWriter::new(stdout.lock()),
        json: args.json,
        from: args.from.unwrap_or(0),
        to: args.to.unwrap_or(u64::MAX),
    };
    let mut seen = Seen::default();
    let result = pass(&log, None, &args, &mut printer, &mut seen);
    let mut next = match result {
        Ok(next) => next,
        Err(CliError::Failed { code: exit::OK, .. }) => return Ok(exit::OK),
        Err(err) => return Err(err),
    };
    if args.follow && !seen.fatal {
        loop {
            printer.out.flush().ok();
            std::thread::sleep(FOLLOW_POLL);
            let refresh = log.refresh().map_err(|e| CliError::failed(e.to_string()))?;
            if refresh.shrank() && next.is_some_and(|next| refresh.len < next) {
                return Err(CliError::failed(format!(
                    "{}: the log was truncated to {} bytes while following (was read up to {})",
                    args.path.display(),
                    refresh.len,
                    next.unwrap_or_default()
                )));
            }
            if next.is_some_and(|next| log.len() <= next) || !refresh.grew() && next.is_none() {
                continue;
            }
            let mut pass_seen = Seen::default();
            next = match pass(&log, next, &args, &mut printer, &mut pass_seen) {
                Ok(next) => next,
                Err(CliError::Failed { code: exit::OK, .. }) => return Ok(exit::OK),
                Err(err) => return Err(err),
            };
            seen.corrupt |= pass_seen.corrupt;
            if pass_seen.fatal {
                break;
            }
        }
    }
    match printer.out.flush() {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        Err(err) => return Err(CliError::failed(format!("cannot write to stdout: {err}"))),
        Ok(()) => {}
    }
    Ok(if seen.corrupt {
        exit::CORRUPT
    } else if seen.torn {
        eprintln!("plog: {}: the log ends in a torn tail", args.path.display());
        exit::TORN
    } else {
        exit::OK
    })
}
