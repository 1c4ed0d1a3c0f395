//! The one place the crate's atomics, locks, thread-locals and lazily built globals come from,
//! so that a `--cfg weakling_loom` build can swap in loom's model-checked versions; and the
//! primitives built on them: the spin locks (`spin.rs`) and a sequence of numbers that follows
//! happens-before (`sequence.rs`).

#[cfg(not(weakling_loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(weakling_loom))]
pub(crate) use std::thread_local;

#[cfg(weakling_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(weakling_loom)]
pub(crate) use loom::thread_local;

pub(crate) mod sequence;
#[cfg_attr(weakling_loom, allow(dead_code))]
mod spin;
#[cfg(not(weakling_loom))]
pub(crate) use spin::{SpinMutex, SpinRwLock};
/// Under loom the protocols' models lock a [`Mutex`] where the crate uses a spin lock (see
/// `spin`); the spin locks have their own models.
#[cfg(weakling_loom)]
pub(crate) type SpinMutex<T> = Mutex<T>;
/// As [`SpinMutex`], an [`RwLock`] under loom.
#[cfg(weakling_loom)]
pub(crate) type SpinRwLock<T> = RwLock<T>;

/// A mutual-exclusion lock with an infallible `lock`.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(
    #[cfg(not(weakling_loom))] parking_lot::Mutex<T>,
    #[cfg(weakling_loom)] loom::sync::Mutex<T>,
);

#[cfg(not(weakling_loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(weakling_loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(weakling_loom))]
        return Mutex(parking_lot::Mutex::new(value));
        #[cfg(weakling_loom)]
        return Mutex(loom::sync::Mutex::new(value));
    }

    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(not(weakling_loom))]
        return self.0.try_lock();
        #[cfg(weakling_loom)]
        return self.0.try_lock().ok();
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(weakling_loom))]
        return self.0.lock();
        // A loom mutex is poisoned only by a panic inside a model, which fails the model anyway.
        #[cfg(weakling_loom)]
        return self.0.lock().unwrap_or_else(|e| e.into_inner());
    }
}

/// A cell with no lock of its own: a protocol outside it keeps its accesses apart, and each
/// access says which in its `// SAFETY:` comment. Under loom, loom checks that they are apart.
pub(crate) struct ExclusiveCell<T>(
    #[cfg(not(weakling_loom))] std::cell::UnsafeCell<T>,
    #[cfg(weakling_loom)] loom::cell::UnsafeCell<T>,
);

impl<T> ExclusiveCell<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(weakling_loom))]
        return ExclusiveCell(std::cell::UnsafeCell::new(value));
        #[cfg(weakling_loom)]
        return ExclusiveCell(loom::cell::UnsafeCell::new(value));
    }

    /// Runs `f` on the value.
    ///
    /// # Safety
    /// No other access to the cell happens at the same time: every access happens before or
    /// after this one.
    pub(crate) unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(weakling_loom))]
        // SAFETY: the caller rules out every other access for the duration.
        return f(unsafe { &mut *self.0.get() });
        #[cfg(weakling_loom)]
        // SAFETY: as above; loom checks it.
        return self.0.with_mut(|p| f(unsafe { &mut *p }));
    }

    /// Runs `f` on the value, shared.
    ///
    /// # Safety
    /// No write to the cell happens at the same time (other reads may).
    pub(crate) unsafe fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        #[cfg(not(weakling_loom))]
        // SAFETY: the caller rules out every write for the duration.
        return f(unsafe { &*self.0.get() });
        #[cfg(weakling_loom)]
        // SAFETY: as above; loom checks it.
        return self.0.with(|p| f(unsafe { &*p }));
    }
}

/// The calling thread's identity (loom's model threads share one OS thread).
#[cfg(not(weakling_loom))]
pub(crate) fn thread_id() -> std::thread::ThreadId {
    std::thread::current().id()
}

/// The calling thread's identity (loom's model threads share one OS thread).
#[cfg(weakling_loom)]
pub(crate) fn thread_id() -> loom::thread::ThreadId {
    loom::thread::current().id()
}

#[cfg(not(weakling_loom))]
pub(crate) type ThreadId = std::thread::ThreadId;
#[cfg(weakling_loom)]
pub(crate) type ThreadId = loom::thread::ThreadId;

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub(crate) struct Condvar(
    #[cfg(not(weakling_loom))] parking_lot::Condvar,
    #[cfg(weakling_loom)] loom::sync::Condvar,
);

impl Condvar {
    pub(crate) fn new() -> Self {
        #[cfg(not(weakling_loom))]
        return Condvar(parking_lot::Condvar::new());
        #[cfg(weakling_loom)]
        return Condvar(loom::sync::Condvar::new());
    }

    /// Releases the lock, sleeps until notified (or spuriously), and takes the lock again.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        #[cfg(not(weakling_loom))]
        {
            let mut guard = guard;
            self.0.wait(&mut guard);
            guard
        }
        #[cfg(weakling_loom)]
        return self.0.wait(guard).unwrap_or_else(|e| e.into_inner());
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// A reader-writer lock whose `try_` forms never block (the collector only ever tries).
#[derive(Debug, Default)]
pub(crate) struct RwLock<T>(
    #[cfg(not(weakling_loom))] parking_lot::RwLock<T>,
    #[cfg(weakling_loom)] loom::sync::RwLock<T>,
);

#[cfg(not(weakling_loom))]
pub(crate) type RwLockReadGuard<'a, T> = parking_lot::RwLockReadGuard<'a, T>;
#[cfg(not(weakling_loom))]
pub(crate) type RwLockWriteGuard<'a, T> = parking_lot::RwLockWriteGuard<'a, T>;
#[cfg(weakling_loom)]
pub(crate) type RwLockReadGuard<'a, T> = loom::sync::RwLockReadGuard<'a, T>;
#[cfg(weakling_loom)]
pub(crate) type RwLockWriteGuard<'a, T> = loom::sync::RwLockWriteGuard<'a, T>;

impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(weakling_loom))]
        return RwLock(parking_lot::RwLock::new(value));
        #[cfg(weakling_loom)]
        return RwLock(loom::sync::RwLock::new(value));
    }

    pub(crate) fn into_inner(self) -> T {
        #[cfg(not(weakling_loom))]
        return self.0.into_inner();
        #[cfg(weakling_loom)]
        return self.0.into_inner().unwrap_or_else(|e| e.into_inner());
    }
}

impl<T> RwLock<T> {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(not(weakling_loom))]
        return self.0.read();
        #[cfg(weakling_loom)]
        return self.0.read().unwrap_or_else(|e| e.into_inner());
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        #[cfg(not(weakling_loom))]
        return self.0.write();
        #[cfg(weakling_loom)]
        return self.0.write().unwrap_or_else(|e| e.into_inner());
    }

    pub(crate) fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        #[cfg(not(weakling_loom))]
        return self.0.try_read();
        #[cfg(weakling_loom)]
        return self.0.try_read().ok();
    }

    pub(crate) fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        #[cfg(not(weakling_loom))]
        return self.0.try_write();
        #[cfg(weakling_loom)]
        return self.0.try_write().ok();
    }

    /// Runs `f` on the contents unless the lock is held for writing, without taking the lock
    /// (no write to the lock word); `None` when a writer holds it.
    ///
    /// # Safety
    /// No thread but the caller's can acquire or hold the lock for writing until this returns
    /// (while the world is stopped, every writer is inside a mutator operation and none is).
    #[inline]
    pub(crate) unsafe fn read_unlocked<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        #[cfg(not(weakling_loom))]
        {
            // Only the calling thread can be a writer (per the contract), and it is not in
            // the middle of acquiring: the flag is exact.
            if self.0.is_locked_exclusive() {
                return None;
            }
            // SAFETY: no writer exists or can appear while `f` runs (contract and check
            // above); readers only read. The last writer's changes are visible: it released
            // the lock inside an operation that happens before the stop (see `pause`).
            Some(f(unsafe { &*self.0.data_ptr() }))
        }
        // loom models the lock itself: take it for reading, as outside a stop.
        #[cfg(weakling_loom)]
        self.try_read().map(|guard| f(&guard))
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        #[cfg(not(weakling_loom))]
        return self.0.get_mut();
        #[cfg(weakling_loom)]
        return self.0.get_mut().unwrap_or_else(|e| e.into_inner());
    }
}

/// Declares a lazily built global. Under loom every model run gets a fresh one.
macro_rules! global {
    ($(#[$meta:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(weakling_loom))]
        $(#[$meta])*
        static $name: std::sync::LazyLock<$ty> = std::sync::LazyLock::new(|| $init);
        #[cfg(weakling_loom)]
        loom::lazy_static! {
            $(#[$meta])*
            static ref $name: $ty = $init;
        }
    };
    // Visibility as plain tokens: loom's macro matches `pub(...)` literally.
    ($(#[$meta:meta])* pub($($vis:tt)+) static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(weakling_loom))]
        $(#[$meta])*
        pub($($vis)+) static $name: std::sync::LazyLock<$ty> = std::sync::LazyLock::new(|| $init);
        #[cfg(weakling_loom)]
        loom::lazy_static! {
            $(#[$meta])*
            pub($($vis)+) static ref $name: $ty = $init;
        }
    };
}
pub(crate) use global;

/// Declares a global atomic with a constant initial value: a plain `static` (no lazy check on
/// hot paths), or under loom a fresh one per model run.
macro_rules! global_atomic {
    ($(#[$meta:meta])* static $name:ident: $ty:ident = $init:expr;) => {
        #[cfg(not(weakling_loom))]
        $(#[$meta])*
        static $name: std::sync::atomic::$ty = std::sync::atomic::$ty::new($init);
        #[cfg(weakling_loom)]
        loom::lazy_static! {
            $(#[$meta])*
            static ref $name: loom::sync::atomic::$ty = loom::sync::atomic::$ty::new($init);
        }
    };
}
pub(crate) use global_atomic;

/// Lets other threads run; loom's version lets the model switch threads.
pub(crate) fn yield_now() {
    #[cfg(not(weakling_loom))]
    std::thread::yield_now();
    #[cfg(weakling_loom)]
    loom::thread::yield_now();
}

/// Pads and aligns a value to a cache line so that per-thread stripes do not share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
