//! [`AnyGc`]: a strong handle to a tracked object whose type is not known statically, as the
//! collector's inspection functions return them (Python's `gc.get_referrers`, `gc.garbage`).

use std::any::TypeId;
use std::fmt;
use std::ptr::NonNull;

use super::deferred::{self, Pending};
use super::gc::{destroy_object, leave_heap};
use super::header::Header;
use super::layout::{gc_head_of, VTable};
use super::pause;
use crate::Gc;

/// A strong handle to a tracked object of any type.
///
/// It keeps the object alive like a [`Gc`]; [`AnyGc::downcast`] turns it back into a `Gc<T>`
/// when the type is right. Only tracked objects (those whose type may hold handles) can be
/// reached this way, since only they are on the collector's lists.
pub struct AnyGc {
    header: NonNull<Header>,
}

// SAFETY: only tracked objects, whose types are `Send + Sync` (required by `Gc::new`), are ever
// wrapped; the handle itself is a counted pointer like `Gc`.
unsafe impl Send for AnyGc {}
// SAFETY: as above.
unsafe impl Sync for AnyGc {}

impl AnyGc {
    /// Adopts one strong count on a tracked object.
    ///
    /// # Safety
    /// `header` is a tracked object's, and the caller transfers one strong count it holds.
    pub(crate) unsafe fn adopt(header: NonNull<Header>) -> AnyGc {
        AnyGc { header }
    }

    fn vtable(&self) -> &'static VTable {
        // SAFETY: a tracked object's prefix, kept allocated by this handle's count.
        unsafe { gc_head_of(self.header).as_ref() }.vtable
    }

    /// Traces the object unless the collector has torn it down.
    pub(crate) fn trace_into(&self, tracer: &mut crate::Tracer<'_>) {
        // SAFETY: allocated while this handle lives.
        if unsafe { self.header.as_ref() }.is_torn_down() {
            return;
        }
        // SAFETY: a tracked object of the vtable's type, alive (this handle) and not torn down.
        unsafe { (self.vtable().trace)(self.header, tracer) };
    }

    /// The type of the value, as `std::any::type_name` spells it.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        (self.vtable().type_name)()
    }

    /// Whether the value is a `T`.
    #[must_use]
    pub fn is<T: 'static>(&self) -> bool {
        (self.vtable().type_id)() == TypeId::of::<T>()
    }

    /// The typed handle, if the value is a `T`; the handle back otherwise.
    pub fn downcast<T: 'static>(self) -> Result<Gc<T>, AnyGc> {
        if !self.is::<T>() {
            return Err(self);
        }
        let header = std::mem::ManuallyDrop::new(self).header;
        // SAFETY: the value is a T, so the box is a GcBox<T>; this handle's count moves over.
        Ok(unsafe { Gc::from_header(header, true) })
    }

    /// Whether `self` and `other` are handles to the same object.
    #[must_use]
    pub fn ptr_eq<T>(&self, other: &Gc<T>) -> bool {
        self.header == Gc::header_ptr(other)
    }

    /// The number of strong handles to the object.
    #[must_use]
    pub fn strong_count(&self) -> usize {
        // SAFETY: this handle keeps the header allocated.
        unsafe { self.header.as_ref() }.strong_count()
    }
}

impl Clone for AnyGc {
    fn clone(&self) -> AnyGc {
        // SAFETY: this handle keeps the header allocated.
        unsafe { self.header.as_ref() }.inc_strong();
        AnyGc { header: self.header }
    }
}

impl Drop for AnyGc {
    fn drop(&mut self) {
        let header = self.header;
        // SAFETY: this handle keeps the header allocated until the decrement.
        let h = unsafe { header.as_ref() };
        // A tracked object's count must not fall under a scanning collector.
        let op = pause::begin();
        if !h.dec_strong() {
            return;
        }
        // SAFETY: this drop took the count of a tracked object to zero, inside `op`.
        unsafe { leave_heap(header, Some(&op)) };
        drop(op);
        // SAFETY: runs once, for an object that left the books; the vtable's functions are
        // those of its type.
        unsafe { deferred::run_or_defer(Pending { header, run: destroy_erased }) };
    }
}

/// `destroy_object` through the object's vtable.
///
/// # Safety
/// As for `destroy_object`; `header` is a tracked object's.
unsafe fn destroy_erased(header: NonNull<Header>) {
    // SAFETY: tracked, allocated until destroyed.
    let vtable = unsafe { gc_head_of(header).as_ref() }.vtable;
    // SAFETY: forwarded contract.
    unsafe { destroy_object(header, vtable.drop_value, vtable.dealloc) };
}

impl fmt::Debug for AnyGc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyGc({} at {:p})", self.type_name(), self.header)
    }
}
