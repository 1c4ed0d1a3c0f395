//! [`GcCell<T>`]: interior mutability for edges that change after construction.

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::pause;
use super::trace::{Trace, Tracer};
use crate::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A reader-writer cell for handles that change after an object is built: the Rust
/// counterpart of assigning `self.friend = other` in Python.
///
/// `Gc<T>` gives shared access only, so an object whose edges change needs interior
/// mutability. `GcCell` provides it in a form the cycle collector can reason about while
/// other threads run:
///
/// * the collector reads a cell's contents only through a *non-blocking* shared lock, so
///   every object's edges are read as one consistent snapshot;
/// * a cell that is locked for writing when the collector looks (by any thread, the
///   collecting one included) is reported as *opaque*: the object and everything it may
///   reach are kept alive for that collection. Locking never causes a premature free;
/// * [`set`](GcCell::set) and [`replace`](GcCell::replace) drop the old contents *after*
///   releasing the lock, so a `Drop` or death callback that the old handle sets off may use
///   the cell again without deadlocking.
///
/// Like a lock, a guard must not be held across a call that may lock the same cell again on
/// the same thread.
///
/// ```
/// use weakling::{Gc, GcCell, Trace};
///
/// #[derive(Trace)]
/// struct Person { name: String, friend: GcCell<Option<Gc<Person>>> }
///
/// let a = Gc::new(Person { name: "a".into(), friend: GcCell::new(None) });
/// let b = Gc::new(Person { name: "b".into(), friend: GcCell::new(None) });
/// a.friend.set(Some(b.clone()));
/// assert_eq!(a.friend.read().as_ref().unwrap().name, "b");
/// ```
#[derive(Default)]
pub struct GcCell<T> {
    lock: RwLock<T>,
}

impl<T> GcCell<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> GcCell<T> {
        GcCell { lock: RwLock::new(value) }
    }

    /// The contents, consuming the cell.
    pub fn into_inner(self) -> T {
        self.lock.into_inner()
    }

    /// Puts `value` in and returns the old contents (dropped by the caller, outside the lock).
    pub fn replace(&self, value: T) -> T {
        std::mem::replace(&mut *self.write(), value)
    }

    /// Puts `value` in; the old contents are dropped after the lock is released.
    pub fn set(&self, value: T) {
        drop(self.replace(value));
    }

    /// Takes the contents out, leaving `T::default()`.
    pub fn take(&self) -> T
    where
        T: Default,
    {
        self.replace(T::default())
    }

    /// A clone of the contents.
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.lock.read().clone()
    }
}

impl<T> GcCell<T> {
    /// Shared access; blocks while another thread writes.
    pub fn read(&self) -> GcCellRef<'_, T> {
        GcCellRef(self.lock.read())
    }

    /// Exclusive access; blocks while others read or write.
    ///
    /// While the guard lives, a collection waits for it before scanning (edges must not change
    /// under a scan), up to a time limit after which that collection is abandoned. Keep write
    /// guards short.
    pub fn write(&self) -> GcCellMut<'_, T> {
        let op = pause::begin();
        GcCellMut { guard: self.lock.write(), _op: op }
    }

    /// Shared access if no one is writing right now.
    pub fn try_read(&self) -> Option<GcCellRef<'_, T>> {
        self.lock.try_read().map(GcCellRef)
    }

    /// Exclusive access if no one holds the cell right now (may wait briefly while a
    /// collector scans).
    pub fn try_write(&self) -> Option<GcCellMut<'_, T>> {
        let op = pause::begin();
        self.lock.try_write().map(|guard| GcCellMut { guard, _op: op })
    }

    /// Exclusive access through a unique borrow; never blocks.
    pub fn get_mut(&mut self) -> &mut T {
        self.lock.get_mut()
    }
}

impl<T> From<T> for GcCell<T> {
    fn from(value: T) -> GcCell<T> {
        GcCell::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(guard) => f.debug_tuple("GcCell").field(&&*guard).finish(),
            None => f.write_str("GcCell(<locked>)"),
        }
    }
}

// SAFETY: the contents are owned and traced once under a shared lock, or while the world is
// stopped without one (no writer can start then); a cell locked for writing right now is
// reported as opaque instead of waited for (rule 3).
unsafe impl<T: Trace> Trace for GcCell<T> {
    const LEAF: bool = T::LEAF;
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        let traced = if tracer.world_stopped() {
            // SAFETY: the world is stopped: every writer of a GcCell holds its guard inside a
            // mutator operation (`write`, `try_write`), and no thread but this one is inside
            // one or can begin one; `get_mut` needs a unique borrow, which `&self` excludes.
            // This thread's own write guards are seen by the check inside.
            unsafe { self.lock.read_unlocked(|value| value.trace(tracer)) }
        } else {
            self.lock.try_read().map(|guard| guard.trace(tracer))
        };
        if traced.is_none() {
            tracer.opaque();
        }
    }
}

/// Shared access to a [`GcCell`]'s contents.
pub struct GcCellRef<'a, T>(RwLockReadGuard<'a, T>);

/// Exclusive access to a [`GcCell`]'s contents.
pub struct GcCellMut<'a, T> {
    // Declared first: the lock is released before the operation ends.
    guard: RwLockWriteGuard<'a, T>,
    _op: pause::Operation,
}

impl<T> Deref for GcCellRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Deref for GcCellMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for GcCellMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for GcCellRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for GcCellMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
