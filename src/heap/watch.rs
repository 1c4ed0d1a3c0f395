//! [`Watch<T>`]: a weak handle whose death notification goes to a
//! [`DeathListener`](crate::DeathListener).

use std::fmt;
use std::mem::ManuallyDrop;

use super::pin::{PinnedRef, ReadPin};
use super::weak::Weak;
use crate::Gc;

/// A weak handle that tells a [`DeathListener`](crate::DeathListener) when its object dies: what
/// [`Gc::downgrade_notify`] returns.
///
/// It behaves as a [`Weak`] made by [`Gc::downgrade_with`] (it upgrades while the object
/// lives, compares by identity, and dropping every clone before the object dies cancels the
/// notification), and is two words wide: beside its registration it keeps the object's
/// address, so that [`upgrade`](Watch::upgrade) reads the object directly instead of going
/// through the registration (one memory access fewer on every lookup of a weak collection).
pub struct Watch<T> {
    /// The registration's handle: it owns the registration's weak reference on the object.
    registered: Weak<T>,
    /// The object itself, as a handle that owns no count of its own: it borrows the weak
    /// reference that `registered` keeps alive, so it is never dropped.
    direct: ManuallyDrop<Weak<T>>,
}

impl<T> Watch<T> {
    /// Wraps the handle of a registration made on a live object.
    pub(crate) fn new(registered: Weak<T>) -> Watch<T> {
        let direct = ManuallyDrop::new(registered.borrowed_plain());
        Watch { registered, direct }
    }

    /// A strong handle to the object while it lives (as [`Weak::upgrade`]).
    #[inline]
    #[must_use = "upgrading only to drop the result at once tells nothing reliable"]
    pub fn upgrade(&self) -> Option<Gc<T>> {
        self.direct.upgrade()
    }

    /// The object, borrowed for as long as `pin` lasts (as [`Weak::get_pinned`]).
    #[inline]
    pub fn get_pinned<'p>(&self, pin: &'p ReadPin) -> Option<PinnedRef<'p, T>> {
        self.direct.get_pinned(pin)
    }

    /// The address of the object's value (as [`Weak::as_ptr`]).
    #[inline]
    #[must_use]
    pub fn as_ptr(&self) -> *const T {
        self.direct.as_ptr()
    }

    /// Whether both watch the same object.
    #[inline]
    #[must_use]
    pub fn ptr_eq(&self, other: &Watch<T>) -> bool {
        self.direct.ptr_eq(&other.direct)
    }

    /// The number of strong handles to the object (0 once it died).
    #[must_use]
    pub fn strong_count(&self) -> usize {
        self.direct.strong_count()
    }

    /// A plain [`Weak`] to the same object, without the notification.
    #[must_use]
    pub fn to_weak(&self) -> Weak<T> {
        (*self.direct).clone()
    }
}

impl<T> Clone for Watch<T> {
    /// Another handle to the same registration (the notification is cancelled only when
    /// every clone is gone).
    fn clone(&self) -> Watch<T> {
        Watch::new(self.registered.clone())
    }
}

impl<T> PartialEq for Watch<T> {
    fn eq(&self, other: &Watch<T>) -> bool {
        self.ptr_eq(other)
    }
}

impl<T> Eq for Watch<T> {}

impl<T> std::hash::Hash for Watch<T> {
    /// By identity, as [`Weak`]'s.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.direct.hash(state)
    }
}

impl<T> fmt::Debug for Watch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Watch").field(&*self.direct).finish()
    }
}
