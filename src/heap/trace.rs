//! Tracing: how an object tells the collector which handles it owns.
//!
//! Reference counting frees everything except cycles. To find cycles the collector must
//! know, for each object that can hold handles, which [`Gc`] handles it owns: its outgoing
//! *edges*. [`Trace`] reports them. `#[derive(Trace)]` writes it for structs and enums;
//! std's containers have impls here; a type without handles is a *leaf* and costs the
//! collector nothing.
//!
//! The rules an implementation must follow are on [`Trace`].

use std::ptr::NonNull;

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

    /// Calls [`Tracer::edge`] once for every strong handle `self` owns.
    fn trace(&self, tracer: &mut Tracer<'_>);
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
}

mod impls;
