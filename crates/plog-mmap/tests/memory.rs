//! Verification's memory does not grow with the record count: a counting
//! global allocator measures the peak of live heap bytes, and the number of
//! allocations, during `verify` of logs of 100,000 and 300,000 records
//! (both more than the three windows of batches that are in flight at a
//! time, so the difference is what grows with the count).
//!
//! Streaming recovery's likewise (100,000 against 400,000 records, and
//! against what collecting the same replay holds).
//!
//! (Its own test binary: the allocator is process-wide.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::ops::ControlFlow;

use plog_mmap::{Log, Parallelism, ReplayOptions, VerifyOptions};
use plog_testdata::{build_log, k8s_payload};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from `alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counters are process-wide: one measuring test at a time.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `run`'s result, the peak of live heap bytes above the start while it
/// ran, and the allocations it made.
fn measured<R>(run: impl FnOnce() -> R) -> (R, usize, usize) {
    let start = LIVE.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    let result = run();
    let peak = PEAK.load(Ordering::SeqCst) - start;
    let count = ALLOCATIONS.load(Ordering::SeqCst) - allocations;
    (result, peak, count)
}

/// (peak live bytes above the start, allocations) of one verification.
fn measure(log: &Log, options: &VerifyOptions) -> (usize, usize) {
    let (report, peak, count) = measured(|| log.verify(options).unwrap());
    assert!(report.passes());
    (peak, count)
}

/// A pool of `threads` threads.
fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    )
}

/// A log of `records` copies of a few K8s-like records (cheap to build).
fn log_of(records: usize) -> Log {
    let payloads: Vec<Vec<u8>> = (0..8).map(|i| k8s_payload(i, 220)).collect();
    let unit = build_log(payloads.iter().enumerate().map(|(i, p)| (i as u64, &p[..])));
    let body = &unit[plog_format::MAGIC_LEN..];
    let mut bytes = Vec::with_capacity(plog_format::MAGIC_LEN + body.len() * records / 8);
    bytes.extend_from_slice(&plog_format::MAGIC);
    for _ in 0..records / 8 {
        bytes.extend_from_slice(body);
    }
    Log::from_bytes(bytes)
}

#[test]
fn peak_memory_of_verification_does_not_grow_with_the_record_count() {
    let _alone = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let small = log_of(100_000);
    let large = log_of(300_000);
    for threads in [1, 2] {
        let pool = pool(threads);
        let options = VerifyOptions {
            parallelism: Parallelism::Pool(pool),
            ..VerifyOptions::default()
        };
        // Warm up: the pool's threads allocate their own state once.
        measure(&small, &options);
        let (small_peak, small_count) = measure(&small, &options);
        let (large_peak, large_count) = measure(&large, &options);
        eprintln!(
            "{threads} threads: 100k records: peak {small_peak} B, {small_count} allocations; \
             300k records: peak {large_peak} B, {large_count} allocations"
        );
        // Three times the records (80 MB of payload more). The batches in
        // flight are bounded (16 per thread, each at most 2,048 records of
        // 32 bytes): how many are alive at the peak depends on scheduling,
        // not on the record count.
        assert!(
            large_peak <= small_peak + small_peak / 4 + (1 << 20),
            "{threads} threads: peak grew from {small_peak} to {large_peak} bytes"
        );
        // Nothing is allocated per record: at most one allocation per batch
        // (rayon's task for it; a batch holds hundreds of these records).
        let more_records = 200_000;
        assert!(
            large_count.saturating_sub(small_count) <= more_records / 200,
            "{threads} threads: {small_count} then {large_count} allocations"
        );
        // And in absolute terms: a few windows of batches.
        let bound = threads * (16 + 1) * 2_048 * 32 + (256 << 10);
        assert!(
            small_peak <= bound && large_peak <= bound,
            "{threads} threads: peaks {small_peak} and {large_peak} bytes, bound {bound}"
        );
    }
}

/// Peak live bytes above the start of one streaming replay into
/// `serde_json::Value`, each entry dropped by the callback; and the entries
/// applied.
fn measure_stream(log: &Log, options: &ReplayOptions) -> (usize, u64) {
    let mut applied = 0u64;
    let (report, peak, _) = measured(|| {
        log.replay_each(options, |_, entry: serde_json::Value| {
            applied += 1;
            drop(entry);
            ControlFlow::Continue(())
        })
        .unwrap()
    });
    assert_eq!(report.summary.records, applied);
    (peak, applied)
}

#[test]
fn peak_memory_of_streaming_recovery_does_not_grow_with_the_record_count() {
    let _alone = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let small = log_of(100_000);
    let large = log_of(400_000);
    for threads in [1, 2] {
        let pool = pool(threads);
        let options = ReplayOptions {
            verify: VerifyOptions {
                parallelism: Parallelism::Pool(pool),
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        };
        measure_stream(&small, &options);
        let (small_peak, small_applied) = measure_stream(&small, &options);
        let (large_peak, large_applied) = measure_stream(&large, &options);
        assert_eq!((small_applied, large_applied), (100_000, 400_000));
        // The whole replay, held: what `replay` (collect) needs at least.
        let (_, held, _) = measured(|| small.replay::<serde_json::Value>(&options).unwrap());
        eprintln!(
            "{threads} threads: streamed 100k: peak {small_peak} B; 400k: peak {large_peak} B; \
             collected 100k: peak {held} B"
        );
        // Four times the records, the same bound: each thread holds the
        // batch it decodes and applies (about 256 KiB of payload; here
        // about 1.5 MB decoded), up to two more batches per thread wait
        // for their turn, and a thread keeps the emptied vectors of two.
        let window_bound = (threads * 3 + 1) * (2 << 20);
        assert!(
            small_peak <= window_bound && large_peak <= window_bound,
            "{threads} threads: peaks {small_peak} and {large_peak} B, bound {window_bound} B"
        );
        // Collecting holds every entry, so what it needs grows with the
        // records (4x for the large log: measured on the small one, as
        // collecting 400k entries in a debug build is slow); streaming's
        // window does not.
        assert!(
            large_peak * 20 <= held * 4,
            "{threads} threads: streaming 400k peaks at {large_peak} B, over 5% of the \
             {} B that collecting them holds",
            held * 4
        );
    }
}

/// A log of `units` copies of a few K8s-like records, made as it is read
/// (never held whole): what `zstdcat LOG |` hands `plog verify -`.
struct GeneratedLog {
    /// The magic, then `units` copies of `unit`.
    unit: Vec<u8>,
    units: usize,
    /// Bytes of the whole stream handed out so far.
    at: usize,
}

impl GeneratedLog {
    fn new(units: usize) -> GeneratedLog {
        let payloads: Vec<Vec<u8>> = (0..8).map(|i| k8s_payload(i, 220)).collect();
        let log = build_log(payloads.iter().enumerate().map(|(i, p)| (i as u64, &p[..])));
        GeneratedLog {
            unit: log[plog_format::MAGIC_LEN..].to_vec(),
            units,
            at: 0,
        }
    }

    fn len(&self) -> usize {
        plog_format::MAGIC_LEN + self.unit.len() * self.units
    }
}

impl std::io::Read for GeneratedLog {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.at < self.len() {
            let (source, at) = if self.at < plog_format::MAGIC_LEN {
                (&plog_format::MAGIC[..], self.at)
            } else {
                let body = self.at - plog_format::MAGIC_LEN;
                (&self.unit[..], body % self.unit.len())
            };
            let take = (source.len() - at).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&source[at..at + take]);
            n += take;
            self.at += take;
        }
        Ok(n)
    }
}

/// `plog verify -` and `plog dump -` of a stream hold a window, not the
/// stream: the peak of live heap bytes of a pass over a 13 MB and a 53 MB
/// stream is the same, and a few windows in all. (Reading the stream into
/// memory, as `Log::read_from` does, would peak at its length.)
#[test]
fn peak_memory_of_a_pass_over_a_stream_does_not_grow_with_its_length() {
    let _alone = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let options = VerifyOptions {
        parallelism: Parallelism::Pool(pool(2)),
        ..VerifyOptions::default()
    };
    let verify = |units: usize| {
        let stream = GeneratedLog::new(units);
        let len = stream.len() as u64;
        let log = Log::from_stream(stream);
        let (report, peak, _) = measured(|| log.verify(&options).unwrap());
        assert!(report.passes());
        assert_eq!((report.summary.records, log.len()), (units as u64 * 8, len));
        peak
    };
    let events = |units: usize| {
        let log = Log::from_stream(GeneratedLog::new(units));
        let mut records = 0u64;
        let (_, peak, _) = measured(|| {
            log.for_each_event(0, &options.parallelism, |event| {
                records += u64::from(matches!(event, plog_mmap::Event::Record(_)));
                ControlFlow::Continue(())
            })
            .unwrap()
        });
        assert_eq!(records, units as u64 * 8);
        peak
    };
    verify(1_000);
    let units = 6_250; // 50,000 records: about 13 MB
    let (small_verify, large_verify) = (verify(units), verify(units * 4));
    let (small_events, large_events) = (events(units), events(units * 4));
    eprintln!(
        "stream verify: 13 MB peak {small_verify} B, 53 MB peak {large_verify} B; \
         events: {small_events} B, {large_events} B"
    );
    // The window, the reader's chunk, and the batches of two threads.
    let bound = 2 * plog_mmap::STREAM_WINDOW + (8 << 20);
    for (small, large) in [(small_verify, large_verify), (small_events, large_events)] {
        assert!(large <= bound, "peak {large} B, bound {bound} B");
        assert!(
            large <= small + small / 4 + (1 << 20),
            "the peak grew from {small} to {large} B with the stream's length"
        );
    }
}
