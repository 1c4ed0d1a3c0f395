//! Trial deletion: which objects of the working set are reachable from outside it.
//!
//! For every object, `gc_refs` is its strong count less one for each edge that reaches it from
//! an object of the set. An object left above zero is referenced from outside (a thread's
//! stack, a static, a leaf, an object of another generation or heap). Those objects, objects
//! whose tracing reported opaque contents or panicked, and objects whose count went below zero
//! are the roots (rule 4: conservative on doubt); everything reachable from a root through the
//! recorded edges survives, the rest is garbage.
//!
//! # The working set, in place
//!
//! The working set is not copied anywhere: it is lists `0..=generation` of every shard of the
//! heap, where they sit. Object `k` of list `l` of shard `s` has the *working index*
//! `base(s, l) + k`, which its slot (`list | shard | index`) yields with one table lookup and
//! no hashing; the scan keeps its figures in flat arrays indexed by it. A target outside the
//! set (a leaf, an object of another heap, of an older generation, frozen, or already
//! condemned) has no working index and counts as a reference from outside.
//!
//! # One pass over the objects
//!
//! Every object is visited once, in list order: its strong count is *added* to its `gc_refs`
//! and its edges are traced, each one *subtracting* from its target's `gc_refs` (whether the
//! target was visited yet or not: the sum does not depend on the order) and being recorded in
//! a compressed edge array. Reachability then runs on those arrays alone, with an explicit
//! worklist: a 1,000,000-node ring or chain needs no deep stack, and no object is touched again.
//!
//! The arrays are kept between collections ([`Scratch`]), so a collection does not fault in
//! fresh pages for them; their capacity follows the size of recent collections.

use std::collections::HashMap;
use std::ptr::NonNull;

use super::prefetch;
use crate::contain::contained;
use crate::heap::raw::{
    decode, gc_head_of, trace_attached, Edge, Header, ObjPtr, Ordering, Shard, Tracer,
    HAS_ATTACHMENTS, LISTS, SHARDS,
};
use crate::sync::{global, Mutex, MutexGuard};

/// Working sets and edge counts up to this size are scanned; a larger one (over 2<sup>30</sup>
/// objects, some 32 GiB of tracked objects, or as many edges) is kept whole, which keeps every
/// `gc_refs` figure exact in 32 bits.
const LIMIT: usize = 1 << 30;
/// `gc_refs` of an object already found reachable.
const REACHED: i32 = i32::MIN;
/// Capacity kept beyond the last collection's needs is trimmed past this factor.
const SLACK: usize = 2;

/// The arrays a scan works in, reused from one collection to the next.
#[derive(Default)]
pub(crate) struct Scratch {
    /// `gc_refs` by working index; after [`scan`], 0 exactly for the garbage.
    pub(crate) refs: Vec<i32>,
    /// Edges of object `i`: `edges[edge_start[i]..edge_start[i + 1]]`, as working indices.
    edge_start: Vec<u32>,
    edges: Vec<u32>,
    /// Objects that are roots whatever their count (opaque contents, a panicking trace).
    roots: Vec<u32>,
    stack: Vec<u32>,
    /// The garbage list of the last collection, handed back empty after its teardown.
    garbage: Vec<ObjPtr>,
}

global! {
    /// Only one stop-and-scan runs at a time in the process, so one set of arrays serves all.
    static SCRATCH: Mutex<Scratch> = Mutex::new(Scratch::default());
}

/// The scan's arrays, for the collection under way.
pub(crate) fn scratch() -> MutexGuard<'static, Scratch> {
    SCRATCH.lock()
}

fn trim<T>(v: &mut Vec<T>, needed: usize) {
    if v.capacity() > SLACK * needed.max(1024) {
        v.clear();
        v.shrink_to(needed);
    }
}

impl Scratch {
    /// An empty list to put garbage in, with the capacity of the last one.
    pub(crate) fn take_garbage_list(&mut self) -> Vec<ObjPtr> {
        std::mem::take(&mut self.garbage)
    }

    /// Drops capacity far beyond what a collection of `examined` objects needed.
    pub(crate) fn trim(&mut self, examined: usize) {
        trim(&mut self.refs, examined);
        trim(&mut self.edge_start, examined + 1);
        let edges = self.edges.len();
        trim(&mut self.edges, edges);
        trim(&mut self.roots, 0);
        trim(&mut self.stack, 0);
    }
}

/// Hands a garbage list back, emptied, for the next collection to reuse.
pub(crate) fn recycle_garbage_list(mut garbage: Vec<ObjPtr>) {
    garbage.clear();
    let mut scratch = SCRATCH.lock();
    if garbage.capacity() > scratch.garbage.capacity() {
        trim(&mut garbage, scratch.refs.len());
        scratch.garbage = garbage;
    }
}

/// The objects a collection examines: lists `0..=generation` of every shard of one heap.
pub(crate) struct WorkingSet {
    heap_id: u32,
    generation: usize,
    /// `base[s * LISTS + l]`: the working index of the first object of list `l` of shard `s`.
    base: [usize; SHARDS * LISTS],
    len: usize,
}

impl WorkingSet {
    /// The working set of a collection of `generation` over `shards`, all of heap `heap_id`'s
    /// shards, locked, in order.
    pub(crate) fn new(
        heap_id: u32,
        generation: usize,
        shards: &[MutexGuard<'_, Shard>],
    ) -> WorkingSet {
        debug_assert_eq!(shards.len(), SHARDS);
        let mut base = [0; SHARDS * LISTS];
        let mut len = 0;
        for (s, shard) in shards.iter().enumerate() {
            for l in 0..=generation {
                base[s * LISTS + l] = len;
                len += shard.lists[l].len();
            }
        }
        WorkingSet { heap_id, generation, base, len }
    }

    /// Objects in the set.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The oldest generation in the set.
    pub(crate) fn generation(&self) -> usize {
        self.generation
    }

    /// The working index of object 0 of list `list` of shard `shard`.
    pub(crate) fn base(&self, shard: usize, list: usize) -> usize {
        self.base[shard * LISTS + list]
    }

    /// The working index of `target`, if it is an object of the set.
    ///
    /// # Safety
    /// `target`'s box is allocated (an object of the set holds a handle to it), the world is
    /// stopped and the shards are locked, so that slots do not change.
    #[inline]
    unsafe fn index_of(&self, target: NonNull<Header>) -> Option<usize> {
        // SAFETY: allocated per the contract. Tracked boxes alone have a prefix to read; the
        // heap check keeps out objects of other heaps, whose slots name their own lists.
        if !unsafe { target.as_ref() }.is_tracked_in(self.heap_id) {
            return None;
        }
        // SAFETY: tracked, allocated. Relaxed: slots are written under the shard locks that
        // the caller holds.
        let slot = unsafe { gc_head_of(target).as_ref() }.slot.load(Ordering::Relaxed);
        let (list, shard, index) = decode(slot);
        // Nursery, condemned and frozen tags are all above the generations' lists.
        (list <= self.generation).then(|| self.base[shard * LISTS + list] + index)
    }
}

/// Where a scan is: the list (among those of the set, in order) and the object in it.
#[derive(Default)]
struct Cursor {
    list: usize,
    index: usize,
    /// Working index of the next object to visit.
    next: usize,
}

/// Scans the working set: on return `scratch.refs[i]` is 0 exactly for the objects that are
/// unreachable from outside the set.
///
/// # Safety
/// The world is stopped, every nursery was flushed, `shards` are the set's shards, locked,
/// and every object of the set is alive and not torn down.
pub(crate) unsafe fn scan(
    ws: &WorkingSet,
    shards: &[MutexGuard<'_, Shard>],
    scratch: &mut Scratch,
) {
    let n = ws.len;
    let s = scratch;
    s.refs.clear();
    s.edge_start.clear();
    s.edges.clear();
    s.roots.clear();
    s.stack.clear();
    if n > LIMIT {
        keep_all(s, n);
        return;
    }
    s.refs.resize(n, 0);
    s.edge_start.reserve(n + 1);
    s.edges.reserve(n);

    let lists: Vec<&[ObjPtr]> = shards
        .iter()
        .flat_map(|shard| shard.lists[..=ws.generation].iter().map(Vec::as_slice))
        .collect();
    let mut cursor = Cursor::default();
    // One containment for the whole pass: a panicking trace makes its object a root, and the
    // pass resumes with the next object.
    while contained("Trace of an object during a collection", || {
        // SAFETY: forwarded contract.
        unsafe { visit_from(ws, &lists, &mut cursor, s) }
    })
    .is_none()
    {
        s.roots.push((cursor.next - 1) as u32);
    }
    debug_assert_eq!(cursor.next, n);
    s.edge_start.push(s.edges.len() as u32);
    if s.edges.len() > LIMIT {
        keep_all(s, n);
        return;
    }
    propagate(s, n);
}

/// Marks every object reachable (conservative: for sets too large to count exactly).
fn keep_all(s: &mut Scratch, n: usize) {
    tracing::warn!(target: "weakling", objects = n, "working set too large to scan; kept whole");
    s.refs.clear();
    s.refs.resize(n, REACHED);
}

/// What tracing one object writes: `gc_refs` decrements and recorded edges.
struct Pass<'s> {
    ws: &'s WorkingSet,
    refs: &'s mut [i32],
    edges: &'s mut Vec<u32>,
    opaque: bool,
}

impl Pass<'_> {
    /// One edge reported by a trace.
    ///
    /// # Safety
    /// As for [`scan`]; the edge comes from tracing an object of the set.
    #[inline]
    unsafe fn edge(&mut self, edge: Edge) {
        match edge {
            Edge::Strong(target) => {
                // SAFETY: a handle held by a live member keeps its target allocated; the world
                // is stopped and the shards locked (the caller's contract).
                if let Some(j) = unsafe { self.ws.index_of(target) } {
                    self.refs[j] = self.refs[j].wrapping_sub(1);
                    self.edges.push(j as u32);
                }
            }
            Edge::Opaque => self.opaque = true,
        }
    }
}

/// Visits the objects from `cursor` on: adds each one's strong count, traces it and records
/// its edges.
///
/// # Safety
/// As for [`scan`]; `lists` are the set's lists in order.
unsafe fn visit_from(ws: &WorkingSet, lists: &[&[ObjPtr]], cursor: &mut Cursor, s: &mut Scratch) {
    let Scratch { refs, edge_start, edges, roots, .. } = s;
    let mut pass = Pass { ws, refs, edges, opaque: false };
    while let Some(list) = lists.get(cursor.list) {
        while let Some(obj) = list.get(cursor.index) {
            prefetch::ahead(list, cursor.index);
            let i = cursor.next;
            // Advanced first: after a panic in this object's trace, `next - 1` names it.
            cursor.index += 1;
            cursor.next += 1;
            // SAFETY: members are alive.
            let h = unsafe { obj.0.as_ref() };
            // Counts of 2^30 or more are capped: the set has fewer edges than that (checked
            // after the pass), so a capped count still stays above zero, as it must.
            let strong = h.strong_count().min(LIMIT) as i32;
            pass.refs[i] = pass.refs[i].wrapping_add(strong);
            edge_start.push(pass.edges.len() as u32);
            let attached = h.flags(Ordering::Relaxed) & HAS_ATTACHMENTS != 0;
            // SAFETY: members are tracked and alive.
            let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
            pass.opaque = false;
            // SAFETY: edges come from tracing this object, under the caller's contract.
            let mut visit = |edge: Edge| unsafe { pass.edge(edge) };
            // SAFETY: the caller keeps the world stopped while the tracer is used.
            let mut tracer = unsafe { Tracer::with_world_stopped(&mut visit) };
            // SAFETY: the vtable matches the object's type; the value is alive, not torn down.
            unsafe { (vtable.trace)(obj.0, &mut tracer) };
            if attached {
                // Values attached by ephemerons are edges of their key.
                // SAFETY: as above.
                unsafe { trace_attached(obj.0, &mut tracer) };
            }
            if pass.opaque {
                roots.push(i as u32);
            }
        }
        cursor.list += 1;
        cursor.index = 0;
    }
}

/// Marks everything reachable from a root: afterwards `refs[i]` is 0 exactly for garbage.
fn propagate(s: &mut Scratch, n: usize) {
    let Scratch { refs, edge_start, edges, roots, stack, .. } = s;
    for &r in roots.iter() {
        // Any non-zero figure makes a root.
        if refs[r as usize] == 0 {
            refs[r as usize] = 1;
        }
    }
    // Marks the targets of `k` not reached yet and queues them.
    let reach = |k: usize, refs: &mut [i32], stack: &mut Vec<u32>| {
        for &j in &edges[edge_start[k] as usize..edge_start[k + 1] as usize] {
            if refs[j as usize] == 0 {
                refs[j as usize] = REACHED;
                stack.push(j);
            }
        }
    };
    for i in 0..n {
        let r = refs[i];
        if r == 0 || r == REACHED {
            continue;
        }
        // A root not reached yet: mark it and everything it reaches. Roots further on that it
        // reaches are left for this loop (marked when it gets there).
        refs[i] = REACHED;
        reach(i, refs, stack);
        while let Some(k) = stack.pop() {
            reach(k as usize, refs, stack);
        }
    }
}

/// Trial deletion over an explicit set of objects that sit on no list: the garbage of a
/// collection, checked again after its finalizers ran. `held` strong counts of every object
/// belong to the collector and do not count as references. Returns, parallel to `objects`,
/// whether each is reachable from outside the set (resurrected).
///
/// # Safety
/// The world is stopped, and every object of the set is tracked, alive and not torn down.
pub(crate) unsafe fn scan_set(objects: &[ObjPtr], held: usize) -> Vec<bool> {
    let n = objects.len();
    let index: HashMap<NonNull<Header>, u32, ahash::RandomState> =
        objects.iter().enumerate().map(|(i, o)| (o.0, i as u32)).collect();
    let mut s = Scratch::default();
    if n > LIMIT {
        keep_all(&mut s, n);
        return vec![true; n];
    }
    s.refs.resize(n, 0);
    for (i, obj) in objects.iter().enumerate() {
        // SAFETY: members are alive (the collector's count).
        let h = unsafe { obj.0.as_ref() };
        let strong = (h.strong_count() - held).min(LIMIT) as i32;
        s.refs[i] = s.refs[i].wrapping_add(strong);
        s.edge_start.push(s.edges.len() as u32);
        let attached = h.flags(Ordering::Relaxed) & HAS_ATTACHMENTS != 0;
        // SAFETY: members are tracked and alive.
        let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
        let (refs, edges) = (&mut s.refs, &mut s.edges);
        let mut opaque = false;
        let traced = contained("Trace of an object during a collection", || {
            let mut visit = |edge: Edge| match edge {
                Edge::Strong(target) => {
                    if let Some(&j) = index.get(&target) {
                        refs[j as usize] = refs[j as usize].wrapping_sub(1);
                        edges.push(j);
                    }
                }
                Edge::Opaque => opaque = true,
            };
            // SAFETY: the caller keeps the world stopped while the tracer is used.
            let mut tracer = unsafe { Tracer::with_world_stopped(&mut visit) };
            // SAFETY: the vtable matches the object's type; the value is alive, not torn down.
            unsafe { (vtable.trace)(obj.0, &mut tracer) };
            if attached {
                // SAFETY: as above.
                unsafe { trace_attached(obj.0, &mut tracer) };
            }
        });
        if opaque || traced.is_none() {
            s.roots.push(i as u32);
        }
    }
    s.edge_start.push(s.edges.len() as u32);
    if s.edges.len() > LIMIT {
        return vec![true; n];
    }
    propagate(&mut s, n);
    s.refs.iter().map(|&r| r != 0).collect()
}
