//! The reference-counted heap: objects, strong and weak handles, death callbacks, tracing.
//!
//! This is the crate's unsafe core; everything above it uses only its public API.
//!
//! | file | concept |
//! |---|---|
//! | `header.rs` | the counted words every object starts with, and their atomic protocol |
//! | `layout.rs` | leaf and tracked boxes, the collector prefix, allocation and freeing |
//! | `box_cache.rs` | [`box_cache`]: freed boxes kept per thread and size for the next ones |
//! | `gc.rs` | [`Gc`], the strong handle: creation, death and destruction |
//! | `weak.rs` | [`Weak`], the weak handle, plain or carrying a callback |
//! | `any.rs` | [`AnyGc`], a strong handle to a tracked object of any type |
//! | `death_table.rs` | what runs at an object's death, by its address: callbacks and hooks |
//! | `callbacks.rs` | weak references with death callbacks or listeners ([`DeathListener`]) |
//! | `hooks.rs` | [`DeathHook`]: actions the heap owns until their object dies |
//! | `watch.rs` | [`Watch`], the weak handle of a death listener's registration |
//! | `ephemeron.rs` | values attached to a key object: conditional edges |
//! | `deferred.rs` | destruction of deep structures without deep recursion |
//! | `pin.rs` | [`ReadPin`]: borrowing weakly held leaves without counting them |
//! | `space.rs` | [`Heap`]: an object space, its tracked lists and counters |
//! | `thread_state.rs` | per-thread state: nursery of new tracked objects, tallies |
//! | `pause.rs` | mutator operations, and stopping the world for a collector |
//! | `trace.rs` | [`Trace`], [`Tracer`] and std's impls |
//! | `cell.rs` | [`GcCell`], interior mutability the collector can read safely |
//!
//! # The life of an object
//!
//! 1. `Gc::new` allocates a box (header, optional collector prefix, value) with strong
//!    count 1 and one weak reference shared by all strong handles. A tracked object goes on
//!    its heap's list.
//! 2. Clones and drops move the strong count; `Gc::downgrade` and weak clones move the weak
//!    count; `Weak::upgrade` raises the strong count only from a non-zero value.
//! 3. The drop that takes the strong count to zero (after an `Acquire` fence that orders
//!    every earlier use before it) takes the object off its heap's books, then — inline or
//!    via the deferred queue — runs the death callbacks, drops the value and releases the
//!    strong handles' weak reference. For a leaf read under a read pin (`pin.rs`) that dies
//!    while pins are held, dropping the value and releasing that reference wait for those
//!    pins to end.
//! 4. The box is freed when the weak count reaches zero: to the freeing thread's box cache
//!    (`box_cache.rs`) when it is small, where the next box of its size comes from.

mod address_map;
mod any;
pub mod box_cache;
mod callbacks;
mod cell;
pub(crate) mod death_table;
mod deferred;
mod ephemeron;
mod gc;
mod header;
mod hooks;
mod layout;
pub(crate) mod pause;
mod pin;
mod slot;
mod space;
mod thread_state;
mod trace;
mod watch;
mod weak;

/// The raw layer the cycle collector works on: object headers and prefixes, lists, the
/// world's pause, the callback registry.
pub(crate) mod raw {
    pub(crate) use super::any::AnyGc;
    pub(crate) use super::death_table;
    pub(crate) use super::deferred::destruction_depth;
    pub(crate) use super::ephemeron::{take_attached, trace_attached};
    pub(crate) use super::header::{Header, FINALIZED, HAS_ATTACHMENTS, HAS_CALLBACKS};
    pub(crate) use super::layout::gc_head_of;
    pub(crate) use super::pause;
    pub(crate) use super::space::{
        decode, encode, HeapInner, ObjPtr, Shard, LISTS, SHARDS, UNLISTED,
    };
    pub(crate) use super::thread_state::{count_tracked_frees, current, flush_all, ThreadState};
    pub(crate) use super::trace::{Edge, Tracer};
    pub(crate) use crate::sync::Ordering;
}

pub use any::AnyGc;
pub use callbacks::DeathListener;
pub use cell::{GcCell, GcCellMut, GcCellRef};
pub use ephemeron::Ephemeron;
pub use gc::Gc;
pub use hooks::{run_exit_hooks, DeathAction, DeathHook};
pub use layout::{overhead_of, Overhead};
pub use pin::{read_pin, PinnedRef, ReadPin};
pub use slot::PinnedSlot;
pub use space::{Heap, HeapCounts};
pub use trace::{Referents, Trace, Tracer};
pub use watch::Watch;
pub use weak::Weak;
