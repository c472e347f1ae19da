//! The CLI's errors: one line of text (`plog: <message>`) and, under
//! `--json`, the error object ([`ErrorObject`]) with the same words.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use plog_writer::WriteError;

use crate::exit;
use crate::model::ErrorObject;
use crate::text::path_text;

/// An error that ends a subcommand.
#[derive(Debug)]
pub enum CliError {
    /// A file could not be opened, read or written.
    Io {
        /// What was being done, e.g. `cannot open`.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Something about one path stops the command (a corrupt log, a refused
    /// repair, a line that is not JSON, ...).
    Path {
        /// The path concerned.
        path: PathBuf,
        /// What is wrong, without the path.
        message: String,
        /// The exit status to use.
        code: u8,
    },
    /// Anything else that stops the command (bad usage, no thread, ...).
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

    /// A failure about `path`, with exit status 2.
    pub fn at(path: &Path, message: impl Into<String>) -> CliError {
        CliError::Path {
            path: path.to_path_buf(),
            message: message.into(),
            code: exit::ERROR,
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
            CliError::Path { code, .. }
            | CliError::Failed { code, .. }
            | CliError::Reported { code } => *code,
            CliError::Closed => exit::OK,
        }
    }

    /// What is wrong, without the path: the error object's `error`.
    pub fn message(&self) -> String {
        match self {
            CliError::Io { action, source, .. } => format!("{action}: {}", describe_io(source)),
            CliError::Path { message, .. } | CliError::Failed { message, .. } => message.clone(),
            CliError::Closed => "standard output was closed".to_string(),
            CliError::Reported { .. } => "reported".to_string(),
        }
    }

    /// The error objects for `--json`: one for the path the error names,
    /// else one for each of `paths` (the command's arguments).
    pub fn objects(&self, paths: &[PathBuf]) -> Vec<ErrorObject> {
        match self {
            CliError::Io { path, .. } | CliError::Path { path, .. } => {
                vec![ErrorObject::new(path, self.message())]
            }
            _ => paths
                .iter()
                .map(|path| ErrorObject::new(path, self.message()))
                .collect(),
        }
    }

    /// A writer's error in plog's words: its path apart (escaped when
    /// printed), I/O errors as `cannot open: no such file or directory` as
    /// in every other command, and status 1 for a corrupt log.
    pub fn from_write(err: WriteError) -> CliError {
        let code = if err.kind() == "corrupt" {
            exit::CORRUPT
        } else {
            exit::ERROR
        };
        let path = match &err {
            WriteError::Io {
                path,
                action,
                source,
            } => {
                let action = match *action {
                    // As plog-mmap says it, whatever the writer was doing.
                    _ if source.kind() == io::ErrorKind::IsADirectory => "cannot read",
                    "open the log" => "cannot open",
                    "read the log" => "cannot read",
                    "lock the log" => "cannot lock",
                    "create the log" => "cannot create",
                    _ => "",
                };
                if !action.is_empty() {
                    let source = io::Error::new(source.kind(), source.to_string());
                    return CliError::io(action, path, source);
                }
                path.clone()
            }
            WriteError::Locked { path }
            | WriteError::Corrupt { path, .. }
            | WriteError::NothingToSalvage { path, .. }
            | WriteError::Exists { path }
            | WriteError::WriteFailed { path, .. }
            | WriteError::SyncFailed { path, .. }
            | WriteError::Poisoned { path, .. } => path.clone(),
            _ => {
                return CliError::Failed {
                    message: err.to_string(),
                    code,
                };
            }
        };
        let text = err.to_string();
        let prefix = format!("{}: ", path.display());
        let message = text.strip_prefix(&prefix).unwrap_or(&text).to_string();
        CliError::Path {
            path,
            message,
            code,
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
            CliError::Io { path, .. } | CliError::Path { path, .. } => {
                write!(f, "{}: {}", path_text(path), self.message())
            }
            _ => f.write_str(&self.message()),
        }
    }
}

impl std::error::Error for CliError {}
