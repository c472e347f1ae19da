//! [`run_ordered`](crate::schedule::run_ordered) (streaming replay): no cutting thread; each pool thread
//! cuts a batch from the shared walk, processes it and hands it to the sink
//! itself when its turn in file order comes.

use crate::hashing::LargePayloads;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use crate::Parallelism;
use crate::batch::{Batch, BatchWork, Tuning, cut_batch};
use crate::pool::{Runner, lock};
use crate::read_ahead::Walk;

/// [`run`](crate::schedule::run) for a sink that runs where each batch was processed: every
/// thread of the pool cuts a batch from the shared walk, processes it
/// (copy, hash, the work's per-record part) and, when the batch's turn in
/// file order has come, hands it to `sink` itself, one call at a time.
///
/// For a work whose output is costly to give up (a replay's decoded
/// values, freed by the sink's caller), this keeps each value on the thread
/// that made it, from allocation to drop: no third thread competes with the
/// pool for the cores, and no thread frees memory another one is allocating
/// from. A thread whose batch is ready before its turn (the batch before it
/// is still being processed, or its thread was preempted) does not wait: it
/// parks the batch, which the thread that hands on the batch before it
/// hands on too, and cuts the next one. It waits only when
/// [`parked_limit`] batches are parked, so memory stays bounded: at most one
/// batch per thread in progress plus the parked ones.
///
/// No thread ever waits for a batch still in the walk, and a panic in the
/// work or the sink stops every thread, so it cannot deadlock. It runs on
/// every thread of the pool ([`rayon::broadcast`]); a caller that is a
/// worker of the pool takes part.
///
/// Returns the offset the walk reached (at most [`parked_limit`] plus one
/// batch per thread past the last batch handed to `sink`).
pub(crate) fn run_ordered<'a, W, S>(
    walker: Walk<'a>,
    parallelism: &Parallelism,
    tuning: Tuning,
    work: &W,
    sink: S,
) -> u64
where
    W: BatchWork,
    S: FnMut(&mut Batch<'a, W::Out>) -> ControlFlow<()> + Send,
{
    let runner = Runner::new(parallelism);
    let batch_cost = tuning.batch_cost.max(1);
    let walk = Mutex::new(SharedWalk {
        walker,
        cut: 0,
        ended: false,
    });
    let order = Order {
        state: Mutex::new(OrderState {
            next: 0,
            stopped: false,
            parked: VecDeque::new(),
            parked_limit: parked_limit(runner.threads()),
            sink,
        }),
        moved: Condvar::new(),
        stopped: AtomicBool::new(false),
    };
    let order = &order;
    runner.broadcast(|| {
        let mut spare: Vec<Batch<'a, W::Out>> = Vec::new();
        while !order.stopped.load(Ordering::Acquire) {
            let Some((turn, mut batch)) = lock(&walk).cut(batch_cost, &mut spare, work) else {
                return;
            };
            let stop_on_unwind = StopOnUnwind(order);
            // No rayon join while this thread holds a batch (see
            // `LargePayloads`).
            batch.process(work, LargePayloads::OnThisThread);
            order.hand_on(turn, batch, &mut spare);
            std::mem::forget(stop_on_unwind);
            // A thread that hands on parked batches gets their vectors: keep
            // a few, or the thread that parks would allocate new ones while
            // this one's pile grew with the log.
            spare.truncate(SPARE_PER_THREAD);
        }
    });
    walk.into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .walker
        .offset()
}

/// Emptied batches a thread of [`run_ordered`](crate::schedule::run_ordered) keeps for reuse.
const SPARE_PER_THREAD: usize = 2;

/// How many processed batches may wait for their turn in a
/// [`run_ordered`](crate::schedule::run_ordered) on `threads` threads before a thread waits instead of
/// cutting another.
fn parked_limit(threads: usize) -> usize {
    threads.saturating_mul(2)
}

/// The walk that the threads of [`run_ordered`](crate::schedule::run_ordered) cut batches from.
struct SharedWalk<'a> {
    walker: Walk<'a>,
    /// Batches cut so far (the next batch's turn).
    cut: u64,
    ended: bool,
}

impl<'a> SharedWalk<'a> {
    /// The next batch and its turn; `None` at the end of the walk.
    fn cut<W: BatchWork>(
        &mut self,
        batch_cost: usize,
        spare: &mut Vec<Batch<'a, W::Out>>,
        work: &W,
    ) -> Option<(u64, Batch<'a, W::Out>)> {
        if self.ended {
            return None;
        }
        let Some(batch) = cut_batch(&mut self.walker, batch_cost, spare, work) else {
            self.ended = true;
            return None;
        };
        let turn = self.cut;
        self.cut += 1;
        Some((turn, batch))
    }
}

/// The order in which [`run_ordered`](crate::schedule::run_ordered) hands batches to its sink.
struct Order<S, B> {
    state: Mutex<OrderState<S, B>>,
    /// Signalled whenever `next` moves or the run stops.
    moved: Condvar,
    /// Set with `state.stopped`, read without the lock.
    stopped: AtomicBool,
}

struct OrderState<S, B> {
    /// The turn of the next batch to hand on.
    next: u64,
    /// The sink broke, or a thread panicked: nothing more is handed on.
    stopped: bool,
    /// Processed batches waiting for their turn, by turn (all after
    /// `next`: the batch whose turn it is is never parked).
    parked: VecDeque<(u64, B)>,
    parked_limit: usize,
    sink: S,
}

impl<S, B> Order<S, B> {
    /// Hands `batch` (processed, of turn `turn`) to the sink when its turn
    /// has come, then every parked batch whose turn follows; parks it when
    /// its turn has not come and there is room; waits for its turn
    /// otherwise. Batches this thread is done with go to `spare`.
    fn hand_on(&self, turn: u64, batch: B, spare: &mut Vec<B>)
    where
        S: FnMut(&mut B) -> ControlFlow<()>,
    {
        let mut state = lock(&self.state);
        while state.next != turn && !state.stopped {
            if state.parked.len() < state.parked_limit {
                let at = state.parked.partition_point(|(parked, _)| *parked < turn);
                state.parked.insert(at, (turn, batch));
                return;
            }
            state = self
                .moved
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let mut batch = batch;
        loop {
            if !state.stopped && (state.sink)(&mut batch).is_break() {
                self.stop(&mut state);
            }
            state.next += 1;
            spare.push(batch);
            match state.parked.front() {
                Some((parked, _)) if *parked == state.next => {}
                _ => break,
            }
            match state.parked.pop_front() {
                Some((_, parked)) => batch = parked,
                None => break,
            }
        }
        if state.stopped {
            // Nothing more is handed on: the parked batches go too.
            spare.extend(state.parked.drain(..).map(|(_, parked)| parked));
        }
        drop(state);
        self.moved.notify_all();
    }

    fn stop(&self, state: &mut OrderState<S, B>) {
        state.stopped = true;
        self.stopped.store(true, Ordering::Release);
    }
}

/// Stops a [`run_ordered`](crate::schedule::run_ordered) when its thread unwinds before handing its batch
/// on (a panic in the work or the sink), so that no thread waits for a turn
/// that will never come; the panic then reaches the caller.
struct StopOnUnwind<'o, S, B>(&'o Order<S, B>);

impl<S, B> Drop for StopOnUnwind<'_, S, B> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        self.0.stop(&mut state);
        drop(state);
        self.0.moved.notify_all();
    }
}
