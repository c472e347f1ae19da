//! File-system helpers: creating with parents, directory fsync, locking,
//! positioned writes.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
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

/// Creates the missing parent directories of `path`, each with exactly the
/// permission bits `dir_mode` (whatever the umask), and makes each new
/// directory's entry durable by syncing the directory that holds it.
pub(crate) fn create_parents(path: &Path, dir_mode: u32) -> Result<(), WriteError> {
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
    // Outermost first, each created with the mode (a directory made by
    // another process meanwhile is left as it is).
    for new_dir in missing.iter().rev() {
        match create_dir(new_dir, dir_mode) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && new_dir.is_dir() => continue,
            Err(e) => return Err(WriteError::io(new_dir, "create the parent directories", e)),
        }
    }
    // Sync from the outermost new directory's parent inwards.
    for new_dir in missing.iter().rev() {
        let holder = parent_dir(new_dir);
        sync_dir(holder)
            .map_err(|e| WriteError::io(holder, "fsync a directory after creating in it", e))?;
    }
    Ok(())
}

/// Creates one directory with exactly the permission bits `mode`: the umask
/// may only have removed bits at `mkdir`, so they are set again (before
/// anything is put inside).
fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().mode(mode & 0o7777).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::create_dir(dir)
    }
}

/// Gives `file`, which this process just created, exactly the permission
/// bits `mode` (the umask only removes bits at creation).
pub(crate) fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = (file, mode);
        Ok(())
    }
}

/// Creates a NEW file at `path` (failing if anything is there), open for
/// writing (and reading when `read`), with exactly the permission bits
/// `mode` whatever the umask: what plog-writer does for every log it
/// creates, for the other files a tool writes beside a log (`plog repair
/// --backup`'s saved bytes). The file is created with `mode` (never more
/// open than asked, even for a moment), then set to it exactly. Ignores
/// `mode` where there are no Unix permissions.
///
/// # Errors
/// The OS error of creating the file or setting its mode.
pub fn create_new_file(path: impl AsRef<Path>, mode: u32, read: bool) -> io::Result<File> {
    let path = path.as_ref();
    let mut options = OpenOptions::new();
    options.read(read).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode & 0o7777);
    }
    let file = options.open(path)?;
    set_mode(&file, mode)?;
    Ok(file)
}

/// Opens an existing file for reading and writing; refuses anything but a
/// regular file (a named pipe opened for reading and writing never ends:
/// the scan of the log would wait on it forever).
pub(crate) fn open_rw(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("expected a regular file, found {}", describe(kind)),
    ))
}

/// What a file that is not a regular file is, in words.
fn describe(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        return "a directory";
    }
    "something else"
}

/// Creates a new file for reading and writing with exactly the permission
/// bits `mode`; fails if it exists.
pub(crate) fn create_new_rw(path: &Path, mode: u32) -> io::Result<File> {
    create_new_file(path, mode, true)
}

/// A file holding the exclusive writer lock, released when this is dropped.
///
/// The lock is released explicitly, not just by closing the descriptor: a
/// `flock` lock belongs to the open file description, which a child process
/// shares between `fork` and `exec` (another thread of the process may be
/// spawning one at any moment), so closing our descriptor alone could leave
/// the log locked for a moment after the writer is gone.
#[derive(Debug)]
pub(crate) struct LockedFile(File);

impl LockedFile {
    /// Takes the exclusive writer lock on `file` without waiting.
    pub(crate) fn lock(file: File, path: &Path) -> Result<LockedFile, WriteError> {
        match file.try_lock() {
            Ok(()) => Ok(LockedFile(file)),
            Err(TryLockError::WouldBlock) => Err(WriteError::Locked {
                path: path.to_path_buf(),
            }),
            Err(TryLockError::Error(e)) => Err(WriteError::io(path, "lock the log", e)),
        }
    }
}

impl std::ops::Deref for LockedFile {
    type Target = File;

    fn deref(&self) -> &File {
        &self.0
    }
}

impl Drop for LockedFile {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
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

/// Zeros written ahead of the log's end when preallocating.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// Preallocation: the file is grown in zero-filled chunks ahead of the
/// records (see [`WriterOptions::preallocate`](crate::WriterOptions::preallocate)).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Preallocation {
    /// Bytes to add each time the records reach the end of the zeros.
    chunk: u64,
    /// The file's length: records, then zeros up to here.
    allocated: u64,
}

impl Preallocation {
    /// Preallocation of `chunk`-byte steps for a file `len` bytes long, or
    /// `None` when it is off (`None` or 0).
    pub(crate) fn new(chunk: Option<u64>, len: u64) -> Option<Preallocation> {
        chunk.filter(|&c| c > 0).map(|chunk| Preallocation {
            chunk,
            allocated: len,
        })
    }

    /// Before records are written at `[offset, end)` (`offset` is the end of
    /// the records already in the file): makes the file at least `end`
    /// bytes long, zero-filling up to `end` plus one chunk, so that the
    /// records overwrite blocks that are already allocated (their
    /// `fdatasync` then needs no journal commit).
    ///
    /// Zeros are only ever written at or past `offset`: never over a record.
    /// Best effort: when writing the zeros fails (a full disk, a file size
    /// limit), the growth is cut back and the records are appended without
    /// preallocation.
    pub(crate) fn reserve(&mut self, file: &File, offset: u64, end: u64) {
        if end <= self.allocated {
            return;
        }
        let from = self.allocated.max(offset);
        let target = end.saturating_add(self.chunk);
        let mut at = from;
        let grown = (|| {
            while at < target {
                let n = usize::try_from(target - at)
                    .unwrap_or(usize::MAX)
                    .min(ZEROS.len());
                write_all_at(file, &ZEROS[..n], at)?;
                at += crate::pos_u64(n);
            }
            io::Result::Ok(())
        })();
        match grown {
            Ok(()) => self.allocated = target,
            Err(_) => {
                // Undo the partial growth (`from` is at or past the last
                // record); if even that fails, the zeros are a torn tail that
                // the next open repairs.
                if file.set_len(from).is_ok() {
                    self.allocated = from;
                }
            }
        }
    }

    /// Records were written up to `end`: the file is at least that long.
    pub(crate) fn wrote(&mut self, end: u64) {
        self.allocated = self.allocated.max(end);
    }

    /// The file was cut to `len` (after a failed write).
    pub(crate) fn cut(&mut self, len: u64) {
        self.allocated = len;
    }

    /// Whether zeros lie past `len`.
    pub(crate) fn has_tail_after(&self, len: u64) -> bool {
        self.allocated > len
    }
}
