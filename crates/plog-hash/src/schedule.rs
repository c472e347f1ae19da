//! [`schedule`]: how a batch would run on a kernel of a given lane count,
//! counted by running the engine with a kernel that compresses nothing.

use crate::engine;

/// How [`hash_many`] would run a batch on a kernel of a given lane count:
/// what [`schedule`] returns.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Kernel calls (groups of up to the lane count of jobs).
    pub calls: usize,
    /// Of which one-step groups of parent nodes only.
    pub parent_calls: usize,
    /// Compression steps (one block in every lane).
    pub steps: usize,
    /// Steps times the lane count: the compressions the steps could do.
    pub lane_steps: usize,
    /// The compressions done in the lanes (the rest of the batch's
    /// compressions, if any, went to `blake3::hash`: inputs of more than
    /// 32 chunks, and a lone last one-chunk input).
    pub compressions: usize,
}

#[cfg(feature = "std")]
impl Schedule {
    pub(crate) const ZERO: Schedule = Schedule {
        calls: 0,
        parent_calls: 0,
        steps: 0,
        lane_steps: 0,
        compressions: 0,
    };

    /// The fraction of lane-steps that compress a block (1 when every lane
    /// of every step is busy).
    pub fn busy(&self) -> f64 {
        if self.lane_steps == 0 {
            return 1.0;
        }
        self.compressions as f64 / self.lane_steps as f64
    }
}

/// The schedule [`hash_many`] follows for `inputs` on a kernel of `lanes`
/// lanes (1 to 16), counted without hashing: for measuring how busy the
/// lanes stay on a given mix of input sizes (BENCHMARKS.md's scheduling
/// simulation, `cargo run --release -p plog-benches --example
/// hash_schedule`).
#[cfg(feature = "std")]
pub fn schedule(lanes: usize, inputs: &[&[u8]]) -> Schedule {
    engine::counting::run(lanes, inputs.len(), |i| {
        inputs.get(i).copied().unwrap_or_default()
    })
}
