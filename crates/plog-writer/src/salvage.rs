//! Copying every valid record of a damaged log into a new log.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, mpsc};

use plog_format::{Event, Findings, Fold, IndexOrder, RecoveryMode, RecoveryPolicy, TornTail};
use plog_mmap::{DEFAULT_LIST_LIMIT, Log, OpenOptions, Parallelism, ReadError, VerifyReport};

use crate::{
    DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, SyncPolicy, WriteError, Writer, WriterOptions, pos_u64,
};

/// What [`salvage`] copied and what it left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The source's verification, from the same pass that copied it
    /// ([`RecoveryMode::Salvage`]): its summary and the bounded lists of
    /// corruptions and lost byte and index ranges, exactly what
    /// `plog_mmap::Log::verify` reports for the file.
    pub verify: VerifyReport,
}

/// A callback told how far into the source a salvage has got (bytes).
pub type SalvageProgress = Arc<dyn Fn(u64) + Send + Sync>;

/// How [`salvage_with`] runs and what it creates.
#[derive(Clone)]
pub struct SalvageOptions {
    /// Which threads verify the source (default: the current rayon pool).
    pub parallelism: Parallelism,
    /// Told how far into the source the copy has got, every few MiB and at
    /// the end (default: nobody), e.g. for a progress bar.
    pub progress: Option<SalvageProgress>,
    /// The most entries kept in each list of [`SalvageReport::verify`]
    /// (default [`DEFAULT_LIST_LIMIT`]); counts stay exact.
    pub list_limit: usize,
    /// The new log's permission bits (default [`DEFAULT_FILE_MODE`],
    /// `0o600`), set exactly whatever the umask.
    pub file_mode: u32,
    /// The permission bits of the missing parent directories created
    /// (default [`DEFAULT_DIR_MODE`], `0o700`).
    pub dir_mode: u32,
}

impl std::fmt::Debug for SalvageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalvageOptions")
            .field("parallelism", &self.parallelism)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(u64)"))
            .field("list_limit", &self.list_limit)
            .field("file_mode", &format_args!("{:#o}", self.file_mode))
            .field("dir_mode", &format_args!("{:#o}", self.dir_mode))
            .finish()
    }
}

impl Default for SalvageOptions {
    fn default() -> SalvageOptions {
        SalvageOptions {
            parallelism: Parallelism::default(),
            progress: None,
            list_limit: DEFAULT_LIST_LIMIT,
            file_mode: DEFAULT_FILE_MODE,
            dir_mode: DEFAULT_DIR_MODE,
        }
    }
}

/// How often a salvage tells its [`SalvageOptions::progress`] (bytes of the
/// source).
const PROGRESS_STEP: u64 = 4 << 20;

/// Writes a NEW log at `destination` holding every valid record of `source`
/// (in file order, byte for byte), and syncs it: [`salvage_with`] with the
/// default options. `source` is only read, and needs no lock.
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
/// assert_eq!(report.verify.findings.lost[0].lost_indices(), Some((2, 2)));
/// let good = std::fs::read(dir.path().join("good.plog")).unwrap();
/// assert_eq!(plog_format::classify(&good).records.len(), 2);
/// ```
///
/// # Errors
/// As [`salvage_with`].
pub fn salvage(
    source: impl AsRef<Path>,
    destination: impl AsRef<Path>,
) -> Result<SalvageReport, WriteError> {
    salvage_with(source, destination, &SalvageOptions::default())
}

/// Writes a NEW log at `destination` holding every valid record of `source`
/// (in file order, byte for byte), and syncs it.
///
/// One pass: the source is mapped (plog-mmap's guarded mapping, its pages
/// released behind the pass) and verified across the pool of
/// `options.parallelism`; each valid record is appended to the new log as
/// it is found (buffered, written every 256 KiB), so memory does not grow
/// with the file. The same pass is folded into [`SalvageReport::verify`].
///
/// Nothing is created when the source's magic is bad (nothing can be
/// salvaged from it). When the pass fails (the source changed while it was
/// read, a write failed), the partial new log is removed.
///
/// # Errors
/// `exists` when `destination` exists; `corrupt` when the source's magic is
/// bad or unsupported; `io` when `source` cannot be read or changed while
/// it was read; any error of [`Writer::create`] and [`Writer::sync`].
pub fn salvage_with(
    source: impl AsRef<Path>,
    destination: impl AsRef<Path>,
    options: &SalvageOptions,
) -> Result<SalvageReport, WriteError> {
    let (source, destination) = (source.as_ref(), destination.as_ref());
    let open = OpenOptions {
        release_behind: true,
        ..OpenOptions::default()
    };
    let log = Log::open_with(source, &open)
        .map_err(|e| WriteError::io(source, "read the log", std::io::Error::other(e)))?;
    if destination.exists() {
        return Err(WriteError::Exists {
            path: destination.to_path_buf(),
        });
    }
    let writer_options = WriterOptions {
        sync: SyncPolicy::Manual,
        index_order: IndexOrder::Any,
        max_payload_len: None,
        create_if_missing: true,
        preallocate: None,
        file_mode: options.file_mode,
        dir_mode: options.dir_mode,
    };
    let source_len = log.len();
    let policy = RecoveryPolicy::new(RecoveryMode::Salvage, IndexOrder::Any);
    let mut fold = Fold::new(source_len);
    let mut findings = Findings::new(source_len, IndexOrder::Any, options.list_limit.max(1));
    let mut next_progress = PROGRESS_STEP;
    // The pass hands each window of verified batches to this thread in
    // turn; the writes go to a thread of their own (at most CHUNKS_IN_FLIGHT
    // chunks of CHUNK_BYTES queued), so that they overlap the hashing of
    // the next window instead of following it.
    let (pass, written) = std::thread::scope(|scope| {
        let (chunks, received) = mpsc::sync_channel::<Chunk>(CHUNKS_IN_FLIGHT);
        let (recycle, recycled) = mpsc::channel::<Vec<u8>>();
        let writing =
            scope.spawn(move || write_chunks(destination, writer_options, received, recycle));
        let mut chunk = Chunk::default();
        let mut writer_gone = false;
        let pass = log.for_each_event(0, &options.parallelism, |event| {
            let finding = fold.event(&event);
            findings.push(&finding);
            if policy.reject(&finding).is_some() {
                // A bad or unsupported magic: the first and only event.
                return ControlFlow::Break(());
            }
            if let Event::Record(record) = &event {
                chunk.push(record);
                if chunk.bytes.len() >= CHUNK_BYTES {
                    let reuse = recycled.try_recv().unwrap_or_default();
                    let full = std::mem::replace(&mut chunk, Chunk::with_buffer(reuse));
                    if chunks.send(full).is_err() {
                        // The writer failed: its error is reported below.
                        writer_gone = true;
                        return ControlFlow::Break(());
                    }
                }
                if let Some(progress) = &options.progress
                    && record.end_offset() >= next_progress
                {
                    progress_reached(progress, record.end_offset());
                    next_progress = record.end_offset().saturating_add(PROGRESS_STEP);
                }
            }
            ControlFlow::Continue(())
        });
        if !writer_gone && chunk.records > 0 {
            let _ = chunks.send(chunk);
        }
        drop(chunks);
        let written = writing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (pass, written)
    });
    let Written {
        writer,
        created,
        error,
    } = written;
    let remove_partial = |writer: Option<Writer>| {
        drop(writer);
        if created {
            let _ = std::fs::remove_file(destination);
        }
    };
    if let Some(e) = error {
        remove_partial(writer);
        return Err(e);
    }
    if let Err(e) = pass {
        remove_partial(writer);
        return Err(read_error(source, &e));
    }
    let verify = VerifyReport {
        summary: fold.finish(),
        findings: findings.finish(),
        policy,
    };
    if let Some(corruption) = verify.summary.first_corruption.filter(|c| c.is_magic()) {
        remove_partial(writer);
        return Err(WriteError::NothingToSalvage {
            path: source.to_path_buf(),
            corruption: Box::new(corruption),
        });
    }
    // A log without one valid record still gets its (empty) new log.
    let writer = match writer {
        Some(writer) => writer,
        None => Writer::create(destination, writer_options)?,
    };
    let len = match writer.close() {
        Ok(durable) => durable.len,
        Err(e) => {
            let _ = std::fs::remove_file(destination);
            return Err(e);
        }
    };
    if let Some(progress) = &options.progress {
        progress_reached(progress, source_len);
    }
    let summary = &verify.summary;
    let magic = if summary.records_end == 0 {
        0
    } else {
        pos_u64(plog_format::MAGIC_LEN)
    };
    // Every copied record is encoded as it was: the bytes copied are the
    // new log's length past its magic.
    let copied_bytes = len.saturating_sub(pos_u64(plog_format::MAGIC_LEN));
    Ok(SalvageReport {
        records: summary.records,
        last_index: summary.last_index,
        len,
        source_len,
        corruptions: summary.corruptions,
        skipped_bytes: source_len
            .saturating_sub(copied_bytes)
            .saturating_sub(magic),
        torn: summary.torn,
        verify,
    })
}

/// How many bytes of records the pass gathers before handing them to the
/// writing thread (one `write` each).
const CHUNK_BYTES: usize = 1 << 20;

/// How many bytes the writing thread writes between two syncs.
const SYNC_EVERY_BYTES: u64 = 64 << 20;

/// How many full chunks may wait for the writing thread.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Verified records, encoded as they were in the source, to be written.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    records: u64,
    first_index: u64,
    last_index: u64,
}

impl Chunk {
    /// An empty chunk in `buffer`'s memory.
    fn with_buffer(mut buffer: Vec<u8>) -> Chunk {
        buffer.clear();
        Chunk {
            bytes: buffer,
            ..Chunk::default()
        }
    }

    /// Adds a verified record, header and payload as they were.
    fn push(&mut self, record: &plog_format::Record<'_>) {
        if self.records == 0 {
            self.first_index = record.index();
        }
        self.bytes.extend_from_slice(record.header().as_bytes());
        self.bytes.extend_from_slice(record.payload());
        self.records += 1;
        self.last_index = record.index();
    }
}

/// What the writing thread of a salvage ended with.
struct Written {
    /// The new log, when one was created (a record came).
    writer: Option<Writer>,
    /// Whether the new log was created by this salvage (so that a failure
    /// removes it, and only it).
    created: bool,
    /// What stopped the writing.
    error: Option<WriteError>,
}

/// The writing thread of a salvage: creates the new log at the first chunk
/// and writes each chunk with one `write`, giving the buffers back.
fn write_chunks(
    destination: &Path,
    options: WriterOptions,
    chunks: mpsc::Receiver<Chunk>,
    recycle: mpsc::Sender<Vec<u8>>,
) -> Written {
    let mut written = Written {
        writer: None,
        created: false,
        error: None,
    };
    let mut unsynced = 0u64;
    for chunk in chunks {
        let writer = match written.writer.as_mut() {
            Some(writer) => writer,
            None => match Writer::create(destination, options) {
                Ok(created) => {
                    written.created = true;
                    written.writer.insert(created)
                }
                Err(e) => {
                    written.error = Some(e);
                    return written;
                }
            },
        };
        let bytes = pos_u64(chunk.bytes.len());
        match writer.write_encoded(
            chunk.bytes,
            chunk.records,
            chunk.first_index,
            chunk.last_index,
        ) {
            Ok(buffer) => {
                let _ = recycle.send(buffer);
            }
            Err(e) => {
                written.error = Some(e);
                return written;
            }
        }
        // Sync as the copy goes: the disk writes then overlap the pass
        // instead of all waiting for the final sync.
        unsynced += bytes;
        if unsynced >= SYNC_EVERY_BYTES {
            unsynced = 0;
            if let Err(e) = writer.sync() {
                written.error = Some(e);
                return written;
            }
        }
    }
    written
}

/// Tells `progress` that the salvage reached `offset`.
fn progress_reached(progress: &SalvageProgress, offset: u64) {
    progress(offset);
}

fn read_error(path: &Path, error: &ReadError) -> WriteError {
    WriteError::io(
        path,
        "read the log",
        std::io::Error::other(error.to_string()),
    )
}
