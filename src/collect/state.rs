//! A heap's collector settings, counts and statistics: CPython's `gcstate`.

use std::sync::Arc;
use std::time::Duration;

/// Generations, youngest first.
pub const GENERATIONS: usize = 3;

/// CPython 3.13's default thresholds.
pub(crate) const DEFAULT_THRESHOLDS: [usize; GENERATIONS] = [2000, 10, 10];

/// What the collections of one generation have done so far (Python's `gc.get_stats()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerationStats {
    /// Collections of this generation (as the oldest one collected), abandoned ones aside.
    pub collections: u64,
    /// Objects found unreachable and freed by those collections.
    pub collected: u64,
    /// Unreachable objects that could not be freed. Always 0: weakling has no objects that
    /// the collector must refuse to free (Python's legacy `__del__` cycles).
    pub uncollectable: u64,
    /// Collections abandoned because some thread kept a cell locked for writing too long.
    pub abandoned: u64,
    /// Total time spent in those collections.
    pub time: Duration,
}

/// What one collection did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Collection {
    /// The oldest generation collected (younger ones were collected with it).
    pub generation: usize,
    /// Tracked objects examined.
    pub examined: usize,
    /// Objects found unreachable and not resurrected by a finalizer: Python's return value
    /// of `gc.collect()`.
    pub unreachable: usize,
    /// Objects freed: `unreachable`, less those kept in the keep-garbage debug mode.
    pub collected: usize,
    /// Objects found unreachable whose finalizers made them (or an object reaching them)
    /// reachable again; they survive, whole.
    pub resurrected: usize,
    /// Whether the collection was abandoned without looking (see [`GenerationStats::abandoned`]).
    pub abandoned: bool,
    /// Wall time of the whole collection, user code (callbacks, `Drop`) included.
    pub duration: Duration,
}

/// When a collection callback is called (Python's `"start"` and `"stop"` phases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Before the collection of `generation` looks at anything.
    Start {
        /// The oldest generation about to be collected.
        generation: usize,
    },
    /// After the collection finished, user code (callbacks, `Drop`) included.
    Stop(Collection),
}

/// A function called before and after each collection of a heap (Python's `gc.callbacks`).
pub(crate) type CollectionCallback = Arc<dyn Fn(Phase) + Send + Sync>;

/// Names a collection callback, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(pub(crate) u64);

/// Per-heap collector state, behind the heap's collector lock.
pub(crate) struct CollectorState {
    pub(crate) enabled: bool,
    pub(crate) thresholds: [usize; GENERATIONS],
    /// Collections of generation 0 since the last of generation 1, and of 1 since the last of
    /// 2 (CPython's `count` of generations 1 and 2).
    pub(crate) younger_collections: [usize; 2],
    /// Objects that survived the last full collection.
    pub(crate) long_lived_total: usize,
    /// Objects promoted into the oldest generation since then.
    pub(crate) long_lived_pending: usize,
    pub(crate) stats: [GenerationStats; GENERATIONS],
    pub(crate) callbacks: Vec<(CallbackId, CollectionCallback)>,
    pub(crate) next_callback: u64,
    /// Keep unreachable objects in `garbage` instead of freeing them (Python's `DEBUG_SAVEALL`).
    pub(crate) keep_garbage: bool,
    pub(crate) garbage: Vec<crate::AnyGc>,
}

impl Default for CollectorState {
    fn default() -> Self {
        CollectorState {
            enabled: true,
            thresholds: DEFAULT_THRESHOLDS,
            younger_collections: [0; 2],
            long_lived_total: 0,
            long_lived_pending: 0,
            stats: [GenerationStats::default(); GENERATIONS],
            callbacks: Vec::new(),
            next_callback: 0,
            keep_garbage: false,
            garbage: Vec::new(),
        }
    }
}

impl CollectorState {
    /// The generation an automatic collection should collect, if any, given the number of
    /// tracked objects that entered generation 0 since the last collection. CPython's rule:
    /// the oldest generation whose count exceeds its threshold, except that the oldest is
    /// collected only when the objects waiting for it exceed 25 % of those it holds.
    pub(crate) fn due(&self, young: usize) -> Option<usize> {
        if !self.enabled {
            return None;
        }
        let counts = [young, self.younger_collections[0], self.younger_collections[1]];
        (0..GENERATIONS).rev().find(|&g| {
            counts[g] > self.thresholds[g]
                && (g < GENERATIONS - 1 || self.long_lived_pending >= self.long_lived_total / 4)
        })
    }

    /// Books a finished collection of `generation` with `survivors` left in the generation
    /// they were promoted to.
    pub(crate) fn record(&mut self, c: &Collection, survivors: usize) {
        let g = c.generation;
        let s = &mut self.stats[g];
        s.time += c.duration;
        if c.abandoned {
            // Not a collection: nothing was examined, and the counts stay as they were.
            s.abandoned += 1;
            return;
        }
        s.collections += 1;
        s.collected += c.collected as u64;
        // Collecting generation g resets the counts of g and the younger ones and counts one
        // collection towards g + 1.
        for younger in 0..g.min(2) {
            self.younger_collections[younger] = 0;
        }
        match g {
            0 => self.younger_collections[0] += 1,
            1 => {
                self.younger_collections[0] = 0;
                self.younger_collections[1] += 1;
                self.long_lived_pending += survivors;
            }
            _ => {
                self.younger_collections = [0; 2];
                self.long_lived_total = survivors;
                self.long_lived_pending = 0;
            }
        }
    }
}

#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use super::*;

    #[test]
    fn automatic_collections_follow_cpython_thresholds() {
        let mut s = CollectorState::default();
        assert_eq!(s.due(2000), None);
        assert_eq!(s.due(2001), Some(0));
        s.younger_collections = [11, 0];
        assert_eq!(s.due(0), Some(1));
        s.younger_collections = [0, 11];
        s.long_lived_total = 1000;
        s.long_lived_pending = 100;
        assert_eq!(s.due(0), None, "the oldest waits until 25 % of it is pending");
        s.long_lived_pending = 250;
        assert_eq!(s.due(0), Some(2));
        s.enabled = false;
        assert_eq!(s.due(10_000), None);
    }

    #[test]
    fn recording_moves_counts_up_the_generations() {
        let mut s = CollectorState::default();
        let c = |generation| Collection { generation, ..Collection::default() };
        s.record(&c(0), 10);
        s.record(&c(0), 10);
        assert_eq!(s.younger_collections, [2, 0]);
        s.record(&c(1), 7);
        assert_eq!(s.younger_collections, [0, 1]);
        assert_eq!(s.long_lived_pending, 7);
        s.record(&c(2), 40);
        assert_eq!(s.younger_collections, [0, 0]);
        assert_eq!((s.long_lived_total, s.long_lived_pending), (40, 0));
        assert_eq!(s.stats[0].collections, 2);
    }
}
