//! The weak tier: entries evicted from the strong tier, kept as weak handles, so that an object
//! still alive somewhere is found again instead of loaded twice.
//!
//! The interface is narrow on purpose (put, take, remove, clear, count), built only on the
//! public [`Weak`] API, so that another weak map can replace it. Each shard owns one and calls
//! it under the shard's lock; it runs no user code (dropping a plain weak handle runs none).
//!
//! Dead entries are not removed by death callbacks (which would cost a registration per
//! eviction): they are dropped when found, and swept whenever the tier has doubled since the
//! last sweep, so the dead never outnumber the living by more than that, amortized O(1) per
//! insertion.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::time::Instant;

use crate::{Gc, Weak};

/// What the strong tier needs back when it promotes an entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// `None` when the weigher failed: such an entry lives in the weak tier only.
    pub(crate) weight: Option<u32>,
    pub(crate) loaded_at: Instant,
    pub(crate) accessed_at: Instant,
}

pub(crate) struct WeakTier<K, V, S> {
    map: HashMap<K, (Weak<V>, Meta), S>,
    /// Length after the last sweep.
    swept_len: usize,
}

impl<K: Hash + Eq, V, S: BuildHasher> WeakTier<K, V, S> {
    pub(crate) fn with_hasher(hasher: S) -> Self {
        WeakTier { map: HashMap::with_hasher(hasher), swept_len: 0 }
    }

    /// Keeps `value` findable under `key` for as long as it lives.
    pub(crate) fn put(&mut self, key: K, value: &Gc<V>, meta: Meta) {
        self.map.insert(key, (Gc::downgrade(value), meta));
        if self.map.len() > 2 * self.swept_len + 64 {
            self.map.retain(|_, (weak, _)| weak.strong_count() > 0);
            self.swept_len = self.map.len();
        }
    }

    /// Removes the entry for `key` and returns its object if it is still alive.
    pub(crate) fn take<Q>(&mut self, key: &Q) -> Option<(K, Gc<V>, Meta)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (k, (weak, meta)) = self.map.remove_entry(key)?;
        weak.upgrade().map(|v| (k, v, meta))
    }

    /// Whether `key`'s object is alive and `fresh` accepts its times.
    pub(crate) fn contains<Q>(&self, key: &Q, fresh: impl Fn(&Meta) -> bool) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).is_some_and(|(weak, meta)| weak.strong_count() > 0 && fresh(meta))
    }

    /// Forgets `key`.
    pub(crate) fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove(key);
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.swept_len = 0;
    }

    /// Entries whose object is alive right now.
    pub(crate) fn live(&self) -> usize {
        self.map.values().filter(|(weak, _)| weak.strong_count() > 0).count()
    }

    /// Keeps the live entries that `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Meta) -> bool) {
        self.map.retain(|_, (weak, meta)| weak.strong_count() > 0 && keep(meta));
        self.swept_len = self.map.len();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<(K, (Weak<V>, Meta))>() + 1)
    }
}
