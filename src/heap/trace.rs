//! Tracing: how an object tells the collector which handles it owns.
//!
//! Reference counting frees everything except cycles. To find cycles the collector must
//! know, for each object that can hold handles, which [`Gc`] handles it owns: its outgoing
//! *edges*. [`Trace`] reports them. `#[derive(Trace)]` writes it for structs and enums;
//! std's containers have impls here; a type without handles is a *leaf* and costs the
//! collector nothing.
//!
//! The rules an implementation must follow are on [`Trace`].

use std::collections::HashSet;
use std::ptr::NonNull;

use super::any::AnyGc;
use super::header::Header;
use crate::Gc;

pub use weakling_derive::Trace;

/// Reports the strong handles a value owns, so that the cycle collector can find cycles.
///
/// # Contract
///
/// `Trace` is an `unsafe` trait because the collector frees what it believes unreachable. An
/// implementation must follow these rules:
///
/// 1. Report each strong handle the value owns **at most once** per call, and only handles
///    the value owns (not handles borrowed from elsewhere, not handles shared through an
///    `Arc`). Reporting a handle twice, or one owned by someone else, can make a reachable
///    object look unreachable.
/// 2. Missing a handle is safe: an unreported handle counts as a reference from outside, so
///    its target is kept alive (and a cycle through it can leak, never be freed early).
/// 3. Never block and never run code with side effects: tracing happens while the collector
///    holds its state. Contents behind a lock that is taken right now are reported with
///    [`Tracer::opaque`] instead of waited for (the impls here use `try_lock`).
/// 4. [`Trace::LEAF`] may be `true` only if no value of the type can ever own a handle.
/// 5. The edges reported may change after construction only through a
///    [`GcCell`](crate::GcCell), whose write access the collector pauses while it scans.
///    Contents behind any other interior mutability (`Mutex`, `RwLock`, atomics, `UnsafeCell`)
///    must not be reported edge by edge: report them with [`Tracer::opaque`] (as the impls for
///    std's and parking_lot's locks do), which keeps them and what they reach alive.
///
/// `#[derive(Trace)]` follows all five by construction, and `#[trace(skip)]` on a field
/// leaves it out (rule 2 makes that safe).
///
/// # Safety
///
/// Implementations must follow the numbered rules above: each owned handle at most once, no
/// foreign handles, no blocking, `LEAF` only for types that can never own a handle, and edges
/// that change only through `GcCell`.
///
/// # Examples
///
/// ```
/// use weakling::{Gc, GcCell, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     name: String,
///     next: GcCell<Option<Gc<Node>>>,
///     #[trace(skip)]
///     cache: Vec<u8>,
/// }
/// # let _ = Gc::new(Node { name: "a".into(), next: GcCell::new(None), cache: vec![] });
/// ```
pub unsafe trait Trace {
    /// `true` when no value of this type can own a handle. Objects of such types are
    /// *leaves*: the collector never tracks them and they carry no collector prefix.
    const LEAF: bool = false;

    /// `true` when the collector must call [`Trace::finalize`] for objects of this type found
    /// in cyclic garbage. `#[derive(Trace)]` sets it with `#[trace(finalize = path)]`.
    const FINALIZE: bool = false;

    /// Calls [`Tracer::edge`] once for every strong handle `self` owns.
    fn trace(&self, tracer: &mut Tracer<'_>);

    /// Runs once, when the cycle collector has found the object unreachable, **before any
    /// member of its garbage is torn down** (Python's `__del__` under PEP 442). Called only
    /// when [`Trace::FINALIZE`] is `true`; the default does nothing.
    ///
    /// `Drop` already runs for every object; use `finalize` for clean-up that must read
    /// other members of the object's cycle, which `Drop` finds torn down.
    ///
    /// # Contract
    ///
    /// * Every member of the garbage is whole while finalizers run: `this` and any handle
    ///   reachable from it deref normally. Weak handles to members do not upgrade.
    /// * It runs at most once per object, whatever happens next, and on the thread that
    ///   collects, with no lock of the collector held: it may allocate, drop handles, change
    ///   cells and build new cycles. A collection it requests does nothing.
    /// * It may **resurrect**: storing a clone of `this` (or of any handle it can reach)
    ///   somewhere reachable keeps the object alive. The collector checks reachability again
    ///   after the finalizers ran, and every object that became reachable survives, whole,
    ///   and returns to the oldest generation collected. Its weak handles upgrade again and
    ///   their callbacks run when it finally dies; its finalizer does not run again.
    /// * A panic is caught and reported with `tracing::error!`; the collection goes on.
    /// * Objects that die by their count alone (no cycle) only run `Drop`: every handle they
    ///   hold is still valid there.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use weakling::{Gc, GcCell, Heap, Trace};
    ///
    /// static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
    ///
    /// #[derive(Trace)]
    /// #[trace(finalize = Session::close)]
    /// struct Session { name: &'static str, peer: GcCell<Option<Gc<Session>>> }
    ///
    /// impl Session {
    ///     fn close(this: &Gc<Session>) {
    ///         // The peer is whole here; in `Drop` it could already be torn down.
    ///         let peer = this.peer.read().as_ref().map(|p| p.name).unwrap_or("-");
    ///         LOG.lock().unwrap().push(format!("{} closes (peer {peer})", this.name));
    ///     }
    /// }
    ///
    /// let heap = Heap::new();
    /// let a = Gc::new_in(Session { name: "a", peer: GcCell::new(None) }, &heap);
    /// let b = Gc::new_in(Session { name: "b", peer: GcCell::new(Some(a.clone())) }, &heap);
    /// a.peer.set(Some(b));
    /// drop(a);
    /// assert_eq!(heap.collect(), 2);
    /// let mut log = LOG.lock().unwrap().clone();
    /// log.sort();
    /// assert_eq!(log, ["a closes (peer b)", "b closes (peer a)"]);
    /// ```
    fn finalize(this: &Gc<Self>)
    where
        Self: Sized,
    {
        let _ = this;
    }
}

/// One thing a [`Trace`] implementation can report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edge {
    /// A strong handle to the object with this header.
    Strong(NonNull<Header>),
    /// Some contents could not be read right now (a lock is held): the collector must treat
    /// the tracing object as referenced from outside.
    Opaque,
}

/// Receives the edges a [`Trace`] implementation reports.
pub struct Tracer<'a> {
    visit: &'a mut dyn FnMut(Edge),
    /// The world is stopped while this tracer runs (see `pause`): no `GcCell` can be locked
    /// for writing except by the tracing thread itself, so cells may be read without locking.
    world_stopped: bool,
}

impl<'a> Tracer<'a> {
    pub(crate) fn new(visit: &'a mut dyn FnMut(Edge)) -> Self {
        Tracer { visit, world_stopped: false }
    }

    /// A tracer for use while the world is stopped.
    ///
    /// # Safety
    /// The world stays stopped (`pause::stop_the_world`) by the calling thread for as long as
    /// the tracer is used.
    pub(crate) unsafe fn with_world_stopped(visit: &'a mut dyn FnMut(Edge)) -> Self {
        Tracer { visit, world_stopped: true }
    }

    /// Whether the world is stopped while this tracer runs.
    #[inline]
    pub(crate) fn world_stopped(&self) -> bool {
        self.world_stopped
    }

    /// Reports a strong handle the traced value owns.
    #[inline]
    pub fn edge<T>(&mut self, handle: &Gc<T>) {
        (self.visit)(Edge::Strong(Gc::header_ptr(handle)));
    }

    /// Reports that some of the value's contents cannot be read right now (typically because
    /// a lock around them is held). The collector then keeps the value and everything it
    /// might reach alive for this collection.
    #[inline]
    pub fn opaque(&mut self) {
        (self.visit)(Edge::Opaque);
    }
}

impl std::fmt::Debug for Tracer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").finish_non_exhaustive()
    }
}

/// The edges a value reports when traced: what the collector would see of it.
///
/// Useful to check a hand-written [`Trace`] implementation, and the basis of
/// `gc.get_referents`.
///
/// ```
/// use weakling::{Gc, Referents};
///
/// let a = Gc::new(1_u32);
/// let pair = (a.clone(), Some(a.clone()), "text");
/// let seen = Referents::of(&pair);
/// assert_eq!(seen.len(), 2);
/// assert!(seen.contains(&a));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Referents {
    edges: Vec<NonNull<Header>>,
    opaque: bool,
}

impl Referents {
    /// Traces `value` and records what it reports.
    #[must_use = "inspecting the referents is the point of tracing here"]
    pub fn of<T: Trace + ?Sized>(value: &T) -> Referents {
        let mut out = Referents::default();
        let mut visit = |edge| match edge {
            Edge::Strong(h) => out.edges.push(h),
            Edge::Opaque => out.opaque = true,
        };
        value.trace(&mut Tracer::new(&mut visit));
        out
    }

    /// The number of strong edges reported (a handle reported twice counts twice).
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether no strong edge was reported.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// How many of the reported edges point at `target`'s object.
    pub fn count<T>(&self, target: &Gc<T>) -> usize {
        let h = Gc::header_ptr(target);
        self.edges.iter().filter(|&&e| e == h).count()
    }

    /// Whether an edge to `target`'s object was reported.
    pub fn contains<T>(&self, target: &Gc<T>) -> bool {
        self.count(target) > 0
    }

    /// Whether some contents were reported as unreadable (see [`Tracer::opaque`]).
    pub fn is_opaque(&self) -> bool {
        self.opaque
    }

    /// Whether `value` reaches `target` through strong handles: directly, or through the
    /// traced edges of the tracked objects on the way. Contents that cannot be read right
    /// now (a lock held elsewhere) are not followed, so the answer can miss a path there.
    ///
    /// Used to catch a finalizer state that would keep its own object alive.
    ///
    /// ```
    /// use weakling::{Gc, GcCell, Referents, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Node { next: GcCell<Option<Gc<Node>>> }
    ///
    /// let a = Gc::new(Node { next: GcCell::new(None) });
    /// let b = Gc::new(Node { next: GcCell::new(Some(a.clone())) });
    /// assert!(Referents::reaches(&vec![b.clone()], &a));
    /// assert!(!Referents::reaches(&vec![a.clone()], &b));
    /// ```
    pub fn reaches<V: Trace + ?Sized, T>(value: &V, target: &Gc<T>) -> bool {
        Referents::reaches_within(value, target, usize::MAX) == Some(true)
    }

    /// [`Referents::reaches`], giving up (`None`) after tracing `limit` objects.
    pub(crate) fn reaches_within<V: Trace + ?Sized, T>(
        value: &V,
        target: &Gc<T>,
        limit: usize,
    ) -> Option<bool> {
        let goal = Gc::header_ptr(target);
        let mut seen: HashSet<NonNull<Header>> = HashSet::new();
        let mut pending = held_edges(|tracer| value.trace(tracer));
        while let Some((h, held)) = pending.pop() {
            if h == goal {
                return Some(true);
            }
            if let Some(object) = held.filter(|_| seen.insert(h)) {
                if seen.len() > limit {
                    return None;
                }
                pending.extend(held_edges(|tracer| object.trace_into(tracer)));
            }
        }
        Some(false)
    }
}

/// The strong edges a trace reports, each with a strong handle when its target is tracked
/// (taken while the trace holds the edge, so the object cannot die before it is traced).
fn held_edges(trace: impl FnOnce(&mut Tracer<'_>)) -> Vec<(NonNull<Header>, Option<AnyGc>)> {
    let mut out = Vec::new();
    let mut visit = |edge: Edge| {
        let Edge::Strong(h) = edge else { return };
        // SAFETY: the edge's owner is alive and holds the handle while it is reported (the
        // trace of a cell holds its read guard), so the header is allocated.
        let header = unsafe { h.as_ref() };
        let held = header.is_tracked().then(|| {
            header.inc_strong();
            // SAFETY: a tracked object; the count just raised moves to the handle.
            unsafe { AnyGc::adopt(h) }
        });
        out.push((h, held));
    };
    trace(&mut Tracer::new(&mut visit));
    out
}

mod impls;
