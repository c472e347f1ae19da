//! `plog stat`: what a log holds, and how long verifying it took.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use plog_format::{Event, Fold, Status};
use plog_mmap::Parallelism;
use serde::Serialize;

use crate::error::CliError;
use crate::exit;
use crate::out::{self, JsonPath};
use crate::paths::open_log;
use crate::verify::JsonTorn;

/// Arguments of `plog stat`.
#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// One JSON object on stdout (an object with "status": "error" when the
    /// file cannot be read).
    #[arg(long)]
    pub json: bool,
    /// The log file, or `-` for standard input.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// How many missing ranges `stat` lists (all are counted).
const MISSING_RANGES_LISTED: usize = 1000;

/// The indices between the smallest and the largest that no valid record
/// holds: their count and the first ranges `[first, last]`, from the
/// indices sorted and deduplicated.
pub fn missing(sorted_unique: &[u64], listed: usize) -> (u64, Vec<[u64; 2]>, u64) {
    let (mut count, mut ranges, mut omitted) = (0u64, Vec::new(), 0u64);
    for pair in sorted_unique.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b - a > 1 {
            count = count.saturating_add(b - a - 1);
            if ranges.len() < listed {
                ranges.push([a + 1, b - 1]);
            } else {
                omitted += 1;
            }
        }
    }
    (count, ranges, omitted)
}

/// Payload size distribution.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Sizes {
    /// Smallest payload.
    pub min: u64,
    /// Median (the lower one for an even count).
    pub median: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Largest payload.
    pub max: u64,
}

/// One bucket of the payload size histogram: sizes in `[from, to]`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Bucket {
    /// Smallest size in the bucket.
    pub from: u64,
    /// Largest size in the bucket.
    pub to: u64,
    /// Records in the bucket.
    pub count: u64,
}

/// `plog stat --json`.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// The path (`-` for standard input), with `path_base64` when it is not
    /// UTF-8.
    #[serde(flatten)]
    pub path: JsonPath,
    /// `clean`, `torn` or `corrupt`.
    pub status: &'static str,
    /// Valid records.
    pub records: u64,
    /// Index of the first valid record.
    pub first_index: Option<u64>,
    /// Index of the last valid record.
    pub last_index: Option<u64>,
    /// Smallest index.
    pub min_index: Option<u64>,
    /// Largest index.
    pub max_index: Option<u64>,
    /// Places where an index skips ahead (index > previous + 1).
    pub gaps: u64,
    /// Indices between `min_index` and `max_index` that no valid record
    /// holds.
    pub missing_indices: u64,
    /// Those indices as inclusive ranges `[first, last]`, ascending (the
    /// first thousand ranges).
    pub missing_ranges: Vec<[u64; 2]>,
    /// How many more ranges there are than `missing_ranges` lists.
    pub missing_ranges_omitted: u64,
    /// Records whose index equals the previous one.
    pub repeats: u64,
    /// Records whose index is below the previous one.
    pub decreases: u64,
    /// File length.
    pub bytes: u64,
    /// Sum of valid payload lengths.
    pub payload_bytes: u64,
    /// Payload size distribution (null without records).
    pub payload_len: Option<Sizes>,
    /// Power-of-two histogram of payload sizes.
    pub histogram: Vec<Bucket>,
    /// The torn tail.
    pub torn: Option<JsonTorn>,
    /// How many corruptions.
    pub corruptions: u64,
    /// How many corruptions of each kind (`hash_mismatch`, `length`,
    /// `bad_magic`, `unsupported_version`).
    pub corruptions_by_kind: BTreeMap<&'static str, u64>,
    /// Wall time of the verification pass, in seconds.
    pub verify_seconds: f64,
}

/// The distribution of `sizes` (sorted in place), or None when empty.
pub fn sizes(sizes: &mut [u64]) -> Option<Sizes> {
    sizes.sort_unstable();
    let n = sizes.len();
    let last = n.checked_sub(1)?;
    // Nearest rank: the smallest value with at least 99% of values at or below it.
    let p99_rank = (n * 99).div_ceil(100).saturating_sub(1);
    Some(Sizes {
        min: sizes[0],
        median: sizes[last / 2],
        p99: sizes[p99_rank.min(last)],
        max: sizes[last],
    })
}

/// Power-of-two buckets: 0, 1, 2-3, 4-7, ... up to the largest size.
pub fn histogram(sorted_sizes: &[u64]) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> = Vec::new();
    for &size in sorted_sizes {
        let (from, to) = match size {
            0 => (0, 0),
            _ => {
                let from = 1u64 << (63 - size.leading_zeros());
                (from, from.saturating_mul(2).saturating_sub(1).max(from))
            }
        };
        match buckets.last_mut() {
            Some(bucket) if bucket.from == from => bucket.count += 1,
            _ => buckets.push(Bucket { from, to, count: 1 }),
        }
    }
    buckets
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
    let log = match open_log(&args.path, &open) {
        Ok(log) => log,
        Err(error) if args.json => {
            out::print_json(&out::JsonError::new(&args.path, error))?;
            return Err(CliError::Reported { code: exit::ERROR });
        }
        Err(error) => {
            return Err(CliError::failed(format!(
                "{}: {error}",
                out::path_text(&args.path)
            )));
        }
    };
    let started = Instant::now();
    // The one model of the file (plog-format's fold) plus what `stat`
    // shows beyond it: the payload sizes, the indices (for the missing
    // ones) and the corruptions by kind.
    let mut fold = Fold::new(log.len());
    let mut payload_sizes: Vec<u64> = Vec::new();
    let mut indices: Vec<u64> = Vec::new();
    let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    let complete = log.for_each_event(0, &Parallelism::Current, |event| {
        fold.event(&event);
        match event {
            Event::Record(record) => {
                payload_sizes.push(record.payload_len());
                indices.push(record.index());
            }
            Event::Corrupt(corruption) => *by_kind.entry(corruption.kind()).or_default() += 1,
            Event::Torn(_) => {}
        }
        ControlFlow::Continue(())
    });
    let _complete = complete.map_err(|e| {
        CliError::failed(format!(
            "{}: {}",
            out::path_text(&args.path),
            crate::paths::read_error(&e)
        ))
    })?;
    let summary = fold.finish();
    let verify_seconds = started.elapsed().as_secs_f64();
    let distribution = sizes(&mut payload_sizes);
    indices.sort_unstable();
    indices.dedup();
    let (missing, missing_ranges, missing_ranges_omitted) =
        missing(&indices, MISSING_RANGES_LISTED);
    let stats = Stats {
        path: JsonPath::new(&args.path),
        status: summary.status().as_str(),
        records: summary.records,
        first_index: summary.first_index,
        last_index: summary.last_index,
        min_index: summary.indices.min_index,
        max_index: summary.indices.max_index,
        gaps: summary.indices.gaps,
        missing_indices: missing,
        missing_ranges,
        missing_ranges_omitted,
        repeats: summary.indices.repeats,
        decreases: summary.indices.decreases,
        bytes: summary.file_len,
        payload_bytes: summary.payload_bytes,
        payload_len: distribution,
        histogram: histogram(&payload_sizes),
        torn: summary.torn.map(JsonTorn::from),
        corruptions: summary.corruptions,
        corruptions_by_kind: by_kind,
        verify_seconds,
    };
    if args.json {
        out::print_json(&stats)?;
    } else {
        out::print_text(&human(&stats, &out::path_text(&args.path)))?;
    }
    Ok(match summary.status() {
        Status::Corrupt => exit::CORRUPT,
        Status::Torn => exit::TORN,
        Status::Clean => exit::OK,
    })
}

fn human(s: &Stats, path: &str) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let _ = writeln!(text, "{path}");
    let _ = writeln!(text, "  status         {}", s.status);
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
        listed.push(format!("and {} more", out::count(more, "range")));
    }
    let missing = match s.missing_indices {
        0 => "no index missing".to_string(),
        1 => format!("1 index missing: {}", listed.join(", ")),
        n => format!("{n} indices missing: {}", listed.join(", ")),
    };
    let _ = writeln!(
        text,
        "  index order    {} ({missing}), {}, {}",
        out::count(s.gaps, "gap"),
        out::count(s.repeats, "repeat"),
        out::count(s.decreases, "decrease")
    );
    let _ = writeln!(
        text,
        "  bytes          {} ({}), payloads {}",
        s.bytes,
        human_size(s.bytes),
        human_size(s.payload_bytes)
    );
    if let Some(p) = &s.payload_len {
        let _ = writeln!(
            text,
            "  payload size   min {} median {} p99 {} max {}",
            p.min, p.median, p.p99, p.max
        );
    }
    let widest = s.histogram.iter().map(|b| b.count).max().unwrap_or(0);
    for bucket in &s.histogram {
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
                t.bytes, t.offset, t.kind
            );
        }
        None => {
            let _ = writeln!(text, "  torn tail      none");
        }
    }
    let kinds: Vec<String> = s
        .corruptions_by_kind
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    let _ = writeln!(text, "  corruptions    {}{kinds}", s.corruptions);
    let _ = writeln!(text, "  verified in    {:.3} s", s.verify_seconds);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        let d = sizes(&mut v).unwrap();
        assert_eq!((d.min, d.median, d.p99, d.max), (1, 50, 99, 100));
        let mut one = vec![7];
        assert_eq!(
            sizes(&mut one),
            Some(Sizes {
                min: 7,
                median: 7,
                p99: 7,
                max: 7
            })
        );
        assert_eq!(sizes(&mut []), None);
    }

    #[test]
    fn missing_indices_are_those_no_record_holds() {
        // The slow obvious oracle: every index between min and max, tested.
        let cases: &[&[u64]] = &[&[1, 2, 5, 4, 4], &[], &[7], &[1, 10, 3, 3, 20], &[5, 1]];
        for &case in cases {
            let mut sorted = case.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            let (count, ranges, omitted) = missing(&sorted, 1000);
            let want: Vec<u64> = match (sorted.first(), sorted.last()) {
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
        let (count, ranges, omitted) = missing(&[1, 3, 5, 7], 2);
        assert_eq!((count, ranges, omitted), (3, vec![[2, 2], [4, 4]], 1));
    }

    #[test]
    fn histogram_buckets_are_powers_of_two() {
        let h = histogram(&[0, 1, 2, 3, 4, 7, 8, 200]);
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
