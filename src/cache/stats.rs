//! The cache's counters: plain integers kept per shard under the shard's lock, which every
//! counted operation holds anyway, so keeping them costs no atomic operation.

use std::time::Duration;

use super::RemovalCause;

/// One shard's counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) strong_hits: u64,
    pub(crate) weak_hits: u64,
    pub(crate) misses: u64,
    pub(crate) loads: u64,
    pub(crate) load_failures: u64,
    pub(crate) load_nanos: u64,
    pub(crate) evictions: [u64; 4],
}

impl Counters {
    pub(crate) fn evicted(&mut self, cause: RemovalCause) {
        self.evictions[cause.index()] += 1;
    }
}

/// A snapshot of a cache's statistics, from [`Cache::stats`](super::Cache::stats).
///
/// Every lookup ([`get`](super::Cache::get), [`get_with`](super::Cache::get_with),
/// [`try_get_with`](super::Cache::try_get_with)) counts exactly once, as a strong-tier hit, a
/// weak-tier hit or a miss, so `strong_hits + weak_hits + misses` is the number of lookups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups served by the strong tier.
    pub strong_hits: u64,
    /// Lookups served by the weak tier (an evicted object that was still alive elsewhere).
    pub weak_hits: u64,
    /// Lookups that found nothing (a loader ran, or the caller waited for another caller's).
    pub misses: u64,
    /// Loaders that returned a value.
    pub loads: u64,
    /// Loaders that returned an error or panicked.
    pub load_failures: u64,
    /// Time spent in loaders, successful or not.
    pub total_load_time: Duration,
    /// Entries that left the strong tier, by cause, indexed as [`RemovalCause::ALL`].
    pub evictions: [u64; 4],
}

impl CacheStats {
    pub(crate) fn add(&mut self, c: &Counters) {
        self.strong_hits += c.strong_hits;
        self.weak_hits += c.weak_hits;
        self.misses += c.misses;
        self.loads += c.loads;
        self.load_failures += c.load_failures;
        self.total_load_time += Duration::from_nanos(c.load_nanos);
        for (a, b) in self.evictions.iter_mut().zip(c.evictions) {
            *a += b;
        }
    }

    /// Hits of both tiers.
    #[must_use]
    pub fn hits(&self) -> u64 {
        self.strong_hits + self.weak_hits
    }

    /// Lookups: hits plus misses.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.hits() + self.misses
    }

    /// Hits per lookup, between 0 and 1 (1 when there was no lookup).
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        if self.requests() == 0 {
            1.0
        } else {
            self.hits() as f64 / self.requests() as f64
        }
    }

    /// Entries that left the strong tier for `cause`.
    #[must_use]
    pub fn evictions(&self, cause: RemovalCause) -> u64 {
        self.evictions[cause.index()]
    }

    /// The mean time of a loader call, if any ran.
    #[must_use]
    pub fn average_load_time(&self) -> Option<Duration> {
        let n = self.loads + self.load_failures;
        (n > 0).then(|| self.total_load_time / u32::try_from(n).unwrap_or(u32::MAX))
    }
}
