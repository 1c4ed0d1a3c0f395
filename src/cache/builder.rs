//! Configuration of a [`Cache`]: capacity or weight, policy, expiry, clock, listener, shards,
//! hasher.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::{Cache, Policy, RemovalCause};
use crate::Gc;

pub(crate) type Listener<K, V> = Box<dyn Fn(&K, &Gc<V>, RemovalCause) + Send + Sync>;
pub(crate) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u32 + Send + Sync>;

/// Builds a [`Cache`]; start from [`Cache::builder`].
///
/// ```
/// use std::time::Duration;
/// use weakling::cache::{Cache, Policy};
/// use weakling::Gc;
///
/// let cache: Cache<String, Vec<u8>> = Cache::builder(64 * 1024 * 1024)
///     .weigher(|_key, blob: &Vec<u8>| blob.len().try_into().unwrap_or(u32::MAX))
///     .policy(Policy::TinyLfu)
///     .time_to_live(Duration::from_secs(600))
///     .eviction_listener(|key, _blob, cause| println!("{key} left: {cause:?}"))
///     .build();
/// cache.insert("logo".to_string(), Gc::new_leaf(vec![0u8; 1024]));
/// assert_eq!(cache.weighted_size(), 1024);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct CacheBuilder<K, V, S = ahash::RandomState> {
    pub(crate) capacity: u64,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) policy: Policy,
    pub(crate) ttl: Option<Duration>,
    pub(crate) tti: Option<Duration>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) shards: Option<usize>,
    pub(crate) hasher: S,
}

impl<K, V, S> std::fmt::Debug for CacheBuilder<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("capacity", &self.capacity)
            .field("weigher", &self.weigher.is_some())
            .field("policy", &self.policy)
            .field("time_to_live", &self.ttl)
            .field("time_to_idle", &self.tti)
            .field("listener", &self.listener.is_some())
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl<K, V> CacheBuilder<K, V> {
    pub(crate) fn new(capacity: u64) -> Self {
        CacheBuilder {
            capacity,
            weigher: None,
            policy: Policy::default(),
            ttl: None,
            tti: None,
            clock: Arc::new(SystemClock),
            listener: None,
            shards: None,
            hasher: ahash::RandomState::new(),
        }
    }
}

impl<K, V, S> CacheBuilder<K, V, S> {
    /// Bounds the strong tier by total weight instead of entries: the capacity given to
    /// [`Cache::builder`] becomes a weight, and each entry weighs `weigher(key, value)`.
    ///
    /// The weigher runs once per insertion or load, outside the cache's locks, so it may call
    /// the cache. An entry heavier than the whole capacity is never kept in the strong tier.
    /// A weigher that panics is reported with `tracing::error!`; the value is then kept in the
    /// weak tier only (findable while it lives elsewhere) and the caller still gets it.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// The strong tier's admission and eviction policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Entries expire this long after they were inserted or loaded, in both tiers.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Entries expire this long after their last lookup (or insertion), in both tiers.
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Where expiry reads the time (default: [`SystemClock`]); tests use a
    /// [`MockClock`](super::MockClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Called for every entry that leaves the strong tier, with its cause.
    ///
    /// The listener runs on the thread whose operation removed the entry, after the cache's
    /// locks are released, so it may call any method of the cache, including for the same key.
    /// A listener that panics is reported with `tracing::error!` and the operation carries on
    /// (later entries are still reported).
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, &Gc<V>, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// The number of shards, each with its own lock and its own share of the capacity (rounded
    /// up to a power of two). By default: four per available core, but at least 1,024 entries
    /// of capacity per shard, so small caches keep one shard and their policy sees every key.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.max(1).next_power_of_two());
        self
    }

    /// The hasher for keys (default: ahash with random keys).
    pub fn hasher<S2>(self, hasher: S2) -> CacheBuilder<K, V, S2> {
        CacheBuilder {
            capacity: self.capacity,
            weigher: self.weigher,
            policy: self.policy,
            ttl: self.ttl,
            tti: self.tti,
            clock: self.clock,
            listener: self.listener,
            shards: self.shards,
            hasher,
        }
    }

    /// Builds the cache.
    pub fn build(self) -> Cache<K, V, S>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Send + Sync + 'static,
        S: BuildHasher + Clone + Send + Sync + 'static,
    {
        Cache::from_builder(self)
    }
}
