//! The collector's controls on [`Heap`]: Python's `gc` functions for one heap, and the
//! automatic trigger.

use super::collection::collect;
use super::state::{CallbackId, Collection, GenerationStats, Phase, GENERATIONS};
use crate::heap::raw::{current, destruction_depth, pause, HeapInner, Ordering};
use crate::Heap;

/// Attempts before an explicit collection reports itself abandoned.
const ATTEMPTS: usize = 5;

impl Heap {
    /// Collects every generation and returns the number of unreachable objects found (and
    /// freed): Python's `gc.collect()`.
    ///
    /// Runs the death callbacks and `Drop` of the garbage on the calling thread before it
    /// returns. Called from inside a collection (a callback or `Drop` that the collector runs),
    /// it does nothing and returns 0, as does a collection that cannot stop the other threads
    /// because one keeps a [`GcCell`](crate::GcCell) locked for writing.
    ///
    /// ```
    /// use weakling::{Gc, GcCell, Heap, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Node { next: GcCell<Option<Gc<Node>>> }
    ///
    /// let heap = Heap::new();
    /// let a = Gc::new_in(Node { next: GcCell::new(None) }, &heap);
    /// a.next.set(Some(a.clone())); // self.me = self
    /// drop(a);                     // reference counting alone cannot free it
    /// assert_eq!(heap.counts().live, 1);
    /// assert_eq!(heap.collect(), 1);
    /// assert_eq!(heap.counts().live, 0);
    /// ```
    pub fn collect(&self) -> usize {
        self.collect_generation(GENERATIONS - 1).unreachable
    }

    /// Collects generation `generation` and the younger ones: Python's
    /// `gc.collect(generation)`. Survivors move to the next generation.
    ///
    /// # Panics
    ///
    /// If `generation` is not 0, 1 or 2.
    pub fn collect_generation(&self, generation: usize) -> Collection {
        assert!(
            generation < GENERATIONS,
            "weakling: generation must be 0, 1 or 2, not {generation}"
        );
        let mut last = Collection { generation, ..Collection::default() };
        for _ in 0..ATTEMPTS {
            match collect(self.inner(), generation, true) {
                None => return last,
                Some(c) if c.abandoned => last = c,
                Some(c) => return c,
            }
        }
        last
    }

    /// Turns automatic collection on or off (Python's `gc.enable()` / `gc.disable()`).
    /// Explicit collections work either way.
    pub fn set_automatic_collection(&self, enabled: bool) {
        let inner = self.inner();
        let mut state = inner.collector();
        state.enabled = enabled;
        inner.publish_auto_threshold(&state);
    }

    /// Whether automatic collection is on (Python's `gc.isenabled()`).
    #[must_use]
    pub fn automatic_collection(&self) -> bool {
        self.inner().collector().enabled
    }

    /// The thresholds of the three generations (Python's `gc.get_threshold()`); CPython's
    /// defaults, `[2000, 10, 10]`, to start with.
    #[must_use]
    pub fn thresholds(&self) -> [usize; GENERATIONS] {
        self.inner().collector().thresholds
    }

    /// Sets the thresholds (Python's `gc.set_threshold`): generation 0 is collected when
    /// more than `thresholds[0]` tracked objects entered it since the last collection;
    /// generation 1 after more than `thresholds[1]` collections of generation 0; generation
    /// 2 after more than `thresholds[2]` collections of generation 1, and only when the
    /// objects waiting to be promoted into it exceed 25 % of those it holds. A threshold of
    /// 0 for generation 0 turns automatic collection off, as in Python.
    pub fn set_thresholds(&self, thresholds: [usize; GENERATIONS]) {
        let inner = self.inner();
        let mut state = inner.collector();
        state.thresholds = thresholds.map(|t| if t == 0 { usize::MAX } else { t });
        inner.publish_auto_threshold(&state);
    }

    /// The current counts (Python's `gc.get_count()`): tracked objects that entered
    /// generation 0, collections of generation 0 and of generation 1, each since the last
    /// collection of the next older generation. Objects still on a thread's nursery are
    /// counted when it is flushed (every 128 objects).
    #[must_use]
    pub fn collection_counts(&self) -> [usize; GENERATIONS] {
        let inner = self.inner();
        let state = inner.collector();
        [inner.young(), state.younger_collections[0], state.younger_collections[1]]
    }

    /// Adds a function called before and after every collection of this heap (Python's
    /// `gc.callbacks`), with [`Phase::Start`] and then [`Phase::Stop`] and the collection's
    /// figures. It runs on the collecting thread, never while other threads are stopped; a
    /// panic in it is reported with `tracing::error!` and the collection goes on; a collection
    /// it requests does nothing.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use weakling::{Heap, Phase};
    ///
    /// let heap = Heap::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// let id = heap.add_collection_callback(move |phase| s.lock().unwrap().push(phase));
    /// heap.collect();
    /// assert!(matches!(seen.lock().unwrap()[..], [Phase::Start { generation: 2 }, Phase::Stop(_)]));
    /// assert!(heap.remove_collection_callback(id));
    /// ```
    pub fn add_collection_callback(
        &self,
        callback: impl Fn(Phase) + Send + Sync + 'static,
    ) -> CallbackId {
        let mut state = self.inner().collector();
        let id = CallbackId(state.next_callback);
        state.next_callback += 1;
        state.callbacks.push((id, std::sync::Arc::new(callback)));
        id
    }

    /// Keeps the unreachable objects that collections find in [`Heap::garbage`] instead of
    /// freeing them (Python's `gc.set_debug(gc.DEBUG_SAVEALL)`), so that a leak hunt can see
    /// what the cycles were. Kept objects are not torn down and their weak handles still work;
    /// once the list lets go of them ([`Heap::take_garbage`]), a later collection with the mode
    /// off frees them.
    pub fn set_keep_garbage(&self, keep: bool) {
        self.inner().collector().keep_garbage = keep;
    }

    /// Whether unreachable objects are kept instead of freed.
    #[must_use]
    pub fn keep_garbage(&self) -> bool {
        self.inner().collector().keep_garbage
    }

    /// The unreachable objects kept so far (Python's `gc.garbage`), oldest first.
    #[must_use]
    pub fn garbage(&self) -> Vec<crate::AnyGc> {
        self.inner().collector().garbage.clone()
    }

    /// Takes the kept unreachable objects out of the heap's list.
    pub fn take_garbage(&self) -> Vec<crate::AnyGc> {
        std::mem::take(&mut self.inner().collector().garbage)
    }

    /// Removes a collection callback; `false` if it was not there.
    pub fn remove_collection_callback(&self, id: CallbackId) -> bool {
        let mut state = self.inner().collector();
        let before = state.callbacks.len();
        state.callbacks.retain(|(i, _)| *i != id);
        state.callbacks.len() != before
    }

    /// What the collections of each generation have done (Python's `gc.get_stats()`).
    #[must_use]
    pub fn collection_stats(&self) -> [GenerationStats; GENERATIONS] {
        self.inner().collector().stats
    }
}

/// Runs an automatic collection of `heap` if one is due and this is a safe point: the
/// thread is not collecting, not running a `Drop` or callback, and inside no operation (it
/// holds no `GcCell` write guard). Called after an allocation.
#[cold]
pub(crate) fn at_safe_point(heap: &'static HeapInner) {
    if pause::collecting() || destruction_depth() != 0 {
        return;
    }
    if current().is_some_and(|s| s.busy.load(Ordering::Relaxed) != 0) {
        return;
    }
    let Some(generation) = heap.collector().due(heap.young()) else { return };
    // Another thread collecting is fine: skip rather than wait.
    let _ = collect(heap, generation, false);
}
