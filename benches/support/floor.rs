//! The least any thread-safe structure of the heap's kind must do, as a floor peer: a hash
//! table behind the cheapest lock there is (one compare-exchange to take it, one plain store
//! to give it back). A figure below the floor's cannot be reached by a design that keeps its
//! entries in a general-purpose hash table behind a lock, however it does the rest.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// A `HashMap` behind a test-and-set lock. Bench code only: the closures it runs never
/// panic, so it need not handle poisoning.
pub struct LockedTable<K, V> {
    held: AtomicBool,
    map: UnsafeCell<HashMap<K, V, ahash::RandomState>>,
}

// SAFETY: the map is only reached by the thread that holds `held`, which orders each
// holder's accesses after the previous holder's (Acquire on take, Release on give back).
unsafe impl<K: Send, V: Send> Sync for LockedTable<K, V> {}

impl<K, V> Default for LockedTable<K, V> {
    fn default() -> Self {
        LockedTable { held: AtomicBool::new(false), map: UnsafeCell::default() }
    }
}

impl<K, V> LockedTable<K, V> {
    /// Runs `f` on the map under the lock.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut HashMap<K, V, ahash::RandomState>) -> R) -> R {
        while self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the flag was taken above, so this thread has the only access until it
        // gives the flag back below.
        let result = f(unsafe { &mut *self.map.get() });
        self.held.store(false, Ordering::Release);
        result
    }
}
