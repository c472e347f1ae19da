//! `plog stat`: what a log holds, and how long verifying it took.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use plog_format::{Event, Fold};
use plog_mmap::Parallelism;

use crate::error::CliError;
use crate::model::{Bucket, CorruptionKind, JsonPath, Sizes, Stat, Status, Torn};
use crate::text::{count, path_text};
use crate::{exit, out};

/// Arguments of `plog stat`.
#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// One JSON object on stdout (the error object, {"path","error"}, when
    /// the file cannot be read).
    #[arg(long)]
    pub json: bool,
    /// The log file, `-` for standard input, or (built with the `remote`
    /// feature) an object, `s3://BUCKET/KEY` (or `gs://`, `az://`,
    /// `http(s)://`), read as ranged GETs.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// How an object URL is reached.
    #[command(flatten)]
    pub objects: crate::paths::ObjectArgs,
}

/// How many missing ranges `stat` lists (all are counted).
const MISSING_RANGES_LISTED: usize = 1000;

/// How many runs [`IndexRuns`] keeps at most (16 MiB).
const MAX_INDEX_RUNS: usize = 1 << 20;

/// The indices of the valid records, kept as runs of consecutive values in
/// the order they came: one run for a contiguous log, one more per gap,
/// repeat out of place or step back. Memory grows with a log's
/// irregularities, not with its length, and is bounded: when the runs fill
/// the cap they are sorted and merged (exact); if that leaves more than
/// half the cap (a log irregular everywhere), runs that would be added are
/// dropped and the missing count becomes an upper bound
/// ([`IndexRuns::is_exact`] is then `false`).
#[derive(Debug)]
pub struct IndexRuns {
    runs: Vec<[u64; 2]>,
    cap: usize,
    exact: bool,
    /// The smallest and largest index seen (kept even when runs are
    /// dropped, so that the span counted is the log's).
    extremes: Option<[u64; 2]>,
}

impl Default for IndexRuns {
    fn default() -> IndexRuns {
        IndexRuns::with_cap(MAX_INDEX_RUNS)
    }
}

impl IndexRuns {
    /// Runs kept up to `cap` (at least 2).
    pub fn with_cap(cap: usize) -> IndexRuns {
        IndexRuns {
            runs: Vec::new(),
            cap: cap.max(2),
            exact: true,
            extremes: None,
        }
    }

    /// Whether every index was kept (else the missing count is an upper
    /// bound: indices dropped look missing).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Counts a record's index.
    pub fn add(&mut self, index: u64) {
        self.extremes = Some(match self.extremes {
            Some([low, high]) => [low.min(index), high.max(index)],
            None => [index, index],
        });
        match self.runs.last_mut() {
            Some(run) if run[1].checked_add(1) == Some(index) => run[1] = index,
            Some(run) if run[0] <= index && index <= run[1] => {}
            _ => {
                if self.runs.len() >= self.cap {
                    if !self.exact {
                        return;
                    }
                    self.compact();
                    if self.runs.len() > self.cap / 2 {
                        self.exact = false;
                        return;
                    }
                }
                self.runs.push([index, index]);
            }
        }
    }

    /// Sorts the runs and merges those that overlap or touch: the same
    /// indices, fewer runs.
    fn compact(&mut self) {
        self.runs.sort_unstable();
        let mut merged: Vec<[u64; 2]> = Vec::with_capacity(self.runs.len());
        for &[start, end] in &self.runs {
            match merged.last_mut() {
                Some(last) if start <= last[1].saturating_add(1) => last[1] = last[1].max(end),
                _ => merged.push([start, end]),
            }
        }
        self.runs = merged;
    }

    /// The indices between the smallest and the largest that no valid
    /// record holds: their count, the first `listed` ranges `[first, last]`
    /// in ascending order, and how many more ranges there are.
    pub fn missing(mut self, listed: usize) -> (u64, Vec<[u64; 2]>, u64) {
        if !self.exact
            && let Some([low, high]) = self.extremes
        {
            // Indices were dropped: count over the whole span seen.
            self.runs.extend([[low, low], [high, high]]);
        }
        self.runs.sort_unstable();
        let (mut count, mut ranges, mut omitted) = (0u64, Vec::new(), 0u64);
        let mut covered_to: Option<u64> = None;
        for [start, end] in self.runs {
            if let Some(covered) = covered_to
                && start > covered.saturating_add(1)
            {
                count = count.saturating_add(start - covered - 1);
                if ranges.len() < listed {
                    ranges.push([covered + 1, start - 1]);
                } else {
                    omitted += 1;
                }
            }
            covered_to = Some(covered_to.map_or(end, |covered| covered.max(end)));
        }
        (count, ranges, omitted)
    }
}

/// Payload sizes counted by value: exact quantiles in memory that grows
/// with the number of distinct sizes, not of records. Distinct sizes sum to
/// at most the file's length, so a file of `L` bytes has fewer than
/// `sqrt(2 L) + 1` of them (1.5 million for a terabyte) however many
/// records it holds; an engenho-store log has a few thousand.
#[derive(Debug, Default)]
pub struct SizeCounts {
    counts: BTreeMap<u64, u64>,
    total: u64,
}

impl SizeCounts {
    /// Counts a record's payload size.
    pub fn add(&mut self, size: u64) {
        *self.counts.entry(size).or_default() += 1;
        self.total += 1;
    }

    /// The size at 0-based `rank` in ascending order.
    fn at_rank(&self, rank: u64) -> Option<u64> {
        let mut below = 0u64;
        for (&size, &count) in &self.counts {
            below += count;
            if rank < below {
                return Some(size);
            }
        }
        None
    }

    /// The distribution, or `None` without records.
    pub fn distribution(&self) -> Option<Sizes> {
        let last = self.total.checked_sub(1)?;
        // Nearest rank: the smallest value with at least 99% of values at
        // or below it.
        let p99_rank = (self.total.saturating_mul(99))
            .div_ceil(100)
            .saturating_sub(1);
        Some(Sizes {
            min: *self.counts.keys().next()?,
            median: self.at_rank(last / 2)?,
            p99: self.at_rank(p99_rank.min(last))?,
            max: *self.counts.keys().next_back()?,
        })
    }

    /// Power-of-two buckets: 0, 1, 2-3, 4-7, ... up to the largest size.
    pub fn histogram(&self) -> Vec<Bucket> {
        let mut buckets: Vec<Bucket> = Vec::new();
        for (&size, &count) in &self.counts {
            let (from, to) = match size {
                0 => (0, 0),
                _ => {
                    let from = 1u64 << (63 - size.leading_zeros());
                    (from, from.saturating_mul(2).saturating_sub(1).max(from))
                }
            };
            match buckets.last_mut() {
                Some(bucket) if bucket.from == from => bucket.count += count,
                _ => buckets.push(Bucket { from, to, count }),
            }
        }
        buckets
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Runs `plog stat`.
pub fn run(args: StatArgs) -> Result<u8, CliError> {
    // One pass: the mapping's pages go once counted.
    let open = plog_mmap::OpenOptions {
        release_behind: true,
        ..plog_mmap::OpenOptions::default()
    };
    let log = crate::paths::open_path(&args.path, &open, &args.objects)?;
    let started = Instant::now();
    // The one model of the file (plog-format's fold) plus what `stat`
    // shows beyond it: the payload sizes, the indices (for the missing
    // ones) and the corruptions by kind.
    let mut fold = Fold::new(log.len());
    let mut payload_sizes = SizeCounts::default();
    let mut indices = IndexRuns::default();
    let mut by_kind: BTreeMap<CorruptionKind, u64> = BTreeMap::new();
    let complete = log.for_each_event(0, &Parallelism::Current, |event| {
        fold.event(&event);
        match event {
            Event::Record(record) => {
                payload_sizes.add(record.payload_len());
                indices.add(record.index());
            }
            Event::Corrupt(corruption) => {
                *by_kind.entry(CorruptionKind::of(&corruption)).or_default() += 1;
            }
            Event::Torn(_) => {}
        }
        ControlFlow::Continue(())
    });
    let _complete = complete.map_err(|e| CliError::at(&args.path, crate::paths::read_error(&e)))?;
    let summary = fold.finish();
    let verify_seconds = started.elapsed().as_secs_f64();
    let missing_exact = indices.is_exact();
    let (missing, missing_ranges, missing_ranges_omitted) = indices.missing(MISSING_RANGES_LISTED);
    let status = Status::from(summary.status());
    let stats = Stat {
        path: JsonPath::new(&args.path),
        status,
        records: summary.records,
        first_index: summary.first_index,
        last_index: summary.last_index,
        min_index: summary.indices.min_index,
        max_index: summary.indices.max_index,
        gaps: summary.indices.gaps,
        missing_indices: missing,
        missing_ranges,
        missing_ranges_omitted,
        missing_exact,
        repeats: summary.indices.repeats,
        decreases: summary.indices.decreases,
        file_len: log.len(),
        payload_bytes: summary.payload_bytes,
        payload_sizes: payload_sizes.distribution(),
        payload_histogram: payload_sizes.histogram(),
        torn: summary.torn.map(Torn::from),
        corruption_count: summary.corruptions,
        corruptions_by_kind: by_kind,
        verify_seconds,
    };
    if args.json {
        out::print_json(&stats)?;
    } else {
        out::print_text(&human(&stats, &path_text(&args.path)))?;
    }
    Ok(match status {
        Status::Corrupt => exit::CORRUPT,
        Status::Torn => exit::TORN,
        Status::Clean => exit::OK,
    })
}

fn human(s: &Stat, path: &str) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let _ = writeln!(text, "{path}");
    let status = match s.status {
        Status::Clean => "clean",
        Status::Torn => "torn",
        Status::Corrupt => "corrupt",
    };
    let _ = writeln!(text, "  status         {status}");
    let _ = writeln!(text, "  records        {}", s.records);
    let _ = writeln!(
        text,
        "  index          {}..{} (first {} last {})",
        opt(s.min_index),
        opt(s.max_index),
        opt(s.first_index),
        opt(s.last_index)
    );
    let mut listed: Vec<String> = s
        .missing_ranges
        .iter()
        .take(10)
        .map(|&[a, b]| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}..{b}")
            }
        })
        .collect();
    let more = (s.missing_ranges.len() as u64 + s.missing_ranges_omitted)
        .saturating_sub(listed.len() as u64);
    if more > 0 {
        listed.push(format!("and {} more", count(more, "range")));
    }
    let missing = match (s.missing_indices, s.missing_exact) {
        (0, _) => "no index missing".to_string(),
        (1, true) => format!("1 index missing: {}", listed.join(", ")),
        (n, true) => format!("{n} indices missing: {}", listed.join(", ")),
        (n, false) => format!(
            "at most {n} indices missing (too irregular to count exactly in bounded memory): {}",
            listed.join(", ")
        ),
    };
    let _ = writeln!(
        text,
        "  index order    {} ({missing}), {}, {}",
        count(s.gaps, "gap"),
        count(s.repeats, "repeat"),
        count(s.decreases, "decrease")
    );
    let _ = writeln!(
        text,
        "  bytes          {} ({}), payloads {}",
        s.file_len,
        human_size(s.file_len),
        human_size(s.payload_bytes)
    );
    if let Some(p) = &s.payload_sizes {
        let _ = writeln!(
            text,
            "  payload size   min {} median {} p99 {} max {}",
            p.min, p.median, p.p99, p.max
        );
    }
    let widest = s
        .payload_histogram
        .iter()
        .map(|b| b.count)
        .max()
        .unwrap_or(0);
    for bucket in &s.payload_histogram {
        let width = if widest == 0 {
            0
        } else {
            (bucket.count * 40).div_ceil(widest) as usize
        };
        let _ = writeln!(
            text,
            "    {:>9} .. {:<9} {:>9} {}",
            human_size(bucket.from),
            human_size(bucket.to),
            bucket.count,
            "█".repeat(width)
        );
    }
    match &s.torn {
        Some(t) => {
            let _ = writeln!(
                text,
                "  torn tail      {} bytes at offset {} ({})",
                t.bytes,
                t.offset,
                t.reason.as_str()
            );
        }
        None => {
            let _ = writeln!(text, "  torn tail      none");
        }
    }
    let kinds: Vec<String> = s
        .corruptions_by_kind
        .iter()
        .map(|(kind, n)| format!("{} {n}", kind.as_str()))
        .collect();
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    let _ = writeln!(text, "  corruptions    {}{kinds}", s.corruption_count);
    let _ = writeln!(text, "  verified in    {:.3} s", s.verify_seconds);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    use plog_testdata::SplitMix64;

    /// The slow obvious oracle of the distribution: every size, sorted.
    fn sorted_distribution(values: &[u64]) -> Option<(u64, u64, u64, u64)> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let last = sorted.len().checked_sub(1)?;
        let p99_rank = (sorted.len() * 99).div_ceil(100).saturating_sub(1);
        Some((
            sorted[0],
            sorted[last / 2],
            sorted[p99_rank.min(last)],
            sorted[last],
        ))
    }

    /// The slow obvious oracle of the histogram: each size's bucket, found
    /// by scanning the powers of two.
    fn scanned_histogram(values: &[u64]) -> Vec<(u64, u64, u64)> {
        let mut buckets: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for &size in values {
            let (from, to) = if size == 0 {
                (0, 0)
            } else {
                let mut from = 1u64;
                while from <= size / 2 {
                    from *= 2;
                }
                (from, from.saturating_mul(2).saturating_sub(1).max(from))
            };
            buckets.entry(from).or_insert((to, 0)).1 += 1;
        }
        buckets
            .into_iter()
            .map(|(from, (to, count))| (from, to, count))
            .collect()
    }

    /// The slow obvious oracle of the missing indices: sorted, deduplicated,
    /// and the holes between neighbours.
    fn sorted_missing(indices: &[u64], listed: usize) -> (u64, Vec<[u64; 2]>, u64) {
        let mut sorted = indices.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let (mut count, mut ranges, mut omitted) = (0u64, Vec::new(), 0u64);
        for pair in sorted.windows(2) {
            if pair[1] - pair[0] > 1 {
                count += pair[1] - pair[0] - 1;
                if ranges.len() < listed {
                    ranges.push([pair[0] + 1, pair[1] - 1]);
                } else {
                    omitted += 1;
                }
            }
        }
        (count, ranges, omitted)
    }

    fn counted(values: &[u64]) -> SizeCounts {
        let mut counts = SizeCounts::default();
        for &value in values {
            counts.add(value);
        }
        counts
    }

    fn runs(indices: &[u64]) -> IndexRuns {
        let mut runs = IndexRuns::default();
        for &index in indices {
            runs.add(index);
        }
        runs
    }

    /// Index sequences of the shapes logs have: contiguous, with gaps,
    /// repeats, steps back, shuffled, and values at the ends of `u64`.
    fn index_cases(rng: &mut SplitMix64) -> Vec<Vec<u64>> {
        let mut cases = Vec::new();
        for _ in 0..400 {
            let len = rng.below(60) as usize;
            let base = match rng.below(3) {
                0 => 0,
                1 => rng.below(1_000),
                _ => u64::MAX - rng.below(100),
            };
            let mut next = base;
            let mut case = Vec::new();
            for _ in 0..len {
                case.push(next);
                next = match rng.below(10) {
                    0 => next.saturating_add(rng.below(5)),
                    1 => next.saturating_sub(rng.below(8)),
                    2 => base.saturating_add(rng.below(80)),
                    _ => next.saturating_add(1),
                };
            }
            cases.push(case);
        }
        cases
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).rev().collect();
        let d = counted(&v).distribution().unwrap();
        assert_eq!((d.min, d.median, d.p99, d.max), (1, 50, 99, 100));
        assert_eq!(
            counted(&[7]).distribution(),
            Some(Sizes {
                min: 7,
                median: 7,
                p99: 7,
                max: 7
            })
        );
        assert_eq!(counted(&[]).distribution(), None);
    }

    #[test]
    fn counted_sizes_give_what_sorting_every_size_gives() {
        let mut rng = SplitMix64(0x5eed);
        for _ in 0..500 {
            let n = rng.below(300) as usize;
            let spread = [2, 50, 5_000, u64::MAX][rng.below(4) as usize];
            let values: Vec<u64> = (0..n).map(|_| rng.below(spread)).collect();
            let counts = counted(&values);
            let got = counts
                .distribution()
                .map(|d| (d.min, d.median, d.p99, d.max));
            assert_eq!(got, sorted_distribution(&values), "{values:?}");
            let histogram: Vec<(u64, u64, u64)> = counts
                .histogram()
                .iter()
                .map(|b| (b.from, b.to, b.count))
                .collect();
            assert_eq!(histogram, scanned_histogram(&values), "{values:?}");
        }
    }

    #[test]
    fn missing_indices_are_those_no_record_holds() {
        // The slowest obvious oracle: every index between min and max, tested.
        let cases: &[&[u64]] = &[&[1, 2, 5, 4, 4], &[], &[7], &[1, 10, 3, 3, 20], &[5, 1]];
        for &case in cases {
            let (count, ranges, omitted) = runs(case).missing(1000);
            let want: Vec<u64> = match (case.iter().min(), case.iter().max()) {
                (Some(&lo), Some(&hi)) => (lo..=hi).filter(|i| !case.contains(i)).collect(),
                _ => Vec::new(),
            };
            let got: Vec<u64> = ranges.iter().flat_map(|&[a, b]| a..=b).collect();
            assert_eq!(
                (count, got, omitted),
                (want.len() as u64, want, 0),
                "{case:?}"
            );
        }
        let (count, ranges, omitted) = runs(&[1, 3, 5, 7]).missing(2);
        assert_eq!((count, ranges, omitted), (3, vec![[2, 2], [4, 4]], 1));
    }

    #[test]
    fn index_runs_give_what_sorting_every_index_gives() {
        let mut rng = SplitMix64(0x1d5);
        for case in index_cases(&mut rng) {
            for listed in [0, 1, 3, 1000] {
                assert_eq!(
                    runs(&case).missing(listed),
                    sorted_missing(&case, listed),
                    "{case:?}, listing {listed}"
                );
            }
        }
    }

    #[test]
    fn index_runs_stay_within_their_cap_exactly_while_they_can() {
        // Raft-style rewrites: the same ranges again and again merge exactly.
        let mut rewritten = Vec::new();
        for round in 0..50u64 {
            rewritten.extend(1..=20 + round);
            rewritten.extend(100..=120);
        }
        let mut capped = IndexRuns::with_cap(8);
        for &index in &rewritten {
            capped.add(index);
            assert!(capped.runs.len() <= 8);
        }
        assert!(capped.is_exact());
        assert_eq!(capped.missing(10), sorted_missing(&rewritten, 10));

        // Irregular everywhere: bounded, and the count an upper bound.
        let odd: Vec<u64> = (0..1_000).map(|i| 2 * i + 1).collect();
        let mut capped = IndexRuns::with_cap(16);
        for &index in &odd {
            capped.add(index);
            assert!(capped.runs.len() <= 16);
        }
        assert!(!capped.is_exact());
        let (count, _, _) = capped.missing(10);
        assert!(count >= sorted_missing(&odd, 10).0);
    }

    #[test]
    fn a_contiguous_log_is_one_run() {
        let indices = runs(&(1..=100_000).collect::<Vec<u64>>());
        assert_eq!(indices.runs, [[1, 100_000]]);
        assert_eq!(indices.missing(10), (0, Vec::new(), 0));
    }

    #[test]
    fn histogram_buckets_are_powers_of_two() {
        let h = counted(&[0, 1, 2, 3, 4, 7, 8, 200]).histogram();
        let got: Vec<(u64, u64, u64)> = h.iter().map(|b| (b.from, b.to, b.count)).collect();
        assert_eq!(
            got,
            [
                (0, 0, 1),
                (1, 1, 1),
                (2, 3, 2),
                (4, 7, 2),
                (8, 15, 1),
                (128, 255, 1)
            ]
        );
    }
}
