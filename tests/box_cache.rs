//! The box cache: freed boxes are kept for the next ones, pass between threads in chains, go
//! back to the allocator on request or beyond the limit, and never serve two live objects.
//! With `WEAKLING_BOX_CACHE=off` (as CI runs its memory checkers) nothing is kept.
//!
//! Every test ends by releasing what its thread holds: a test thread's chains go to the depot
//! when it exits, which may be while the next test counts the depot's bytes.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use weakling::{box_cache, Gc};

fn cache_on() -> bool {
    std::env::var_os("WEAKLING_BOX_CACHE").is_none_or(|v| v != "off")
}

/// What the cache keeps of `bytes` freed: all of it, or nothing when it is off.
fn kept(bytes: usize) -> usize {
    if cache_on() {
        bytes
    } else {
        0
    }
}

/// A box of 48 bytes: a 16-byte header and 32 bytes of value.
const BOX: usize = 48;

fn boxes(n: u64) -> Vec<Gc<[u64; 4]>> {
    (0..n).map(|k| Gc::new_leaf([k; 4])).collect()
}

/// Drops `made` on a new thread, which hands its chains to the depot as it exits.
fn free_on_a_thread_that_exits<T: Send + 'static>(made: T) {
    thread::spawn(move || drop(made)).join().unwrap();
}

#[test]
fn freed_boxes_are_kept_until_released() {
    let _serial = common::serial();
    box_cache::release();
    drop(boxes(1000));
    assert_eq!(box_cache::release(), kept(1000 * BOX));
    assert_eq!(box_cache::release(), 0, "released once");
}

#[test]
fn the_next_boxes_reuse_the_freed_ones() {
    let _serial = common::serial();
    box_cache::release();
    let first = boxes(500);
    let freed: std::collections::HashSet<usize> =
        first.iter().map(|g| Gc::as_ptr(g) as usize).collect();
    drop(first);
    let second = boxes(500);
    let reused = second.iter().filter(|g| freed.contains(&(Gc::as_ptr(g) as usize))).count();
    if cache_on() {
        assert_eq!(reused, 500, "every box of the second lot comes from the first");
        assert_eq!(box_cache::release(), 0, "nothing left over");
    }
    for (k, g) in second.iter().enumerate() {
        assert_eq!(**g, [k as u64; 4]);
    }
    drop(second);
    box_cache::release();
}

/// One thread makes the boxes, another frees them and exits: its chains reach the depot, and
/// the first thread's next boxes come from there.
#[test]
fn boxes_freed_on_another_thread_come_back_through_the_depot() {
    let _serial = common::serial();
    box_cache::release();
    free_on_a_thread_that_exits(boxes(10_000));
    assert_eq!(
        box_cache::release(),
        kept(10_000 * BOX),
        "the exiting thread's chains are in the depot"
    );
}

#[test]
fn beyond_the_limit_boxes_go_back_to_the_allocator() {
    let _serial = common::serial();
    box_cache::release();
    let before = box_cache::limit();
    assert_eq!(before, box_cache::DEFAULT_LIMIT);
    box_cache::set_limit(0);
    free_on_a_thread_that_exits(boxes(10_000));
    assert_eq!(box_cache::release(), 0, "a depot limited to nothing keeps nothing");

    // Lowering the limit hands back what the depot holds beyond it.
    box_cache::set_limit(before);
    free_on_a_thread_that_exits(boxes(10_000));
    box_cache::set_limit(64 * BOX);
    assert_eq!(box_cache::release(), kept(64 * BOX), "one chain of 64 boxes kept");
    box_cache::set_limit(before);
}

/// Chains that no thread takes during a whole interval go back to the allocator at the depot's
/// first hand-over after it; chains in use stay.
#[test]
fn chains_left_unused_for_an_interval_go_back_to_the_allocator() {
    let _serial = common::serial();
    box_cache::release();
    // 10,000 boxes of 48 bytes reach the depot, and nothing takes them again.
    free_on_a_thread_that_exits(boxes(10_000));
    // Twice: an interval passes, then one chain of 80-byte boxes is made here (from the chain
    // the previous round left, if any), freed on a thread and handed over as it exits.
    for _ in 0..2 {
        thread::sleep(box_cache::IDLE + Duration::from_millis(100));
        free_on_a_thread_that_exits((0..64u64).map(|k| Gc::new_leaf([k; 8])).collect::<Vec<_>>());
    }
    // The second hand-over found the 48-byte chains unused since the first, and gave them back.
    assert_eq!(box_cache::release(), kept(64 * 80), "only the last 80-byte chain is left");
}

/// Boxes of every class made on one thread and freed on the next, round a ring of threads,
/// each checking that the values it receives are intact: a block handed to two live objects
/// would show as a value overwritten.
#[test]
fn boxes_passed_round_a_ring_of_threads_stay_intact() {
    let _serial = common::serial();
    const THREADS: usize = 4;
    let rounds = common::scaled(20_000) as u64;
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
    let workers: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, rx): (usize, mpsc::Receiver<Vec<Gc<Vec<u64>>>>)| {
            let next = senders[(i + 1) % THREADS].clone();
            thread::spawn(move || {
                let mut checked = 0u64;
                for round in 0..rounds {
                    // Values of 1 to 28 words: boxes from 16 + 24 bytes up to the largest class.
                    let lot: Vec<_> = (0..8)
                        .map(|j| {
                            let words = 1 + ((round * 8 + j) % 28) as usize;
                            Gc::new_leaf(vec![round ^ (i as u64) << 32; words])
                        })
                        .collect();
                    let _ = next.send(lot);
                    if let Ok(received) = rx.try_recv() {
                        for g in &received {
                            let first = g[0];
                            assert!(g.iter().all(|&w| w == first), "a value was overwritten");
                            checked += 1;
                        }
                    }
                }
                drop(next);
                checked + rx.iter().map(|lot| lot.len() as u64).sum::<u64>()
            })
        })
        .collect();
    drop(senders);
    let checked: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(checked, THREADS as u64 * rounds * 8);
    box_cache::release();
}

/// A value that owns a handle and lives in a thread-local: dropped while the thread exits, after
/// or before the cache's own thread state, its box is freed either way.
#[test]
fn a_handle_dropped_while_its_thread_exits_is_freed() {
    let _serial = common::serial();
    thread_local! {
        static HELD: std::cell::RefCell<Vec<Gc<[u64; 4]>>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let weak = thread::spawn(|| {
        let g = Gc::new_leaf([7; 4]);
        let weak = Gc::downgrade(&g);
        HELD.with(|h| h.borrow_mut().push(g));
        weak
    })
    .join()
    .unwrap();
    assert!(weak.upgrade().is_none());
    // The box goes with the weak handle; released before the next test begins.
    drop(weak);
    box_cache::release();
}
