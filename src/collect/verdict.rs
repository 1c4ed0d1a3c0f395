//! Applying a scan's verdict while the world is still stopped: survivors move up a generation
//! where they sit, garbage is condemned and taken off the lists.
//!
//! Survivors of a list that is also the target generation (the oldest one, in a full
//! collection) stay in place: the list is compacted, and only an object that moves to a new
//! index gets its slot rewritten; a full collection that finds no garbage writes to no object
//! at all. Survivors of a younger list are appended to the target list of the same shard.
//!
//! Garbage is also marked torn down in the same pass, while its header is in cache, so that
//! teardown does not visit every box once more after the world restarts. That is only allowed
//! when no member needs finalizing (finalizers see every member whole): a member whose type
//! has a finalizer that has not run, or that has callbacks (some may be finalizer callbacks;
//! the flag alone decides, conservatively), makes the verdict take the marks back, in a second
//! pass over the garbage, before the world restarts. Nobody can have seen them: no thread holds
//! a strong handle to garbage, and every operation that could look (an upgrade, a registration,
//! an attachment) needs one or waits for the world.

use super::prefetch;
use super::scan::WorkingSet;
use super::state::GENERATIONS;
use crate::heap::raw::{
    encode, gc_head_of, ObjPtr, Ordering, Shard, FINALIZED, HAS_ATTACHMENTS, HAS_CALLBACKS,
};
use crate::sync::MutexGuard;

/// What a collection found, once applied.
pub(crate) struct Verdict {
    /// Condemned objects, each holding one strong count owned by the collector.
    pub(crate) garbage: Vec<ObjPtr>,
    /// Unreachable objects kept alive for inspection (keep-garbage mode), each with one strong
    /// count raised for the heap's garbage list.
    pub(crate) kept: Vec<ObjPtr>,
    /// Reachable objects, now in the next generation.
    pub(crate) survivors: usize,
    /// Whether every object of `garbage` is already marked torn down: then no member needs
    /// finalizing, and none has callbacks.
    pub(crate) torn_down: bool,
    /// Whether some object of `garbage` has attached values (meaningful when `torn_down`).
    pub(crate) attachments: bool,
}

/// Promotes the survivors, condemns the garbage (or, with `keep_garbage`, keeps it as
/// survivors with a count raised for the heap's garbage list) and takes it off the lists.
/// `refs[i]` is 0 exactly for unreachable objects; `garbage` is an empty list to fill, and
/// `garbage_slot` the slot its objects get (this thread's `TEARING` slot, or `UNLISTED`).
///
/// # Safety
/// The world is stopped, `shards` are the working set's shards, locked and unchanged since the
/// scan that produced `refs`, and every object of the set is alive.
pub(crate) unsafe fn apply(
    ws: &WorkingSet,
    shards: &mut [MutexGuard<'_, Shard>],
    refs: &[i32],
    keep_garbage: bool,
    mut garbage: Vec<ObjPtr>,
    garbage_slot: u64,
) -> Verdict {
    debug_assert!(garbage.is_empty() && refs.len() == ws.len());
    let generation = ws.generation();
    let target = (generation + 1).min(GENERATIONS - 1);
    let mut kept = Vec::new();
    // The flags of all garbage, or-ed, and whether some member needs finalizing.
    let mut flags = 0;
    let mut finalizing = false;
    // Whether an object stays on the lists; condemns it (and marks it torn down) otherwise.
    let mut keeps = |obj: ObjPtr, reachable: bool| {
        // SAFETY: objects of the set are tracked and alive.
        let h = unsafe { obj.0.as_ref() };
        if reachable {
            return true;
        }
        if keep_garbage {
            // Kept for inspection instead of freed: the heap's garbage list holds it.
            h.inc_strong();
            kept.push(obj);
            return true;
        }
        // Upgrades fail from now on; the collector's count keeps the box allocated.
        // SAFETY: the world is stopped and the object is unreachable.
        unsafe { h.condemn_and_hold() };
        // SAFETY: as above.
        let head = unsafe { gc_head_of(obj.0).as_ref() };
        head.slot.store(garbage_slot, Ordering::Relaxed);
        // Marked torn down now, in case no member needs finalizing (taken back otherwise).
        // SAFETY: condemned just above; the world is stopped and the object unreachable, so
        // this thread holds its only strong handle (the collector's) and runs no user code.
        let had = unsafe { h.tear_down() };
        flags |= had;
        finalizing |=
            had & HAS_CALLBACKS != 0 || (head.vtable.finalize.is_some() && had & FINALIZED == 0);
        garbage.push(obj);
        false
    };
    for (si, shard) in shards.iter_mut().enumerate() {
        let lists = &mut shard.lists;
        if target <= generation {
            // The target list is in the set: compact it in place, before younger lists are
            // appended to it (their working indices are those of the lists as scanned).
            let base = ws.base(si, target);
            let list = &mut lists[target];
            // Objects before the first unreachable one stay where they are, untouched: in a
            // full collection without garbage, that is all of them.
            let first = refs[base..base + list.len()].iter().position(|&r| r == 0);
            let first = first.unwrap_or(list.len());
            let mut kept_so_far = first;
            for at in first..list.len() {
                prefetch::ahead(list, at);
                let obj = list[at];
                if keeps(obj, refs[base + at] != 0) {
                    if kept_so_far != at {
                        list[kept_so_far] = obj;
                        // SAFETY: a listed object, tracked and alive.
                        let head = unsafe { gc_head_of(obj.0).as_ref() };
                        head.slot.store(encode(target, si, kept_so_far), Ordering::Relaxed);
                    }
                    kept_so_far += 1;
                }
            }
            list.truncate(kept_so_far);
        }
        for l in (0..=generation).filter(|&l| l != target) {
            let base = ws.base(si, l);
            // Taken out and put back empty, so that both lists can be used and the younger
            // one keeps its capacity.
            let mut from = std::mem::take(&mut lists[l]);
            let to = &mut lists[target];
            to.reserve(from.len());
            for (at, &obj) in from.iter().enumerate() {
                prefetch::ahead(&from, at);
                if keeps(obj, refs[base + at] != 0) {
                    // SAFETY: a listed object, tracked and alive.
                    let head = unsafe { gc_head_of(obj.0).as_ref() };
                    head.slot.store(encode(target, si, to.len()), Ordering::Relaxed);
                    to.push(obj);
                }
            }
            from.clear();
            lists[l] = from;
        }
    }
    let survivors = ws.len() - garbage.len() - kept.len();
    if finalizing {
        for &obj in &garbage {
            // SAFETY: condemned above, alive by the collector's count; nobody has seen the
            // mark (module docs).
            unsafe { obj.0.as_ref().untear() };
        }
    }
    let attachments = flags & HAS_ATTACHMENTS != 0;
    Verdict { garbage, kept, survivors, torn_down: !finalizing, attachments }
}
