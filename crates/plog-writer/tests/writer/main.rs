//! plog-writer's integration tests: one test binary, one module per topic.
//! Files are read back with plog-format's reference classification.

mod bytes;
mod child;
mod crash;
#[cfg(unix)]
mod faults;
mod group;
mod model;
#[cfg(unix)]
mod modes;
mod open;
mod power;
mod prealloc;
mod salvage;

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

/// Reads a log back with the reference classification (the oracle) and
/// checks that plog-mmap, the production reader, sees the same thing.
pub fn read_back(path: &std::path::Path) -> plog_format::Classification {
    let bytes = std::fs::read(path).unwrap();
    let oracle = plog_format::classify(&bytes);
    let log = plog_mmap::Log::open(path).unwrap();
    let report = log.verify(&plog_mmap::VerifyOptions::default()).unwrap();
    assert_eq!(report.summary.file_len, oracle.file_len);
    assert_eq!(report.summary.records, oracle.records.len() as u64);
    assert_eq!(report.status(), oracle.status());
    assert_eq!(report.summary.first_index, oracle.first_index());
    assert_eq!(report.summary.last_index, oracle.last_index());
    assert_eq!(report.summary.torn, oracle.torn);
    assert_eq!(report.findings.corruptions, oracle.corruptions);
    oracle
}
