//! The garbage's last steps, in batches: dropping the values, then releasing the collector's
//! counts and freeing the boxes. Handles that the values drop to the garbage are tallied in the
//! objects' slots rather than decremented (see "Drops the teardown need not count" in the
//! `collect` module docs); the tallies are settled here.

use super::prefetch;
use crate::contain::contained;
use crate::heap::raw::{decode, encode, gc_head_of, AnyGc, ObjPtr, Ordering, UNLISTED};

/// How far behind the drops the early release looks: far enough that most objects have lost
/// their handles from the rest of their cycle, near enough that their boxes are still cached.
const LAG: usize = 64;

/// Drops the values of torn-down garbage, in order, and frees on the way the boxes that nothing
/// references any more; returns the objects left for [`release`].
///
/// A panic in one `Drop` is reported and the next value is dropped; one containment covers the
/// batch until a panic occurs. `LAG` objects behind the value being dropped, an object whose
/// only remaining reference is the collector's count (see [`release`]) is freed while its box
/// is still in cache: nothing can reach it, so nothing that runs later can tell.
///
/// # Safety
/// Every object is torn down (marked, value not yet dropped, its callbacks and attachments
/// taken), off the books, and kept allocated by a strong count the caller holds; each value is
/// dropped here once. The caller's counts on the objects returned are still held.
pub(crate) unsafe fn drop_values(garbage: &[ObjPtr]) -> Vec<ObjPtr> {
    let mut next = 0;
    let mut left = Vec::new();
    while next < garbage.len() {
        contained("Drop of a value in a garbage cycle", || {
            while let Some(obj) = garbage.get(next) {
                prefetch::ahead(garbage, next);
                // Object `next - LAG`, whose value is dropped, is looked at before this value
                // drops, so that a panic below cannot skip it.
                if let Some(behind) = next.checked_sub(LAG).map(|i| garbage[i]) {
                    // SAFETY: its value is dropped; the caller's count is still held.
                    if !unsafe { free_if_unreferenced(behind) } {
                        left.push(behind);
                    }
                }
                // Advanced first: a panicking Drop is not run again.
                next += 1;
                // SAFETY: tracked and allocated.
                let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
                if let Some(drop_value) = vtable.drop_value {
                    // SAFETY: the value is initialised and dropped here once: torn-down
                    // objects are never dropped again, and no handle reads a torn-down value.
                    unsafe { drop_value(obj.0) };
                }
            }
        });
    }
    left.extend_from_slice(&garbage[garbage.len().saturating_sub(LAG)..]);
    left
}

/// The handles to `obj` that this thread let go without decrementing its count while it
/// dropped the garbage's values (the index field of its slot; 0 for a slot with no tally).
///
/// # Safety
/// `obj` is garbage of this thread's collection, kept allocated by the collector's count.
#[inline]
unsafe fn skipped(obj: ObjPtr) -> usize {
    // SAFETY: tracked and allocated.
    let head = unsafe { gc_head_of(obj.0).as_ref() };
    // Relaxed: written by this thread only (the verdict, then the counted drops).
    decode(head.slot.load(Ordering::Relaxed)).2
}

/// Frees `obj` if the collector's count is the only reference of any kind left to it.
///
/// When the collector's handle is the last strong one (once the handles that the teardown's
/// drops let go without a decrement are discounted: they exist no more) and no weak reference
/// is left, nothing can reach the object any more: no other strong handle exists to be cloned (a handle inside
/// another garbage value would be counted), upgrades fail on a condemned object, and no weak
/// handle or callback registration exists to look at it (registrations and attachments are
/// refused on condemned objects, and those it had were taken at teardown). Such a box is freed
/// directly, without the two read-modify-writes and the operation that the general last-drop
/// path would spend.
///
/// # Safety
/// `obj` is condemned, torn down (value dropped, callbacks and attachments taken), off the
/// books, and holds one strong count owned by the caller, which this consumes when it returns
/// `true`.
#[inline]
unsafe fn free_if_unreferenced(obj: ObjPtr) -> bool {
    // SAFETY: the caller's count keeps the box allocated.
    let h = unsafe { obj.0.as_ref() };
    // Both loads Acquire: the other handles' and weak references' uses of the object (their
    // Release decrements) happen before the free.
    // SAFETY: forwarded contract.
    let skipped = unsafe { skipped(obj) };
    if !(h.is_last_condemned_handle(skipped) && h.raw_weak_count() == 1) {
        return false;
    }
    // SAFETY: tracked and allocated.
    let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
    // SAFETY: no reference of any kind remains but the caller's, which this consumes (see
    // above); the value was dropped at teardown and `dealloc` does not drop it.
    unsafe { (vtable.dealloc)(obj.0) };
    true
}

/// Releases the collector's count on each torn-down garbage object: a box that nothing else
/// references is freed at once ([`free_if_unreferenced`]); any other object takes the general
/// last-drop path, so a handle that escaped the cycle (a `Drop` stored it) keeps the box until
/// it goes.
///
/// # Safety
/// Every object is condemned, torn down (its value dropped, its callbacks and attachments
/// taken), off the books, and holds one strong count owned by the caller, which this consumes.
pub(crate) unsafe fn release(garbage: &[ObjPtr]) {
    for &obj in garbage {
        // SAFETY: forwarded contract.
        if !unsafe { free_if_unreferenced(obj) } {
            // Handles outlive the teardown (a `Drop` stored one): the slot stops counting
            // drops (later ones decrement), and the tally comes off the count, which stays
            // above zero by the collector's own handle.
            // SAFETY: tracked and allocated; garbage of this thread's collection.
            let (h, head) = unsafe { (obj.0.as_ref(), gc_head_of(obj.0).as_ref()) };
            // SAFETY: as above.
            let skipped = unsafe { skipped(obj) };
            head.slot.store(encode(UNLISTED, 0, 0), Ordering::Relaxed);
            h.release_skipped(skipped);
            // The collector's count is a strong handle like any other: dropping it takes the
            // same path as any last drop (a torn-down value is not dropped again).
            // SAFETY: a tracked object; the count the collector raised moves to the handle.
            drop(unsafe { AnyGc::adopt(obj.0) });
        }
    }
}
