//! Where the parallel part of a pass runs: the current rayon pool or the
//! caller's ([`Parallelism`]), and how many batches it keeps in flight.

use std::sync::Mutex;

use rayon::ThreadPool;

use crate::Parallelism;
use crate::batch::Tuning;

/// Where the parallel part runs.
pub(crate) enum Runner {
    /// The current pool (global, or the worker's own).
    Current,
    /// A given pool.
    Pool(std::sync::Arc<ThreadPool>),
}

impl Runner {
    pub(crate) fn new(parallelism: &Parallelism) -> Runner {
        match parallelism {
            Parallelism::Current => Runner::Current,
            Parallelism::Threads(threads) => {
                match rayon::ThreadPoolBuilder::new()
                    .num_threads(threads.get())
                    .build()
                {
                    Ok(pool) => Runner::Pool(std::sync::Arc::new(pool)),
                    // The system refused threads: verify with the current
                    // pool rather than fail (results do not depend on it).
                    Err(_) => Runner::Current,
                }
            }
            Parallelism::Pool(pool) => Runner::Pool(pool.clone()),
        }
    }

    pub(crate) fn threads(&self) -> usize {
        match self {
            Runner::Current => rayon::current_num_threads(),
            Runner::Pool(pool) => pool.current_num_threads(),
        }
        .max(1)
    }

    /// Runs `job` on the calling thread, its joins in the pool.
    pub(crate) fn run<R: Send>(&self, job: impl FnOnce() -> R + Send) -> R {
        match self {
            Runner::Current => job(),
            Runner::Pool(pool) => pool.install(job),
        }
    }

    /// Runs `job` once on every thread of the pool (the calling thread
    /// takes part when it is one of them).
    pub(crate) fn broadcast(&self, job: impl Fn() + Sync) {
        match self {
            Runner::Current => {
                rayon::broadcast(|_| job());
            }
            Runner::Pool(pool) => {
                pool.broadcast(|_| job());
            }
        }
    }

    /// Runs `job` on a thread of the pool (the calling thread when it is
    /// one), so that its joins do not each cross from outside the pool.
    pub(crate) fn run_inside(&self, job: impl FnOnce() + Send) {
        match self {
            Runner::Current if rayon::current_thread_index().is_some() => job(),
            Runner::Current => rayon::scope(|_| job()),
            Runner::Pool(pool) => pool.install(job),
        }
    }
}

/// The window size (batches) and batch cost (bytes) for `runner`.
pub(crate) fn sizes(runner: &Runner, tuning: Tuning) -> (usize, usize) {
    let window = runner
        .threads()
        .saturating_mul(tuning.batches_per_thread)
        .max(1);
    (window, tuning.batch_cost.max(1))
}

/// Locks `mutex`; a poisoned lock only means another thread panicked, whose
/// panic reaches the caller anyway.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
