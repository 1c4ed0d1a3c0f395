//! A spin lock for the short critical sections of hot registries: the death-callback table's
//! shards and the finalize registry's.
//!
//! Taking it is one compare-exchange and releasing it a plain store, where a parking lock
//! ([`Mutex`](super::Mutex)) pays a second read-modify-write on release to look for sleeping
//! waiters. On the paths that use it (an object's death with a callback, a finalizer's
//! registration) read-modify-writes are most of the cost. A thread that finds it taken spins
//! briefly and then gives up its time slice until the lock is free, so a holder that was
//! preempted is not starved. What it guards must be short, a hash-table insert or removal, and
//! never user code.
//!
//! It is built on the crate's atomics and cells, and its own loom model checks that it
//! excludes and publishes. The loom models of the protocols that use it see a blocking
//! [`Mutex`](super::Mutex) in its place: loom explores every turn of a spin loop, and with more
//! than two threads those models no longer finish.

use std::mem::ManuallyDrop;

use super::{AtomicBool, Ordering};

#[cfg(weakling_loom)]
use loom::cell::UnsafeCell;
#[cfg(not(weakling_loom))]
use std::cell::UnsafeCell;

/// The holder's pointer to the value (under loom, a tracked access that lasts as long as the
/// guard, so that loom sees any overlap).
#[cfg(not(weakling_loom))]
type ExclusivePtr<T> = *mut T;
#[cfg(weakling_loom)]
type ExclusivePtr<T> = loom::cell::MutPtr<T>;

#[cfg(not(weakling_loom))]
fn exclusive<T>(cell: &UnsafeCell<T>) -> ExclusivePtr<T> {
    cell.get()
}
#[cfg(weakling_loom)]
fn exclusive<T>(cell: &UnsafeCell<T>) -> ExclusivePtr<T> {
    cell.get_mut()
}

/// Reads through the holder's pointer.
///
/// # Safety
/// The caller holds the lock for as long as the reference lives.
#[cfg(not(weakling_loom))]
unsafe fn read_exclusive<T>(ptr: &ExclusivePtr<T>) -> &T {
    // SAFETY: the caller holds the lock exclusively.
    unsafe { &**ptr }
}
#[cfg(weakling_loom)]
unsafe fn read_exclusive<T>(ptr: &ExclusivePtr<T>) -> &T {
    // SAFETY: the caller holds the lock exclusively.
    unsafe { ptr.deref() }
}
#[cfg(not(weakling_loom))]
unsafe fn write<T>(ptr: &mut ExclusivePtr<T>) -> &mut T {
    // SAFETY: the caller holds the lock exclusively.
    unsafe { &mut **ptr }
}
#[cfg(weakling_loom)]
unsafe fn write<T>(ptr: &mut ExclusivePtr<T>) -> &mut T {
    // SAFETY: the caller holds the lock exclusively.
    unsafe { ptr.deref() }
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

/// A mutual-exclusion spin lock (see the module docs).
pub(crate) struct SpinMutex<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands the value to one thread at a time, as `std::sync::Mutex` does.
unsafe impl<T: Send> Send for SpinMutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SpinMutex<T> {}

impl<T> SpinMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinMutex { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinMutexGuard<'_, T> {
        // Acquire: the last holder's writes, published by its Release store, are visible.
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err()
        {
            self.lock_contended();
        }
        SpinMutexGuard { lock: self, value: ManuallyDrop::new(exclusive(&self.value)) }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut spins = 0_u32;
        loop {
            // Read-only while it is taken, so that waiters do not pull the line from the holder.
            while self.locked.load(Ordering::Relaxed) {
                back_off(&mut spins);
            }
            if self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            back_off(&mut spins);
        }
    }
}

impl<T: Default> Default for SpinMutex<T> {
    fn default() -> Self {
        SpinMutex::new(T::default())
    }
}

/// The holder's access to a [`SpinMutex`]; dropping it releases the lock.
pub(crate) struct SpinMutexGuard<'a, T> {
    lock: &'a SpinMutex<T>,
    value: ManuallyDrop<ExclusivePtr<T>>,
}

impl<T> std::ops::Deref for SpinMutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { read_exclusive(&self.value) }
    }
}

impl<T> std::ops::DerefMut for SpinMutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and is borrowed mutably.
        unsafe { write(&mut self.value) }
    }
}

impl<T> Drop for SpinMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: once, here; the pointer is not used after.
        unsafe { end_access(&mut self.value) };
        // Release: the holder's writes happen before the next holder's Acquire.
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(all(test, weakling_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    #[test]
    fn a_spin_mutex_excludes_and_publishes() {
        loom::model(|| {
            let lock = Arc::new(SpinMutex::new(0_u32));
            let other = Arc::clone(&lock);
            let t = loom::thread::spawn(move || *other.lock() += 1);
            *lock.lock() += 1;
            t.join().unwrap();
            assert_eq!(*lock.lock(), 2);
        });
    }
}
