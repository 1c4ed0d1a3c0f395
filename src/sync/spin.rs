//! Spin locks for the short critical sections of hot tables: the death-callback table's
//! shards, the finalize registry's, and the weak collections' table shards.
//!
//! Taking one is one compare-exchange and releasing an exclusive hold a plain store, where a
//! parking lock ([`Mutex`](super::Mutex), [`RwLock`](super::RwLock)) pays a second
//! read-modify-write on release to look for sleeping waiters. On the paths that use them (an
//! object's death with a callback, a finalizer's registration, a weak collection's insert and
//! removal) read-modify-writes are most of the cost. A thread that finds one taken spins
//! briefly and then gives up its time slice until the lock is free, so a holder that was
//! preempted is not starved. What they guard must be short: a hash-table lookup, insert or
//! removal, and no user code beyond a weak collection's key `Eq`.
//!
//! They are built on the crate's atomics and cells, and their own loom models check that they
//! exclude and publish. The loom models of the protocols that use them see the blocking locks
//! in their place: loom explores every turn of a spin loop, and with more than two threads
//! those models no longer finish.

use std::mem::ManuallyDrop;

use super::{AtomicUsize, Ordering};

use access::{Exclusive, Shared, UnsafeCell};

/// How a guard reaches the lock's value: a raw pointer, or under loom a tracked access that
/// lasts as long as the guard, so that loom sees any overlap of two holders.
#[cfg(not(weakling_loom))]
mod access {
    pub(super) use std::cell::UnsafeCell;

    /// A reader's pointer.
    pub(super) struct Shared<T>(*const T);
    /// The writer's pointer.
    pub(super) struct Exclusive<T>(*mut T);

    impl<T> Shared<T> {
        pub(super) fn new(cell: &UnsafeCell<T>) -> Self {
            Shared(cell.get())
        }

        /// # Safety
        /// The caller holds the lock for as long as the reference lives.
        pub(super) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds the lock.
            unsafe { &*self.0 }
        }
    }

    impl<T> Exclusive<T> {
        pub(super) fn new(cell: &UnsafeCell<T>) -> Self {
            Exclusive(cell.get())
        }

        /// # Safety
        /// The caller holds the lock exclusively for as long as the reference lives.
        pub(super) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds the lock exclusively.
            unsafe { &*self.0 }
        }

        /// # Safety
        /// As for [`get`](Exclusive::get).
        pub(super) unsafe fn get_mut(&mut self) -> &mut T {
            // SAFETY: the caller holds the lock exclusively.
            unsafe { &mut *self.0 }
        }
    }
}

/// How a guard reaches the lock's value, under loom (see the other `access`).
#[cfg(weakling_loom)]
mod access {
    pub(super) use loom::cell::UnsafeCell;

    pub(super) struct Shared<T>(loom::cell::ConstPtr<T>);
    pub(super) struct Exclusive<T>(loom::cell::MutPtr<T>);

    impl<T> Shared<T> {
        pub(super) fn new(cell: &UnsafeCell<T>) -> Self {
            Shared(cell.get())
        }

        pub(super) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds the lock; loom checks it.
            unsafe { self.0.deref() }
        }
    }

    impl<T> Exclusive<T> {
        pub(super) fn new(cell: &UnsafeCell<T>) -> Self {
            Exclusive(cell.get_mut())
        }

        pub(super) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds the lock exclusively; loom checks it.
            unsafe { self.0.deref() }
        }

        pub(super) unsafe fn get_mut(&mut self) -> &mut T {
            // SAFETY: as above.
            unsafe { self.0.deref() }
        }
    }
}

/// Ends the holder's access before the release, so that under loom it never overlaps the
/// next holder's.
///
/// # Safety
/// Called once, from the guard's `drop`; the pointer is not used after.
unsafe fn end_access<P>(ptr: &mut ManuallyDrop<P>) {
    // SAFETY: the caller's contract.
    unsafe { ManuallyDrop::drop(ptr) }
}

/// Waits a little before looking at a taken lock again: spins at first, then yields the time
/// slice. Under loom every wait yields, as loom requires of spin loops.
fn back_off(spins: &mut u32) {
    #[cfg(not(weakling_loom))]
    if *spins < 100 {
        *spins += 1;
        std::hint::spin_loop();
        return;
    }
    let _ = spins;
    super::yield_now();
}

/// A mutual-exclusion spin lock (see the module docs): a [`SpinRwLock`] that only writes.
pub(crate) struct SpinMutex<T>(SpinRwLock<T>);

// SAFETY: the lock hands the value to one thread at a time (it never takes a read lock), as
// `std::sync::Mutex` does, so `T: Send` is enough.
unsafe impl<T: Send> Sync for SpinMutex<T> {}

impl<T> SpinMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinMutex(SpinRwLock::new(value))
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinWriteGuard<'_, T> {
        self.0.write()
    }
}

impl<T: Default> Default for SpinMutex<T> {
    fn default() -> Self {
        SpinMutex::new(T::default())
    }
}

/// A writer holds the lock.
const WRITER: usize = 1;
/// A writer waits for the readers in: new readers wait too, so that a stream of readers cannot
/// starve it.
const WRITER_WAITING: usize = 2;
/// One reader, counted in the bits above the flags.
const READER: usize = 4;

/// A reader-writer spin lock (see the module docs): a writer takes it with one
/// compare-exchange and releases it with a plain store; a reader pays one read-modify-write
/// each way, as with any reader-writer lock.
pub(crate) struct SpinRwLock<T> {
    /// `readers * READER | WRITER_WAITING | WRITER`. While `WRITER` is set nothing changes the
    /// word (readers only add themselves to a word without it, and writers announce themselves
    /// only to readers), so the writer's release may store zero over it.
    state: AtomicUsize,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one thread or `&T` to several, as `std::sync::RwLock`.
unsafe impl<T: Send> Send for SpinRwLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for SpinRwLock<T> {}

impl<T> SpinRwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinRwLock { state: AtomicUsize::new(0), value: UnsafeCell::new(value) }
    }

    #[inline]
    pub(crate) fn read(&self) -> SpinReadGuard<'_, T> {
        let s = self.state.load(Ordering::Relaxed);
        // Acquire: the last writer's Release store is visible.
        if s & (WRITER | WRITER_WAITING) != 0
            || s > usize::MAX - READER
            || self
                .state
                .compare_exchange(s, s + READER, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            self.read_contended();
        }
        SpinReadGuard { lock: self, value: ManuallyDrop::new(Shared::new(&self.value)) }
    }

    #[cold]
    #[inline(never)]
    fn read_contended(&self) {
        let mut spins = 0_u32;
        loop {
            // Relaxed: a stale value only costs another turn; every change goes through a
            // compare-exchange, which reads the latest.
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | WRITER_WAITING) == 0 {
                if s > usize::MAX - READER {
                    std::process::abort();
                }
                if self
                    .state
                    .compare_exchange(s, s + READER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
            }
            back_off(&mut spins);
        }
    }

    #[inline]
    pub(crate) fn write(&self) -> SpinWriteGuard<'_, T> {
        if self.state.compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.write_contended();
        }
        SpinWriteGuard { lock: self, value: ManuallyDrop::new(Exclusive::new(&self.value)) }
    }

    #[cold]
    #[inline(never)]
    fn write_contended(&self) {
        let mut spins = 0_u32;
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & !WRITER_WAITING == 0 {
                // Free (perhaps announced, by this writer or another): taking it clears the
                // announcement, and a writer still waiting makes it again.
                if self
                    .state
                    .compare_exchange(s, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
            } else if s & (WRITER | WRITER_WAITING) == 0 {
                // Readers hold it: announce this writer, so that no new reader comes in. Over
                // the word just read only, so that an announcement never outlives every
                // waiting writer. (Writers queue behind a writer without announcing.)
                let _ = self.state.compare_exchange(
                    s,
                    s | WRITER_WAITING,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            back_off(&mut spins);
        }
    }
}

impl<T: Default> Default for SpinRwLock<T> {
    fn default() -> Self {
        SpinRwLock::new(T::default())
    }
}

/// Shared access to a [`SpinRwLock`]'s value.
pub(crate) struct SpinReadGuard<'a, T> {
    lock: &'a SpinRwLock<T>,
    value: ManuallyDrop<Shared<T>>,
}

impl<T> std::ops::Deref for SpinReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock: no writer exists meanwhile.
        unsafe { self.value.get() }
    }
}

impl<T> Drop for SpinReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: once, here; the pointer is not used after.
        unsafe { end_access(&mut self.value) };
        // Release: this reader's reads happen before the next writer's Acquire.
        self.lock.state.fetch_sub(READER, Ordering::Release);
    }
}

/// Exclusive access to a [`SpinRwLock`]'s value.
pub(crate) struct SpinWriteGuard<'a, T> {
    lock: &'a SpinRwLock<T>,
    value: ManuallyDrop<Exclusive<T>>,
}

impl<T> std::ops::Deref for SpinWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock.
        unsafe { self.value.get() }
    }
}

impl<T> std::ops::DerefMut for SpinWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock, and is borrowed mutably.
        unsafe { self.value.get_mut() }
    }
}

impl<T> Drop for SpinWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: once, here; the pointer is not used after.
        unsafe { end_access(&mut self.value) };
        // Release: the writer's writes happen before the next holder's Acquire. A plain
        // store: see `state`.
        self.lock.state.store(0, Ordering::Release);
    }
}

/// More threads than the loom models can take, on the real locks: no update is lost and no
/// reader sees half a write while four threads mix reads and writes.
#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000;

    /// Holds the lock a little longer, so that a lock that let two holders in would be seen.
    fn linger() {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn four_threads_reading_and_writing_lose_nothing_and_see_no_half_write() {
        let lock = Arc::new(SpinRwLock::new((0_usize, 0_usize)));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    let mut written = 0;
                    for round in 0..ROUNDS {
                        if (round + t) % 4 == 0 {
                            let mut pair = lock.write();
                            pair.0 += 1;
                            linger();
                            pair.1 += 1;
                            written += 1;
                        } else {
                            let pair = lock.read();
                            assert_eq!(pair.0, pair.1, "a reader saw half a write");
                        }
                    }
                    written
                })
            })
            .collect();
        let written: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(*lock.read(), (written, written));
        assert_eq!(written, THREADS * ROUNDS / 4);
    }

    #[test]
    fn four_threads_locking_a_spin_mutex_lose_no_update() {
        let lock = Arc::new(SpinMutex::new(0_usize));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        let mut n = lock.lock();
                        let seen = *n;
                        linger();
                        *n = seen + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), THREADS * ROUNDS);
    }

    #[test]
    fn a_panic_while_holding_the_lock_releases_it() {
        let lock = Arc::new(SpinRwLock::new(0_u32));
        let other = Arc::clone(&lock);
        let panicked = std::thread::spawn(move || {
            let _guard = other.write();
            panic!("inside the lock");
        })
        .join();
        assert!(panicked.is_err());
        *lock.write() += 1;
        assert_eq!(*lock.read(), 1);
    }
}

#[cfg(all(test, weakling_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two writers (a `SpinMutex` is this lock's write side).
    #[test]
    fn a_spin_rwlock_excludes_writers() {
        loom::model(|| {
            let lock = Arc::new(SpinRwLock::new(0_u32));
            let other = Arc::clone(&lock);
            let t = loom::thread::spawn(move || *other.write() += 1);
            *lock.write() += 1;
            t.join().unwrap();
            assert_eq!(*lock.read(), 2);
        });
    }

    #[test]
    fn a_spin_rwlock_reader_sees_a_write_whole() {
        loom::model(|| {
            let lock = Arc::new(SpinRwLock::new((0_u32, 0_u32)));
            let other = Arc::clone(&lock);
            let t = loom::thread::spawn(move || {
                let mut guard = other.write();
                guard.0 += 1;
                guard.1 += 1;
            });
            let (a, b) = *lock.read();
            assert_eq!(a, b, "never half a write");
            t.join().unwrap();
            assert_eq!(*lock.read(), (1, 1));
        });
    }

    #[test]
    fn spin_rwlock_readers_share_it_and_leave_it_free() {
        loom::model(|| {
            let lock = Arc::new(SpinRwLock::new(7_u32));
            let other = Arc::clone(&lock);
            let t = loom::thread::spawn(move || *other.read());
            let mine = lock.read();
            assert_eq!(*mine, 7);
            drop(mine);
            assert_eq!(t.join().unwrap(), 7);
            *lock.write() += 1;
            assert_eq!(*lock.read(), 8);
        });
    }
}
