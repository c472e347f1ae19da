//! Output written safely: JSON as exactly one line per object written with
//! one `write`, and a closed pipe reported as such (never retried).

use std::io::{self, Write};

use serde::Serialize;

use crate::error::CliError;

/// `value` as one line of JSON, newline included. serde_json escapes every
/// control character inside strings and adds no whitespace, so the line
/// holds exactly one `\n`, at its end.
pub fn json_line(value: &impl Serialize) -> Result<Vec<u8>, CliError> {
    let mut line = serde_json::to_vec(value)
        .map_err(|err| CliError::failed(format!("cannot encode JSON: {err}")))?;
    line.push(b'\n');
    Ok(line)
}

/// Writes `bytes` (whole lines) to `out` with one `write_all` and flushes:
/// on standard output, whose line buffer passes a newline-terminated buffer
/// through when it is empty, that is one `write` system call, so parallel
/// runs appending to one file never interleave within a line.
///
/// A closed pipe becomes [`CliError::Closed`]; any other failure an error.
pub fn emit(out: &mut impl Write, bytes: &[u8]) -> Result<(), CliError> {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(write_error)
}

/// The error for a failed write to standard output.
pub fn write_error(err: io::Error) -> CliError {
    if err.kind() == io::ErrorKind::BrokenPipe {
        CliError::Closed
    } else {
        CliError::failed(format!("cannot write to standard output: {err}"))
    }
}

/// Writes one JSON object as one line to standard output (see [`emit`]).
pub fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let line = json_line(value)?;
    emit(&mut io::stdout().lock(), &line)
}

/// Writes text (one or more whole lines) to standard output (see [`emit`]).
pub fn print_text(text: &str) -> Result<(), CliError> {
    emit(&mut io::stdout().lock(), text.as_bytes())
}
