//! `plog stat`: what a log holds, and how long verifying it took.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use plog_format::{Event, Status, TornTail};
use plog_mmap::{Log, Parallelism};
use serde::Serialize;

use crate::error::CliError;
use crate::exit;

/// Arguments of `plog stat`.
#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// The log file.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
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
    /// The path.
    pub path: String,
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
    /// Indices skipped over by those gaps.
    pub missing_indices: u64,
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
    pub torn: Option<TornJson>,
    /// How many corruptions.
    pub corruptions: u64,
    /// Wall time of the verification pass, in seconds.
    pub verify_seconds: f64,
}

/// The torn tail in `stat --json`.
#[derive(Debug, Serialize)]
pub struct TornJson {
    /// Where it starts.
    pub offset: u64,
    /// How many bytes.
    pub bytes: u64,
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
    let log = Log::open(&args.path).map_err(|e| CliError::failed(e.to_string()))?;
    let started = Instant::now();
    let mut payload_sizes: Vec<u64> = Vec::new();
    let mut previous: Option<u64> = None;
    let (mut gaps, mut missing, mut repeats, mut decreases) = (0u64, 0u64, 0u64, 0u64);
    let (mut first, mut min_index, mut max_index) = (None, None::<u64>, None::<u64>);
    let mut corruptions = 0u64;
    let mut torn: Option<TornTail> = None;
    let complete = log.for_each_event(0, &Parallelism::Current, |event| {
        match event {
            Event::Record(record) => {
                let index = record.index();
                payload_sizes.push(record.payload_len());
                first.get_or_insert(index);
                min_index = Some(min_index.map_or(index, |m| m.min(index)));
                max_index = Some(max_index.map_or(index, |m| m.max(index)));
                if let Some(previous) = previous {
                    match index.cmp(&previous) {
                        std::cmp::Ordering::Equal => repeats += 1,
                        std::cmp::Ordering::Less => decreases += 1,
                        std::cmp::Ordering::Greater if index - previous > 1 => {
                            gaps += 1;
                            missing += index - previous - 1;
                        }
                        std::cmp::Ordering::Greater => {}
                    }
                }
                previous = Some(index);
            }
            Event::Corrupt(_) => corruptions += 1,
            Event::Torn(tail) => torn = Some(tail),
        }
        ControlFlow::Continue(())
    });
    let _complete = complete.map_err(|e| CliError::failed(e.to_string()))?;
    let verify_seconds = started.elapsed().as_secs_f64();
    let distribution = sizes(&mut payload_sizes);
    let stats = Stats {
        path: args.path.display().to_string(),
        status: Status::from_findings(corruptions > 0, torn.is_some()).as_str(),
        records: payload_sizes.len() as u64,
        first_index: first,
        last_index: previous,
        min_index,
        max_index,
        gaps,
        missing_indices: missing,
        repeats,
        decreases,
        bytes: log.len(),
        payload_bytes: payload_sizes.iter().sum(),
        payload_len: distribution,
        histogram: histogram(&payload_sizes),
        torn: torn.map(|t| TornJson {
            offset: t.offset,
            bytes: t.bytes,
        }),
        corruptions,
        verify_seconds,
    };
    if args.json {
        let line = serde_json::to_string(&stats)
            .map_err(|err| CliError::failed(format!("cannot encode JSON: {err}")))?;
        println!("{line}");
    } else {
        print_human(&stats);
    }
    Ok(match stats.status {
        "corrupt" => exit::CORRUPT,
        "torn" => exit::TORN,
        _ => exit::OK,
    })
}

fn print_human(s: &Stats) {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    println!("{}", s.path);
    println!("  status         {}", s.status);
    println!("  records        {}", s.records);
    println!(
        "  index          first {} last {} (min {} max {})",
        opt(s.first_index),
        opt(s.last_index),
        opt(s.min_index),
        opt(s.max_index)
    );
    println!(
        "  index order    {} gaps ({} indices missing), {} repeats, {} decreases",
        s.gaps, s.missing_indices, s.repeats, s.decreases
    );
    println!(
        "  bytes          {} ({}), payloads {}",
        s.bytes,
        human_size(s.bytes),
        human_size(s.payload_bytes)
    );
    if let Some(p) = &s.payload_len {
        println!(
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
        println!(
            "    {:>9} .. {:<9} {:>9} {}",
            human_size(bucket.from),
            human_size(bucket.to),
            bucket.count,
            "█".repeat(width)
        );
    }
    match &s.torn {
        Some(t) => println!("  torn tail      {} bytes at offset {}", t.bytes, t.offset),
        None => println!("  torn tail      none"),
    }
    println!("  corruptions    {}", s.corruptions);
    println!("  verified in    {:.3} s", s.verify_seconds);
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
