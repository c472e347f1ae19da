// Power-loss simulation: after some acknowledged appends, the file is cut at
// every byte offset past the last acknowledged record (inside the records that
// were in flight), or its unwritten tail reads as zeros; reopening must repair
// it to a log that holds every acknowledged record, byte for byte, and take
// more appends.

use std::path::Path;

use plog_format::{MAGIC, Status, TornReason, classify};
use plog_writer::{Writer, WriterOptions};

/// Writes `acked` records and then `in_flight` more with the writer; returns
/// the file's bytes and the length covered by the acknowledged ones.
fn log_with_in_flight(dir: &Path, acked: &[&[u8]], in_flight: &[&[u8]]) -> (Vec<u8>, usize) {
    let path = dir.join("source.plog");
    let (mut writer, _) = Writer::open(&path, WriterOptions::default()).unwrap();
    for (i, payload) in acked.iter().enumerate() {
        writer.append_raw(i as u64 + 1, payload).unwrap();
    }
    let acked_len = writer.durable().len as usize;
    let first = acked.len() as u64 + 1;
    writer
        .append_batch_raw((first..).zip(in_flight.iter().copied()))
        .unwrap();
    drop(writer);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (bytes, acked_len)
}

/// Reopens `damaged` and checks that it holds exactly the complete records
/// of `full` up to the damage, at least everything acknowledged.
fn check_reopen(dir: &Path, name: &str, damaged: &[u8], full: &[u8], acked_len: usize) {
    let path = dir.join(name);
    std::fs::write(&path, damaged).unwrap();
    let (mut writer, report) = Writer::open(&path, WriterOptions::default())
        .unwrap_or_else(|e| panic!("{name}: reopen failed: {e}"));
    let repaired = std::fs::read(&path).unwrap();
    // Every complete record of the cut file is kept, and only those.
    let complete = classify(full)
        .records
        .iter()
        .map(|r| (r.offset + 48 + r.payload_len) as usize)
        .filter(|&end| end <= damaged.len() && damaged[..end] == full[..end])
        .max()
        .unwrap_or(MAGIC.len());
    assert!(complete >= acked_len, "{name}");
    assert_eq!(repaired, full[..complete], "{name}: repaired bytes");
    assert_eq!(report.len as usize, complete, "{name}");
    // A cut magic is dropped whole and rewritten; anything else is cut at
    // the end of the last complete record.
    let (dropped, drop_offset) = if damaged.len() < MAGIC.len() {
        (damaged.len(), 0)
    } else {
        (damaged.len() - complete, complete)
    };
    assert_eq!(
        report.repaired.map_or(0, |t| t.bytes) as usize,
        dropped,
        "{name}: reported drop"
    );
    if dropped > 0 {
        assert_eq!(
            report.repaired.unwrap().offset as usize,
            drop_offset,
            "{name}"
        );
    }
    // Appending continues, and the result is clean.
    let next = report.last_index.map_or(1, |i| i + 1);
    writer
        .append_raw(next, b"{\"after\":\"power loss\"}")
        .unwrap();
    drop(writer);
    let after = crate::read_back(&path);
    assert_eq!(after.status(), Status::Clean, "{name}");
    assert_eq!(after.last_index(), Some(next), "{name}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn cut_at_every_offset_past_the_last_acknowledged_record() {
    let dir = crate::scratch_dir();
    let big = plog_testdata::k8s_payload(7, 300);
    let acked: [&[u8]; 4] = [b"{\"a\":1}", b"", &big, b"not json"];
    let final_record = plog_testdata::k8s_payload(9, 200);
    let (full, acked_len) = log_with_in_flight(dir.path(), &acked, &[&final_record]);
    assert_eq!(full.len(), acked_len + 48 + final_record.len());
    for cut in acked_len..=full.len() {
        check_reopen(dir.path(), "cut.plog", &full[..cut], &full, acked_len);
    }
}

#[test]
fn cut_inside_an_unacknowledged_batch_keeps_its_complete_records() {
    let dir = crate::scratch_dir();
    let in_flight: Vec<Vec<u8>> = (0..4).map(|i| plog_testdata::k8s_payload(i, 60)).collect();
    let refs: Vec<&[u8]> = in_flight.iter().map(Vec::as_slice).collect();
    let (full, acked_len) = log_with_in_flight(dir.path(), &[b"{}", b"[]"], &refs);
    for cut in acked_len..=full.len() {
        check_reopen(dir.path(), "batch.plog", &full[..cut], &full, acked_len);
    }
}

#[test]
fn an_unwritten_tail_that_reads_as_zeros_is_repaired() {
    // The file's size reached the disk but the data did not: the in-flight
    // records read as zeros.
    let dir = crate::scratch_dir();
    let in_flight = plog_testdata::k8s_payload(3, 200);
    let (full, acked_len) = log_with_in_flight(dir.path(), &[b"{\"x\":1}"], &[&in_flight]);
    for zeros in [1, 47, 48, 49, full.len() - acked_len, 4096] {
        let mut damaged = full[..acked_len].to_vec();
        damaged.resize(acked_len + zeros, 0);
        let path = dir.path().join("zeros.plog");
        std::fs::write(&path, &damaged).unwrap();
        let (_, report) = Writer::open(&path, WriterOptions::default()).unwrap();
        let tail = report.repaired.unwrap();
        assert_eq!(tail.reason, TornReason::ZeroFill);
        assert_eq!((tail.offset, tail.bytes), (acked_len as u64, zeros as u64));
        assert_eq!(std::fs::read(&path).unwrap(), full[..acked_len]);
        check_reopen(dir.path(), "zeros2.plog", &damaged, &full, acked_len);
    }
}

#[test]
fn a_cut_creation_is_repaired_to_an_empty_log() {
    let dir = crate::scratch_dir();
    for cut in 0..=MAGIC.len() {
        check_reopen(dir.path(), "magic.plog", &MAGIC[..cut], &MAGIC, 0);
    }
}
