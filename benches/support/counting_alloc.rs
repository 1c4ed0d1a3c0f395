//! A global allocator that can count the bytes a piece of code leaves allocated, for
//! benchmarks that report memory per item. Include with
//! `#[path = "support/counting_alloc.rs"] mod counting_alloc;` and call [`allocated_by`].
//! Counting is off outside [`allocated_by`], so the timed groups pay only one relaxed load per
//! allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; the counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `build` and returns what it built with the bytes it left allocated (allocations
/// minus frees made while it ran, on any thread).
///
/// weakling's box cache is emptied before and after, so that every box `build` makes is
/// counted as allocated and every box it frees as freed.
pub fn allocated_by<T>(build: impl FnOnce() -> T) -> (T, isize) {
    weakling::box_cache::release();
    LIVE_BYTES.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let built = build();
    weakling::box_cache::release();
    COUNTING.store(false, Ordering::SeqCst);
    (built, LIVE_BYTES.load(Ordering::SeqCst))
}
