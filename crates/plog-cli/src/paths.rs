//! Command-line paths: `-` is standard input, files are taken as given,
//! directories expand to the files below them whose name matches a glob
//! (default `*.plog`; `globset`: `*`, `?`, `[..]`, `{a,b}`, `**`), in sorted
//! order, walked by `walkdir` (links to directories not followed, a file
//! reached by several paths taken once).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobMatcher};
use plog_mmap::{Log, OpenError, OpenOptions, ReadError};
use walkdir::WalkDir;

use crate::error::CliError;

/// How directories are filtered.
#[derive(Clone, Debug, clap::Args)]
pub struct DirFilter {
    /// Below a directory, take only files that match GLOB: `*` any run of
    /// characters but `/`, `?` one character, `[abc]` / `[0-9]` one of a
    /// set, `{a,b}` either, `**` any run of directories. A GLOB without `/`
    /// is matched against the file name, one with `/` against the path
    /// below the directory named (`--glob 'raft/**/*.plog'`). Files named
    /// on the command line are always taken.
    #[arg(long, value_name = "GLOB", default_value = "*.plog", value_parser = parse_glob)]
    pub glob: Glob,
    /// Below a directory, take every regular file (ignore --glob).
    #[arg(long, conflicts_with = "glob")]
    pub all: bool,
}

/// Parses `--glob`: a shell glob whose `*` and `?` do not cross `/`.
fn parse_glob(text: &str) -> Result<Glob, String> {
    GlobBuilder::new(text)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|err| {
            format!("expected a glob such as '*.plog' or '{{a,b}}-*.plog', found {text:?}: {err}")
        })
}

/// A [`DirFilter`] ready to test paths.
struct Filter {
    matcher: Option<GlobMatcher>,
    by_name: bool,
}

impl Filter {
    fn new(filter: &DirFilter) -> Filter {
        Filter {
            matcher: (!filter.all).then(|| filter.glob.compile_matcher()),
            by_name: !filter.glob.glob().contains('/'),
        }
    }

    /// Whether the file at `relative` (below the directory named) is taken.
    fn takes(&self, relative: &Path) -> bool {
        let Some(matcher) = &self.matcher else {
            return true;
        };
        if self.by_name {
            relative
                .file_name()
                .is_some_and(|name| matcher.is_match(name))
        } else {
            matcher.is_match(relative)
        }
    }
}

/// Whether the object or file at `relative` (below the prefix or directory
/// named) is taken by `filter`: the rule of a directory's walk, for the
/// keys below an object-storage prefix.
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub fn takes(filter: &DirFilter, relative: &str) -> bool {
    Filter::new(filter).takes(Path::new(relative))
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
/// path, symbolic links to files followed, links to directories not), and
/// anything else stays as given. A file found below a directory is left
/// out when it is one already taken (the same device and inode: a link to
/// a file beside it, or a file also named on the command line), so that
/// no file is verified twice; files named on the command line are always
/// taken.
pub fn expand(paths: &[PathBuf], filter: &DirFilter) -> Vec<Target> {
    let filter = Filter::new(filter);
    let found: Vec<(&PathBuf, Option<std::io::Result<std::fs::Metadata>>)> = paths
        .iter()
        .map(|path| {
            (
                path,
                (path.as_os_str() != "-").then(|| std::fs::metadata(path)),
            )
        })
        .collect();
    // The files named, whatever their place: not taken again below a
    // directory.
    let mut taken: HashSet<(u64, u64)> = found
        .iter()
        .filter_map(|(_, meta)| match meta {
            Some(Ok(meta)) if !meta.is_dir() => Some((meta.dev(), meta.ino())),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (path, meta) in found {
        match meta {
            None => out.push(Target::Stdin),
            Some(Ok(meta)) if meta.is_dir() => walk_dir(path, &filter, &mut taken, &mut out),
            Some(Ok(_)) => out.push(Target::File(path.clone())),
            Some(Err(err)) => out.push(Target::Unreadable(path.clone(), err)),
        }
    }
    out
}

fn walk_dir(dir: &Path, filter: &Filter, taken: &mut HashSet<(u64, u64)>, out: &mut Vec<Target>) {
    let walk = WalkDir::new(dir)
        .follow_links(false)
        .sort_by(|a, b| a.path().cmp(b.path()));
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                out.push(Target::Unreadable(path, err.into()));
                continue;
            }
        };
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        // A link is followed to see whether it is a file (a link to a
        // directory is not descended: no loops).
        let meta = if file_type.is_symlink() {
            std::fs::metadata(entry.path())
        } else {
            entry.metadata().map_err(std::io::Error::from)
        };
        let Ok(meta) = meta else { continue };
        if !meta.is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        if filter.takes(relative) && taken.insert((meta.dev(), meta.ino())) {
            out.push(Target::File(entry.into_path()));
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

/// How object URLs (`s3://BUCKET/KEY`, `gs://BUCKET/KEY`,
/// `az://CONTAINER/KEY`, `http(s)://HOST/PATH`) are reached, for every
/// command that reads them.
#[derive(Clone, Debug, clap::Args)]
pub struct ObjectArgs {
    /// Where the store is, when not where its environment says. For
    /// `s3://`: an S3-compatible store (`http://127.0.0.1:9000`; default
    /// AWS_ENDPOINT_URL, else AWS). For `gs://`: the base URL of a GCS
    /// emulator's XML API (fake-gcs-server's `http://127.0.0.1:4443`;
    /// default GOOGLE_BASE_URL, else Google). For `az://`: the account's
    /// blob service URL (Azurite's `http://127.0.0.1:10000/devstoreaccount1`;
    /// default AZURE_STORAGE_ENDPOINT, else
    /// `https://ACCOUNT.blob.core.windows.net`; not with
    /// AZURE_STORAGE_USE_EMULATOR, whose URL is AZURITE_BLOB_STORAGE_URL).
    /// Credentials (and S3's region) come from each cloud's standard
    /// environment: AWS_*, GOOGLE_* (a service account,
    /// GOOGLE_APPLICATION_CREDENTIALS, ...), AZURE_STORAGE_*.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Retries of one request to object storage on a transient error (a
    /// connection refused or cut, a response cut part-way, a 5xx), with
    /// backoff; the object is then an error (status 2).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub retries: u16,
}

/// Whether `path` is a URL (`SCHEME://...`: a letter, then letters,
/// digits, `+`, `-`, `.`, as RFC 3986 has a scheme) rather than a local
/// path. The schemes that are read are plog-remote's to list
/// (`plog_remote::SCHEMES`: `s3://`, `gs://`, `az://`, `http(s)://`): a URL
/// of another is an error naming them, not a missing file (and without the
/// `remote` feature, an error saying so).
pub fn is_url(path: &Path) -> bool {
    path.to_str()
        .and_then(|p| p.split_once("://"))
        .is_some_and(|(scheme, _)| {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
}

/// Opens `path` as a log: an object URL (`s3://BUCKET/KEY`) is read as
/// ranged GETs, as it arrives, by the same one pass as `-`
/// ([`open_log`]); anything else is [`open_log`]'s.
pub fn open_path(
    path: &Path,
    options: &OpenOptions,
    objects: &ObjectArgs,
) -> Result<Log, CliError> {
    if !is_url(path) {
        return open_log(path, options);
    }
    #[cfg(feature = "remote")]
    {
        crate::remote::open(path, objects)
    }
    #[cfg(not(feature = "remote"))]
    {
        let _ = objects;
        Err(CliError::at(path, crate::verify::NO_REMOTE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(glob: &str, all: bool) -> DirFilter {
        DirFilter {
            glob: parse_glob(glob).unwrap(),
            all,
        }
    }

    fn names(root: &Path, paths: &[PathBuf], filter: &DirFilter) -> Vec<String> {
        expand(paths, filter)
            .into_iter()
            .map(|t| match t {
                Target::File(p) => p
                    .strip_prefix(root)
                    .map_or_else(|_| p.display().to_string(), |p| p.display().to_string()),
                Target::Unreadable(p, _) => {
                    format!("!{}", p.file_name().unwrap().to_string_lossy())
                }
                Target::Stdin => "-".to_string(),
            })
            .collect()
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
        let args = [root.to_path_buf(), root.join("missing")];
        assert_eq!(
            names(root, &args, &filter("*.plog", false)),
            ["a.plog", "b/z.plog", "c.plog", "!missing"]
        );
        assert_eq!(
            names(root, &args, &filter("*.plog", true)),
            ["a.plog", "b/z.plog", "c.plog", "expected.json", "!missing"]
        );
        assert_eq!(names(root, &args, &filter("?.json", false)), ["!missing"]);
    }

    #[test]
    fn globs_have_sets_alternatives_and_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "a1.plog",
            "a2.plog",
            "b1.plog",
            "c.log",
            "x/y/a3.plog",
            "x/b.plog",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        }
        let args = [root.to_path_buf()];
        let got = |glob: &str| names(root, &args, &filter(glob, false));
        assert_eq!(got("a[0-9].plog"), ["a1.plog", "a2.plog", "x/y/a3.plog"]);
        assert_eq!(got("{b1,c}.*"), ["b1.plog", "c.log"]);
        assert_eq!(got("x/**/*.plog"), ["x/b.plog", "x/y/a3.plog"]);
        assert_eq!(got("*/*.plog"), ["x/b.plog"]);
        assert_eq!(got("a?.plog"), ["a1.plog", "a2.plog", "x/y/a3.plog"]);
        assert!(parse_glob("a[").is_err());
    }

    #[test]
    fn urls_are_told_from_paths_by_their_scheme() {
        for url in [
            "s3://b/k",
            "gs://b/",
            "az://c/k",
            "https://h/p",
            "ftp://h/p",
            "abfss://c@a.dfs.core.windows.net/k",
        ] {
            assert!(is_url(Path::new(url)), "{url}");
        }
        for path in [
            "raft.plog",
            "./s3://b",
            "s3:/b",
            "://b",
            "3s://b",
            "a b://c",
            "-",
        ] {
            assert!(!is_url(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn a_file_reached_by_a_link_or_named_too_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/a.plog"), b"").unwrap();
        std::os::unix::fs::symlink(root.join("d/a.plog"), root.join("d/link.plog")).unwrap();
        std::os::unix::fs::symlink(root.join("d"), root.join("d/loop")).unwrap();
        std::fs::write(root.join("d/b.plog"), b"").unwrap();
        let args = [root.join("d")];
        assert_eq!(
            names(root, &args, &filter("*.plog", false)),
            ["d/a.plog", "d/b.plog"]
        );
        // A link alone is followed; a file named is always taken, and not
        // again below a directory.
        std::fs::remove_file(root.join("d/a.plog")).unwrap();
        std::fs::write(root.join("target.plog"), b"").unwrap();
        std::fs::remove_file(root.join("d/link.plog")).unwrap();
        std::os::unix::fs::symlink(root.join("target.plog"), root.join("d/link.plog")).unwrap();
        assert_eq!(
            names(root, &args, &filter("*.plog", false)),
            ["d/b.plog", "d/link.plog"]
        );
        let args = [root.join("target.plog"), root.join("d")];
        assert_eq!(
            names(root, &args, &filter("*.plog", false)),
            ["target.plog", "d/b.plog"]
        );
    }
}
