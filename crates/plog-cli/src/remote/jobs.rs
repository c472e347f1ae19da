//! Work on several items at once, results handed on in the items' order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// Runs `work` on each of `items`, `jobs` at a time on threads of their
/// own, and hands each result to `emit` in the items' order as soon as it
/// and every one before it are done: the output of `jobs` = N is that of
/// `jobs` = 1, only sooner.
///
/// Bounded: an item is started only while fewer than `window` items
/// (`jobs` at least) lie between it and the first not yet emitted, so at
/// most `window` results wait for an earlier one, however slow that one
/// is. `emit` returning `Ok(false)` or an error stops the run: no item is
/// started after it, the items in progress are finished (and dropped).
pub fn in_order<T, R, E>(
    items: &[T],
    jobs: usize,
    window: usize,
    work: impl Fn(&T) -> R + Sync,
    mut emit: impl FnMut(&T, R) -> Result<bool, E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    let jobs = jobs.clamp(1, items.len().max(1));
    let window = window.max(jobs);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many items have been emitted, and a wake-up when it grows.
    let emitted = Mutex::new(0usize);
    let grew = Condvar::new();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop, emitted, grew, work) = (&next, &stop, &emitted, &grew, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    {
                        // The first item not yet emitted is always below
                        // the window: some worker holds it and runs it.
                        let mut done = emitted.lock().unwrap_or_else(PoisonError::into_inner);
                        while i >= *done + window && !stop.load(Ordering::SeqCst) {
                            done = grew.wait(done).unwrap_or_else(PoisonError::into_inner);
                        }
                    }
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let result = work(&items[i]);
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let halt = || {
            stop.store(true, Ordering::SeqCst);
            let _guard = emitted.lock().unwrap_or_else(PoisonError::into_inner);
            grew.notify_all();
        };
        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        let mut at = 0usize;
        for (i, result) in rx.iter() {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&at) {
                match emit(&items[at], result) {
                    Ok(true) => {}
                    Ok(false) => {
                        halt();
                        return Ok(());
                    }
                    Err(err) => {
                        halt();
                        return Err(err);
                    }
                }
                at += 1;
                *emitted.lock().unwrap_or_else(PoisonError::into_inner) = at;
                grew.notify_all();
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_come_in_order_whatever_order_they_end_in() {
        let items: Vec<u64> = (0..200).collect();
        for jobs in [1, 2, 7, 16] {
            let mut got = Vec::new();
            let running = AtomicUsize::new(0);
            let most = AtomicUsize::new(0);
            in_order::<_, _, ()>(
                &items,
                jobs,
                jobs * 2,
                |&i| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Later items often end first.
                    std::thread::sleep(Duration::from_micros((200 - i) % 7 * 50));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 3
                },
                |&i, r| {
                    assert_eq!(r, i * 3);
                    got.push(i);
                    Ok(true)
                },
            )
            .unwrap();
            assert_eq!(got, items, "jobs {jobs}");
            assert!(most.load(Ordering::SeqCst) <= jobs, "jobs {jobs}");
        }
    }

    #[test]
    fn a_slow_first_item_holds_back_at_most_the_window() {
        let items: Vec<usize> = (0..100).collect();
        let started = AtomicUsize::new(0);
        let mut seen = Vec::new();
        in_order::<_, _, ()>(
            &items,
            4,
            8,
            |&i| {
                if i == 0 {
                    std::thread::sleep(Duration::from_millis(100));
                    // While item 0 ran, only the window's items could start.
                    started.load(Ordering::SeqCst)
                } else {
                    started.fetch_add(1, Ordering::SeqCst);
                    0
                }
            },
            |&i, r| {
                if i == 0 {
                    assert!(r <= 7, "{r} items started past the window");
                }
                seen.push(i);
                Ok(true)
            },
        )
        .unwrap();
        assert_eq!(seen, items);
    }

    #[test]
    fn emit_stops_the_run() {
        let items: Vec<usize> = (0..1000).collect();
        let ran = AtomicUsize::new(0);
        let mut seen = 0;
        let result = in_order(
            &items,
            3,
            6,
            |_| ran.fetch_add(1, Ordering::SeqCst),
            |&i, _| {
                seen += 1;
                if i == 10 { Err("stop") } else { Ok(true) }
            },
        );
        assert_eq!(result, Err("stop"));
        assert_eq!(seen, 11);
        // Started: those emitted, and at most the window more.
        assert!(ran.load(Ordering::SeqCst) <= 11 + 6);
        let mut seen = 0;
        in_order::<_, _, ()>(
            &items,
            2,
            4,
            |_| (),
            |_, ()| {
                seen += 1;
                Ok(seen < 5)
            },
        )
        .unwrap();
        assert_eq!(seen, 5);
    }
}
