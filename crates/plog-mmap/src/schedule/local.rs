//! [`run_local`](crate::schedule::run_local): the sink stays on the calling thread; windows of batches
//! are hashed in the pool while the calling thread cuts the next window.

use crate::hashing::LargePayloads;
use std::ops::ControlFlow;

use rayon::prelude::*;

use crate::Parallelism;
use crate::batch::{Batch, BatchWork, Tuning, cut_batch};
use crate::pool::{Runner, sizes};
use crate::read_ahead::Walk;

/// [`run`](crate::schedule::run) with `sink` on the calling thread (it need not be `Send`): the
/// sink does not overlap the hashing.
///
/// Returns the offset the walk reached (at most one window, `threads ×
/// batches_per_thread` batches, past the window handed to `sink`).
pub(crate) fn run_local<'a, W: BatchWork>(
    mut walker: Walk<'a>,
    parallelism: &Parallelism,
    tuning: Tuning,
    work: &W,
    mut sink: impl FnMut(&mut Batch<'a, W::Out>) -> ControlFlow<()>,
) -> u64 {
    let runner = Runner::new(parallelism);
    let sizes = sizes(&runner, tuning);
    let mut spare: Vec<Batch<'a, W::Out>> = Vec::new();
    let mut current: Vec<Batch<'a, W::Out>> = Vec::with_capacity(sizes.0);
    let mut next: Vec<Batch<'a, W::Out>> = Vec::with_capacity(sizes.0);
    fill_window(&mut walker, sizes, &mut spare, &mut current, work);
    while !current.is_empty() {
        runner.run(|| {
            rayon::join(
                || fill_window(&mut walker, sizes, &mut spare, &mut next, work),
                || {
                    current
                        .par_iter_mut()
                        .for_each(|batch| batch.process(work, LargePayloads::Parallel))
                },
            )
        });
        for batch in &mut current {
            if sink(batch).is_break() {
                return walker.offset();
            }
        }
        spare.append(&mut current);
        std::mem::swap(&mut current, &mut next);
    }
    walker.offset()
}

/// Cuts up to `window` batches of about `batch_cost` from the walk into
/// `into`, reusing batches from `spare`.
fn fill_window<'a, W: BatchWork>(
    walker: &mut Walk<'a>,
    (window, batch_cost): (usize, usize),
    spare: &mut Vec<Batch<'a, W::Out>>,
    into: &mut Vec<Batch<'a, W::Out>>,
    work: &W,
) {
    while into.len() < window {
        match cut_batch(walker, batch_cost, spare, work) {
            Some(batch) => into.push(batch),
            None => return,
        }
    }
}
