//! Deferred destruction: dropping a long chain without a deep stack.
//!
//! Dropping an object drops its value, which may drop the last handle to another object,
//! and so on: a 1,000,000-long linked list would recurse a million frames deep and overflow
//! the stack (as it does for `Rc` and `Arc`). Like CPython's "trashcan", destruction runs
//! inline up to a small depth; deeper objects are queued on the thread and destroyed by the
//! outermost destruction once it has finished its own object. Shallow structures are thus
//! destroyed in the natural order and at once; deep ones still entirely within the `drop`
//! call that released them.
//!
//! During thread teardown, when the thread's queue is already gone, destruction runs inline.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

use super::header::Header;

/// Destruction work for one object: `run(header)` must not unwind.
pub(crate) struct Pending {
    pub(crate) header: NonNull<Header>,
    pub(crate) run: unsafe fn(NonNull<Header>),
}

/// Nested destructions run inline up to this depth.
const INLINE_DEPTH: usize = 32;

struct Queue {
    depth: Cell<usize>,
    pending: RefCell<Vec<Pending>>,
}

#[cfg(not(weakling_loom))]
std::thread_local! {
    static QUEUE: Queue = const { Queue { depth: Cell::new(0), pending: RefCell::new(Vec::new()) } };
}

// loom's `thread_local!` takes no constant initialiser.
#[cfg(weakling_loom)]
loom::thread_local! {
    static QUEUE: Queue = Queue { depth: Cell::new(0), pending: RefCell::new(Vec::new()) };
}

/// How deep this thread is in destructions (user `Drop` code and death callbacks run at
/// depth 1 or more): automatic collections wait for depth 0.
pub(crate) fn destruction_depth() -> usize {
    QUEUE.try_with(|q| q.depth.get()).unwrap_or(usize::MAX)
}

/// Runs `work` now, or queues it if this thread is already deep in destructions.
///
/// # Safety
/// `work.run(work.header)` must be sound to call once, at any later point on this thread.
pub(crate) unsafe fn run_or_defer(work: Pending) {
    let Ok(queue) = QUEUE.try_with(|q| q as *const Queue) else {
        // SAFETY: forwarded contract; no queue exists any more on this thread.
        unsafe { (work.run)(work.header) };
        return;
    };
    // SAFETY: this thread's queue outlives this call (thread-locals are destroyed only after
    // the thread's code, this call included, has finished), and only this thread uses it.
    let queue = unsafe { &*queue };
    let depth = queue.depth.get();
    if depth >= INLINE_DEPTH {
        queue.pending.borrow_mut().push(work);
        return;
    }
    queue.depth.set(depth + 1);
    // SAFETY: forwarded contract.
    unsafe { (work.run)(work.header) };
    if depth == 0 {
        loop {
            let next = queue.pending.borrow_mut().pop();
            let Some(next) = next else { break };
            // SAFETY: queued work carries the same contract.
            unsafe { (next.run)(next.header) };
        }
    }
    queue.depth.set(depth);
}
