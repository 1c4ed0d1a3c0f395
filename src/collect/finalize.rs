//! Finalizers of cyclic garbage, and the reachability check that follows them.
//!
//! Once the world runs again after a collection decided its garbage, and before any member is
//! torn down, the finalizers of the garbage run on the collecting thread, with every member
//! still whole: finalizer callbacks (`Gc::downgrade_with_finalizer`, the basis of
//! `weakling::finalize`), newest first per object, and each object's own finalizer
//! ([`Trace::finalize`]) if its type has one and it has not run yet. That is
//! user code: it may store a handle to a member somewhere reachable (*resurrection*), or cut
//! edges between members. So when any finalizer ran, the world is stopped once more and the
//! garbage is scanned again on its own (`scan::scan_set`), with the collector's own
//! count on each object discounted:
//!
//! * an object referenced from outside the garbage now, and everything it reaches, is
//!   resurrected: it is no longer condemned (upgrades work again), goes back on a list in
//!   the generation the survivors went to, and the collector's count on it is
//!   released the ordinary way (if user code dropped every other handle meanwhile, that
//!   release is its last drop, and it dies as any object does);
//! * the rest stays garbage and is torn down. Finalizers never run twice for an object (the
//!   header's `FINALIZED` mark), so objects finalized here and found garbage again later are
//!   torn down without running user code first.
//!
//! If the world cannot be stopped for the check (a thread holds a `GcCell` for writing past the
//! collector's patience), every garbage object is treated as resurrected: safe, and the next
//! collection frees what is still unreachable, without finalizing it again.
//!
//! [`Trace::finalize`]: crate::Trace::finalize

use super::collection::PATIENCE;
use super::scan;
use super::world::{lock_shards, StoppedWorld, ONE_AT_A_TIME};
use crate::contain::contained;
use crate::heap::raw::{
    death_table, encode, gc_head_of, AnyGc, HeapInner, ObjPtr, Ordering, FINALIZED, HAS_CALLBACKS,
    SHARDS,
};

/// What the finalization step left.
pub(crate) struct Finalized {
    /// Objects still unreachable: to be torn down.
    pub(crate) garbage: Vec<ObjPtr>,
    /// How many objects finalizers brought back.
    pub(crate) resurrected: usize,
}

/// Runs the finalizers of `garbage` and checks reachability again if any ran. Resurrected
/// objects go to list `target` (of any shard).
///
/// # Safety
/// Every object of `garbage` is condemned, on no list, not torn down,
/// and holds one strong count owned by the caller; the caller moves those counts in. This
/// thread is marked as collecting and holds no collector lock.
pub(crate) unsafe fn finalize(
    heap: &'static HeapInner,
    garbage: Vec<ObjPtr>,
    target: usize,
) -> Finalized {
    let mut ran = 0_usize;
    for obj in &garbage {
        // SAFETY: the caller's count keeps the box allocated; it is tracked.
        let (h, head) = unsafe { (obj.0.as_ref(), gc_head_of(obj.0).as_ref()) };
        if h.flags(Ordering::Acquire) & HAS_CALLBACKS != 0 {
            // Death hooks and finalizer callbacks (`Gc::on_death`,
            // `Gc::downgrade_with_finalizer`): taken out, so at most once.
            let entries = death_table::take_finalizers(obj.0);
            if !entries.is_empty() {
                ran += entries.len();
                death_table::fire(entries);
            }
        }
        let Some(finalizer) = head.vtable.finalize else { continue };
        if h.flags(Ordering::Acquire) & FINALIZED != 0 {
            continue;
        }
        // Marked before it runs: a finalizer that panics or resurrects does not run again.
        h.set_flags(FINALIZED);
        ran += 1;
        contained("finalizer of an object in a garbage cycle", || {
            // SAFETY: not torn down (teardown comes after this step), and kept allocated by
            // the caller's count.
            unsafe { finalizer(obj.0) }
        });
    }
    if ran == 0 {
        return Finalized { garbage, resurrected: 0 };
    }
    tracing::debug!(target: "weakling", finalizers = ran, "finalizers ran; checking reachability again");
    // SAFETY: forwarded contract.
    unsafe { recheck(heap, garbage, target) }
}

/// Scans the garbage again after user code ran, and brings back what became reachable.
///
/// # Safety
/// As for [`finalize`].
unsafe fn recheck(heap: &'static HeapInner, garbage: Vec<ObjPtr>, target: usize) -> Finalized {
    let mut world = StoppedWorld::stop(heap, ONE_AT_A_TIME.lock(), PATIENCE);
    let reachable = match &world {
        // SAFETY: the world is stopped; every object is tracked, alive (the caller's count)
        // and not torn down; the caller's count is the one discounted.
        Some(_) => unsafe { scan::scan_set(&garbage, 1) },
        None => {
            tracing::warn!(
                target: "weakling",
                "could not stop the world to check garbage again after its finalizers ran: \
                 keeping all of it until the next collection"
            );
            vec![true; garbage.len()]
        }
    };
    let mut still = Vec::with_capacity(garbage.len());
    let mut back = Vec::new();
    {
        // When the stop failed the world runs, and the lists are locked on their own: the
        // garbage is on none of them and the collector's counts keep it alive, so only the
        // list positions need the locks.
        let mut own_shards;
        let shards = match &mut world {
            Some(world) => &mut world.shards,
            None => {
                own_shards = lock_shards(heap);
                &mut own_shards
            }
        };
        for (at, (obj, reachable)) in garbage.into_iter().zip(reachable).enumerate() {
            if !reachable {
                still.push(obj);
                continue;
            }
            // SAFETY: tracked and allocated (the caller's count).
            let (h, head) = unsafe { (obj.0.as_ref(), gc_head_of(obj.0).as_ref()) };
            // Un-marked atomically: other threads may hold handles to it again.
            h.uncondemn();
            // Any shard will do: until the collector's count goes below, no other thread
            // can take the object off its list.
            let si = at % SHARDS;
            let list = &mut shards[si].lists[target];
            head.slot.store(encode(target, si, list.len()), Ordering::Release);
            list.push(obj);
            back.push(obj);
        }
    }
    drop(world);
    let resurrected = back.len();
    for obj in back {
        // The object is listed and alive again: the collector's count goes the way of any
        // handle's (possibly the last, if user code dropped the others meanwhile).
        // SAFETY: a tracked object; the caller's count moves to this handle.
        drop(unsafe { AnyGc::adopt(obj.0) });
    }
    Finalized { garbage: still, resurrected }
}
