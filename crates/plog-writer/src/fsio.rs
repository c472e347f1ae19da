//! File-system helpers: creating with parents, directory fsync, locking,
//! positioned writes.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::WriteError;

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Makes a directory's entries durable (the new file's name, a new
/// subdirectory's name). A no-op where directories cannot be opened.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates the missing parent directories of `path` and makes each new
/// directory's entry durable by syncing the directory that holds it.
pub(crate) fn create_parents(path: &Path) -> Result<(), WriteError> {
    let parent = parent_dir(path);
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut dir = parent;
    while !dir.exists() {
        missing.push(dir.to_path_buf());
        match dir.parent() {
            Some(up) if !up.as_os_str().is_empty() => dir = up,
            _ => break,
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(parent)
        .map_err(|e| WriteError::io(parent, "create the parent directories", e))?;
    // Sync from the outermost new directory's parent inwards.
    for new_dir in missing.iter().rev() {
        let holder = parent_dir(new_dir);
        sync_dir(holder)
            .map_err(|e| WriteError::io(holder, "fsync a directory after creating in it", e))?;
    }
    Ok(())
}

/// Opens an existing file for reading and writing.
pub(crate) fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// Creates a new file for reading and writing; fails if it exists.
pub(crate) fn create_new_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
}

/// Takes the exclusive writer lock without waiting.
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<(), WriteError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(WriteError::Locked {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(WriteError::io(path, "lock the log", e)),
    }
}

/// Reads the whole file from offset 0.
///
/// This is the open-time read; the file is held under the writer lock, so
/// nobody appends meanwhile.
pub(crate) fn read_all(file: &File, path: &Path) -> Result<Vec<u8>, WriteError> {
    let len = file
        .metadata()
        .map_err(|e| WriteError::io(path, "read the log's metadata", e))?
        .len();
    // The length is the file system's, not the file's contents; still, cap the
    // up-front reservation and let `read_to_end` grow past it if needed.
    let reserve = usize::try_from(len.min(1 << 30)).unwrap_or(0);
    let mut data = Vec::with_capacity(reserve);
    let mut reader = file;
    read_from_start(&mut reader, &mut data).map_err(|e| WriteError::io(path, "read the log", e))?;
    Ok(data)
}

fn read_from_start(file: &mut &File, data: &mut Vec<u8>) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(data)?;
    Ok(())
}

/// Writes all of `buf` at byte `offset` of `file` (one `pwrite` in the
/// common case; more only on a short write).
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(buf)
    }
}
