//! The garbage's last steps, in batches: dropping the values, then releasing the collector's
//! counts and freeing the boxes.

use crate::contain::contained;
use crate::heap::raw::{gc_head_of, AnyGc, ObjPtr};

/// Drops the values of torn-down garbage, in order. A panic in one `Drop` is reported and the
/// next value is dropped; one containment covers the batch until a panic occurs.
///
/// # Safety
/// Every object is torn down (marked, value not yet dropped), off the books, and kept
/// allocated by a strong count the caller holds; each value is dropped here once.
pub(crate) unsafe fn drop_values(garbage: &[ObjPtr]) {
    let mut next = 0;
    while next < garbage.len() {
        contained("Drop of a value in a garbage cycle", || {
            while let Some(obj) = garbage.get(next) {
                // Advanced first: a panicking Drop is not run again.
                next += 1;
                // SAFETY: tracked and allocated.
                let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
                // SAFETY: the value is initialised and dropped here once: torn-down objects
                // are never dropped again, and no handle reads a torn-down value.
                unsafe { (vtable.drop_value)(obj.0) };
            }
        });
    }
}

/// Releases the collector's count on each torn-down garbage object; a box that nothing else
/// references is freed at once.
///
/// When the collector's handle is the last strong one and no weak reference is left, nothing
/// can reach the object any more: no other strong handle exists to be cloned, upgrades fail on
/// a condemned object, and no weak handle or callback registration exists to look at it
/// (registrations and attachments are refused on condemned objects, and those it had were
/// taken at teardown). Such a box is freed directly, without the two read-modify-writes and
/// the operation that the general last-drop path would spend. Any other object takes that
/// path: a handle that escaped the cycle (a `Drop` stored it) keeps the box until it goes.
///
/// # Safety
/// Every object is condemned, torn down (its value dropped, its callbacks and attachments
/// taken), off the books, and holds one strong count owned by the caller, which this consumes.
pub(crate) unsafe fn release(garbage: &[ObjPtr]) {
    for obj in garbage {
        // SAFETY: the caller's count keeps the box allocated.
        let h = unsafe { obj.0.as_ref() };
        // Both loads Acquire: the other handles' and weak references' uses of the object
        // (Release decrements) happen before the free.
        if h.is_last_condemned_handle() && h.raw_weak_count() == 1 {
            // SAFETY: tracked and allocated.
            let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
            // SAFETY: no reference of any kind remains but the caller's, which this consumes
            // (see above); the value was dropped at teardown and `dealloc` does not drop it.
            unsafe { (vtable.dealloc)(obj.0) };
        } else {
            // The collector's count is a strong handle like any other: dropping it takes the
            // same path as any last drop (a torn-down value is not dropped again).
            // SAFETY: a tracked object; the count the collector raised moves to the handle.
            drop(unsafe { AnyGc::adopt(obj.0) });
        }
    }
}
