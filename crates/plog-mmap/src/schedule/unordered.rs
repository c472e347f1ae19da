//! [`run`](crate::schedule::run): one thread cuts batches and spawns each as a FIFO task; hashed
//! batches go to the sink in file order, on a pool thread.

use crate::hashing::LargePayloads;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use crate::Parallelism;
use crate::batch::{Batch, BatchWork, Tuning, cut_batch};
use crate::pool::{Runner, lock, sizes};
use crate::read_ahead::Walk;

/// Walks from `walker`, hashes in parallel and hands each hashed batch to
/// `sink` in file order, until the walk ends or `sink` breaks.
///
/// No barrier: the thread that runs this function cuts batches and spawns
/// each as a task (FIFO) as soon as it is cut, keeping at most
/// `threads × batches_per_thread` in flight; whenever the oldest batch is
/// hashed it goes to `sink`, and when the limit is reached the thread helps
/// hash (`rayon::yield_now`) instead of waiting. `sink` therefore runs on a
/// pool thread (one call at a time, in file order) and must be `Send`; see
/// [`run_local`](crate::schedule::run_local) for a sink that must stay on the calling thread.
///
/// Returns the offset the walk reached (at most `threads ×
/// batches_per_thread` batches past the last batch handed to `sink`).
pub(crate) fn run<'a, W, S>(
    mut walker: Walk<'a>,
    parallelism: &Parallelism,
    tuning: Tuning,
    work: &W,
    mut sink: S,
) -> u64
where
    W: BatchWork,
    S: FnMut(&mut Batch<'a, W::Out>) -> ControlFlow<()> + Send,
{
    let runner = Runner::new(parallelism);
    let (in_flight_limit, batch_cost) = sizes(&runner, tuning);
    runner.run_inside(|| {
        rayon::scope_fifo(|scope| {
            let mut spare: Vec<Batch<'a, W::Out>> = Vec::new();
            let mut free_slots: Vec<Arc<Slot<'a, W::Out>>> = Vec::new();
            let mut in_flight: VecDeque<Arc<Slot<'a, W::Out>>> = VecDeque::new();
            let mut walked_to_end = false;
            loop {
                // Hand every hashed batch at the front to the sink, in order.
                while let Some(mut batch) = in_flight.front().and_then(|slot| slot.take()) {
                    if let Some(slot) = in_flight.pop_front() {
                        free_slots.push(slot);
                    }
                    if sink(&mut batch).is_break() {
                        // Batches still in flight finish at the end of the
                        // scope; their results are dropped.
                        return;
                    }
                    spare.push(batch);
                }
                if walked_to_end && in_flight.is_empty() {
                    return;
                }
                if !walked_to_end && in_flight.len() < in_flight_limit {
                    match cut_batch(&mut walker, batch_cost, &mut spare, work) {
                        Some(mut batch) => {
                            let slot = free_slots.pop().unwrap_or_default();
                            let done = Arc::clone(&slot);
                            in_flight.push_back(slot);
                            scope.spawn_fifo(move |_| {
                                batch.process(work, LargePayloads::Parallel);
                                done.put(batch);
                            });
                        }
                        None => walked_to_end = true,
                    }
                    continue;
                }
                // The oldest batch is not hashed yet: help, or let the
                // thread hashing it run.
                match rayon::yield_now() {
                    Some(rayon::Yield::Executed) => {}
                    _ => std::thread::yield_now(),
                }
            }
        });
    });
    walker.offset()
}

/// Where a spawned batch is left once hashed.
struct Slot<'a, O> {
    batch: Mutex<Option<Batch<'a, O>>>,
}

impl<O> Default for Slot<'_, O> {
    fn default() -> Self {
        Slot {
            batch: Mutex::new(None),
        }
    }
}

impl<'a, O> Slot<'a, O> {
    fn put(&self, batch: Batch<'a, O>) {
        *lock(&self.batch) = Some(batch);
    }

    fn take(&self) -> Option<Batch<'a, O>> {
        lock(&self.batch).take()
    }
}
