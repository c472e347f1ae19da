//! Copying every valid record of a damaged log into a new log.

use std::path::Path;

use plog_format::{Event, IndexOrder, Scanner, TornTail};

use crate::{SyncPolicy, WriteError, Writer, WriterOptions, pos_u64};

/// What [`salvage`] copied and what it left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SalvageReport {
    /// Valid records copied, in file order.
    pub records: u64,
    /// Index of the last record copied.
    pub last_index: Option<u64>,
    /// The new log's length in bytes.
    pub len: u64,
    /// The source's length in bytes.
    pub source_len: u64,
    /// Corruptions skipped in the source.
    pub corruptions: u64,
    /// Bytes of the source that were not copied (damaged records, bytes
    /// between a damaged length and its resync, the torn tail).
    pub skipped_bytes: u64,
    /// The source's torn tail, if any.
    pub torn: Option<TornTail>,
}

/// Writes a NEW log at `destination` holding every valid record of `source`
/// (in file order, byte for byte), and syncs it. `source` is only read, and
/// needs no lock.
///
/// ```
/// use plog_writer::salvage;
/// let dir = tempfile::tempdir().unwrap();
/// let mut log = plog_format::MAGIC.to_vec();
/// plog_format::encode_record_to_vec(1, b"one", &mut log);
/// plog_format::encode_record_to_vec(2, b"two", &mut log);
/// plog_format::encode_record_to_vec(3, b"three", &mut log);
/// log[26 + 48 + 3 + 48] ^= 1; // damage record 2's payload
/// std::fs::write(dir.path().join("bad.plog"), &log).unwrap();
///
/// let report = salvage(dir.path().join("bad.plog"), dir.path().join("good.plog")).unwrap();
/// assert_eq!((report.records, report.corruptions, report.skipped_bytes), (2, 1, 51));
/// let good = std::fs::read(dir.path().join("good.plog")).unwrap();
/// assert_eq!(plog_format::classify(&good).records.len(), 2);
/// ```
///
/// # Errors
/// `exists` when `destination` exists; `io` when `source` cannot be read;
/// any error of [`Writer::create`] and [`Writer::sync`].
pub fn salvage(
    source: impl AsRef<Path>,
    destination: impl AsRef<Path>,
) -> Result<SalvageReport, WriteError> {
    let source = source.as_ref();
    let data = std::fs::read(source).map_err(|e| WriteError::io(source, "read the log", e))?;
    let options = WriterOptions {
        sync: SyncPolicy::Manual,
        index_order: IndexOrder::Any,
        max_payload_len: None,
        create_if_missing: true,
        preallocate: None,
    };
    let mut writer = Writer::create(destination, options)?;
    let mut report = SalvageReport {
        records: 0,
        last_index: None,
        len: 0,
        source_len: pos_u64(data.len()),
        corruptions: 0,
        skipped_bytes: 0,
        torn: None,
    };
    let mut copied_bytes = 0u64;
    for event in Scanner::new(&data) {
        match event {
            Event::Record(record) => {
                writer.append_raw(record.index(), record.payload())?;
                report.records += 1;
                report.last_index = Some(record.index());
                copied_bytes += record.encoded_len();
            }
            Event::Corrupt(_) => report.corruptions += 1,
            Event::Torn(tail) => report.torn = Some(tail),
        }
    }
    report.len = writer.close()?.len;
    let magic = match plog_format::check_magic(&data) {
        plog_format::Magic::V1 => pos_u64(plog_format::MAGIC_LEN),
        _ => 0,
    };
    report.skipped_bytes = report
        .source_len
        .saturating_sub(copied_bytes)
        .saturating_sub(magic);
    Ok(report)
}
