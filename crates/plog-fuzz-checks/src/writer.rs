//! The `writer` target: a program of appends, batches, syncs, crashes and
//! reopens against plog-writer, checked against a model of the acknowledged
//! records.

use std::fs::OpenOptions as FileOptions;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use plog_format::{
    Corruption, IndexChecker, IndexOrder, MAGIC_LEN, Status, classify, encode_record_to_vec,
};
use plog_mmap::{Log, Parallelism, VerifyOptions};
use plog_writer::{
    LockedLog, LogPosition, RepairOptions, SyncPolicy, WriteError, Writer, WriterOptions,
};
use serde::Serialize;

/// How an append's index follows the last acknowledged one.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Step {
    Next,
    Same,
    Back,
    Jump(u8),
    Any(u64),
}

/// An engenho-store-like entry, appended as JSON.
#[derive(Arbitrary, Clone, Debug, Serialize)]
struct Entry {
    op: String,
    kind: String,
    name: String,
    #[serde(rename = "resourceVersion")]
    resource_version: u64,
    labels: Vec<(String, String)>,
}

/// One operation of a writer program.
#[derive(Arbitrary, Clone, Debug)]
enum Op {
    AppendRaw(Step, Vec<u8>),
    AppendJson(Step, Entry),
    BatchRaw(Vec<(Step, Vec<u8>)>),
    BatchJson(Vec<(Step, Entry)>),
    Flush,
    Sync,
    /// The process dies: whatever the writer buffered may or may not have
    /// reached the file, and the file is cut anywhere at or after the last
    /// durable byte (`cut` is taken modulo the bytes after it), then `zeros`
    /// zero bytes appear at its end (a file system that extended the file
    /// but never wrote the data). Then the log is reopened.
    Crash {
        cut: u32,
        zeros: u16,
    },
    /// A clean close (sync) and reopen.
    Reopen,
}

/// A writer program: options and operations.
#[derive(Arbitrary, Debug)]
struct Program {
    manual_sync: bool,
    order: u8,
    max_payload_len: Option<u16>,
    /// Preallocation chunk: `1 + n % 8192` bytes.
    preallocate: Option<u16>,
    first_index: u64,
    ops: Vec<Op>,
}

/// A record the writer acknowledged: its append returned `Ok`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Acked {
    offset: u64,
    index: u64,
    payload: Vec<u8>,
}

/// What the test knows the log must hold.
struct Model {
    /// Acknowledged records, in file order.
    acked: Vec<Acked>,
    /// Where the next record goes.
    end: u64,
    options: WriterOptions,
    first_index: u64,
}

impl Model {
    fn last_index(&self) -> Option<u64> {
        self.acked.last().map(|record| record.index)
    }

    /// The index a step leads to from the last acknowledged record.
    fn next_index(&self, step: Step, previous: Option<u64>) -> u64 {
        let Some(previous) = previous else {
            return self.first_index;
        };
        match step {
            Step::Next => previous.wrapping_add(1),
            Step::Same => previous,
            Step::Back => previous.wrapping_sub(1),
            Step::Jump(by) => previous.wrapping_add(u64::from(by)),
            Step::Any(index) => index,
        }
    }

    /// The rules `(index, payload)` breaks after `previous`: the writer must
    /// reject it with one of these kinds (either, when it breaks both: the
    /// writer checks the payload limit first for raw payloads, and the index
    /// before serializing a JSON one), or accept it when there is none.
    fn rejection(
        &self,
        previous: Option<u64>,
        index: u64,
        payload_len: usize,
    ) -> Vec<&'static str> {
        let mut broken = Vec::new();
        if self
            .options
            .max_payload_len
            .is_some_and(|max| payload_len as u64 > max)
        {
            broken.push("payload_too_large");
        }
        if self.options.index_order.admits(previous, index).is_err() {
            broken.push("index_order");
        }
        broken
    }

    fn push(&mut self, index: u64, payload: Vec<u8>) {
        let offset = self.end;
        self.end += 48 + payload.len() as u64;
        self.acked.push(Acked {
            offset,
            index,
            payload,
        });
    }

    fn position(&self) -> LogPosition {
        LogPosition {
            len: self.end,
            records: self.acked.len() as u64,
            last_index: self.last_index(),
        }
    }
}

/// A directory for the program's log: on tmpfs (`/dev/shm`) when there is
/// one, where `fdatasync` costs nothing, else the system's temporary
/// directory.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("create a temporary directory")
}

/// Runs a writer program (decoded from the input with `arbitrary`) against
/// plog-writer and checks it against a model of the acknowledged records.
/// Panics only when the writer or the log breaks a promise:
///
/// * an append or batch is rejected exactly when its index breaks the
///   writer's index order or its payload is over the limit, and a rejected
///   batch writes nothing; an accepted one lands where the model says
///   (`Appended::offset`, `bytes`);
/// * `durable()` is the model's end after every append in
///   `SyncPolicy::EveryAppend`, and after every `sync` in `Manual`;
/// * after a crash that cuts the file anywhere at or after the last durable
///   byte (and maybe leaves zeros behind), the valid records of the file are
///   a prefix of the acknowledged records that holds every durable one;
///   reopening repairs a torn tail and reports exactly those records; when
///   zeros turned the cut record into a complete record with a wrong hash,
///   reopening drops it if one of its 512-byte sector pieces is all zeros
///   (`OpenReport::dropped_torn_append`), and otherwise refuses to open
///   without changing a byte, and `LockedLog::repair` with
///   `drop_corrupt_tail` drops just that record;
/// * after every reopen and at the end, a reader (plog-mmap) sees a clean
///   log holding exactly the acknowledged records.
///
/// ```
/// plog_fuzz_checks::writer(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03abc");
/// ```
pub fn writer(data: &[u8]) {
    let Ok(program) = Program::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let options = WriterOptions {
        sync: if program.manual_sync {
            SyncPolicy::Manual
        } else {
            SyncPolicy::EveryAppend
        },
        index_order: match program.order % 3 {
            0 => IndexOrder::Any,
            1 => IndexOrder::Increasing,
            _ => IndexOrder::Contiguous,
        },
        max_payload_len: program.max_payload_len.map(u64::from),
        create_if_missing: true,
        preallocate: program.preallocate.map(|n| 1 + u64::from(n % 8192)),
        ..WriterOptions::default()
    };
    let dir = scratch_dir();
    let path = dir.path().join("fuzz.plog");
    let mut model = Model {
        acked: Vec::new(),
        end: MAGIC_LEN as u64,
        options,
        first_index: program.first_index,
    };
    let (mut writer, report) = Writer::open(&path, options).expect("create the log");
    assert!(report.created);
    assert_eq!(writer.durable(), model.position());

    for op in &program.ops {
        match op {
            Op::AppendRaw(step, payload) => {
                let index = model.next_index(*step, model.last_index());
                let result = writer.append_raw(index, payload);
                single(&mut model, &writer, index, payload.clone(), result);
            }
            Op::AppendJson(step, entry) => {
                let index = model.next_index(*step, model.last_index());
                let payload = serde_json::to_vec(entry).expect("serialize an entry");
                let result = writer.append(index, entry);
                single(&mut model, &writer, index, payload, result);
            }
            Op::BatchRaw(records) => {
                let planned = plan_batch(&model, records.iter().map(|(s, p)| (*s, p.clone())));
                let result = writer.append_batch_raw(
                    planned
                        .iter()
                        .map(|(index, payload)| (*index, payload.as_slice())),
                );
                batch(&mut model, &writer, planned, result);
            }
            Op::BatchJson(records) => {
                let planned = plan_batch(
                    &model,
                    records.iter().map(|(step, entry)| {
                        (
                            *step,
                            serde_json::to_vec(entry).expect("serialize an entry"),
                        )
                    }),
                );
                let indexed: Vec<(u64, &Entry)> = planned
                    .iter()
                    .zip(records)
                    .map(|((index, _), (_, entry))| (*index, entry))
                    .collect();
                let result = writer.append_batch(indexed.iter().map(|(i, e)| (*i, *e)));
                batch(&mut model, &writer, planned, result);
            }
            Op::Flush => {
                writer.flush().expect("flush");
                if options.sync == SyncPolicy::EveryAppend {
                    assert_eq!(writer.durable(), model.position());
                }
            }
            Op::Sync => {
                let durable = writer.sync().expect("sync");
                assert_eq!(
                    durable,
                    model.position(),
                    "sync made the wrong position durable"
                );
                assert_eq!(writer.durable(), durable);
            }
            Op::Crash { cut, zeros } => {
                let durable = writer.durable();
                // The writer dies; its buffer may reach the file (Drop
                // flushes it) and the cut below decides what survives.
                drop(writer);
                crash(&path, durable, *cut, *zeros);
                writer = reopen_after_crash(&path, &mut model, durable);
            }
            Op::Reopen => {
                let closed = writer.close().expect("close");
                assert_eq!(closed, model.position());
                writer = reopen(&path, &model, None, None);
            }
        }
        assert_eq!(writer.position(), model.position());
    }
    let closed = writer.close().expect("close");
    assert_eq!(closed, model.position());
    // A clean close leaves exactly the records: no preallocated zeros.
    check_reader(&path, &model, false);
}

/// Checks a single append's outcome and updates the model.
fn single(
    model: &mut Model,
    writer: &Writer,
    index: u64,
    payload: Vec<u8>,
    result: Result<plog_writer::Appended, WriteError>,
) {
    let broken = model.rejection(model.last_index(), index, payload.len());
    match result {
        Ok(appended) => {
            assert!(
                broken.is_empty(),
                "append of index {index} accepted, expected {broken:?}"
            );
            assert_eq!(appended.offset, model.end, "append landed elsewhere");
            assert_eq!(appended.bytes, 48 + payload.len() as u64);
            assert_eq!((appended.records, appended.last_index), (1, index));
            model.push(index, payload);
        }
        Err(error) => check_rejection(&error, index, &broken),
    }
    check_durable(model, writer);
}

/// The indices a batch's steps lead to, each from the previous record.
fn plan_batch(
    model: &Model,
    records: impl Iterator<Item = (Step, Vec<u8>)>,
) -> Vec<(u64, Vec<u8>)> {
    let mut previous = model.last_index();
    records
        .map(|(step, payload)| {
            let index = model.next_index(step, previous);
            previous = Some(index);
            (index, payload)
        })
        .collect()
}

/// Checks a batch's outcome (all or nothing) and updates the model.
fn batch(
    model: &mut Model,
    writer: &Writer,
    planned: Vec<(u64, Vec<u8>)>,
    result: Result<Option<plog_writer::Appended>, WriteError>,
) {
    // The first record that breaks a rule rejects the whole batch.
    let mut previous = model.last_index();
    let mut first_rejected = None;
    for (index, payload) in &planned {
        let broken = model.rejection(previous, *index, payload.len());
        if !broken.is_empty() {
            first_rejected = Some((*index, broken));
            break;
        }
        previous = Some(*index);
    }
    match (result, first_rejected) {
        (Ok(None), None) => assert!(planned.is_empty(), "a non-empty batch appended nothing"),
        (Ok(Some(appended)), None) => {
            assert_eq!(appended.offset, model.end, "batch landed elsewhere");
            assert_eq!(appended.records, planned.len() as u64);
            let bytes: u64 = planned.iter().map(|(_, p)| 48 + p.len() as u64).sum();
            assert_eq!(appended.bytes, bytes);
            for (index, payload) in planned {
                model.push(index, payload);
            }
            assert_eq!(Some(appended.last_index), model.last_index());
        }
        (Err(error), Some((index, broken))) => check_rejection(&error, index, &broken),
        (Ok(_), Some((index, broken))) => {
            panic!("batch accepted, expected its record {index} rejected: {broken:?}")
        }
        (Err(error), None) => panic!("batch failed: {error}"),
    }
    check_durable(model, writer);
}

/// A rejection names the record (`index`) and one of the rules it breaks.
fn check_rejection(error: &WriteError, index: u64, broken: &[&str]) {
    assert!(
        broken.contains(&error.kind()),
        "record {index} rejected as {}, expected one of {broken:?}: {error}",
        error.kind()
    );
    assert!(error.is_rejection(), "{error}");
    let named = match error {
        WriteError::IndexOrder { index, .. } | WriteError::PayloadTooLarge { index, .. } => *index,
        other => panic!("not a rejection: {other}"),
    };
    assert_eq!(named, index, "the rejection names another record: {error}");
}

fn check_durable(model: &Model, writer: &Writer) {
    if model.options.sync == SyncPolicy::EveryAppend {
        assert_eq!(
            writer.durable(),
            model.position(),
            "an append was not made durable"
        );
    } else {
        assert!(writer.durable().len <= model.end);
    }
}

/// Cuts the file at or after the last durable byte and appends zeros.
fn crash(path: &Path, durable: LogPosition, cut: u32, zeros: u16) {
    let file = FileOptions::new()
        .write(true)
        .open(path)
        .expect("open the log to crash it");
    let len = file.metadata().expect("stat the log").len();
    assert!(
        len >= durable.len,
        "the file is shorter than what is durable"
    );
    let cut_at = durable.len + u64::from(cut) % (len - durable.len + 1);
    file.set_len(cut_at + u64::from(zeros))
        .expect("cut the log");
}

/// Reopens after a crash; returns the writer and updates the model to the
/// records that survived.
fn reopen_after_crash(path: &PathBuf, model: &mut Model, durable: LogPosition) -> Writer {
    let bytes = std::fs::read(path).expect("read the crashed log");
    let classification = classify(&bytes);
    let survivors: Vec<Acked> = classification
        .records
        .iter()
        .map(|record| {
            let start = record.offset as usize + 48;
            Acked {
                offset: record.offset,
                index: record.index,
                payload: bytes[start..start + record.payload_len as usize].to_vec(),
            }
        })
        .collect();
    assert!(
        survivors.len() as u64 >= durable.records,
        "a crash after the last durable byte lost durable records"
    );
    assert_eq!(
        survivors,
        model.acked[..survivors.len().min(model.acked.len())],
        "the crashed file's records are not a prefix of the acknowledged ones"
    );
    model.acked.truncate(survivors.len());
    model.end = model
        .acked
        .last()
        .map_or(MAGIC_LEN as u64, |r| r.offset + 48 + r.payload.len() as u64);

    if classification.status() == Status::Corrupt {
        // Zeros completed the cut record with a wrong hash: a complete final
        // record whose hash fails is corruption by FORMAT.md. With an
        // all-zero sector piece it is what a crash leaves of a write over
        // zeros, and the open drops it; otherwise the writer refuses it,
        // changing nothing.
        if let Corruption::HashMismatch {
            zeroed_sector: Some(_),
            ..
        } = classification.corruptions[0]
        {
            assert_eq!(
                classification.corruptions.len(),
                1,
                "a cut and zeros made more than one corruption"
            );
            return reopen(path, model, None, Some(classification.corruptions[0]));
        }
        let refused = Writer::open(path, model.options).expect_err("open a corrupt log");
        assert_eq!(refused.kind(), "corrupt", "{refused}");
        assert_eq!(
            std::fs::read(path).expect("read the log"),
            bytes,
            "a refused open changed the file"
        );
        let corruption = classification.corruptions[0];
        assert_eq!(
            classification.corruptions.len(),
            1,
            "a cut and zeros made more than one corruption"
        );
        assert!(
            corruption.offset() >= durable.len,
            "the corrupt record was durable"
        );
        let mut locked = LockedLog::open(path).expect("lock the log for repair");
        let plan = locked
            .repair(RepairOptions {
                drop_corrupt_tail: true,
            })
            .expect("repair");
        assert_eq!(plan.kind(), "drop_corrupt_tail", "{plan}");
        drop(locked);
        return reopen(path, model, None, None);
    }
    reopen(
        path,
        model,
        classification.torn.map(|tail| tail.offset),
        None,
    )
}

/// Reopens the log and checks what the open reports against the model
/// (`torn_at`: where a torn tail to repair starts; `dropped`: the cut
/// append over zeros the open drops).
fn reopen(
    path: &PathBuf,
    model: &Model,
    torn_at: Option<u64>,
    dropped: Option<Corruption>,
) -> Writer {
    let (writer, report) = Writer::open(path, model.options).expect("reopen the log");
    assert!(!report.created);
    assert_eq!(
        report.repaired.map(|tail| tail.offset),
        torn_at,
        "torn tail repaired"
    );
    assert_eq!(
        report.dropped_torn_append, dropped,
        "cut append over zeros dropped"
    );
    assert_eq!(
        report.position(),
        model.position(),
        "reopen found another log"
    );
    assert_eq!(writer.durable(), model.position());
    let mut checker = IndexChecker::new(model.options.index_order);
    let violations = model
        .acked
        .iter()
        .filter(|r| checker.check(r.offset, r.index).is_some())
        .count();
    assert_eq!(report.index_violations, violations as u64);
    check_reader(path, model, model.options.preallocate.is_some());
    writer
}

/// A reader sees a clean log holding exactly the acknowledged records;
/// `zero_tail_allowed`: the writer is open and preallocates, so the file may
/// end in zeros (a torn tail by FORMAT.md) after them.
fn check_reader(path: &Path, model: &Model, zero_tail_allowed: bool) {
    let log = Log::open(path).expect("open the log for reading");
    let report = log.verify(&VerifyOptions::default()).unwrap();
    match report.summary.torn {
        Some(tail) if zero_tail_allowed => {
            assert_eq!(tail.reason, plog_format::TornReason::ZeroFill, "{report:?}");
            assert_eq!(tail.offset, model.end, "{report:?}");
            assert!(report.findings.corruptions.is_empty(), "{report:?}");
        }
        _ => assert_eq!(report.status(), Status::Clean, "{report:?}"),
    }
    assert_eq!(report.summary.records, model.acked.len() as u64);
    let mut found: Vec<Acked> = Vec::new();
    let _ = log
        .for_each_step(0, &Parallelism::Current, |step| {
            if let plog_format::Step::Record(record) = step {
                found.push(Acked {
                    offset: record.offset(),
                    index: record.index(),
                    payload: record.payload().to_vec(),
                });
            }
            ControlFlow::Continue(())
        })
        .expect("nothing changes the log while it is read");
    assert_eq!(
        found, model.acked,
        "the reader does not see the acknowledged records"
    );
    let mut expected = plog_format::MAGIC.to_vec();
    for record in &model.acked {
        encode_record_to_vec(record.index, &record.payload, &mut expected);
    }
    let bytes = std::fs::read(path).expect("read the log");
    let (records, tail) = bytes.split_at(expected.len().min(bytes.len()));
    assert_eq!(
        records, expected,
        "the file is not the acknowledged records' bytes"
    );
    assert!(
        tail.is_empty() || (zero_tail_allowed && tail.iter().all(|&b| b == 0)),
        "the file holds {} bytes after the acknowledged records",
        tail.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(order: IndexOrder, max_payload_len: Option<u64>) -> Model {
        Model {
            acked: Vec::new(),
            end: MAGIC_LEN as u64,
            options: WriterOptions {
                index_order: order,
                max_payload_len,
                ..WriterOptions::default()
            },
            first_index: 10,
        }
    }

    #[test]
    fn the_model_rejects_what_the_writer_must() {
        let mut contiguous = model(IndexOrder::Contiguous, Some(4));
        assert_eq!(
            contiguous.next_index(Step::Jump(5), None),
            10,
            "first index"
        );
        contiguous.push(10, b"ab".to_vec());
        assert!(contiguous.rejection(Some(10), 11, 4).is_empty());
        assert_eq!(contiguous.rejection(Some(10), 12, 1), ["index_order"]);
        assert_eq!(contiguous.rejection(Some(10), 10, 1), ["index_order"]);
        assert_eq!(contiguous.rejection(Some(10), 11, 5), ["payload_too_large"]);
        assert_eq!(
            contiguous.rejection(Some(10), 13, 5),
            ["payload_too_large", "index_order"]
        );
        assert_eq!(contiguous.position().len, 26 + 48 + 2);
        let any = model(IndexOrder::Any, None);
        assert!(any.rejection(Some(10), 3, 1 << 20).is_empty());
    }

    #[test]
    fn a_batch_plans_each_index_from_the_one_before() {
        let mut increasing = model(IndexOrder::Increasing, None);
        increasing.push(10, Vec::new());
        let planned = plan_batch(
            &increasing,
            [
                (Step::Next, vec![1]),
                (Step::Jump(3), vec![2]),
                (Step::Same, vec![3]),
            ]
            .into_iter(),
        );
        let indices: Vec<u64> = planned.iter().map(|(index, _)| *index).collect();
        assert_eq!(indices, [11, 14, 14]);
    }

    #[test]
    fn a_crash_never_cuts_below_the_durable_end() {
        let dir = scratch_dir();
        let path = dir.path().join("crash.plog");
        std::fs::write(&path, [1u8; 100]).unwrap();
        let durable = LogPosition {
            len: 60,
            records: 1,
            last_index: Some(1),
        };
        for cut in [0, 1, 40, 41, 1000] {
            std::fs::write(&path, [1u8; 100]).unwrap();
            crash(&path, durable, cut, 3);
            let len = std::fs::metadata(&path).unwrap().len();
            assert!((63..=103).contains(&len), "cut {cut}: length {len}");
        }
    }
}
