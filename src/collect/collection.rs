//! One collection, start to finish.
//!
//! 1. Only one collection stops the world and scans at a time in the process; a collection
//!    requested on a thread that is already collecting (from a callback or a `Drop` it runs)
//!    does nothing.
//! 2. Stop the world (see `heap::pause`): no thread is inside a drop, upgrade or cell write.
//!    Flush every nursery and lock the heap's shards: the objects of the collected
//!    generations, where they sit on their lists, are the working set.
//! 3. Trial deletion (`scan`) splits it into survivors and garbage.
//! 4. Survivors move to the next generation (`verdict`). Garbage is *condemned* (no upgrade
//!    succeeds from now on), taken off the books, and held by one extra strong count so that
//!    no box can be freed under the collector. The world runs again, and other collections may
//!    start: the garbage is on no list, so they never see it. Only then does user code run.
//! 5. Finalizers (finalizer callbacks and `Trace::finalize`) of the garbage run, members still
//!    whole (skipped when the verdict found none to run); if any ran, the world stops once more and the garbage is scanned again on its
//!    own: whatever user code made reachable is resurrected (see `finalize`).
//! 6. The death callbacks of the garbage are taken out of the registry; every garbage object
//!    is marked torn down (by the verdict already, when no member needed finalizing), then
//!    their values are dropped (panics contained), the handles they drop to the garbage
//!    counted aside rather than decremented (see the `collect` module docs). A `Drop` that
//!    reaches another member finds it torn down: `Gc::try_get` gives `None`, `Deref` panics.
//!    Dropping the values drops every weak handle that lived only inside the garbage, which
//!    cancels its callback: so callbacks of weak handles *inside* the garbage never run.
//! 7. The callbacks still armed (their handles live outside the garbage) run, newest first
//!    per object. Last, the collector's counts are released and the boxes freed once no weak
//!    handle remains.

use std::time::{Duration, Instant};

use super::finalize::{finalize, Finalized};
use super::scan::{self, WorkingSet};
use super::state::{Collection, Phase, GENERATIONS};
use super::world::{StoppedWorld, ONE_AT_A_TIME};
use super::{teardown, verdict};
use crate::contain::contained;
use crate::heap::raw::{
    current, death_table, encode, pause, take_attached, AnyGc, HeapInner, ObjPtr, Ordering,
    ThreadState, HAS_ATTACHMENTS, HAS_CALLBACKS, UNLISTED,
};

/// How long an explicit collection waits for threads inside a cell write before it gives up.
pub(super) const PATIENCE: Duration = Duration::from_millis(200);
/// The same for an automatic one, which runs inside an allocation: short, and it simply
/// happens again at a later safe point.
const AUTOMATIC_PATIENCE: Duration = Duration::from_millis(2);

/// Collects `generation` (and the younger ones) of `heap`. `None` when this thread is
/// already collecting, or when `explicit` is false and another thread is. An automatic
/// (not `explicit`) collection waits only briefly for other threads.
pub(crate) fn collect(
    heap: &'static HeapInner,
    generation: usize,
    explicit: bool,
) -> Option<Collection> {
    debug_assert!(generation < GENERATIONS);
    if pause::collecting() {
        return None;
    }
    let exclusive = if explicit { ONE_AT_A_TIME.lock() } else { ONE_AT_A_TIME.try_lock()? };
    let _collecting = pause::mark_collecting();
    notify(heap, Phase::Start { generation });
    let start = Instant::now();
    let span = tracing::info_span!(
        "weakling.collect",
        heap = heap.id(),
        generation,
        examined = tracing::field::Empty,
        unreachable = tracing::field::Empty,
        micros = tracing::field::Empty,
    );
    let _entered = span.enter();

    let mut collection = Collection { generation, ..Collection::default() };
    let patience = if explicit { PATIENCE } else { AUTOMATIC_PATIENCE };
    let Some(mut world) = StoppedWorld::stop(heap, exclusive, patience) else {
        collection.abandoned = true;
        collection.duration = start.elapsed();
        if !explicit {
            // Back off: the next automatic attempt comes a full threshold later, instead of
            // stalling every allocation that follows.
            heap.reset_young();
        }
        tracing::warn!(target: "weakling", "collection abandoned: a thread held a GcCell for writing too long");
        heap.collector().record(&collection, 0);
        notify(heap, Phase::Stop(collection));
        return Some(collection);
    };
    // The working set stays on its lists; the scan and the verdict work in place (see `scan`).
    let ws = WorkingSet::new(heap.id(), generation, &world.shards);
    let mut scratch = scan::scratch();
    // SAFETY: world stopped, nurseries flushed, every shard locked; every listed object is
    // alive (a dying one leaves its list inside the operation that took its count to zero,
    // which the stop waited for).
    unsafe { scan::scan(&ws, &world.shards, &mut scratch) };
    let keep_garbage = heap.collector().keep_garbage;
    // Where survivors go, and objects resurrected by finalizers with them.
    let target = (generation + 1).min(GENERATIONS - 1);
    let garbage_list = scratch.take_garbage_list();
    // The garbage's slot: this thread's `TEARING` one, where its teardown counts the drops it
    // lets go without a decrement (see "Drops the teardown need not count" in `collect`).
    let me = current();
    let garbage_slot = me.and_then(|s| s.tearing_slot()).unwrap_or_else(|| encode(UNLISTED, 0, 0));
    // SAFETY: as above; the shards have not changed since the scan.
    let verdict::Verdict { garbage, kept, survivors, torn_down, attachments } = unsafe {
        verdict::apply(
            &ws,
            &mut world.shards,
            &scratch.refs,
            keep_garbage,
            garbage_list,
            garbage_slot,
        )
    };
    scratch.trim(ws.len());
    drop(scratch);
    heap.reset_young();
    drop(world);

    collection.examined = ws.len();
    let kept_count = kept.len();
    if !kept.is_empty() {
        // SAFETY: tracked objects, each with one count raised above for this handle.
        let kept = kept.into_iter().map(|o| unsafe { AnyGc::adopt(o.0) });
        heap.collector().garbage.extend(kept);
    }
    let Finalized { garbage, resurrected } = if torn_down {
        // No member has a finalizer or a callback: the verdict marked them torn down already.
        Finalized { garbage, resurrected: 0 }
    } else {
        // SAFETY: `garbage` holds condemned, unlisted objects, whole, with one count each held
        // here; this thread is collecting and holds no collector lock.
        unsafe { finalize(heap, garbage, target) }
    };
    collection.resurrected = resurrected;
    collection.collected = garbage.len();
    collection.unreachable = garbage.len() + kept_count;
    crate::heap::raw::count_tracked_frees(heap, garbage.len());
    // SAFETY: `garbage` holds condemned, unlisted objects with one count each held here, and
    // no thread but this one can reach them (the finalizers' user code, if any ran, was
    // followed by a reachability check); if `torn_down`, all are marked and none has callbacks.
    // Their slots are `garbage_slot`, unless resurrected (then they are not in `garbage`).
    unsafe { free_garbage(garbage, torn_down.then_some(attachments), me, garbage_slot) };

    collection.duration = start.elapsed();
    span.record("examined", collection.examined);
    span.record("unreachable", collection.unreachable);
    span.record("micros", collection.duration.as_micros() as u64);
    heap.collector().record(&collection, survivors + resurrected);
    notify(heap, Phase::Stop(collection));
    Some(collection)
}

/// Calls the heap's collection callbacks, outside every lock; a panic in one is reported and
/// the others still run. A collection they request does nothing (this thread is collecting).
fn notify(heap: &HeapInner, phase: Phase) {
    let callbacks: Vec<_> = heap.collector().callbacks.iter().map(|(_, f)| f.clone()).collect();
    for callback in callbacks {
        contained("collection callback", || callback(phase));
    }
}

/// Runs `f` on the shards of `heap` with the world stopped and every nursery flushed, so that
/// every tracked object of the heap is on a list and none changes. `None` if the world could
/// not be stopped (a thread kept a cell locked for writing), or on a thread that is collecting.
pub(crate) fn with_world_stopped<R>(
    heap: &'static HeapInner,
    f: impl FnOnce(&mut [crate::sync::MutexGuard<'_, crate::heap::raw::Shard>]) -> R,
) -> Option<R> {
    if pause::collecting() {
        return None;
    }
    let mut world = StoppedWorld::stop(heap, ONE_AT_A_TIME.lock(), PATIENCE)?;
    Some(f(&mut world.shards))
}

/// Steps 6 and 7 of the module docs. `torn_down` is `Some(attachments)` when the verdict
/// already marked every object torn down and none has callbacks; `attachments` says whether
/// some object has attached values.
///
/// # Safety
/// Every object is condemned, off the books, and holds one strong count owned by the caller;
/// with `torn_down`, every object is marked torn down and has no callbacks, and no user code
/// ran since the verdict.
///
/// While the values drop, this thread counts the handles to the garbage that they let go in the
/// garbage's slots instead of decrementing the counts, if `garbage_slot` is `me`'s `TEARING`
/// slot; `release` settles the tallies.
unsafe fn free_garbage(
    garbage: Vec<ObjPtr>,
    torn_down: Option<bool>,
    me: Option<&ThreadState>,
    garbage_slot: u64,
) {
    let mut armed: Vec<Vec<death_table::Entry>> = Vec::new();
    let mut attached = Vec::new();
    match torn_down {
        // Only attachments are left to take (attaching needs a strong handle, and none has
        // been outside the garbage since the verdict, so no flag changed).
        Some(true) => {
            for obj in &garbage {
                // SAFETY: the caller's count keeps the box allocated.
                let h = unsafe { obj.0.as_ref() };
                if h.flags(Ordering::Acquire) & HAS_ATTACHMENTS != 0 {
                    attached.push(take_attached(obj.0));
                }
            }
        }
        Some(false) => {}
        None => {
            for (at, obj) in garbage.iter().enumerate() {
                super::prefetch::ahead(&garbage, at);
                // SAFETY: the caller's count keeps the box allocated.
                let h = unsafe { obj.0.as_ref() };
                // Marked torn down; the flags it had say whether there is more to do.
                // SAFETY: condemned; no user code has run since, so every strong handle to it
                // is the collector's or inside the garbage, all on this thread. (User code run
                // before this point must be followed by a reachability check that keeps alive
                // whatever it let other threads reach.)
                let flags = unsafe { h.tear_down() };
                if flags & HAS_CALLBACKS != 0 {
                    armed.push(death_table::take(obj.0));
                }
                if flags & HAS_ATTACHMENTS != 0 {
                    attached.push(take_attached(obj.0));
                }
            }
        }
    }
    // Counting drops from here until every tally is settled by `release`, even if this
    // unwinds.
    let _tearing = me.filter(|s| s.tearing_slot() == Some(garbage_slot)).map(Tearing::new);
    // SAFETY: every object is torn down, off the books, and held by the collector's count.
    // Boxes that nothing references any more are freed on the way; the rest are left.
    let left = unsafe { teardown::drop_values(&garbage) };
    contained("dropping values attached to garbage keys", || drop(attached));
    for entries in armed {
        death_table::fire(entries);
    }
    // The collector's remaining counts go; boxes that nothing else references are freed.
    // SAFETY: as above, with the values dropped and callbacks and attachments taken.
    unsafe { teardown::release(&left) };
    scan::recycle_garbage_list(garbage);
}

/// This thread's teardown mode (see `ThreadState::tearing`), on while it lives.
struct Tearing<'a>(&'a ThreadState);

impl<'a> Tearing<'a> {
    fn new(me: &'a ThreadState) -> Tearing<'a> {
        if let Some(slot) = me.tearing_slot() {
            me.set_tearing(slot);
        }
        Tearing(me)
    }
}

impl Drop for Tearing<'_> {
    fn drop(&mut self) {
        self.0.set_tearing(0);
    }
}
