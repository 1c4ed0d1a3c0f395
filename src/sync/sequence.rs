//! A process-wide sequence of numbers that follows happens-before, mostly without a shared
//! write.
//!
//! [`next`] returns a number never returned before, such that when one call happens before
//! another (on one thread, or across threads through any synchronisation), the first call's
//! number is smaller. A counter bumped with `fetch_add` gives that at one read-modify-write a
//! number. Here a thread reserves a block of numbers with one `fetch_add` and hands them out
//! while its block is still the newest reserved, which a plain load of the counter tells.
//!
//! # Why the order holds
//!
//! `TOP`, the end of the newest block, only grows, and every call reads or writes it.
//!
//! * On one thread, numbers rise within a block, and a new block starts at or above `TOP`,
//!   above every block reserved before.
//! * Call X on thread P returns x below the end of P's block, after reading or writing `TOP`
//!   at that end. A call Y on another thread that X happens before reads `TOP` after that, so
//!   (coherence) sees at least that end. If Y reserves, its block starts there or above. If Y
//!   hands out from its own block, it saw `TOP` equal to that block's end, which is at least
//!   P's end and is not P's block: that block was reserved after P's, and starts at or above
//!   its end. Either way, y > x.
//!
//! Calls that no synchronisation orders get numbers in either order. While threads take numbers
//! in turn, each call reserves a block: the cost of the plain counter, plus a load.

use std::cell::Cell;

use super::{global_atomic, Ordering};

/// Numbers a thread reserves at once.
const BLOCK: u64 = 1024;

global_atomic! {
    /// The end of the newest block reserved. Starts at 1: 0 is never handed out.
    static TOP: AtomicU64 = 1;
}

#[cfg(not(weakling_loom))]
std::thread_local! {
    /// This thread's block: the next number, and the block's end.
    static LOCAL: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

#[cfg(weakling_loom)]
loom::thread_local! {
    static LOCAL: Cell<(u64, u64)> = Cell::new((0, 0));
}

/// A number greater than those of every call that happens before this one (see the module
/// docs). Never 0.
#[inline]
pub(crate) fn next() -> u64 {
    LOCAL.with(|local| {
        let (next, end) = local.get();
        // Relaxed: only coherence on `TOP` is relied on (module docs).
        if next < end && TOP.load(Ordering::Relaxed) == end {
            local.set((next + 1, end));
            return next;
        }
        let start = TOP.fetch_add(BLOCK, Ordering::Relaxed);
        local.set((start + 1, start + BLOCK));
        start
    })
}

/// Changes whenever this thread takes a number or any thread reserves a block: a thread that
/// compares two marks sees its own calls in between, and other threads' calls that reserved.
pub(crate) fn mark() -> (u64, u64) {
    (TOP.load(Ordering::Relaxed), LOCAL.with(|local| local.get().0))
}

#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use super::*;

    #[test]
    fn numbers_rise_on_one_thread_across_blocks_and_are_never_zero() {
        let mut last = next();
        assert_ne!(last, 0);
        for _ in 0..3 * BLOCK {
            let n = next();
            assert!(n > last, "{n} after {last}");
            last = n;
        }
    }

    #[test]
    fn a_number_taken_after_another_threads_is_greater() {
        for _ in 0..100 {
            // This thread holds an older block; the other thread's number comes after it
            // reserved a newer one, and this thread's next number must come after that.
            let mine = next();
            let theirs = std::thread::spawn(next).join().unwrap();
            let after = next();
            assert!(mine < theirs && theirs < after, "{mine} {theirs} {after}");
        }
    }

    #[test]
    fn a_mark_sees_this_threads_numbers() {
        let before = mark();
        next();
        assert_ne!(mark(), before);
    }
}

#[cfg(all(test, weakling_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicU64;
    use loom::sync::Arc;

    /// Each thread takes a number, then they order themselves through `handoff`: the numbers
    /// taken after it are greater than those taken before it on the other thread, whichever
    /// thread reserved its block first.
    #[test]
    fn numbers_follow_happens_before_across_threads() {
        loom::model(|| {
            let handoff = Arc::new(AtomicU64::new(0));
            let theirs = Arc::clone(&handoff);
            let t = loom::thread::spawn(move || {
                let early = next();
                let seen = loop {
                    match theirs.load(Ordering::Acquire) {
                        0 => loom::thread::yield_now(),
                        n => break n,
                    }
                };
                let late = next();
                (early, seen, late)
            });
            let first = next();
            let second = next();
            handoff.store(second, Ordering::Release);
            let (early, seen, late) = t.join().unwrap();
            assert_eq!(seen, second);
            assert!(first < second && early < late);
            assert!(second < late, "taken after the handoff: {second} then {late}");
            let mut all = [first, second, early, late];
            all.sort_unstable();
            assert!(all.windows(2).all(|w| w[0] < w[1]), "unique: {all:?}");
        });
    }
}
