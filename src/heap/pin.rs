//! Reading weakly held objects without counting them: read pins, and the deaths that wait
//! for them.
//!
//! Upgrading a weak handle and dropping the result writes the object's strong count twice.
//! A loop that visits many weakly held objects (a subject delivering an event to its
//! subscribers, an iteration over a weak set) pays those two read-modify-writes per object,
//! and on several threads at once the objects' header lines bounce between the cores. A
//! [`ReadPin`] lets such a loop borrow each live object for as long as the pin lasts, with
//! no write to the object at all; its docs say what that changes for the objects it reads.
//!
//! # The protocol
//!
//! Two reader counts, one per parity of a global `EPOCH` (each striped over cache lines, a
//! stripe per thread, and read as the sum of its stripes). A pin adds itself to the count of
//! the epoch's parity, then runs a `SeqCst` fence; a read loads the object's strong word
//! (setting `PINNED_READS` with a read-modify-write the first time) and borrows the value
//! only if the count is not zero. The drop that takes a marked object's count to zero runs a
//! `SeqCst` fence, then reads both reader counts. This is Dekker's pattern with fences on
//! both sides: either the reader's load sees the count at zero (and borrows nothing), or the
//! dying thread sees the reader's count (and defers the value's drop and the memory's
//! release). Unmarked objects need no fence: a reader marks an object with a
//! read-modify-write on the strong word, so the drop's own decrement, ordered with it in
//! that word's modification order, either sees the mark or leaves the reader a zero count.
//!
//! A deferred destruction is tagged with the epoch at its death and runs once the epoch has
//! advanced twice. Advancing from `e` to `e + 1` needs the count of parity `e - 1` at zero;
//! a reader counted at the death blocks one of the two advances a destruction waits for, so
//! nothing it may borrow is destroyed under it. New pins join the current parity, while an
//! advance waits for the other, so a stream of overlapping pins on many threads cannot hold
//! destruction back for ever: each advance waits only for pins already begun.
//!
//! Whoever may unblock an advance tries it: a dying thread after queueing, and a pin that ends
//! while destructions wait. The flag that says so is read after the pin's decrement and
//! written before an advance reads the counts, with a `SeqCst` fence between on both sides,
//! so at least one of them sees the other.

use std::cell::Cell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::deferred::{self, Pending};
use super::header::Header;
use crate::sync::{fence, global, global_atomic, AtomicUsize, CachePadded, Mutex, Ordering};

global_atomic! {
    /// The current epoch; its parity names the reader count that new pins join. Written only
    /// under `WAITING`'s lock.
    static EPOCH: AtomicUsize = 0;
}
/// The reader counts are striped, so that pins taken on different threads write different
/// cache lines; a thread always uses the same stripe.
#[cfg(not(weakling_loom))]
const STRIPES: usize = 8;
#[cfg(weakling_loom)]
const STRIPES: usize = 2;

global! {
    /// Per stripe, the pins begun at an even and at an odd epoch and not yet ended.
    static READERS: [CachePadded<[AtomicUsize; 2]>; STRIPES] =
        std::array::from_fn(|_| CachePadded([AtomicUsize::new(0), AtomicUsize::new(0)]));
}
global_atomic! {
    /// The stripe the next thread to take a pin gets (modulo `STRIPES`).
    static NEXT_STRIPE: AtomicUsize = 0;
}

#[cfg(not(weakling_loom))]
std::thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}
#[cfg(weakling_loom)]
loom::thread_local! {
    static STRIPE: Cell<usize> = Cell::new(usize::MAX);
}

/// This thread's stripe of the reader counts.
#[inline]
fn stripe() -> usize {
    STRIPE
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
                s.set(i);
            }
            i
        })
        // Thread-locals gone (thread exit): any stripe counts the same.
        .unwrap_or(0)
}

global_atomic! {
    /// Whether destructions wait (`WAITING` is not empty): an ending pin then tries to advance.
    static HAS_WAITING: AtomicBool = false;
}

/// A destruction waiting for pins: the epoch at its death, and the work.
struct Waiting {
    epoch: usize,
    work: Pending,
}

// SAFETY: a waiting destruction is an object nobody else can reach any more (its count is
// zero) and the function that destroys it; objects on the heap are `Send`, and the work may
// run on any thread (see `defer`).
unsafe impl Send for Waiting {}

global! {
    /// The destructions waiting for pins, oldest first: their epochs never decrease (each is
    /// the epoch when it was queued, under this lock, and the epoch only grows).
    static WAITING: Mutex<VecDeque<Waiting>> = Mutex::new(VecDeque::new());
}

/// Whether some pin begun at an epoch of `parity` has not ended. Each stripe is read after
/// the caller's fence, so a pin counted before that fence is seen.
fn any_readers(parity: usize) -> bool {
    READERS.iter().any(|stripe| stripe[parity & 1].load(Ordering::SeqCst) != 0)
}

/// A read pin: while it lives, live leaves read through it with
/// [`Weak::get_pinned`](crate::Weak::get_pinned) are not destroyed, so they can be borrowed
/// without counting a handle.
///
/// Upgrading a weak handle and dropping the result writes the object's count twice; a loop
/// over many weakly held objects (deliveries to subscribers, iteration over a weak set) can
/// instead borrow each live leaf for as long as one pin lasts, writing nothing to it:
///
/// ```
/// use weakling::{read_pin, Gc};
///
/// let obj = Gc::new_leaf(String::from("listener"));
/// let weak = Gc::downgrade(&obj);
/// let pin = read_pin();
/// assert_eq!(weak.get_pinned(&pin).as_deref().map(String::as_str), Some("listener"));
/// drop(pin);
/// drop(obj);
/// assert!(weak.get_pinned(&read_pin()).is_none());
/// ```
///
/// # What a pin changes for the objects read through it
///
/// Only *leaves* (objects the collector does not track) are borrowed this way; a tracked
/// object is upgraded as usual (the collector must see every handle to it), which
/// [`PinnedRef`] hides. A leaf read through a pin keeps a mark saying so, and for such a
/// leaf:
///
/// * **its death is unchanged**: the drop that takes the count to zero makes every upgrade
///   and every pinned read fail at once, and runs the death callbacks (so weak collections
///   drop their entries) as for any object;
/// * **dropping its value and freeing its memory** happen at once when no thread holds a
///   pin, and otherwise wait until every pin that existed at the death has ended; they then
///   run on the thread that ends the last of them (or on the next thread that finds the wait
///   over);
/// * [`Gc::try_unwrap`](crate::Gc::try_unwrap) refuses it (a reader may be borrowing the
///   value that would be moved out).
///
/// Objects never read through a pin are not affected in any way, pins or not.
///
/// Pins are cheap to take and to end (an atomic add and a fence each, on process-wide words)
/// and meant to be short: a destruction that an object's death deferred waits for every pin
/// that existed at that moment. They nest, and may be held on many threads at once.
#[must_use = "a pin protects reads only while it is held"]
pub struct ReadPin {
    stripe: usize,
    parity: usize,
    /// Not `Send` or `Sync`: the pin's fence orders the reads of the thread that took it;
    /// another thread's reads under it would be ordered by no fence of their own.
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for ReadPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPin").finish_non_exhaustive()
    }
}

/// Takes a read pin for [`Weak::get_pinned`](crate::Weak::get_pinned).
pub fn read_pin() -> ReadPin {
    // Relaxed: a stale epoch only makes this pin hold back one advance more.
    let parity = EPOCH.load(Ordering::Relaxed) & 1;
    let stripe = stripe();
    READERS[stripe][parity].fetch_add(1, Ordering::SeqCst);
    // The reader's half of the fence pair (module docs): every strong count this pin reads
    // comes after it.
    fence(Ordering::SeqCst);
    ReadPin { stripe, parity, _not_send: PhantomData }
}

impl Drop for ReadPin {
    fn drop(&mut self) {
        // Release at least, so that every borrow this pin covered happens before a
        // destruction that waited for it.
        READERS[self.stripe][self.parity].fetch_sub(1, Ordering::SeqCst);
        // Orders the decrement before the read of HAS_WAITING, against the fence in
        // `advance` (module docs, last paragraph).
        fence(Ordering::SeqCst);
        if HAS_WAITING.load(Ordering::SeqCst) {
            advance();
        }
    }
}

/// Whether a destruction must wait: some pin exists. The caller took the strong count of an
/// object marked `PINNED_READS` to zero just before.
#[inline]
pub(crate) fn must_wait() -> bool {
    // The dying thread's half of the fence pair.
    fence(Ordering::SeqCst);
    READERS.iter().any(|stripe| stripe.iter().any(|count| count.load(Ordering::SeqCst) != 0))
}

/// Queues a destruction until every pin that exists now has ended, and runs whatever can run.
///
/// # Safety
/// `work` must be sound to run once, on any thread, at any later time: the object's strong
/// count reached zero, and its destruction was handed over to this call.
pub(crate) unsafe fn defer(work: Pending) {
    {
        let mut waiting = WAITING.lock();
        let epoch = EPOCH.load(Ordering::Relaxed);
        waiting.push_back(Waiting { epoch, work });
        HAS_WAITING.store(true, Ordering::SeqCst);
    }
    advance();
}

/// Advances the epoch as far as the pins allow, then runs the destructions that no pin can
/// reach any more (outside the lock: they run user code).
fn advance() {
    let ready = {
        let mut waiting = WAITING.lock();
        // Orders a `defer`'s write of HAS_WAITING before the reads of the reader counts,
        // against the fence of an ending pin.
        fence(Ordering::SeqCst);
        let mut epoch = EPOCH.load(Ordering::Relaxed);
        // Advancing to `epoch + 1` needs the pins begun at `epoch - 1` gone. The newest
        // destruction is the last to become ready.
        while waiting.back().is_some_and(|w| w.epoch + 2 > epoch)
            && !any_readers(epoch.wrapping_sub(1))
        {
            epoch += 1;
            EPOCH.store(epoch, Ordering::SeqCst);
        }
        let ready_count = waiting.iter().take_while(|w| w.epoch + 2 <= epoch).count();
        let ready: Vec<Waiting> = waiting.drain(..ready_count).collect();
        HAS_WAITING.store(!waiting.is_empty(), Ordering::SeqCst);
        ready
    };
    for w in ready {
        // SAFETY: every pin that existed at the object's death has ended (two advances since
        // its epoch), so nothing borrows it; the work runs once (taken off the queue).
        unsafe { deferred::run_or_defer(w.work) };
    }
}

/// A live object borrowed under a [`ReadPin`] (a leaf), or held by a strong handle for the
/// same span (a tracked object, which the collector must see counted).
pub struct PinnedRef<'a, T> {
    inner: Inner<'a, T>,
}

enum Inner<'a, T> {
    Borrowed(&'a T),
    Held(crate::Gc<T>),
}

impl<'a, T> PinnedRef<'a, T> {
    pub(crate) fn borrowed(value: &'a T) -> PinnedRef<'a, T> {
        PinnedRef { inner: Inner::Borrowed(value) }
    }

    pub(crate) fn held(handle: crate::Gc<T>) -> PinnedRef<'a, T> {
        PinnedRef { inner: Inner::Held(handle) }
    }
}

impl<T> std::ops::Deref for PinnedRef<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        match &self.inner {
            Inner::Borrowed(value) => value,
            Inner::Held(handle) => handle,
        }
    }
}

impl<T: std::fmt::Display> std::fmt::Display for PinnedRef<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&**self, f)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for PinnedRef<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// Borrows a leaf's value under `pin` if the object is alive, marking it `PINNED_READS`.
///
/// The borrow may outlive the caller's weak reference: a leaf found alive under a pin keeps
/// its value and its memory until every pin held at its death has ended (`last_handle_gone`
/// defers both, including the release of the strong handles' weak reference).
///
/// # Safety
/// `header` is the header of a live-or-dead `GcBox<T>` of a leaf, kept allocated by a weak
/// reference of the caller's during this call.
#[inline]
pub(crate) unsafe fn borrow_leaf<T>(header: NonNull<Header>, _pin: &ReadPin) -> Option<&T> {
    // SAFETY: allocated per the contract.
    let h = unsafe { header.as_ref() };
    if !h.mark_pinned_reads_if_alive() {
        return None;
    }
    // SAFETY: alive when read after the pin's fence, so the drop of its value and the release
    // of its memory wait for this pin (module docs), which bounds the borrow.
    Some(unsafe { &(*header.cast::<super::layout::GcBox<T>>().as_ptr()).value })
}
