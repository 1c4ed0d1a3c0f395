//! One shard of the cache: the strong tier's map and policy, the weak tier, the flights and the
//! counters of a slice of the key space, all behind one lock.
//!
//! Every method runs under that lock and runs no user code besides the key's `Hash`/`Eq`:
//! values that leave are handed back in a [`Pending`] list, so that the listener runs and the
//! last handles drop (which may run a value's `Drop`) only after the lock is released.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::flight::Flight;
use super::policy::{Eviction, Handle};
use super::stats::Counters;
use super::weak_tier::{Meta, WeakTier};
use super::RemovalCause;
use crate::Gc;

/// A value that left the strong tier, to be reported and dropped outside the lock. The key is
/// kept only when a listener wants it.
pub(crate) struct Pending<K, V> {
    pub(crate) key: Option<K>,
    pub(crate) value: Gc<V>,
    pub(crate) cause: Option<RemovalCause>,
}

/// Expiry settings, read under the lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expiry {
    pub(crate) ttl: Option<Duration>,
    pub(crate) tti: Option<Duration>,
}

impl Expiry {
    pub(crate) fn enabled(&self) -> bool {
        self.ttl.is_some() || self.tti.is_some()
    }

    pub(crate) fn expired(&self, meta: &Meta, now: Instant) -> bool {
        self.ttl.is_some_and(|ttl| now.saturating_duration_since(meta.loaded_at) >= ttl)
            || self.tti.is_some_and(|tti| now.saturating_duration_since(meta.accessed_at) >= tti)
    }
}

struct Slot<V> {
    value: Gc<V>,
    handle: Handle,
    meta: Meta,
}

pub(crate) struct Shard<K, V, S> {
    map: HashMap<K, Slot<V>, S>,
    policy: Box<dyn Eviction<K>>,
    weak: WeakTier<K, V, S>,
    pub(crate) flights: HashMap<K, Arc<Flight<V>>, S>,
    pub(crate) counters: Counters,
    /// Scratch list for the policy's evictions.
    evicted: Vec<K>,
    /// Whether removed keys are kept for a listener.
    keep_keys: bool,
}

impl<K, V, S> Shard<K, V, S>
where
    K: Hash + Eq + Clone + Send + 'static,
    S: BuildHasher + Clone,
{
    pub(crate) fn new(policy: Box<dyn Eviction<K>>, hasher: S, keep_keys: bool) -> Self {
        Shard {
            map: HashMap::with_hasher(hasher.clone()),
            policy,
            weak: WeakTier::with_hasher(hasher.clone()),
            flights: HashMap::with_hasher(hasher),
            counters: Counters::default(),
            evicted: Vec::new(),
            keep_keys,
        }
    }

    fn pending(&self, key: K, value: Gc<V>, cause: RemovalCause) -> Pending<K, V> {
        Pending { key: self.keep_keys.then_some(key), value, cause: Some(cause) }
    }

    /// Looks `key` up in both tiers, counting a hit or a miss when `count`. A strong hit
    /// informs the policy; a weak hit promotes the object back into the strong tier; an
    /// expired entry is removed.
    pub(crate) fn lookup<Q>(
        &mut self,
        key: &Q,
        hash: u64,
        expiry: Expiry,
        now: Instant,
        count: bool,
        out: &mut Vec<Pending<K, V>>,
    ) -> Option<Gc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(slot) = self.map.get_mut(key) {
            if !expiry.expired(&slot.meta, now) {
                self.policy.touch(slot.handle);
                if expiry.tti.is_some() {
                    slot.meta.accessed_at = now;
                }
                if count {
                    self.counters.strong_hits += 1;
                }
                return Some(slot.value.clone());
            }
        }
        if self.map.contains_key(key) {
            self.remove_strong(key, RemovalCause::Expired, out);
        } else if let Some((k, value, mut meta)) = self.weak.take(key) {
            if expiry.expired(&meta, now) {
                out.push(Pending { key: None, value, cause: None });
            } else {
                meta.accessed_at = now;
                if count {
                    self.counters.weak_hits += 1;
                }
                if meta.weight.is_some() {
                    self.admit(k, value.clone(), meta, hash, out);
                } else {
                    self.weak.put(k, &value, meta);
                }
                return Some(value);
            }
        }
        if count {
            self.counters.misses += 1;
        }
        None
    }

    /// Whether `key` is findable (alive and unexpired) in either tier; no side effects.
    pub(crate) fn contains<Q>(&self, key: &Q, expiry: Expiry, now: Instant) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).is_some_and(|slot| !expiry.expired(&slot.meta, now))
            || self.weak.contains(key, |meta| !expiry.expired(meta, now))
    }

    /// Puts `value` in the strong tier under `key` (weight `None`: the weigher failed, so the
    /// value goes straight to the weak tier), replacing any previous value.
    pub(crate) fn insert(
        &mut self,
        key: K,
        value: Gc<V>,
        weight: Option<u32>,
        now: Instant,
        hash: u64,
        out: &mut Vec<Pending<K, V>>,
    ) {
        self.remove_strong(&key, RemovalCause::Replaced, out);
        self.weak.remove(&key);
        let meta = Meta { weight, loaded_at: now, accessed_at: now };
        match weight {
            Some(_) => self.admit(key, value, meta, hash, out),
            None => {
                self.weak.put(key, &value, meta);
                out.push(Pending { key: None, value, cause: None });
            }
        }
    }

    /// Makes `key` resident under the policy and moves whatever the policy evicts to the weak
    /// tier.
    fn admit(&mut self, key: K, value: Gc<V>, meta: Meta, hash: u64, out: &mut Vec<Pending<K, V>>) {
        let weight = meta.weight.expect("only weighed entries enter the strong tier");
        let handle = self.policy.insert(key.clone(), hash, weight, &mut self.evicted);
        self.map.insert(key, Slot { value, handle, meta });
        let mut evicted = std::mem::take(&mut self.evicted);
        for k in evicted.drain(..) {
            let (key, slot) = self.map.remove_entry(&k).expect("the policy evicts resident keys");
            self.counters.evicted(RemovalCause::Size);
            self.weak.put(k, &slot.value, slot.meta);
            out.push(self.pending(key, slot.value, RemovalCause::Size));
        }
        self.evicted = evicted;
    }

    /// Removes `key` from the strong tier, if there, for `cause`.
    fn remove_strong<Q>(&mut self, key: &Q, cause: RemovalCause, out: &mut Vec<Pending<K, V>>)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some((key, slot)) = self.map.remove_entry(key) {
            drop(self.policy.remove(slot.handle));
            self.counters.evicted(cause);
            out.push(self.pending(key, slot.value, cause));
        }
    }

    /// Removes `key` from both tiers and abandons its flight (a load in progress still answers
    /// its callers but does not store its value).
    pub(crate) fn invalidate<Q>(&mut self, key: &Q, out: &mut Vec<Pending<K, V>>)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_strong(key, RemovalCause::Explicit, out);
        self.weak.remove(key);
        self.flights.remove(key);
    }

    /// Empties both tiers and abandons every flight.
    pub(crate) fn invalidate_all(&mut self, out: &mut Vec<Pending<K, V>>) {
        let empty = HashMap::with_hasher(self.map.hasher().clone());
        let map = std::mem::replace(&mut self.map, empty);
        for (key, slot) in map {
            self.counters.evicted(RemovalCause::Explicit);
            out.push(self.pending(key, slot.value, RemovalCause::Explicit));
        }
        self.policy.clear();
        self.weak.clear();
        self.flights.clear();
    }

    /// Removes every expired entry of both tiers.
    pub(crate) fn remove_expired(
        &mut self,
        expiry: Expiry,
        now: Instant,
        out: &mut Vec<Pending<K, V>>,
    ) {
        let expired: Vec<K> = self
            .map
            .iter()
            .filter(|(_, slot)| expiry.expired(&slot.meta, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.remove_strong(&k, RemovalCause::Expired, out);
        }
        self.weak.retain(|meta| !expiry.expired(meta, now));
    }

    pub(crate) fn len(&self) -> usize {
        debug_assert_eq!(self.map.len(), self.policy.len());
        self.policy.len()
    }

    pub(crate) fn weight(&self) -> u64 {
        self.policy.weight()
    }

    pub(crate) fn weak_live(&self) -> usize {
        self.weak.live()
    }

    /// Bytes of heap memory held by the shard's tables (not counting the values).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<(K, Slot<V>)>() + 1)
            + self.policy.heap_bytes()
            + self.weak.heap_bytes()
    }
}
