//! Injected I/O failures for the unit tests (compiled only under `cfg(test)`).
//!
//! A failed `fdatasync` (or truncation) cannot be provoked on an ordinary
//! file system from a test, so the one file writer (`file.rs`, under both
//! policies) routes its writes, cuts and syncs through here in test builds.
//! The integration tests provoke real failures (EFBIG through
//! `RLIMIT_FSIZE`) without this.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::fsio;

/// Failures to inject into the next write, cut or sync.
#[derive(Debug)]
pub(crate) struct Faults {
    /// When not `u64::MAX`: the next write stores only this many bytes and
    /// then fails with EIO.
    write_fails_after: AtomicU64,
    /// The next sync fails with EIO.
    sync_fails: AtomicBool,
    /// The next cut (truncation after a failed write) fails with EIO.
    cut_fails: AtomicBool,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            write_fails_after: AtomicU64::new(u64::MAX),
            sync_fails: AtomicBool::new(false),
            cut_fails: AtomicBool::new(false),
        }
    }
}

impl Faults {
    pub(crate) fn fail_next_write_after(&self, bytes: u64) {
        self.write_fails_after.store(bytes, Ordering::SeqCst);
    }

    pub(crate) fn fail_next_sync(&self) {
        self.sync_fails.store(true, Ordering::SeqCst);
    }

    pub(crate) fn fail_next_cut(&self) {
        self.cut_fails.store(true, Ordering::SeqCst);
    }

    pub(crate) fn write(&self, file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
        let after = self.write_fails_after.swap(u64::MAX, Ordering::SeqCst);
        if after == u64::MAX {
            return fsio::write_all_at(file, buf, offset);
        }
        let keep = usize::try_from(after).unwrap_or(usize::MAX).min(buf.len());
        fsio::write_all_at(file, &buf[..keep], offset)?;
        Err(io::Error::from_raw_os_error(5)) // EIO
    }

    pub(crate) fn sync(&self, file: &File) -> io::Result<()> {
        injected(&self.sync_fails)?;
        file.sync_data()
    }

    pub(crate) fn cut(&self, file: &File, len: u64) -> io::Result<()> {
        injected(&self.cut_fails)?;
        file.set_len(len)
    }
}

/// EIO once `flag` was set (and clears it).
fn injected(flag: &AtomicBool) -> io::Result<()> {
    if flag.swap(false, Ordering::SeqCst) {
        return Err(io::Error::from_raw_os_error(5)); // EIO
    }
    Ok(())
}
