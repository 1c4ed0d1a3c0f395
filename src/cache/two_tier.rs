//! [`Cache`]: the strong tier and the weak tier behind one lookup, with single-flight
//! loading.

use std::any::Any;
use std::borrow::Borrow;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hash};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use super::builder::{CacheBuilder, Listener, Weigher};
use super::clock::Clock;
use super::flight::{Flight, Outcome};
use super::shard::{Expiry, Pending, Shard};
use super::{CacheStats, Policy};
use crate::contain::{contained, panic_message};
use crate::sync::{CachePadded, Mutex};
use crate::Gc;

/// A bounded, concurrent cache of shared objects with a strong tier and a weak tier.
///
/// * The **strong tier** keeps up to a capacity of entries (or of weight, with a
///   [weigher](CacheBuilder::weigher)) chosen by a [`Policy`].
/// * The **weak tier** keeps every object evicted from the strong tier findable for as long
///   as something else holds it: a lookup that finds it there returns the same object and
///   promotes it back into the strong tier. An object nobody holds is freed at once, as
///   usual; the weak tier only remembers a weak handle to it. So memory is never spent twice
///   on one object, and "load, use, drop, load again" hits while the strong tier has room.
/// * **Single-flight loading**: concurrent [`get_with`](Cache::get_with) calls that miss one
///   key run one loader, and every caller gets the same object.
///
/// Values are [`Gc`] handles: the cache hands out clones of the one object, never copies.
/// Cloning a `Cache` is cheap and gives another handle to the same cache.
///
/// ```
/// use weakling::cache::{Cache, Policy};
/// use weakling::Gc;
///
/// let cache: Cache<u32, String> = Cache::builder(2).policy(Policy::Lru).build();
/// let a = cache.get_with(1, || Gc::new(format!("object {}", 1)));
/// assert!(Gc::ptr_eq(&a, &cache.get(&1).unwrap()));
///
/// // Two more entries push key 1 out of the strong tier of two, but `a` still holds its
/// // object, so the weak tier finds the very same one.
/// cache.insert(2, Gc::new("two".to_string()));
/// cache.insert(3, Gc::new("three".to_string()));
/// let again = cache.get(&1).expect("alive elsewhere, so still findable");
/// assert!(Gc::ptr_eq(&a, &again));
/// assert_eq!(cache.stats().weak_hits, 1);
/// ```
///
/// # Locking and reentrancy
///
/// Keys are spread over shards, each behind one lock held only for the bookkeeping of one
/// operation. No user code runs under it except the key's `Hash`, `Eq` and `Drop` (which
/// must not call the cache) and the [`Clock`]: loaders, weighers and the eviction listener
/// run with no lock held and may call the cache, and values that leave the cache are dropped
/// after the lock is released, so a value's `Drop` may call it too.
pub struct Cache<K, V, S = ahash::RandomState> {
    inner: Arc<Inner<K, V, S>>,
}

/// A shard behind its own lock, on its own cache lines.
type Locked<K, V, S> = CachePadded<Mutex<Shard<K, V, S>>>;

struct Inner<K, V, S> {
    shards: Box<[Locked<K, V, S>]>,
    shard_mask: u64,
    hasher: S,
    expiry: Expiry,
    clock: Arc<dyn Clock>,
    /// The time read when expiry is off (entries then carry this fixed instant).
    epoch: Instant,
    listener: Option<Listener<K, V>>,
    weigher: Option<Weigher<K, V>>,
    policy: Policy,
    capacity: u64,
}

impl<K, V, S> Clone for Cache<K, V, S> {
    fn clone(&self) -> Self {
        Cache { inner: self.inner.clone() }
    }
}

impl<K, V, S> std::fmt::Debug for Cache<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("capacity", &self.inner.capacity)
            .field("policy", &self.inner.policy)
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A cache of up to `capacity` entries in the strong tier, with the default policy and no
    /// expiry.
    #[must_use]
    pub fn new(capacity: u64) -> Cache<K, V> {
        CacheBuilder::new(capacity).build()
    }

    /// A builder for a cache of up to `capacity` entries (or units of weight, with a weigher)
    /// in the strong tier.
    pub fn builder(capacity: u64) -> CacheBuilder<K, V> {
        CacheBuilder::new(capacity)
    }
}

/// How one lookup-or-load went for the calling thread.
enum Role<V> {
    Found(Gc<V>),
    Leader(Arc<Flight<V>>),
    Waiter(Arc<Flight<V>>),
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    pub(crate) fn from_builder(b: CacheBuilder<K, V, S>) -> Self {
        let shards = b.shards.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let by_cores = (cores * 4).next_power_of_two();
            let by_size = usize::try_from(b.capacity / 1024).unwrap_or(usize::MAX).max(1);
            let by_size =
                if by_size.is_power_of_two() { by_size } else { by_size.next_power_of_two() / 2 };
            by_cores.min(by_size)
        });
        let n = shards as u64;
        let shards: Box<[_]> = (0..n)
            .map(|i| {
                let share = b.capacity / n + u64::from(i < b.capacity % n);
                CachePadded(Mutex::new(Shard::new(
                    b.policy.build::<K>(share),
                    b.hasher.clone(),
                    b.listener.is_some(),
                )))
            })
            .collect();
        let clock = b.clock;
        Cache {
            inner: Arc::new(Inner {
                shards,
                shard_mask: n - 1,
                hasher: b.hasher,
                expiry: Expiry { ttl: b.ttl, tti: b.tti },
                epoch: clock.now(),
                clock,
                listener: b.listener,
                weigher: b.weigher,
                policy: b.policy,
                capacity: b.capacity,
            }),
        }
    }

    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard<K, V, S>> {
        // Bits 32 and up: the shard's own table indexes by the low bits and tags by the top
        // seven, so choosing shards by either would crowd each shard's table.
        &self.inner.shards[((hash >> 32) & self.inner.shard_mask) as usize]
    }

    fn now(&self) -> Instant {
        if self.inner.expiry.enabled() {
            self.inner.clock.now()
        } else {
            self.inner.epoch
        }
    }

    /// Reports and drops what left the cache; called with no lock held.
    fn settle(&self, pending: Vec<Pending<K, V>>) {
        for p in pending {
            if let Some(cause) = p.cause {
                tracing::debug!(target: "weakling::cache", cause = cause.name(), "entry left the strong tier");
                if let (Some(listener), Some(key)) = (&self.inner.listener, &p.key) {
                    contained("cache eviction listener", || listener(key, &p.value, cause));
                }
            }
            drop(p.value);
        }
    }

    /// The weight of `value`, or `None` when the weigher panicked (reported).
    fn weigh(&self, key: &K, value: &Gc<V>) -> Option<u32> {
        match &self.inner.weigher {
            None => Some(1),
            Some(w) => contained("cache weigher", || w(key, value)),
        }
    }

    /// Returns the object cached under `key`, from either tier, or `None`.
    ///
    /// A strong-tier hit informs the policy; a weak-tier hit promotes the object back into
    /// the strong tier (which may evict another entry, reported to the listener); an expired
    /// entry is removed and reported as [`Expired`](super::RemovalCause::Expired). Counts one
    /// hit or one miss. Takes one shard's lock briefly; runs the listener (if an entry left)
    /// after releasing it.
    pub fn get<Q>(&self, key: &Q) -> Option<Gc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut pending = Vec::new();
        let found = self.shard(hash).lock().lookup(
            key,
            hash,
            self.inner.expiry,
            self.now(),
            true,
            &mut pending,
        );
        self.settle(pending);
        found
    }

    /// Whether `key` is findable in either tier right now; counts nothing and changes nothing.
    /// Takes one shard's lock briefly and runs no user code besides the key's `Hash`/`Eq`.
    #[must_use]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.shard(hash).lock().contains(key, self.inner.expiry, self.now())
    }

    /// Puts `value` in the strong tier under `key`, replacing any previous value (reported as
    /// [`Replaced`](super::RemovalCause::Replaced)); the policy may evict another entry, or
    /// decline this one, to stay within capacity (reported as
    /// [`Size`](super::RemovalCause::Size); the object stays findable in the weak tier while it
    /// lives).
    ///
    /// The weigher and listener run with no lock held and may call the cache. A load of the
    /// same key in flight meanwhile still stores its own value when it finishes.
    pub fn insert(&self, key: K, value: Gc<V>) {
        let weight = self.weigh(&key, &value);
        let hash = self.hash(&key);
        let mut pending = Vec::new();
        {
            let now = self.now();
            self.shard(hash).lock().insert(key, value, weight, now, hash, &mut pending);
        }
        self.settle(pending);
    }

    /// Returns the object under `key`, loading it with `load` on a miss.
    ///
    /// Single flight: while one caller's `load` runs for a key, every other caller that misses
    /// the same key waits for it and gets the same object; `load` runs at most once per miss
    /// however many threads ask. The loaded object is stored (unless the key was invalidated
    /// while it loaded) and returned.
    ///
    /// `load` runs on the calling thread with no lock held: it may use the cache, including
    /// loading other keys, but it must not look up its own key (that would wait for itself:
    /// detected on the same thread, and reported by a panic). The time it takes is counted in
    /// [`CacheStats::total_load_time`].
    ///
    /// # Panics
    ///
    /// If `load` panics, the panic is reported with `tracing::error!`, counted as a load
    /// failure, and resumed in this caller; the key is left free, and every caller that was
    /// waiting for it retries with its own loader.
    pub fn get_with(&self, key: K, load: impl FnOnce() -> Gc<V>) -> Gc<V> {
        match self.get_or_load(key, || Ok::<_, Infallible>(load())) {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// Like [`get_with`](Cache::get_with) for a loader that can fail: an error is not cached,
    /// and it reaches this caller and every caller that was waiting for the same load (of the
    /// same error type) as one shared `Arc`; the next lookup loads again.
    ///
    /// # Errors
    ///
    /// The loader's error, shared.
    ///
    /// # Panics
    ///
    /// As [`get_with`](Cache::get_with): a panicking loader is reported, the key is left free,
    /// waiters retry, and the panic is resumed in this caller.
    pub fn try_get_with<E>(
        &self,
        key: K,
        load: impl FnOnce() -> Result<Gc<V>, E>,
    ) -> Result<Gc<V>, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        self.get_or_load(key, load)
    }

    fn get_or_load<E>(
        &self,
        key: K,
        load: impl FnOnce() -> Result<Gc<V>, E>,
    ) -> Result<Gc<V>, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        let hash = self.hash(&key);
        let mut load = Some(load);
        let mut first = true;
        loop {
            let mut pending = Vec::new();
            let role = {
                let now = self.now();
                let mut shard = self.shard(hash).lock();
                match shard.lookup(&key, hash, self.inner.expiry, now, first, &mut pending) {
                    Some(found) => Role::Found(found),
                    None => match shard.flights.get(&key) {
                        Some(flight) => Role::Waiter(flight.clone()),
                        None => {
                            let flight = Arc::new(Flight::new());
                            shard.flights.insert(key.clone(), flight.clone());
                            Role::Leader(flight)
                        }
                    },
                }
            };
            first = false;
            self.settle(pending);
            match role {
                Role::Found(value) => return Ok(value),
                Role::Waiter(flight) => match flight.wait() {
                    Outcome::Loaded(value) => return Ok(value),
                    Outcome::Failed(error) => match error.downcast::<E>() {
                        Ok(error) => return Err(error),
                        Err(_) => continue, // another caller's error type: load our own way
                    },
                    Outcome::Panicked => continue,
                },
                Role::Leader(flight) => {
                    let load = load.take().expect("a caller leads at most one load");
                    return self.lead(key, hash, &flight, load);
                }
            }
        }
    }

    /// Runs the loader as the flight's leader, stores the result, publishes the outcome.
    fn lead<E>(
        &self,
        key: K,
        hash: u64,
        flight: &Arc<Flight<V>>,
        load: impl FnOnce() -> Result<Gc<V>, E>,
    ) -> Result<Gc<V>, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(load));
        let elapsed = started.elapsed();
        let weight = match &result {
            Ok(Ok(value)) => self.weigh(&key, value),
            _ => None,
        };
        let mut pending = Vec::new();
        {
            let now = self.now();
            let mut shard = self.shard(hash).lock();
            let current = shard.flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, flight));
            if current {
                shard.flights.remove(&key);
            }
            shard.counters.load_nanos += u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            match &result {
                Ok(Ok(value)) => {
                    shard.counters.loads += 1;
                    if current {
                        shard.insert(key, value.clone(), weight, now, hash, &mut pending);
                    }
                }
                _ => shard.counters.load_failures += 1,
            }
        }
        self.settle(pending);
        match result {
            Ok(Ok(value)) => {
                tracing::debug!(target: "weakling::cache", elapsed_ns = elapsed.as_nanos() as u64, "loaded");
                flight.complete(Outcome::Loaded(value.clone()));
                Ok(value)
            }
            Ok(Err(error)) => {
                tracing::debug!(target: "weakling::cache", elapsed_ns = elapsed.as_nanos() as u64, "load failed");
                let error = Arc::new(error);
                flight.complete(Outcome::Failed(error.clone() as Arc<dyn Any + Send + Sync>));
                Err(error)
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                tracing::error!(target: "weakling", context = "cache loader", message, "panic in user code; waiters retry");
                flight.complete(Outcome::Panicked);
                resume_unwind(payload)
            }
        }
    }

    /// Removes `key` from both tiers (reported as
    /// [`Explicit`](super::RemovalCause::Explicit) if it was in the strong tier). A load of
    /// the key in flight still answers its callers but does not store its value. The listener
    /// runs after the lock is released.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut pending = Vec::new();
        self.shard(hash).lock().invalidate(key, &mut pending);
        self.settle(pending);
    }

    /// [`invalidate`](Cache::invalidate)s each of `keys`.
    pub fn invalidate_many<'a, Q>(&self, keys: impl IntoIterator<Item = &'a Q>)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized + 'a,
    {
        for key in keys {
            self.invalidate(key);
        }
    }

    /// Empties both tiers (every strong entry reported as
    /// [`Explicit`](super::RemovalCause::Explicit)) and forgets the policy's history. Shards
    /// are emptied one at a time: an insertion racing with this call may survive it. The
    /// listener runs after each shard's lock is released and may call the cache.
    pub fn invalidate_all(&self) {
        for shard in self.inner.shards.iter() {
            let mut pending = Vec::new();
            shard.lock().invalidate_all(&mut pending);
            self.settle(pending);
        }
    }

    /// Removes every expired entry now (lookups remove expired entries they meet; this sweeps
    /// the rest), reporting each strong one as [`Expired`](super::RemovalCause::Expired). The
    /// listener runs after each shard's lock is released and may call the cache.
    pub fn remove_expired(&self) {
        if !self.inner.expiry.enabled() {
            return;
        }
        for shard in self.inner.shards.iter() {
            let mut pending = Vec::new();
            let now = self.now();
            shard.lock().remove_expired(self.inner.expiry, now, &mut pending);
            self.settle(pending);
        }
    }

    /// Entries in the strong tier.
    #[must_use]
    pub fn entry_count(&self) -> u64 {
        self.inner.shards.iter().map(|s| s.lock().len() as u64).sum()
    }

    /// Total weight of the strong tier (its entry count without a weigher).
    #[must_use]
    pub fn weighted_size(&self) -> u64 {
        self.inner.shards.iter().map(|s| s.lock().weight()).sum()
    }

    /// Entries of the weak tier whose object is alive right now (a walk over the weak tier).
    #[must_use]
    pub fn weak_count(&self) -> u64 {
        self.inner.shards.iter().map(|s| s.lock().weak_live() as u64).sum()
    }

    /// The strong tier's capacity (entries, or weight with a weigher).
    #[must_use]
    pub fn capacity(&self) -> u64 {
        self.inner.capacity
    }

    /// The strong tier's policy.
    #[must_use]
    pub fn policy(&self) -> Policy {
        self.inner.policy
    }

    /// A snapshot of the statistics, summed over the shards (each read under its lock, so the
    /// sum is consistent per shard, not across shards while other threads run). Safe to call
    /// from a loader or listener.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for shard in self.inner.shards.iter() {
            stats.add(&shard.lock().counters);
        }
        stats
    }

    /// Bytes of heap memory held by the cache's own tables, not counting the objects: what
    /// the per-entry overhead figure in `BENCHMARKS.md` divides by the entry count.
    #[must_use]
    pub fn table_bytes(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().heap_bytes()).sum()
    }
}
