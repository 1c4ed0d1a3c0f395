//! Trial deletion: which objects of a working set are reachable from outside it.
//!
//! For every object, `gc_refs` starts as its strong count; each edge between two objects of
//! the set takes one off its target. An object left above zero is referenced from outside
//! (a thread's stack, a static, a leaf, an object of another generation or heap). Those
//! objects, objects whose tracing reported opaque contents or panicked, and objects whose count
//! went below zero are the roots (rules 4: conservative on doubt); everything reachable from a
//! root through the recorded edges survives, the rest is garbage.
//!
//! Every object is traced exactly once and its edges are recorded, so reachability uses the
//! same edges the subtraction used. Both passes use explicit worklists: a 1,000,000-node ring
//! or chain needs no deep stack.

use std::ptr::NonNull;

use crate::contain::contained;
use crate::heap::raw::{
    decode, gc_head_of, trace_attached, Edge, Header, ObjPtr, Ordering, Tracer, HAS_ATTACHMENTS,
    WORKING,
};

/// The outcome of scanning a working set.
pub(crate) struct Scan {
    /// Parallel to the working set.
    pub(crate) reachable: Vec<bool>,
}

/// The working-set index of `target`, if it is a tracked object of the set.
///
/// # Safety
/// `target`'s box is allocated (an object of the set holds a handle to it).
unsafe fn member(target: NonNull<Header>) -> Option<usize> {
    // SAFETY: allocated per the contract.
    if !unsafe { target.as_ref() }.is_tracked() {
        return None;
    }
    // SAFETY: tracked, allocated.
    let slot = unsafe { gc_head_of(target).as_ref() }.slot.load(Ordering::Acquire);
    let (list, _, index) = decode(slot);
    (list == WORKING).then_some(index)
}

impl Scan {
    /// Scans `objects`, whose slots all say `WORKING` with their index. `held` strong counts
    /// of every object belong to the collector itself and do not count as references.
    ///
    /// # Safety
    /// The world is stopped, and every object of the set is alive and not torn down.
    pub(crate) unsafe fn run(objects: &[ObjPtr], held: usize) -> Scan {
        let n = objects.len();
        let mut gc_refs: Vec<isize> = objects
            .iter()
            // SAFETY: members are alive.
            .map(|o| unsafe { o.0.as_ref() }.strong_count() as isize - held as isize)
            .collect();
        let mut root = vec![false; n];
        let mut edge_start: Vec<u32> = Vec::with_capacity(n + 1);
        let mut edges: Vec<u32> = Vec::with_capacity(n);

        for (i, obj) in objects.iter().enumerate() {
            edge_start.push(edges.len() as u32);
            let mut opaque = false;
            let mut visit = |edge: Edge| match edge {
                Edge::Strong(target) => {
                    // SAFETY: a handle held by a live member keeps its target allocated.
                    if let Some(j) = unsafe { member(target) } {
                        gc_refs[j] -= 1;
                        edges.push(j as u32);
                    }
                }
                Edge::Opaque => opaque = true,
            };
            // SAFETY: members are tracked and alive; the vtable matches their type.
            let vtable = unsafe { gc_head_of(obj.0).as_ref() }.vtable;
            // SAFETY: members are alive.
            let attached =
                unsafe { obj.0.as_ref() }.flags(Ordering::Acquire) & HAS_ATTACHMENTS != 0;
            let traced = contained("Trace of an object during a collection", || {
                let mut tracer = Tracer::new(&mut visit);
                // SAFETY: as above.
                unsafe { (vtable.trace)(obj.0, &mut tracer) };
                if attached {
                    // Values attached by ephemerons are edges of their key.
                    // SAFETY: as above.
                    unsafe { trace_attached(obj.0, &mut tracer) };
                }
            });
            if opaque || traced.is_none() {
                root[i] = true;
            }
        }
        edge_start.push(edges.len() as u32);

        let mut reachable = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        for i in 0..n {
            if root[i] || gc_refs[i] != 0 {
                reachable[i] = true;
                stack.push(i as u32);
            }
        }
        while let Some(i) = stack.pop() {
            let i = i as usize;
            for &j in &edges[edge_start[i] as usize..edge_start[i + 1] as usize] {
                if !reachable[j as usize] {
                    reachable[j as usize] = true;
                    stack.push(j);
                }
            }
        }
        Scan { reachable }
    }
}
