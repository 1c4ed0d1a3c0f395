//! Python's `gc` module, for the process-wide default heap ([`Heap::global`]).
//!
//! Each function forwards to the method of the same meaning on [`Heap`]; isolated heaps have
//! the same methods.
//!
//! ```
//! use weakling::{gc, Gc, GcCell, Trace};
//!
//! #[derive(Trace)]
//! struct Friend { other: GcCell<Option<Gc<Friend>>> }
//!
//! let a = Gc::new(Friend { other: GcCell::new(None) });
//! let b = Gc::new(Friend { other: GcCell::new(Some(a.clone())) });
//! a.other.set(Some(b.clone())); // a.friend = b; b.friend = a
//! let watch = Gc::downgrade(&a);
//! drop((a, b));
//! assert!(watch.upgrade().is_some()); // the cycle keeps itself alive
//! gc::collect();
//! assert!(watch.upgrade().is_none());
//! ```

use crate::collect::{Collection, GenerationStats, GENERATIONS};
use crate::Heap;

/// Collects every generation of the default heap; returns the unreachable objects found.
pub fn collect() -> usize {
    Heap::global().collect()
}

/// Collects `generation` and the younger ones of the default heap.
///
/// # Panics
///
/// If `generation` is not 0, 1 or 2.
pub fn collect_generation(generation: usize) -> Collection {
    Heap::global().collect_generation(generation)
}

/// Turns automatic collection of the default heap on.
pub fn enable() {
    Heap::global().set_automatic_collection(true);
}

/// Turns automatic collection of the default heap off.
pub fn disable() {
    Heap::global().set_automatic_collection(false);
}

/// Whether automatic collection of the default heap is on.
#[must_use]
pub fn is_enabled() -> bool {
    Heap::global().automatic_collection()
}

/// The default heap's thresholds.
#[must_use]
pub fn get_threshold() -> [usize; GENERATIONS] {
    Heap::global().thresholds()
}

/// Sets the default heap's thresholds.
pub fn set_threshold(thresholds: [usize; GENERATIONS]) {
    Heap::global().set_thresholds(thresholds);
}

/// The default heap's counts.
#[must_use]
pub fn get_count() -> [usize; GENERATIONS] {
    Heap::global().collection_counts()
}

/// Moves every tracked object of the default heap to the permanent generation.
pub fn freeze() -> bool {
    Heap::global().freeze()
}

/// Moves the default heap's frozen objects back to the oldest generation.
pub fn unfreeze() -> bool {
    Heap::global().unfreeze()
}

/// How many of the default heap's objects are frozen.
#[must_use]
pub fn get_freeze_count() -> usize {
    Heap::global().freeze_count()
}

/// The default heap's tracked objects counted by type, most numerous first.
#[must_use]
pub fn census() -> Vec<(&'static str, usize)> {
    Heap::global().census()
}

pub use crate::collect::is_tracked;

/// The tracked objects of the default heap that hold a strong handle to `target`.
#[must_use]
pub fn referrers<T>(target: &crate::Gc<T>) -> Vec<crate::AnyGc> {
    Heap::global().referrers(target)
}

/// The default heap's per-generation statistics.
#[must_use]
pub fn get_stats() -> [GenerationStats; GENERATIONS] {
    Heap::global().collection_stats()
}
