//! Looking at and pinning a heap's tracked objects: `gc.freeze`, the census, `gc.is_tracked`.

use std::collections::HashMap;

use super::collection::with_world_stopped;
use super::state::GENERATIONS;
use crate::contain::contained;
use crate::heap::raw::{
    encode, gc_head_of, trace_attached, AnyGc, Edge, Ordering, Tracer, HAS_ATTACHMENTS, LISTS,
};
use crate::{Gc, Heap};

/// The list frozen objects live on: never examined by a collection.
const FROZEN: usize = LISTS - 1;

impl Heap {
    /// Moves every tracked object of this heap to a permanent generation that collections
    /// never examine (Python's `gc.freeze()`): later collections skip them, which makes them
    /// cheaper, and garbage among them is not freed until [`Heap::unfreeze`].
    ///
    /// Returns `false`, freezing nothing, if the other threads could not be stopped (one kept
    /// a [`GcCell`](crate::GcCell) locked for writing too long) or if called during a collection.
    pub fn freeze(&self) -> bool {
        with_world_stopped(self.inner(), |shards| {
            for (si, shard) in shards.iter_mut().enumerate() {
                let [young, middle, old, frozen] = &mut shard.lists;
                for list in [young, middle, old] {
                    for obj in list.drain(..) {
                        // SAFETY: listed objects are tracked and allocated.
                        let head = unsafe { gc_head_of(obj.0).as_ref() };
                        head.slot.store(encode(FROZEN, si, frozen.len()), Ordering::Relaxed);
                        frozen.push(obj);
                    }
                }
            }
            self.inner().reset_young();
        })
        .is_some()
    }

    /// Moves every frozen object back to the oldest generation (Python's `gc.unfreeze()`).
    /// Returns `false` as [`Heap::freeze`] does.
    pub fn unfreeze(&self) -> bool {
        with_world_stopped(self.inner(), |shards| {
            for (si, shard) in shards.iter_mut().enumerate() {
                let [_, _, old, frozen] = &mut shard.lists;
                for obj in frozen.drain(..) {
                    // SAFETY: listed objects are tracked and allocated.
                    let head = unsafe { gc_head_of(obj.0).as_ref() };
                    head.slot.store(encode(GENERATIONS - 1, si, old.len()), Ordering::Relaxed);
                    old.push(obj);
                }
            }
        })
        .is_some()
    }

    /// How many objects are frozen (Python's `gc.get_freeze_count()`).
    #[must_use]
    pub fn freeze_count(&self) -> usize {
        (0..crate::heap::raw::SHARDS).map(|i| self.inner().lock_shard(i).lists[FROZEN].len()).sum()
    }

    /// The tracked objects of this heap counted by type, most numerous first: the first thing
    /// to look at when hunting a leak (what Python users build from `gc.get_objects()`).
    ///
    /// Leaves are not tracked and not counted. Empty if the other threads could not be
    /// stopped, or if called during a collection.
    ///
    /// ```
    /// use weakling::{Gc, GcCell, Heap, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Node { next: GcCell<Option<Gc<Node>>> }
    ///
    /// let heap = Heap::new();
    /// let nodes: Vec<_> = (0..3).map(|_| Gc::new_in(Node { next: GcCell::new(None) }, &heap)).collect();
    /// let census = heap.census();
    /// assert_eq!(census[0].1, 3);
    /// assert!(census[0].0.ends_with("Node"));
    /// # drop(nodes);
    /// ```
    #[must_use]
    pub fn census(&self) -> Vec<(&'static str, usize)> {
        let counts = with_world_stopped(self.inner(), |shards| {
            let mut counts: HashMap<&'static str, usize> = HashMap::new();
            for shard in shards.iter() {
                for obj in shard.lists.iter().flatten() {
                    // SAFETY: listed objects are tracked and allocated.
                    let name = (unsafe { gc_head_of(obj.0).as_ref() }.vtable.type_name)();
                    *counts.entry(name).or_default() += 1;
                }
            }
            counts
        })
        .unwrap_or_default();
        let mut census: Vec<_> = counts.into_iter().collect();
        census.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        census
    }
}

impl Heap {
    /// The tracked objects of this heap that hold a strong handle to `target` (Python's
    /// `gc.get_referrers`): who keeps it alive. Each comes as an [`AnyGc`], a strong handle
    /// whose type [`AnyGc::type_name`] names. Untracked holders (a thread's stack, a leaf, a
    /// static) are not found, as in Python.
    ///
    /// Empty if the other threads could not be stopped, or if called during a collection.
    ///
    /// ```
    /// use weakling::{Gc, GcCell, Heap, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Holder { held: GcCell<Option<Gc<String>>> }
    ///
    /// let heap = Heap::new();
    /// let target = Gc::new_in(String::from("who holds me?"), &heap);
    /// let holder = Gc::new_in(Holder { held: GcCell::new(Some(target.clone())) }, &heap);
    /// let found = heap.referrers(&target);
    /// assert_eq!(found.len(), 1);
    /// assert!(found[0].ptr_eq(&holder));
    /// ```
    #[must_use]
    pub fn referrers<T>(&self, target: &Gc<T>) -> Vec<AnyGc> {
        let wanted = Gc::header_ptr(target);
        with_world_stopped(self.inner(), |shards| {
            let mut found = Vec::new();
            for shard in shards.iter() {
                for obj in shard.lists.iter().flatten() {
                    let mut refers = false;
                    let mut visit = |edge: Edge| refers |= edge == Edge::Strong(wanted);
                    // SAFETY: listed objects are tracked and alive; the world is stopped.
                    let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
                    // SAFETY: as above.
                    let h = unsafe { obj.0.as_ref() };
                    let attached = h.flags(Ordering::Acquire) & HAS_ATTACHMENTS != 0;
                    contained("Trace of an object while looking for referrers", || {
                        let mut tracer = Tracer::new(&mut visit);
                        // SAFETY: as above.
                        unsafe { (vtable.trace)(obj.0, &mut tracer) };
                        if attached {
                            // SAFETY: as above.
                            unsafe { trace_attached(obj.0, &mut tracer) };
                        }
                    });
                    if refers {
                        h.inc_strong();
                        // SAFETY: a tracked object; the count raised above moves to the handle.
                        found.push(unsafe { AnyGc::adopt(obj.0) });
                    }
                }
            }
            found
        })
        .unwrap_or_default()
    }
}

/// Whether the collector tracks `object` (Python's `gc.is_tracked`): `true` for objects whose
/// type may hold handles, `false` for leaves, which the collector never looks at.
#[must_use]
pub fn is_tracked<T>(object: &Gc<T>) -> bool {
    Gc::is_tracked(object)
}
