//! The generator's randomness and vocabulary: a per-entry SplitMix64
//! stream, the names it picks from, and the time and place every object of
//! an entry shares.

/// A small deterministic generator (SplitMix64): each entry gets its own
/// stream from `(seed, index)`, so no entry depends on another.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64, index: u64) -> Rng {
        let mut rng = Rng(seed ^ 0x6A09_E667_F3BC_C908);
        let mixed = rng.next() ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Rng(mixed)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut inner = crate::SplitMix64(self.0);
        let value = inner.next_u64();
        self.0 = inner.0;
        value
    }

    /// A number in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True `percent` times in a hundred.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// `len` characters of the alphabet Kubernetes uses for generated names.
    pub(super) fn suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    pub(super) fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from_digit((self.next() % 16) as u32, 16).unwrap_or('0'))
            .collect()
    }

    pub(super) fn uid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
}

pub(super) const NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "payments",
    "checkout",
    "search",
    "monitoring",
    "ingress-nginx",
    "data-pipeline",
];
pub(super) const APPS: &[&str] = &[
    "api",
    "web",
    "worker",
    "cache",
    "gateway",
    "indexer",
    "scheduler",
    "billing",
    "notifier",
    "auth",
    "frontend",
    "ledger",
];
pub(super) const TEAMS: &[&str] = &["platform", "commerce", "growth", "infra", "data"];
pub(super) const WORDS: &[&str] = &[
    "timeout",
    "retries",
    "batch",
    "cache",
    "pool",
    "buffer",
    "threshold",
    "window",
    "backoff",
    "endpoint",
    "region",
    "replica",
];

/// What every object of an entry shares: where and when.
pub(super) struct Ctx {
    pub(super) index: u64,
    pub(super) namespace: &'static str,
    pub(super) app: &'static str,
    pub(super) team: &'static str,
}

impl Ctx {
    /// An RFC 3339 time `back` seconds before this entry was written (the log
    /// advances a quarter second per entry from 2025-03-01).
    pub(super) fn time(&self, back: u64) -> String {
        rfc3339((1_740_787_200 + self.index / 4).saturating_sub(back))
    }

    pub(super) fn image(&self, rng: &mut Rng) -> String {
        format!(
            "registry.example.com/{}/{}:v1.{}.{}",
            self.team,
            self.app,
            rng.range(0, 40),
            rng.range(0, 20)
        )
    }
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days,
/// proleptic Gregorian).
pub(super) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}
