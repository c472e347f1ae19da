//! Progress bars on stderr, only when stderr is a terminal and the work is large.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Work smaller than this many bytes gets no progress bar.
const LARGE_WORK_BYTES: u64 = 64 << 20;

/// A byte-counting progress bar on stderr, hidden unless stderr is a
/// terminal and the work is large. It is drawn whatever stdout is (with
/// `--json` too): stdout carries only the output proper.
pub fn bytes_bar(total_bytes: u64) -> ProgressBar {
    if total_bytes < LARGE_WORK_BYTES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
