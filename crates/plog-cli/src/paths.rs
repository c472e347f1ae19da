//! Expanding command-line paths: files as given, directories to every regular
//! file below them in sorted order.

use std::path::{Path, PathBuf};

/// One path to verify, or the reason it cannot be listed.
#[derive(Debug)]
pub enum Target {
    /// A file (or anything that is not a directory: a pipe, /dev/stdin, ...).
    File(PathBuf),
    /// A path that could not be listed (missing, unreadable directory, ...).
    Unreadable(PathBuf, std::io::Error),
}

/// Expands `paths` in order: a directory becomes every regular file below it
/// (recursively, sorted by path, symbolic links to files followed, links to
/// directories not), anything else stays as given.
pub fn expand(paths: &[PathBuf]) -> Vec<Target> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk_dir(path, &mut out),
            Ok(_) => out.push(Target::File(path.clone())),
            Err(err) => out.push(Target::Unreadable(path.clone(), err)),
        }
    }
    out
}

fn walk_dir(dir: &Path, out: &mut Vec<Target>) {
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
            walk_dir(&child, out);
        } else if link_meta.is_file()
            || (link_meta.file_type().is_symlink()
                && std::fs::metadata(&child).is_ok_and(|meta| meta.is_file()))
        {
            out.push(Target::File(child));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_expand_to_sorted_regular_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("b")).unwrap();
        std::fs::write(root.join("b/z.plog"), b"").unwrap();
        std::fs::write(root.join("c.plog"), b"").unwrap();
        std::fs::write(root.join("a.plog"), b"").unwrap();
        let got: Vec<String> = expand(&[root.to_path_buf(), root.join("missing")])
            .into_iter()
            .map(|t| match t {
                Target::File(p) => p.strip_prefix(root).unwrap().display().to_string(),
                Target::Unreadable(p, _) => {
                    format!("!{}", p.file_name().unwrap().to_string_lossy())
                }
            })
            .collect();
        assert_eq!(got, ["a.plog", "b/z.plog", "c.plog", "!missing"]);
    }
}
