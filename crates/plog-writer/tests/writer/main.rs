//! plog-writer's integration tests: one test binary, one module per topic.
//! Files are read back with plog-format's reference classification.

mod bytes;
mod child;
mod crash;
#[cfg(unix)]
mod faults;
mod group;
mod model;
mod open;
mod power;
mod prealloc;

/// A scratch directory for tests that open thousands of files and whose
/// subject is not the disk's durability (the simulations cut files by
/// hand): in memory (`/dev/shm`) where there is one, so that each fsync is
/// cheap; the ordinary temporary directory otherwise.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}
