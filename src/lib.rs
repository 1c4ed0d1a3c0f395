//! # weakling — Python's memory model for Rust, thread-safe and fast
//!
//! In Python every object lives on a shared heap and is reached through references. An
//! object dies **the moment its last reference goes** (reference counting); weak references
//! (`weakref.ref`) observe an object without keeping it alive and can call back when it
//! dies; and a generational cycle collector (`gc`) frees the cycles that reference counting
//! alone cannot.
//!
//! `weakling` gives Rust the same model:
//!
//! * [`Gc<T>`] — a strong handle; the value drops as soon as the last one goes.
//! * [`Weak<T>`] — a weak handle; [`Gc::downgrade_with`] attaches a death callback,
//!   [`Gc::downgrade_notify`] a [`DeathListener`] (one listener for many objects).
//! * [`WeakValueMap`], [`WeakKeyMap`], [`WeakSet`] — Python's weak collections, concurrent,
//!   with entries removed at their referent's death.
//! * [`Heap`] — the object space, with counters; isolated heaps for isolated work.
//! * [`Trace`] and `#[derive(Trace)]` — how objects tell the collector which handles they
//!   own; [`GcCell`] for edges that change after construction.
//!
//! ```
//! use weakling::{Gc, GcCell, Trace};
//!
//! #[derive(Trace)]
//! struct Node { name: &'static str, next: GcCell<Option<Gc<Node>>> }
//!
//! let a = Gc::new(Node { name: "a", next: GcCell::new(None) });
//! let b = Gc::new(Node { name: "b", next: GcCell::new(Some(a.clone())) });
//! assert_eq!(Gc::strong_count(&a), 2); // `a` and b.next
//!
//! let watch = Gc::downgrade(&b);
//! drop(b); // the last handle: `b` dies here, and b.next with it
//! assert!(watch.upgrade().is_none());
//! assert_eq!(Gc::strong_count(&a), 1);
//! ```
//!
//! ## Python to weakling
//!
//! | Python | weakling |
//! |---|---|
//! | `obj = C()` | `let obj = Gc::new(C { .. })` |
//! | `b = a` (a second name) | `let b = a.clone()` / `Gc::clone(&a)` |
//! | `del b`, or rebinding `b` | `drop(b)`, or assigning to `b` |
//! | `sys.getrefcount(a)` | `Gc::strong_count(&a)` (one lower: no temporary argument reference) |
//! | `a is b` | `Gc::ptr_eq(&a, &b)` |
//! | `id(a)` | `Gc::as_ptr(&a)` |
//! | `weakref.ref(a)` | `Gc::downgrade(&a)` → [`Weak`] |
//! | `weakref.ref(a, callback)` | `Gc::downgrade_with(&a, callback)` |
//! | `r()` | `r.upgrade()` (an `Option`) |
//! | `weakref.getweakrefcount(a)` | `Gc::weak_count(&a)` |
//! | `__del__` | `impl Drop`; for objects in cycles, also `#[trace(finalize = f)]` ([`Trace::finalize`]: runs before teardown, may resurrect) |
//! | `self.attr = other` after `__init__` | a [`GcCell`] field |
//! | `gc.collect()` | [`gc::collect()`] or [`Heap::collect`] |
//! | `weakref.WeakValueDictionary()` | [`WeakValueMap::new()`](WeakValueMap::new) |
//! | `weakref.WeakKeyDictionary()` | [`WeakKeyMap`] (by value) or [`WeakKeyIdMap`] (by identity) |
//! | `weakref.WeakSet()` | [`WeakSet`] (by value) or [`WeakIdSet`] (by identity) |
//! | `weakref.finalize(a, f)` | [`finalize(&a, f)`](finalize()), [`finalize_with`]; [`shutdown`] / [`ShutdownGuard`] at exit |
//! | `weakref.WeakMethod(a.m)` | [`WeakMethod::new(&a, T::m)`](WeakMethod::new) |
//! | `weakref.proxy(a)` | [`WeakProxy::new(&a)`](WeakProxy::new), errors as [`ReferenceError`] values |
//! | an observer list in a `WeakSet` | [`observer::Subject`] |
//! | a `WeakValueDictionary` cache of expensive objects | [`cache::Cache`] (a strong tier too) |
//!
//! ## Thread safety
//!
//! Handles are `Send + Sync` when the value is. Clone, drop, deref and upgrade take no lock
//! and write nothing shared except the object's own counts.
//!
//! ## Module map
//!
//! * `heap` — the unsafe core: object layout, handles, callbacks and death hooks, tracing,
//!   cells, the pause; [`box_cache`], the freed boxes it keeps for the next ones.
//! * `collections` — the weak collections: [`WeakValueMap`], [`WeakKeyMap`], [`WeakSet`].
//! * [`cache`] — the expensive-object cache (strong and weak tiers, single-flight loading),
//!   its policies, and hit-rate measurement.
//! * `collect` — the cycle collector; [`gc`] is Python's `gc` module for the default heap.
//! * [`finalizer`] — the finalize registry, on the heap's death hooks; `weak_method`, `proxy` —
//!   the rest of `weakref`.
//! * [`observer`] — subjects whose subscribers are held weakly.
//! * `sync` — the atomics and locks (swapped for loom's under `--cfg weakling_loom`).
//! * `contain` — containment and reporting of panics in user code.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

// Lets `#[derive(Trace)]`, which names `::weakling`, work inside this crate too.
extern crate self as weakling;

pub mod cache;
mod collect;
pub mod collections;
mod contain;
pub mod finalizer;
pub mod gc;
mod heap;
pub mod observer;
mod proxy;
mod sync;
mod weak_method;

// The README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use collect::{CallbackId, Collection, GenerationStats, Phase, GENERATIONS};
pub use collections::{WeakIdSet, WeakKeyIdMap, WeakKeyMap, WeakSet, WeakValueMap};
pub use finalizer::{finalize, finalize_with, shutdown, Finalizer, ShutdownGuard};
pub use heap::box_cache;
pub use heap::read_pin;
pub use heap::{
    overhead_of, run_exit_hooks, AnyGc, DeathAction, DeathHook, DeathListener, Ephemeron, Gc,
    GcCell, GcCellMut, GcCellRef, Heap, HeapCounts, Overhead, PinnedRef, PinnedSlot, ReadPin,
    Referents, Trace, Tracer, Watch, Weak,
};
pub use proxy::{ReferenceError, WeakProxy};
pub use weak_method::{BoundMethod, WeakMethod};
