//! [`schedule`](crate::schedule): how a batch would run on a kernel of a given lane count,
//! counted by running the engine with a kernel that compresses nothing.

/// How [`hash_many`](crate::hash_many) would run a batch on a kernel of a given lane count:
/// what [`schedule`](crate::schedule) returns.
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

/// The schedule [`hash_many`](crate::hash_many) follows for `inputs` on a kernel of `lanes`
/// lanes (1 to 16), counted without hashing: for measuring how busy the
/// lanes stay on a given mix of input sizes (BENCHMARKS.md's scheduling
/// simulation, `cargo run --release -p plog-benches --example
/// hash_schedule`).
#[cfg(feature = "std")]
pub fn schedule(lanes: usize, inputs: &[&[u8]]) -> Schedule {
    counting::run(lanes, inputs.len(), |i| {
        inputs.get(i).copied().unwrap_or_default()
    })
}

/// What [`schedule`](crate::schedule) counts: the engine run with a kernel that
/// compresses nothing and counts the steps it would take.
mod counting {
    use std::cell::Cell;

    use super::Schedule;
    use crate::engine::{self, Job, Lanes};

    std::thread_local! {
        /// The simulated lane count and the counts so far.
        static STATE: Cell<(usize, Schedule)> = const { Cell::new((1, Schedule::ZERO)) };
    }

    /// Counts `jobs` as a kernel of the current lane count would run them,
    /// and writes zeros where their chaining values go.
    ///
    /// # Safety
    ///
    /// Each job's `out` must be writable for 32 bytes.
    unsafe fn kernel(jobs: &[Job]) {
        let (width, mut counts) = STATE.get();
        for group in jobs.chunks(width.max(1)) {
            let steps = group.iter().map(Job::blocks).max().unwrap_or(0);
            counts.calls += 1;
            counts.steps += steps;
            counts.lane_steps += width * steps;
            counts.compressions += group.iter().map(Job::blocks).sum::<usize>();
            if steps == 1 && group.iter().all(|job| job.flags & crate::PARENT != 0) {
                counts.parent_calls += 1;
            }
            for job in group {
                // SAFETY: the caller guarantees 32 writable bytes at `out`;
                // the source is a local array.
                unsafe { core::ptr::copy_nonoverlapping([0u8; 32].as_ptr(), job.out, 32) };
            }
        }
        STATE.set((width, counts));
    }

    /// The engine's schedule of `inputs` on `width` lanes (with the real
    /// backends' [`solo`](crate::engine::solo) threshold).
    pub(crate) fn run<'a>(
        width: usize,
        count: usize,
        input: impl Fn(usize) -> &'a [u8],
    ) -> Schedule {
        let width = width.clamp(1, engine::MAX_LANES);
        STATE.set((width, Schedule::ZERO));
        let lanes = Lanes {
            kernel,
            width,
            solo: engine::solo(width),
        };
        let mut out = std::vec![[0u8; 32]; count];
        engine::run(lanes, &mut out, input);
        STATE.get().1
    }
}
