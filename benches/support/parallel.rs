//! Timing work that several threads do at once, for the benchmarks that measure scaling.
//! Include with `#[path = "support/parallel.rs"] mod parallel;` and call [`run`].
//!
//! The time is the span from the first thread's start to the last thread's end. Neither a
//! timer started by the spawning thread after the threads were released (they may all have
//! finished before it runs again) nor the slowest thread's own time (threads that ran one
//! after the other each report only their own share) measures what threads working together
//! achieve; the span does, whatever the scheduler did.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Runs `work(t, &state)` on threads `t = 0..threads` at once and returns the span from the
/// earliest start to the latest end. Each thread first makes its `state = setup(t)` and waits
/// for the others; the state is dropped after the thread's end is taken: neither is timed.
pub fn run<S>(
    threads: usize,
    setup: impl Fn(usize) -> S + Sync,
    work: impl Fn(usize, &S) + Sync,
) -> Duration {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, setup, work) = (&barrier, &setup, &work);
                s.spawn(move || {
                    let state = setup(t);
                    barrier.wait();
                    let start = Instant::now();
                    work(t, &state);
                    let end = Instant::now();
                    drop(state);
                    (start, end)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("benchmark thread panicked")).collect()
    });
    let first = spans.iter().map(|s| s.0).min().expect("at least one thread");
    let last = spans.iter().map(|s| s.1).max().expect("at least one thread");
    last - first
}
