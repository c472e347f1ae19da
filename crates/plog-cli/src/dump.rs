//! `plog dump`: the records of a log in file order, optionally following a
//! writer like `tail -f`.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use plog_format::{Corruption, Event, Record, Step, TornReason};
use plog_mmap::{Log, Parallelism};
use serde_json::value::RawValue;

use crate::error::CliError;
use crate::model::DumpRecord;
use crate::paths::{open_error, read_error};
use crate::text::{escape_bytes, minify_json, path_text};
use crate::{exit, out};

/// How often `--follow` looks for new records.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Arguments of `plog dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// Only records whose index is at least INDEX. The records outside
    /// --from/--to are walked over (headers only): not hashed, decoded or
    /// printed, so a hash mismatch in them is not reported.
    #[arg(long, value_name = "INDEX")]
    pub from: Option<u64>,
    /// Only records whose index is at most INDEX. The whole file is still
    /// walked: a log's indices need not be in order (engenho-store's
    /// writer accepts any index, and a log rewritten after a truncation of
    /// the raft log repeats indices), so a record past --to may be followed
    /// by one in range. Use --limit to stop early.
    #[arg(long, value_name = "INDEX")]
    pub to: Option<u64>,
    /// One JSON object per record per line:
    /// {"index","offset","payload_len","hash","valid","payload"} (the
    /// payload embedded as JSON, on one line, when it is JSON, else
    /// "payload_base64"; the error object, {"path","error"}, when the log
    /// cannot be read).
    #[arg(long)]
    pub json: bool,
    /// Print records whose hash fails too, marked `valid=false` (text) or
    /// `"valid": false` (JSON), instead of skipping them. The exit status is
    /// 1 all the same when any record failed its hash.
    #[arg(long)]
    pub no_verify: bool,
    /// Print each record's header (index, offset, length, hash) without
    /// its payload.
    #[arg(long)]
    pub headers: bool,
    /// Stop after printing N records.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Keep printing records as a writer appends them, until interrupted,
    /// until --limit records are printed, or until the reader of the output
    /// goes away (`| head -1` ends it at once, with status 0, even while
    /// the log is idle).
    #[arg(long, short)]
    pub follow: bool,
    /// PATH is a plog-raft directory: print each entry of its Raft log in
    /// index order with its log id and kind (`term=T node=N index=I
    /// kind=blank|normal|membership PAYLOAD`, like etcd-dump-logs; with
    /// --json {"index","term","node","kind","payload","segment","offset"}).
    /// Entries at or below the purged index are not printed.
    #[arg(long, conflicts_with_all = ["follow", "no_verify", "headers"])]
    pub raft: bool,
    /// The log file, `-` for standard input, (built with the `remote`
    /// feature) an object, `s3://BUCKET/KEY` (or `gs://`, `az://`,
    /// `http(s)://`), read as ranged GETs, or
    /// (with --raft) a plog-raft directory.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// How an object URL is reached.
    #[command(flatten)]
    pub objects: crate::paths::ObjectArgs,
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
    headers: bool,
    from: u64,
    to: u64,
    /// Records still to print (`--limit`).
    left: u64,
}

/// A payload as one line of JSON when it is JSON (pretty-printed JSON is
/// put on one line), else `None`.
fn payload_json(payload: &[u8]) -> Option<Box<RawValue>> {
    let raw = serde_json::from_slice::<&RawValue>(payload).ok()?;
    let text = raw.get();
    if text.contains(['\n', '\r']) {
        RawValue::from_string(minify_json(text)).ok()
    } else {
        Some(raw.to_owned())
    }
}

impl<W: Write> Printer<W> {
    /// Whether a record of index `index` is printed (is within --from/--to).
    fn in_range(&self, index: u64) -> bool {
        (self.from..=self.to).contains(&index)
    }

    /// Whether every index is printed (no --from, no --to).
    fn whole_range(&self) -> bool {
        self.from == 0 && self.to == u64::MAX
    }

    /// Prints `record` if it is in range; breaks when --limit is reached
    /// (after printing) or the output fails.
    fn record(&mut self, record: &Record<'_>, valid: bool) -> io::Result<ControlFlow<()>> {
        if self.left == 0 {
            return Ok(ControlFlow::Break(()));
        }
        if !self.in_range(record.index()) {
            return Ok(ControlFlow::Continue(()));
        }
        let payload = record.payload();
        let mut line = if self.json {
            let (payload, payload_base64) = match (self.headers, payload_json(payload)) {
                (true, _) => (None, None),
                (false, Some(json)) => (Some(json), None),
                (false, None) => (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(payload)),
                ),
            };
            let line = DumpRecord {
                index: record.index(),
                offset: record.offset(),
                payload_len: record.payload_len(),
                hash: record.stored_hash().to_string(),
                valid,
                payload,
                payload_base64,
            };
            serde_json::to_string(&line).map_err(io::Error::other)?
        } else {
            let mut line = format!(
                "index={} offset={} len={}",
                record.index(),
                record.offset(),
                record.payload_len()
            );
            if self.headers {
                line.push_str(&format!(" hash={}", record.stored_hash()));
            }
            if !valid {
                line.push_str(" valid=false");
            }
            if !self.headers {
                line.push(' ');
                line.push_str(&escape_bytes(payload));
            }
            line
        };
        line.push('\n');
        self.out.write_all(line.as_bytes())?;
        self.left -= 1;
        Ok(if self.left == 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    }
}

fn warn_corruption(path: &str, corruption: &Corruption, verified: bool) {
    let what = if verified { "skipped: " } else { "" };
    eprintln!("plog: {path}: {what}{corruption}");
}

/// How a pass ended.
enum PassEnd {
    /// The pass read to the end of the file; the next one starts here
    /// (None while the magic itself is incomplete).
    Next(Option<u64>),
    /// `--limit` records were printed: the command is done.
    LimitReached,
}

/// One pass from `offset` (None: the start, magic included).
fn pass<W: Write>(
    log: &Log,
    offset: Option<u64>,
    args: &DumpArgs,
    printer: &mut Printer<W>,
    seen: &mut Seen,
) -> Result<PassEnd, CliError> {
    let shown = path_text(&args.path);
    let mut io_result: io::Result<()> = Ok(());
    let mut limit_reached = false;
    let mut end = offset.unwrap_or(plog_format::MAGIC_LEN as u64);
    let mut magic_torn = false;
    let whole_range = printer.whole_range();
    let (range_from, range_to) = (printer.from, printer.to);
    let mut print = |record: &Record<'_>, valid: bool| match printer.record(record, valid) {
        Ok(ControlFlow::Continue(())) => ControlFlow::Continue(()),
        Ok(ControlFlow::Break(())) => {
            limit_reached = true;
            ControlFlow::Break(())
        }
        Err(err) => {
            io_result = Err(err);
            ControlFlow::Break(())
        }
    };
    let from = offset.unwrap_or(0);
    let read_failed = |e: plog_mmap::ReadError| CliError::at(&args.path, read_error(&e));
    if args.no_verify || !whole_range {
        // The structural walk, records unhashed: only the records printed
        // (those in range) are hashed, here; the others cost their headers.
        let no_verify = args.no_verify;
        let mut walked_to = None;
        let _stopped_early = log
            .for_each_step(from, &Parallelism::Current, |step| {
                match step {
                    Step::Record(record) => {
                        walked_to = Some(record.end_offset());
                        if !whole_range && !(range_from..=range_to).contains(&record.index()) {
                            return ControlFlow::Continue(());
                        }
                        match record.verify() {
                            Ok(()) => return print(&record, true),
                            Err(corruption) => {
                                // Status 1 whether it is printed or skipped.
                                seen.corrupt = true;
                                if no_verify {
                                    // Printed, marked invalid.
                                    return print(&record, false);
                                }
                                warn_corruption(&shown, &corruption, true);
                            }
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
            .map_err(read_failed)?;
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
                    return print(&record, true);
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
            .for_each_event(from, &Parallelism::Current, &mut visit)
            .map_err(read_failed)?;
    }
    io_result.map_err(out::write_error)?;
    // Whatever was printed reaches the reader now (and a closed pipe is
    // found now, once, not retried).
    printer.out.flush().map_err(out::write_error)?;
    Ok(if limit_reached {
        PassEnd::LimitReached
    } else {
        PassEnd::Next((!magic_torn).then_some(end))
    })
}

/// Waits `timeout` for standard output's reader to go away (a closed pipe
/// or socket: `POLLERR` or `POLLHUP`, as GNU `tail -f` watches for);
/// whether it did. Stdout that is a file, a terminal or `/dev/null` never
/// reports either: the wait is then the whole `timeout`.
fn reader_gone(timeout: Duration) -> bool {
    let mut fds = [libc::pollfd {
        fd: libc::STDOUT_FILENO,
        // Only the conditions poll always reports are wanted.
        events: 0,
        revents: 0,
    }];
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is a valid, writable array of one `pollfd` that lives
    // across the call, and its length is passed as `nfds`.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, millis) };
    ready > 0 && fds[0].revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// Runs `plog dump`.
pub fn run(args: DumpArgs) -> Result<u8, CliError> {
    let shown = path_text(&args.path);
    let (from, to) = (args.from.unwrap_or(0), args.to.unwrap_or(u64::MAX));
    if from > to {
        return Err(CliError::failed(format!(
            "dump: --from {from} is past --to {to}: expected a range whose start is at most its end"
        )));
    }
    if args.limit == Some(0) {
        return Err(CliError::failed(
            "dump: --limit 0 prints nothing: expected a limit of at least 1",
        ));
    }
    if args.raft {
        let limit = args.limit.unwrap_or(u64::MAX);
        return crate::raft::dump(&args.path, from, to, limit, args.json);
    }
    let stdin = args.path.as_os_str() == "-";
    if stdin && args.follow {
        return Err(CliError::failed(
            "dump: --follow needs a file to watch, found `-` (standard input)",
        ));
    }
    if crate::paths::is_url(&args.path) && args.follow {
        return Err(CliError::failed(format!(
            "dump: --follow needs a file to watch, found an object URL ({shown})"
        )));
    }
    // One pass over each part of the file: its pages go once dumped.
    let open = plog_mmap::OpenOptions {
        release_behind: true,
        ..plog_mmap::OpenOptions::default()
    };
    let mut log = crate::paths::open_path(&args.path, &open, &args.objects)?;
    let stdout = io::stdout();
    let mut printer = Printer {
        out: io::BufWriter::new(stdout.lock()),
        json: args.json,
        headers: args.headers,
        from,
        to,
        left: args.limit.unwrap_or(u64::MAX),
    };
    let mut seen = Seen::default();
    let mut next = match pass(&log, None, &args, &mut printer, &mut seen) {
        Ok(PassEnd::Next(next)) => next,
        Ok(PassEnd::LimitReached) => return Ok(exit::OK),
        Err(err) => return Err(err),
    };
    if args.follow && !seen.fatal {
        loop {
            if reader_gone(FOLLOW_POLL) {
                // As `tail -f | head -1`: the reader is done, so are we.
                return Ok(exit::OK);
            }
            let refresh = log.refresh().map_err(|e| open_error(&args.path, e))?;
            if refresh.shrank() && next.is_some_and(|next| refresh.len < next) {
                return Err(CliError::at(
                    &args.path,
                    format!(
                        "the log was truncated to {} bytes while following (was read up to {})",
                        refresh.len,
                        next.unwrap_or_default()
                    ),
                ));
            }
            if next.is_some_and(|next| log.len() <= next) || !refresh.grew() && next.is_none() {
                continue;
            }
            let mut pass_seen = Seen::default();
            next = match pass(&log, next, &args, &mut printer, &mut pass_seen)? {
                PassEnd::Next(next) => next,
                PassEnd::LimitReached => return Ok(exit::OK),
            };
            seen.corrupt |= pass_seen.corrupt;
            if pass_seen.fatal {
                break;
            }
        }
    }
    Ok(if seen.corrupt {
        exit::CORRUPT
    } else if seen.torn {
        eprintln!("plog: {shown}: the log ends in a torn tail");
        exit::TORN
    } else {
        exit::OK
    })
}
