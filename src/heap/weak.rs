//! [`Weak<T>`]: the weak handle.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::callbacks::Registration;
use super::header::Header;
use super::layout::{release_weak, GcBox};
use super::pin::{PinnedRef, ReadPin};
use super::trace::{Trace, Tracer};
use crate::Gc;

/// A handle that observes an object without keeping it alive: Python's `weakref.ref`.
///
/// [`upgrade`](Weak::upgrade) gives a strong handle while the object lives and `None` from
/// the moment its last strong handle is gone (or the cycle collector has condemned it). A
/// weak handle keeps the object's memory (not its value) allocated, so that it can still
/// answer.
///
/// Weak handles compare and hash by the **identity** of the object they point at (two
/// handles to one object are equal, even after it died; all [`Weak::new`] handles are equal),
/// never by value: a value that may be gone cannot be compared.
///
/// A handle made by [`Gc::downgrade_with`] carries a death callback, shared with its clones;
/// dropping every clone before the object dies cancels it.
///
/// ```
/// use weakling::Gc;
///
/// let set = Gc::new(vec![0, 1]);
/// let r = Gc::downgrade(&set);
/// assert_eq!(*r.upgrade().unwrap(), [0, 1]);
/// drop(set);
/// assert!(r.upgrade().is_none());
/// ```
pub struct Weak<T> {
    /// The object's header (`Plain`), a tagged registration pointer (`Registered`, low
    /// bit set), or `DANGLING` (made by `Weak::new`).
    raw: NonNull<u8>,
    _observes: PhantomData<GcBox<T>>,
}

// SAFETY: as for Gc: an upgraded handle shares `&T` and may drop `T` on another thread.
unsafe impl<T: Send + Sync> Send for Weak<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Weak<T> {}

const DANGLING: usize = usize::MAX;
/// Tag bit: `raw` points at a registration, not at the object.
const REGISTERED: usize = 1;
/// Tag bit: the object is tracked (never changes; spares `upgrade` a load of the header).
const TRACKED: usize = 2;
const TAGS: usize = REGISTERED | TRACKED;

enum Kind<'a> {
    Dangling,
    Plain(NonNull<Header>),
    Registered(&'a Registration),
}

impl<T> Weak<T> {
    /// A weak handle to nothing: it never upgrades.
    #[must_use]
    pub const fn new() -> Weak<T> {
        Weak {
            raw: NonNull::without_provenance(std::num::NonZeroUsize::MAX),
            _observes: PhantomData,
        }
    }

    /// Adopts one weak reference the caller holds on `header`.
    pub(crate) fn from_header(header: NonNull<Header>, tracked: bool) -> Weak<T> {
        let raw = header.cast::<u8>().map_addr(|a| a | if tracked { TRACKED } else { 0 });
        Weak { raw, _observes: PhantomData }
    }

    /// Adopts one handle count of `registration`.
    ///
    /// # Safety
    /// The caller owns that handle count, and the registration's target is a `GcBox<T>`.
    pub(crate) unsafe fn from_registration(
        registration: NonNull<Registration>,
        tracked: bool,
    ) -> Weak<T> {
        let tag = REGISTERED | if tracked { TRACKED } else { 0 };
        let raw = registration.cast::<u8>().map_addr(|a| a | tag);
        Weak { raw, _observes: PhantomData }
    }

    fn kind(&self) -> Kind<'_> {
        let addr = self.raw.addr().get();
        if addr == DANGLING {
            Kind::Dangling
        } else if addr & REGISTERED != 0 {
            // SAFETY: this handle owns a handle count of the registration.
            Kind::Registered(unsafe { self.registration_ptr().as_ref() })
        } else {
            Kind::Plain(self.untagged().cast())
        }
    }

    /// The registration pointer of a `Registered` handle.
    fn registration_ptr(&self) -> NonNull<Registration> {
        self.untagged().cast()
    }

    /// `raw` without its tag bits.
    fn untagged(&self) -> NonNull<u8> {
        self.raw.map_addr(|a| {
            // SAFETY: clearing tag bits of an 8-aligned, non-null address leaves it non-zero.
            unsafe { std::num::NonZeroUsize::new_unchecked(a.get() & !TAGS) }
        })
    }

    /// A plain handle to the same object that owns **no** weak reference: it borrows this
    /// handle's. The caller must never drop it (wrap it in `ManuallyDrop`) and must not use
    /// it after this handle is gone.
    pub(crate) fn borrowed_plain(&self) -> Weak<T> {
        match self.target() {
            None => Weak::new(),
            Some(header) => Weak::from_header(header, self.raw.addr().get() & TRACKED != 0),
        }
    }

    /// The header of the observed object, if any.
    pub(crate) fn target(&self) -> Option<NonNull<Header>> {
        match self.kind() {
            Kind::Dangling => None,
            Kind::Plain(h) => Some(h),
            Kind::Registered(r) => Some(r.target()),
        }
    }

    /// A strong handle to the object, or `None` if it is dead (or condemned by the cycle
    /// collector). Python's `ref()`.
    #[inline]
    #[must_use = "upgrading only to drop the result at once tells nothing reliable"]
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let header = self.target()?;
        if self.raw.addr().get() & TRACKED != 0 {
            return Weak::upgrade_tracked(header);
        }
        // SAFETY: this handle keeps the header allocated.
        if unsafe { header.as_ref() }.try_inc_strong() {
            // SAFETY: the strong count raised above is handed to the new handle; the header is
            // that of a GcBox<T> of a leaf.
            Some(unsafe { Gc::from_header(header, false) })
        } else {
            None
        }
    }

    /// The object, borrowed for as long as `pin` lasts (even past this handle), or `None` if
    /// it is dead: like [`upgrade`](Weak::upgrade), without writing to the object's count
    /// when it is a leaf.
    ///
    /// For loops over many weakly held objects (see [`ReadPin`](crate::ReadPin) for what
    /// being read under a pin changes for a leaf: the drop of its value may wait for the pins
    /// held when it dies, and `Gc::try_unwrap` refuses it). A tracked object is upgraded and
    /// held by the returned [`PinnedRef`] instead.
    ///
    /// ```
    /// use weakling::{read_pin, Gc};
    ///
    /// let listeners: Vec<Gc<u32>> = (0..3).map(Gc::new_leaf).collect();
    /// let weak: Vec<_> = listeners.iter().map(Gc::downgrade).collect();
    /// let pin = read_pin();
    /// let sum: u32 = weak.iter().filter_map(|w| w.get_pinned(&pin)).map(|v| *v).sum();
    /// assert_eq!(sum, 3);
    /// ```
    #[inline]
    pub fn get_pinned<'p>(&self, pin: &'p ReadPin) -> Option<PinnedRef<'p, T>> {
        let header = self.target()?;
        if self.raw.addr().get() & TRACKED != 0 {
            return Weak::upgrade_tracked(header).map(PinnedRef::held);
        }
        // SAFETY: a leaf's `GcBox<T>`, kept allocated by this handle during the call.
        unsafe { super::pin::borrow_leaf::<T>(header, pin) }.map(PinnedRef::borrowed)
    }

    /// Upgrades to a tracked object: a mutator operation, so that a scanning collector never
    /// sees a count rise from nothing.
    #[inline]
    fn upgrade_tracked(header: NonNull<Header>) -> Option<Gc<T>> {
        // The fast path makes no call (see `pause::begin_fast`).
        let Some(state) = super::pause::begin_fast() else {
            return Weak::upgrade_tracked_slow(header);
        };
        let upgraded = Weak::try_upgrade_tracked(header);
        super::pause::end_fast(state);
        upgraded
    }

    /// The upgrade itself, inside the operation the caller began.
    #[inline]
    fn try_upgrade_tracked(header: NonNull<Header>) -> Option<Gc<T>> {
        // SAFETY: the caller's handle keeps the header allocated.
        let upgraded = unsafe { header.as_ref() }.try_inc_strong();
        // SAFETY: as in `upgrade`, for a tracked object.
        upgraded.then(|| unsafe { Gc::from_header(header, true) })
    }

    /// [`upgrade_tracked`](Weak::upgrade_tracked) when its operation needs the full
    /// `pause::begin`.
    #[cold]
    #[inline(never)]
    fn upgrade_tracked_slow(header: NonNull<Header>) -> Option<Gc<T>> {
        let _op = super::pause::begin();
        Weak::try_upgrade_tracked(header)
    }

    /// The number of strong handles to the object (0 once it died, or for [`Weak::new`]).
    #[must_use]
    pub fn strong_count(&self) -> usize {
        // SAFETY: this handle keeps the header allocated.
        self.target().map_or(0, |h| unsafe { h.as_ref() }.strong_count())
    }

    /// The number of weak references to the object while it lives (as
    /// [`Gc::weak_count`]), 0 once it died.
    #[must_use]
    pub fn weak_count(&self) -> usize {
        let Some(h) = self.target() else { return 0 };
        // SAFETY: this handle keeps the header allocated.
        let h = unsafe { h.as_ref() };
        if h.strong_count() == 0 {
            0
        } else {
            // Less the strong handles' shared one; may lag a concurrent last drop by one.
            h.raw_weak_count().saturating_sub(1)
        }
    }

    /// The address of the observed value, as [`Gc::as_ptr`] gives it (Python's `id(obj)`),
    /// also after the object died (the address then identifies it but must not be read);
    /// a dangling, well-aligned pointer for [`Weak::new`].
    ///
    /// ```
    /// use weakling::Gc;
    ///
    /// let g = Gc::new(5);
    /// let w = Gc::downgrade(&g);
    /// assert_eq!(w.as_ptr(), Gc::as_ptr(&g));
    /// ```
    #[inline]
    #[must_use]
    pub fn as_ptr(&self) -> *const T {
        match self.target() {
            None => NonNull::<T>::dangling().as_ptr(),
            // SAFETY: this handle keeps the box allocated; the place is only projected, not
            // read.
            Some(h) => unsafe { &raw const (*h.cast::<GcBox<T>>().as_ptr()).value },
        }
    }

    /// Whether both handles observe the same object (or both were made by [`Weak::new`]).
    #[inline]
    #[must_use]
    pub fn ptr_eq(&self, other: &Weak<T>) -> bool {
        self.identity() == other.identity()
    }

    /// Whether this handle carries a death callback (made by [`Gc::downgrade_with`]).
    #[must_use]
    pub fn has_callback(&self) -> bool {
        matches!(self.kind(), Kind::Registered(_))
    }

    /// The identity of the observed object: the address of its header.
    fn identity(&self) -> usize {
        self.target().map_or(DANGLING, |h| h.as_ptr() as usize)
    }
}

impl<T> Clone for Weak<T> {
    fn clone(&self) -> Weak<T> {
        match self.kind() {
            Kind::Dangling => {}
            // SAFETY: this handle keeps the header allocated.
            Kind::Plain(h) => unsafe { h.as_ref() }.inc_weak(),
            Kind::Registered(r) => r.acquire_handle(),
        }
        Weak { raw: self.raw, _observes: PhantomData }
    }
}

impl<T> Drop for Weak<T> {
    fn drop(&mut self) {
        match self.kind() {
            Kind::Dangling => {}
            // SAFETY: this handle's weak reference is released once; the box is a GcBox<T>.
            Kind::Plain(h) => unsafe { release_weak::<T>(h) },
            // SAFETY: this handle's count, released once.
            Kind::Registered(_) => unsafe { Registration::release_handle(self.registration_ptr()) },
        }
    }
}

impl<T> Default for Weak<T> {
    fn default() -> Weak<T> {
        Weak::new()
    }
}

impl<T> PartialEq for Weak<T> {
    fn eq(&self, other: &Weak<T>) -> bool {
        self.ptr_eq(other)
    }
}

impl<T> Eq for Weak<T> {}

impl<T> Hash for Weak<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity().hash(state)
    }
}

impl<T> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target() {
            None => f.write_str("(Weak; empty)"),
            // SAFETY: this handle keeps the header allocated.
            Some(h) if unsafe { h.as_ref() }.strong_count() == 0 => {
                write!(f, "(Weak at {:p}; dead)", h)
            }
            Some(h) => write!(f, "(Weak at {:p}; alive)", h),
        }
    }
}

// SAFETY: a weak handle owns no strong edge.
unsafe impl<T> Trace for Weak<T> {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}
