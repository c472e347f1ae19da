//! `plog verify --resume MANIFEST`: the objects verified clean, one JSON
//! line each, so that a job killed part-way and run again verifies only
//! what it had not.
//!
//! The format (JSON Lines, one object per line, appended):
//!
//! ```text
//! {"url":"s3://logs/node-1/raft.plog","etag":"\"9b2cf5...\"","size":1048772,"records":4096,"expect":null}
//! ```
//!
//! - `url`: the object's URL, as the output names it;
//! - `etag`, `size`: the object's ETag and length when it was verified
//!   (an object is skipped only while both are the same: a replaced object
//!   is verified again; an object whose store gives no ETag never is
//!   skipped);
//! - `records`: the records it held (for the reader's information);
//! - `expect`: the `--expect` order it was verified under (`null`,
//!   `"contiguous"` or `"increasing"`): a run under another order verifies
//!   it again.
//!
//! Only objects found clean are written (torn, corrupt and unreadable ones
//! are verified again by the next run), each as it is found, with one
//! `write` of a whole line: a run killed at any point leaves every line
//! before it whole, and at worst one cut line, which the next run passes
//! over and cuts off before appending.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::error::CliError;
use crate::verify::Resumed;

/// `n` as a u64 (usize is at most 64 bits on every target plog builds for).
fn crate_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// One line of a manifest: an object verified clean.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The object's URL.
    pub url: String,
    /// Its ETag when verified.
    pub etag: String,
    /// Its length when verified.
    pub size: u64,
    /// The records it held.
    pub records: u64,
    /// The `--expect` order it was verified under (`null`: none).
    pub expect: Option<String>,
}

/// A manifest: the entries read from it, and the file new ones go to.
pub struct Manifest {
    path: PathBuf,
    clean: HashMap<String, Entry>,
    file: Mutex<File>,
}

impl Manifest {
    /// Opens (or creates) the manifest at `path` and reads its entries.
    pub fn open(path: &Path) -> Result<Manifest, CliError> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|err| CliError::io("cannot open the --resume manifest", path, err))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|err| CliError::io("cannot read the --resume manifest", path, err))?;
        let mut clean = HashMap::new();
        let ends_whole = text.is_empty() || text.ends_with(b"\n");
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        for (n, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Entry>(line) {
                Ok(entry) => {
                    clean.insert(entry.url.clone(), entry);
                }
                // The last line cut by a run that was killed mid-write.
                Err(_) if n + 1 == lines.len() && !ends_whole => {}
                Err(err) => {
                    return Err(CliError::at(
                        path,
                        format!(
                            "the --resume manifest's line {}: expected a JSON object \
                             {{\"url\", \"etag\", \"size\", \"records\", \"expect\"}}, found {}: {err}",
                            n + 1,
                            crate::text::escape_bytes(&line[..line.len().min(80)])
                        ),
                    ));
                }
            }
        }
        if !ends_whole {
            // The line a killed run cut goes: what is appended next starts
            // on a line of its own, and the file stays whole lines.
            let whole = text
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |at| at + 1);
            file.set_len(crate_u64(whole))
                .map_err(|err| CliError::io("cannot write the --resume manifest", path, err))?;
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            clean,
            file: Mutex::new(file),
        })
    }

    /// Whether the object `url`, of ETag `etag` and length `size`, is
    /// recorded clean under the order `expect`.
    #[cfg(test)]
    pub fn is_clean(&self, url: &str, etag: Option<&str>, size: u64, expect: Option<&str>) -> bool {
        self.recorded_clean(url, etag, size, expect).is_some()
    }

    /// What the manifest records of the object `url` when it records it
    /// clean at ETag `etag` and length `size`, under the order `expect`.
    pub fn recorded_clean(
        &self,
        url: &str,
        etag: Option<&str>,
        size: u64,
        expect: Option<&str>,
    ) -> Option<Resumed> {
        let etag = etag?;
        self.clean
            .get(url)
            .filter(|entry| {
                entry.etag == etag && entry.size == size && entry.expect.as_deref() == expect
            })
            .map(|entry| Resumed {
                records: entry.records,
                size: entry.size,
                etag: entry.etag.clone(),
            })
    }

    /// Appends `entry` as one line, written whole with one `write`.
    pub fn record(&self, entry: &Entry) -> Result<(), CliError> {
        let line = crate::out::json_line(entry)?;
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(&line)
            .and_then(|()| file.flush())
            .map_err(|err| CliError::io("cannot write the --resume manifest", &self.path, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, etag: &str, size: u64) -> Entry {
        Entry {
            url: url.to_string(),
            etag: etag.to_string(),
            size,
            records: 3,
            expect: None,
        }
    }

    #[test]
    fn entries_written_are_read_back_and_match_only_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.jsonl");
        let manifest = Manifest::open(&path).unwrap();
        assert!(!manifest.is_clean("s3://b/a", Some("\"e1\""), 10, None));
        manifest.record(&entry("s3://b/a", "\"e1\"", 10)).unwrap();
        manifest.record(&entry("s3://b/c", "\"e2\"", 20)).unwrap();
        drop(manifest);
        let manifest = Manifest::open(&path).unwrap();
        assert!(manifest.is_clean("s3://b/a", Some("\"e1\""), 10, None));
        assert!(manifest.is_clean("s3://b/c", Some("\"e2\""), 20, None));
        assert!(!manifest.is_clean("s3://b/a", Some("\"e9\""), 10, None));
        assert!(!manifest.is_clean("s3://b/a", Some("\"e1\""), 11, None));
        assert!(!manifest.is_clean("s3://b/a", None, 10, None));
        assert!(!manifest.is_clean("s3://b/a", Some("\"e1\""), 10, Some("contiguous")));
        assert!(!manifest.is_clean("s3://b/x", Some("\"e1\""), 10, None));
    }

    #[test]
    fn a_cut_last_line_is_passed_over_and_the_next_starts_on_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.jsonl");
        let whole =
            String::from_utf8(crate::out::json_line(&entry("s3://b/a", "e", 1)).unwrap()).unwrap();
        std::fs::write(&path, format!("{whole}{{\"url\":\"s3://b/c\",\"et")).unwrap();
        let manifest = Manifest::open(&path).unwrap();
        assert!(manifest.is_clean("s3://b/a", Some("e"), 1, None));
        assert!(!manifest.is_clean("s3://b/c", Some("e"), 1, None));
        manifest.record(&entry("s3://b/d", "e", 4)).unwrap();
        drop(manifest);
        let manifest = Manifest::open(&path).unwrap();
        assert!(manifest.is_clean("s3://b/d", Some("e"), 4, None));
        // A bad line that is not the last: not a manifest, said so.
        std::fs::write(&path, format!("not json\n{whole}")).unwrap();
        let err = Manifest::open(&path).err().expect("an error").message();
        assert!(err.contains("line 1: expected a JSON object"), "{err}");
    }
}
