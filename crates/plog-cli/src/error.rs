//! The CLI's one-line errors.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::exit;

/// An error that ends a subcommand: printed as one line, `plog: <message>`.
#[derive(Debug)]
pub enum CliError {
    /// A file could not be opened, read or written.
    Io {
        /// What was being done, e.g. "cannot open".
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Anything else that stops the command (bad input line, refused repair, ...).
    Failed {
        /// The message.
        message: String,
        /// The exit status to use.
        code: u8,
    },
    /// Standard output is a closed pipe (`plog dump ... | head`): the reader
    /// has what it wants, so the command ends quietly with status 0.
    Closed,
    /// The failure was already reported (as a JSON object on stdout, say):
    /// exit with `code` and print nothing more.
    Reported {
        /// The exit status to use.
        code: u8,
    },
}

impl CliError {
    /// An I/O error with its action and path.
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> CliError {
        CliError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// A failure with exit status 2.
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError::Failed {
            message: message.into(),
            code: exit::ERROR,
        }
    }

    /// The exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Io { .. } => exit::ERROR,
            CliError::Failed { code, .. } | CliError::Reported { code } => *code,
            CliError::Closed => exit::OK,
        }
    }
}

/// Describes an I/O error in plain words (no "os error 2" jargon alone).
pub fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::IsADirectory => "is a directory, expected a file".to_string(),
        _ => err.to_string(),
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Io {
                action,
                path,
                source,
            } => write!(
                f,
                "{}: {action}: {}",
                crate::out::path_text(path),
                describe_io(source)
            ),
            CliError::Failed { message, .. } => f.write_str(message),
            CliError::Closed => f.write_str("standard output was closed"),
            CliError::Reported { .. } => f.write_str("reported"),
        }
    }
}

impl std::error::Error for CliError {}
