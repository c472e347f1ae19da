//! Command-line paths: `-` is standard input, files are taken as given,
//! directories expand to the files below them whose name matches a glob
//! (default `*.plog`), in sorted order.

use std::path::{Path, PathBuf};

use plog_mmap::{Log, OpenError, OpenOptions, ReadError};

use crate::error::CliError;

/// How directories are filtered.
#[derive(Clone, Debug, clap::Args)]
pub struct DirFilter {
    /// Below a directory, take only files whose name matches GLOB (`*` any
    /// run of characters, `?` one character). Files named on the command
    /// line are always taken.
    #[arg(long, value_name = "GLOB", default_value = "*.plog")]
    pub glob: String,
    /// Below a directory, take every regular file (ignore --glob).
    #[arg(long, conflicts_with = "glob")]
    pub all: bool,
}

impl DirFilter {
    fn takes(&self, name: &[u8]) -> bool {
        self.all || glob_matches(self.glob.as_bytes(), name)
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of bytes and
/// `?` any one byte (the classic iterative matcher, linear in practice).
pub fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// One input to read, or the reason it cannot be listed.
#[derive(Debug)]
pub enum Target {
    /// Standard input (`-`).
    Stdin,
    /// A file (or anything that is not a directory: a pipe, /dev/stdin, ...).
    File(PathBuf),
    /// A path that could not be listed (missing, unreadable directory, ...).
    Unreadable(PathBuf, std::io::Error),
}

impl Target {
    /// The path shown for it (`-` for standard input).
    pub fn path(&self) -> &Path {
        match self {
            Target::Stdin => Path::new("-"),
            Target::File(path) | Target::Unreadable(path, _) => path,
        }
    }
}

/// Expands `paths` in order: `-` is standard input, a directory becomes
/// every regular file below it that `filter` takes (recursively, sorted by
/// path, symbolic links to files followed, links to directories not),
/// anything else stays as given.
pub fn expand(paths: &[PathBuf], filter: &DirFilter) -> Vec<Target> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Target::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk_dir(path, filter, &mut out),
            Ok(_) => out.push(Target::File(path.clone())),
            Err(err) => out.push(Target::Unreadable(path.clone(), err)),
        }
    }
    out
}

fn walk_dir(dir: &Path, filter: &DirFilter, out: &mut Vec<Target>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => return out.push(Target::Unreadable(dir.to_path_buf(), err)),
    };
    let mut children: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => children.push(entry.path()),
            Err(err) => out.push(Target::Unreadable(dir.to_path_buf(), err)),
        }
    }
    children.sort();
    for child in children {
        // symlink_metadata: do not descend into links to directories (loops).
        let Ok(link_meta) = std::fs::symlink_metadata(&child) else {
            continue;
        };
        if link_meta.is_dir() {
            walk_dir(&child, filter, out);
        } else if (link_meta.is_file()
            || (link_meta.file_type().is_symlink()
                && std::fs::metadata(&child).is_ok_and(|meta| meta.is_file())))
            && child
                .file_name()
                .is_some_and(|name| filter.takes(name.as_encoded_bytes()))
        {
            out.push(Target::File(child));
        }
    }
}

/// Why a log could not be opened, in the words every subcommand uses
/// (`cannot open: no such file or directory`), with its path apart.
pub fn open_error(path: &Path, err: OpenError) -> CliError {
    match err {
        OpenError::Io {
            operation, source, ..
        } => {
            let action = match operation {
                "open" => "cannot open",
                "stat" => "cannot stat",
                "seek" => "cannot seek",
                _ => "cannot read",
            };
            CliError::io(action, path, source)
        }
        OpenError::TooLarge { limit, .. } => CliError::at(
            path,
            format!("cannot read: expected at most {limit} bytes, found more"),
        ),
        OpenError::Changed(changed) => CliError::at(path, changed.what()),
        other => CliError::at(path, other.to_string()),
    }
}

/// A pass's error, without the path (the caller names the file).
pub fn read_error(err: &ReadError) -> String {
    match err {
        ReadError::Changed(changed) => changed.what(),
        other => other.to_string(),
    }
}

/// Opens `path` as a log. `-` is standard input, read by the command's one
/// pass through a bounded window as it arrives (`Log::from_stream`: `zstdcat
/// LOG | plog verify -` holds a few MiB whatever the log's length).
pub fn open_log(path: &Path, options: &OpenOptions) -> Result<Log, CliError> {
    if path.as_os_str() == "-" {
        Ok(Log::from_stream(std::io::stdin()))
    } else {
        Log::open_with(path, options).map_err(|err| open_error(path, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(glob: &str, all: bool) -> DirFilter {
        DirFilter {
            glob: glob.to_string(),
            all,
        }
    }

    #[test]
    fn directories_expand_to_sorted_matching_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("b")).unwrap();
        std::fs::write(root.join("b/z.plog"), b"").unwrap();
        std::fs::write(root.join("c.plog"), b"").unwrap();
        std::fs::write(root.join("a.plog"), b"").unwrap();
        std::fs::write(root.join("expected.json"), b"").unwrap();
        let names = |filter: &DirFilter| -> Vec<String> {
            expand(&[root.to_path_buf(), root.join("missing")], filter)
                .into_iter()
                .map(|t| match t {
                    Target::File(p) => p.strip_prefix(root).unwrap().display().to_string(),
                    Target::Unreadable(p, _) => {
                        format!("!{}", p.file_name().unwrap().to_string_lossy())
                    }
                    Target::Stdin => "-".to_string(),
                })
                .collect()
        };
        assert_eq!(
            names(&filter("*.plog", false)),
            ["a.plog", "b/z.plog", "c.plog", "!missing"]
        );
        assert_eq!(
            names(&filter("*.plog", true)),
            ["a.plog", "b/z.plog", "c.plog", "expected.json", "!missing"]
        );
        assert_eq!(names(&filter("?.json", false)), ["!missing"]);
    }

    #[test]
    fn globs_match_like_the_shell() {
        // The slow obvious oracle: try every split for each star.
        fn oracle(p: &[u8], n: &[u8]) -> bool {
            match p.split_first() {
                None => n.is_empty(),
                Some((b'*', rest)) => (0..=n.len()).any(|i| oracle(rest, &n[i..])),
                Some((&c, rest)) => {
                    n.first().is_some_and(|&f| c == b'?' || c == f) && oracle(rest, &n[1..])
                }
            }
        }
        let patterns = ["*.plog", "*", "", "a*b*c", "?", "**x", "a?c*", "*a*"];
        let names = [
            "", "a", "abc", "x.plog", ".plog", "aXbYc", "abcabc", "xx", "ba",
        ];
        for p in patterns {
            for n in names {
                assert_eq!(
                    glob_matches(p.as_bytes(), n.as_bytes()),
                    oracle(p.as_bytes(), n.as_bytes()),
                    "{p} {n}"
                );
            }
        }
    }
}
