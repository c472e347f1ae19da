//! Structure-aware inputs: a log of many records built from a short recipe,
//! then damaged. Raw fuzz bytes rarely hold more than a few dozen records,
//! which never fills more than one batch of plog-mmap's parallel verifier;
//! a recipe of a few bytes gives tens of thousands of records (several
//! batches and windows, for every thread count) with damage in chosen places.

use arbitrary::{Arbitrary, Unstructured};
use plog_format::{HEADER_LEN, MAGIC, MAGIC_LEN, encode_record_to_vec};

/// The most records a recipe builds: more than one batch of plog-mmap's
/// verifier when the payloads are empty (a batch holds at most 2,048 records).
/// Each record costs microseconds in an instrumented build, so this stays low;
/// large payloads fill batches and windows instead.
pub const MAX_RECORDS: usize = 2_500;

/// The most bytes the records of a recipe occupy before damage, the huge
/// payload aside: with payloads of 256 KiB or more (one per batch of the
/// verifier), enough for more than one window of 8 batches (one thread).
pub const MAX_RECORD_BYTES: usize = 3 * 1024 * 1024;

/// The step of [`Lengths::Large`] payloads.
const LARGE_STEP: usize = 16 * 1024;

/// The length of the one huge payload a recipe may add: past plog-mmap's
/// 2 MiB threshold for hashing one payload with BLAKE3's own parallelism.
pub const HUGE_PAYLOAD_LEN: usize = 2 * 1024 * 1024 + 17;

/// How the records' payload lengths vary.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Lengths {
    /// Every payload is empty (the most records per batch).
    Empty,
    /// Every payload has this many bytes (times 4).
    Fixed(u8),
    /// Lengths cycle through 0..=n*4.
    Cycle(u8),
    /// Every payload has (n % 24 + 1) * 16 KiB: 16 to 384 KiB, so that a
    /// batch holds one or a few records.
    Large(u8),
}

/// How indices run.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Indices {
    /// `start, start+1, ...`
    Contiguous,
    /// `start, start+step, ...` (wrapping)
    Step(u16),
    /// Indices repeat in a short cycle (order violations).
    Cycle(u8),
}

/// One change to the built log's bytes. Positions are taken modulo the
/// length of the log as it is at that point.
#[derive(Arbitrary, Clone, Debug)]
pub(crate) enum Damage {
    /// Flip one bit.
    FlipBit { at: u32, bit: u8 },
    /// Overwrite the length field of record `record` (counted from the first).
    SetLength { record: u32, payload_len: u64 },
    /// Overwrite bytes.
    Overwrite { at: u32, bytes: Vec<u8> },
    /// Insert bytes.
    Insert { at: u32, bytes: Vec<u8> },
    /// Cut the file.
    Truncate { at: u32 },
    /// Append zero bytes (a zero-filled tail).
    ZeroTail { len: u16 },
    /// Zero a range in place.
    ZeroRange { at: u32, len: u16 },
}

/// A log to build: how many records of which shape, then the damage.
#[derive(Arbitrary, Clone, Debug)]
struct Recipe {
    records: u16,
    lengths: Lengths,
    first_index: u64,
    indices: Indices,
    /// Position (modulo the record count) of one huge payload, if any and
    /// a multiple of 4 (a huge payload costs much more than other inputs).
    huge_at: Option<u16>,
    damage: Vec<Damage>,
}

/// Builds a log from the recipe in `data`: tens of thousands of records at
/// most, with damage. Deterministic for given bytes.
///
/// ```
/// let log = plog_fuzz_checks::generate::log_from_recipe(&[200, 10, 1, 0, 0, 0]);
/// assert!(log.starts_with(b"engenho-persistent-log v1\n"));
/// ```
pub fn log_from_recipe(data: &[u8]) -> Vec<u8> {
    match Recipe::arbitrary_take_rest(Unstructured::new(data)) {
        Ok(recipe) => build(&recipe),
        Err(_) => MAGIC.to_vec(),
    }
}

fn payload_len(lengths: Lengths, i: usize) -> usize {
    match lengths {
        Lengths::Empty => 0,
        Lengths::Fixed(n) => usize::from(n) * 4,
        Lengths::Cycle(n) => i % (usize::from(n) * 4 + 1),
        Lengths::Large(n) => large_len(n),
    }
}

fn large_len(n: u8) -> usize {
    (usize::from(n) % 24 + 1) * LARGE_STEP
}

fn index_of(first: u64, indices: Indices, i: usize) -> u64 {
    let i = i as u64;
    match indices {
        Indices::Contiguous => first.wrapping_add(i),
        Indices::Step(step) => first.wrapping_add(i.wrapping_mul(u64::from(step))),
        Indices::Cycle(n) => first.wrapping_add(i % (u64::from(n) + 1)),
    }
}

fn build(recipe: &Recipe) -> Vec<u8> {
    let longest = match recipe.lengths {
        Lengths::Empty => 0,
        Lengths::Fixed(n) | Lengths::Cycle(n) => usize::from(n) * 4,
        Lengths::Large(n) => large_len(n),
    };
    let count = usize::from(recipe.records)
        .min(MAX_RECORDS)
        .min(MAX_RECORD_BYTES / (HEADER_LEN + longest));
    let huge_at = recipe
        .huge_at
        .filter(|at| count > 0 && at % 4 == 0)
        .map(|at| usize::from(at) % count);
    let mut log = MAGIC.to_vec();
    let mut payload = Vec::new();
    let mut starts = Vec::with_capacity(count);
    for i in 0..count {
        let len = if huge_at == Some(i) {
            HUGE_PAYLOAD_LEN
        } else {
            payload_len(recipe.lengths, i)
        };
        // JSON-ish text, different for every record: `{"i":N}` padded with
        // spaces (filled in bulk: byte-by-byte loops are slow when
        // instrumented for fuzzing).
        let text = format!("{{\"i\":{i}}}");
        payload.clear();
        payload.resize(len, b' ');
        let shown = text.len().min(len);
        payload[..shown].copy_from_slice(&text.as_bytes()[..shown]);
        starts.push(log.len());
        encode_record_to_vec(
            index_of(recipe.first_index, recipe.indices, i),
            &payload,
            &mut log,
        );
    }
    for damage in &recipe.damage {
        apply(&mut log, &starts, damage);
    }
    log
}

fn at(position: u32, len: usize) -> usize {
    if len == 0 { 0 } else { position as usize % len }
}

/// Applies `damage` to `log`, whose records start at `starts`.
pub(crate) fn apply(log: &mut Vec<u8>, starts: &[usize], damage: &Damage) {
    let len = log.len();
    match damage {
        Damage::FlipBit { at: position, bit } => {
            if len > 0 {
                log[at(*position, len)] ^= 1 << (bit % 8);
            }
        }
        Damage::SetLength {
            record,
            payload_len,
        } => {
            if !starts.is_empty() {
                let start = starts[*record as usize % starts.len()] + 8;
                if let Some(field) = log.get_mut(start..start + 8) {
                    field.copy_from_slice(&payload_len.to_le_bytes());
                }
            }
        }
        Damage::Overwrite {
            at: position,
            bytes,
        } => {
            let start = at(*position, len);
            for (offset, byte) in bytes.iter().enumerate() {
                if let Some(slot) = log.get_mut(start + offset) {
                    *slot = *byte;
                }
            }
        }
        Damage::Insert {
            at: position,
            bytes,
        } => {
            let start = at(*position, len + 1).max(MAGIC_LEN.min(len));
            log.splice(start..start, bytes.iter().copied());
        }
        Damage::Truncate { at: position } => log.truncate(at(*position, len + 1)),
        Damage::ZeroTail { len: zeros } => log.resize(len + usize::from(*zeros), 0),
        Damage::ZeroRange {
            at: position,
            len: zeros,
        } => {
            let start = at(*position, len);
            let end = start.saturating_add(usize::from(*zeros)).min(len);
            log[start..end].fill(0);
        }
    }
}
