//! Stopping the world at operation boundaries: how the cycle collector and the threads that
//! use handles stay out of each other's way.
//!
//! # What the collector needs
//!
//! Trial deletion (see `collect`) reads every candidate's strong count and every candidate's
//! edges, over some time. Its result is right if, while it reads, **no strong count goes down,
//! no weak handle is upgraded, and no traced edge changes**. Then counts can only go *up*, and
//! only by cloning a handle the cloning thread already reaches, so an object reachable from
//! outside when the scan starts is still found reachable, and an object unreachable when the
//! scan starts stays so (nothing can upgrade to it).
//!
//! # Mutator operations
//!
//! The steps that could break that are *mutator operations*: dropping a strong handle to a
//! tracked object (with taking it off its list when it was the last), upgrading a weak handle
//! to a tracked object, `Gc::try_unwrap`, and holding a [`GcCell`](crate::GcCell) write guard.
//! Clones and reads are not operations; leaves never take part (the collector never scans them).
//!
//! Each thread has a `busy` depth that only it writes. An operation raises it, then reads the
//! global `STOP` flag; a collector raises `STOP`, then reads every thread's `busy`. This is
//! Dekker's pattern: a full fence between the write and the read on *both* sides guarantees that
//! at least one side sees the other, so either the thread sees `STOP` and backs off before
//! touching anything, or the collector sees the thread busy and waits until it is done
//! (`Release` on leaving pairs with the collector's `Acquire`, so the operation's effects are
//! visible to the scan). Operations never run user code and never wait for anything but short
//! list locks, so waiting for them is brief; a thread that holds a `GcCell` write guard for
//! long makes the collector wait, up to a time limit after which the collection is abandoned
//! (conservative: nothing is freed) rather than risk a deadlock with that thread.
//!
//! # The asymmetric fence
//!
//! A hardware fence on every drop would cost as much again as the drop itself. On Linux the
//! collector instead calls `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes every
//! running thread of the process execute a full fence; the thread's side then needs only a
//! compiler fence. Until that command is registered, and wherever it is unavailable (other
//! systems, valgrind), threads use a real `SeqCst` fence instead. Under loom both sides use
//! `SeqCst` fences, which loom models.
//!
//! The two hottest operations, dropping a handle to a tracked object and upgrading a weak
//! handle to one, begin with [`begin_fast`]: the same depth store and flag read, without the
//! `Operation` value, so that their common case needs no call and no stack frame; anything
//! else (a stopping world, a thread not registered yet or exiting) falls back to [`begin`].
//!
//! The collecting thread never waits for itself: its own cells held for writing are seen as
//! opaque by tracing (conservative), and it runs no operation while it collects.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::thread_state::{current, registered, registry, ThreadState};
use crate::sync::{fence, global, global_atomic, Mutex, MutexGuard, Ordering};

global_atomic! {
    /// `STOP` while a collector scans; `FULL_FENCES` until the asymmetric fence is available
    /// (threads must then use a hardware fence). One word, so the fast path loads once.
    static WORLD: AtomicUsize = FULL_FENCES;
}

const STOP: usize = 1;
const FULL_FENCES: usize = 2;

/// Whether a collector is stopping the world.
///
/// Acquire: a thread that finds the world running again after a stop (the collector's Release
/// in `resume`) sees everything the collector wrote while the world was stopped: slots,
/// condemned strong words written without a read-modify-write. Free on x86, where every load
/// acquires.
#[inline]
fn stopping() -> bool {
    WORLD.load(Ordering::Acquire) & STOP != 0
}
global! {
    /// Operations of threads whose thread-local state is gone (thread exit) run under this
    /// lock, which a stopped world holds.
    static ORPHANS: Mutex<()> = Mutex::new(());
}

/// Run once per thread before its first operation: enables the asymmetric fence if it can.
pub(crate) fn prepare() {
    enable_asymmetric_fence();
}

/// Serialises an exiting thread's last heap work with collectors.
pub(crate) fn orphan_lock() -> MutexGuard<'static, ()> {
    ORPHANS.lock()
}

/// Registers the process for expedited membarrier once; on success threads may use compiler
/// fences from then on.
fn enable_asymmetric_fence() {
    #[cfg(all(target_os = "linux", not(weakling_loom)))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            const REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;
            // SAFETY: membarrier takes plain integers and touches no memory of ours.
            let r =
                unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0, 0) };
            if r == 0 {
                WORLD.fetch_and(!FULL_FENCES, Ordering::Release);
            }
        });
    }
}

/// The thread's half of the fence pair, then the read of `STOP` that it orders: whether a
/// collector is stopping the world.
#[inline]
fn fenced_stopping() -> bool {
    #[cfg(weakling_loom)]
    {
        fence(Ordering::SeqCst);
        stopping()
    }
    #[cfg(not(weakling_loom))]
    {
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        // Acquire, as in `stopping`.
        let world = WORLD.load(Ordering::Acquire);
        if world & FULL_FENCES == 0 {
            // The collector's membarrier orders this load after our `busy` store.
            return world & STOP != 0;
        }
        // No asymmetric fence: a real one, then read again.
        fence(Ordering::SeqCst);
        stopping()
    }
}

/// The collector's half of the fence pair.
fn heavy_fence() {
    #[cfg(all(target_os = "linux", not(weakling_loom)))]
    if WORLD.load(Ordering::Acquire) & FULL_FENCES == 0 {
        const PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
        // SAFETY: as at registration.
        let r = unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0, 0) };
        // Registered, so this cannot fail; if it did, threads would not be fenced: abort
        // rather than scan unsafely.
        if r != 0 {
            std::process::abort();
        }
        return;
    }
    fence(Ordering::SeqCst);
}

/// An operation in progress on this thread; ends when dropped. Not `Send`: it must end on
/// the thread that began it.
pub(crate) struct Operation {
    state: Option<*const ThreadState>,
    _orphan: Option<MutexGuard<'static, ()>>,
    _not_send: PhantomData<*const ()>,
}

impl Operation {
    /// The slot prefix of the garbage whose values this thread's collection is dropping right
    /// now (`encode(TEARING, thread, 0)`), or 0: a handle dropped inside such an operation to
    /// an object of that garbage need not decrement its count (see `Gc::drop_tracked`).
    #[inline]
    pub(crate) fn tearing(&self) -> u64 {
        match self.state {
            // SAFETY: as in `begin`.
            Some(state) => unsafe { &*state }.tearing(),
            None => 0,
        }
    }
}

/// Begins a mutator operation, waiting while a collector scans.
#[inline]
pub(crate) fn begin() -> Operation {
    let Some(state) = current().map(|s| s as *const ThreadState) else {
        // Thread-local state is gone: this thread is exiting. Serialise with collectors.
        return Operation { state: None, _orphan: Some(ORPHANS.lock()), _not_send: PhantomData };
    };
    // SAFETY: the state is kept alive by this thread's registration, which outlives every
    // operation this thread begins while its thread-locals exist.
    let s = unsafe { &*state };
    if !enter(s) {
        wait_for_resume(s);
    }
    Operation { state: Some(state), _orphan: None, _not_send: PhantomData }
}

/// Raises this thread's operation depth; `false` when this is its outermost operation and a
/// collector is stopping the world (the depth is left raised, at 1, for the caller to back
/// out of or wait with).
#[inline]
fn enter(s: &ThreadState) -> bool {
    let depth = s.busy.load(Ordering::Relaxed);
    s.busy.store(depth + 1, Ordering::Relaxed);
    !(depth == 0 && fenced_stopping())
}

/// The fast path of [`begin`], for the hottest operations (dropping a handle to a tracked
/// object, upgrading a weak handle to one): raises this thread's depth and returns its state,
/// or changes nothing and returns `None` when the operation needs [`begin`] (the thread is not
/// registered yet or is exiting, or a collector is stopping the world).
///
/// The caller ends the operation with [`end_fast`] or hands it to [`Operation::adopt`]. Kept
/// free of calls, so that the drop it serves needs no stack frame.
#[inline]
pub(crate) fn begin_fast() -> Option<&'static ThreadState> {
    let s = registered()?;
    if !enter(s) {
        // Back out untouched, as `wait_for_resume` does; `begin` takes it from here.
        s.busy.store(0, Ordering::Release);
        return None;
    }
    Some(s)
}

/// Ends an operation that [`begin_fast`] began and nobody adopted; also the end of every
/// [`Operation`].
#[inline]
pub(crate) fn end_fast(s: &ThreadState) {
    let depth = s.busy.load(Ordering::Relaxed);
    // Release: the operation's effects happen before a collector that sees 0.
    s.busy.store(depth - 1, Ordering::Release);
}

/// Threads waiting for the world to run again sleep here, so that the CPU goes to the threads
/// a collector is waiting for (a thread preempted inside an operation) rather than to spinners.
#[cfg(not(weakling_loom))]
static RESUMED: (parking_lot::Mutex<()>, parking_lot::Condvar) =
    (parking_lot::Mutex::new(()), parking_lot::Condvar::new());

/// Sleeps until the world runs again.
fn sleep_while_stopped() {
    #[cfg(not(weakling_loom))]
    {
        let mut guard = RESUMED.0.lock();
        while stopping() {
            // Timed, so that a missed wake-up costs a millisecond, never a hang.
            RESUMED.1.wait_for(&mut guard, Duration::from_millis(1));
        }
    }
    #[cfg(weakling_loom)]
    while stopping() {
        crate::sync::yield_now();
    }
}

/// Lets the world run again and wakes the threads waiting for it.
fn resume() {
    WORLD.fetch_and(!STOP, Ordering::Release);
    #[cfg(not(weakling_loom))]
    {
        // Taking the lock orders the flag change before any waiter's next check.
        drop(RESUMED.0.lock());
        RESUMED.1.notify_all();
    }
}

#[cold]
fn wait_for_resume(s: &ThreadState) {
    loop {
        // Back off completely so the collector may proceed.
        s.busy.store(0, Ordering::Release);
        sleep_while_stopped();
        s.busy.store(1, Ordering::Relaxed);
        if !fenced_stopping() {
            return;
        }
    }
}

impl Operation {
    /// Takes charge of an operation that [`begin_fast`] began: it ends when the result drops.
    ///
    /// # Safety
    /// `s` was returned by `begin_fast` on this thread, and that operation was not ended.
    #[inline]
    pub(crate) unsafe fn adopt(s: &'static ThreadState) -> Operation {
        Operation { state: Some(s), _orphan: None, _not_send: PhantomData }
    }

    /// The state of the thread running this operation (`None` while the thread exits).
    #[inline]
    pub(crate) fn thread(&self) -> Option<&ThreadState> {
        // SAFETY: as in `begin`: the registration outlives the operation.
        self.state.map(|p| unsafe { &*p })
    }
}

impl Drop for Operation {
    #[inline]
    fn drop(&mut self) {
        if let Some(state) = self.state {
            // SAFETY: as in `begin`.
            end_fast(unsafe { &*state });
        }
    }
}

/// The world stopped by a collector: no thread but the caller is inside an operation, and
/// none can begin one, until this is dropped.
pub(crate) struct Stopped {
    _orphans: MutexGuard<'static, ()>,
}

/// Stops the world, waiting at most `patience` for busy threads. `None` if some thread stayed
/// busy that long (the world is running again then).
///
/// Callers serialise: only one collector stops the world at a time.
pub(crate) fn stop_the_world(patience: Duration) -> Option<Stopped> {
    let orphans = ORPHANS.lock();
    WORLD.fetch_or(STOP, Ordering::Relaxed);
    heavy_fence();
    let me = current().map(|s| s as *const ThreadState);
    let threads: Vec<Arc<ThreadState>> = registry().states().to_vec();
    let deadline = Instant::now() + patience;
    for t in &threads {
        if Some(Arc::as_ptr(t)) == me {
            continue;
        }
        while t.busy.load(Ordering::Acquire) != 0 {
            // Under loom time is not modelled: wait without a deadline.
            if !cfg!(weakling_loom) && Instant::now() >= deadline {
                resume();
                return None;
            }
            crate::sync::yield_now();
        }
    }
    Some(Stopped { _orphans: orphans })
}

impl Drop for Stopped {
    fn drop(&mut self) {
        resume();
    }
}

thread_local! {
    static COLLECTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a collection (its user-code phase included).
pub(crate) fn collecting() -> bool {
    COLLECTING.with(Cell::get)
}

/// Marks this thread as collecting until the guard drops.
pub(crate) fn mark_collecting() -> impl Drop {
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            COLLECTING.with(|c| c.set(false));
        }
    }
    COLLECTING.with(|c| c.set(true));
    Unmark
}
